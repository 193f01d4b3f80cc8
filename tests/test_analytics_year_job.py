"""A simulated year through the analytics job itself: its SQL loaders find what the year test's in-memory frames find.

tests/test_analytics_year.py measures recall and false alarms at scale (60 homes, a year) by feeding the job's
per-meter step frames built in memory (tests/analytics_year_support.py), with bars derived over held-out seeds
(tests/data/recall_bars.json). Those numbers hold for the job only if its real loaders hand the detectors the same
frames. Here a smaller simulated year with one fault of each kind goes the product's way: registry and readings
written by the simulator, hourly consumption derived by the ingest's derivation, rollups refreshed, the nightly run
(baselines) and a full anomaly run over the year; its alerts must be exactly the in-memory anomalies, and the
above-baseline detector, which only the job runs (it needs the stored baseline), must have judged every home.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import pandas as pd
import psycopg
import pytest

from analytics.job.run import derive_new_consumption, thresholds_from
from coopwatt.rollups import refresh_rollups
from coopwatt.settings import Settings
from coopwatt.simulator.faults import plan_faults
from coopwatt.simulator.register import backfill_to_db, register_residences
from coopwatt.simulator.residence import make_residences
from tests.analytics_year_support import detect_simulated
from tests.job_runs import anomalies_ok, nightly_ok

START = datetime(2025, 1, 1, tzinfo=UTC)
END = datetime(2026, 1, 1, tzinfo=UTC)
DWELLINGS = 6  # the fewest that hold one fault of each of the six kinds
SEED = 61  # held out: no detector was tuned on it

pytestmark = [pytest.mark.slow, pytest.mark.timeout(900)]


def test_the_jobs_loaders_find_what_the_year_tests_frames_find(settings: Settings):
    url = settings.database_url
    # The whole year in the look-back, as the in-memory frames have it.
    settings = settings.model_copy(update={"analytics_lookback_days": 370.0, "analytics_index_lookback_days": 370.0})
    residences = make_residences(DWELLINGS, seed=SEED)
    faults = plan_faults(residences, START, END, SEED, per_kind=1)
    clock = time.perf_counter()
    steps = {}

    def lap(step: str) -> None:
        nonlocal clock
        steps[step] = round(time.perf_counter() - clock, 1)
        clock = time.perf_counter()

    with psycopg.connect(url) as conn:
        registered = register_residences(conn, residences, installed_at=START - timedelta(days=1))
        conn.commit()
        backfill_to_db(conn, residences, registered, START, END, seed=SEED, faults=faults)
    lap("readings")
    derive_new_consumption(url, settings)
    lap("derive")
    refresh_rollups(url, settings, since=START - timedelta(days=1), until=END + timedelta(days=1))
    lap("rollups")
    nightly = nightly_ok(url, settings, now=END + timedelta(hours=3))
    lap("nightly")
    job = anomalies_ok(url, settings, now=END, full=True)
    lap("anomalies")
    with psycopg.connect(url) as conn:
        alerts = conn.execute("SELECT m.source, a.kind, a.started_at FROM alert a JOIN meter m ON m.id = a.meter_id"
                              ).fetchall()
        baselines = conn.execute("SELECT count(*) FROM baseline WHERE qualified AND energy_kind = 'electricity'"
                                 ).fetchone()[0]

    in_memory = {(r.meter.source, a.kind.value, pd.Timestamp(a.start)) for r in detect_simulated(
        residences, START, END, seed=SEED, settings=settings, thresholds=thresholds_from(settings), faults=faults)
        for a in r.anomalies}
    from_job = {(source, kind, pd.Timestamp(started)) for source, kind, started in alerts}
    lap("in memory")
    print(f"seconds per step: {steps}")
    print(f"{len(faults)} faults; in memory {sorted(in_memory)}; job {sorted(from_job)}")
    assert sorted(k for _, k, _ in in_memory) == sorted(  # each injected fault found, nothing else
        {"base_load_jump": "base_load_rise"}.get(f.kind, f.kind) for f in faults)
    assert {a for a in from_job if a[1] != "above_baseline"} == in_memory
    # Above baseline: every home's electricity baseline was fitted on the year and judged its last 14 days; the
    # only fault that can raise it is one of the injected ones (none of them is a use far above baseline).
    assert baselines == DWELLINGS and nightly.baselines_qualified >= DWELLINGS
    assert job.anomalies_by_kind.get("above_baseline", 0) == 0
