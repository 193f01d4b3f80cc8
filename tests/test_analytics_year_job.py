"""A simulated year through the analytics job itself finds exactly what the in-memory frames find.

tests/test_analytics_year.py measures recall and false alarms at scale (60 homes, a year) through the job's own path
(tests/year_job_support.py), with bars derived over held-out seeds on that same path (tests/data/recall_bars.json).
The benches that explore detectors over many years (bench/fault_recall.py) feed the job's per-meter step frames built
in memory instead (tests/analytics_year_support.py), which is fast; their figures hold for the job only if its real
loaders hand the detectors the same frames. Here a smaller simulated year with one fault of each kind goes the
product's way and its alerts must be exactly the in-memory anomalies; the above-baseline detector, which only the job
runs (it needs the stored baseline), must have judged every home.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from analytics.job.run import thresholds_from
from coopwatt.settings import Settings
from coopwatt.simulator.faults import plan_faults
from coopwatt.simulator.residence import make_residences
from tests.analytics_year_support import alarms_of, detect_simulated
from tests.year_job_support import run_year, year_settings

START = datetime(2025, 1, 1, tzinfo=UTC)
END = datetime(2026, 1, 1, tzinfo=UTC)
DWELLINGS = 6  # the fewest that hold one fault of each of the six kinds
SEED = 61  # held out: no detector was tuned on it

pytestmark = [pytest.mark.slow, pytest.mark.timeout(900)]


def test_the_jobs_loaders_find_what_the_year_tests_frames_find(settings: Settings):
    residences = make_residences(DWELLINGS, seed=SEED)
    faults = plan_faults(residences, START, END, SEED, per_kind=1)
    year = run_year(settings, residences, START, END, seed=SEED, faults=faults)
    in_memory = {(a.source, a.kind, a.start) for a in alarms_of(detect_simulated(
        residences, START, END, seed=SEED, settings=year_settings(settings), thresholds=thresholds_from(settings),
        faults=faults))}
    from_job = {(a.source, a.kind, a.start) for a in year.alarms}
    print(f"seconds per step: {year.seconds}")
    print(f"{len(faults)} faults; in memory {sorted(in_memory)}; job {sorted(from_job)}")
    assert sorted(k for _, k, _ in in_memory) == sorted(  # each injected fault found, nothing else
        {"base_load_jump": "base_load_rise"}.get(f.kind, f.kind) for f in faults)
    assert {a for a in from_job if a[1] != "above_baseline"} == in_memory
    # Above baseline: every home's electricity baseline was fitted on the year and judged its last 14 days; the
    # only fault that can raise it is one of the injected ones (none of them is a use far above baseline).
    assert year.baselines["electricity"] == DWELLINGS and year.nightly.baselines_qualified >= DWELLINGS
    assert year.anomalies.anomalies_by_kind.get("above_baseline", 0) == 0
