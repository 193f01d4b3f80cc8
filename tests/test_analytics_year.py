"""A simulated year of 60 homes through the analytics job itself: recall of injected faults and false alarms.

The year goes the product's way (tests/year_job_support.py): readings stored by the simulator's backfill through
the ingester's COPY path, hourly consumption and rollups by the job's maintenance step, baselines by the nightly
run, then one full anomaly run with the year in its look-back: the job's SQL loaders and every detector, the
above-baseline one included (each dwelling's last 14 days against its stored baseline). What is judged is what
the job stored: its alerts. Printed figures go to docs/benchmarks.md.

The bars are derived, not recorded: tests/data/recall_bars.json holds, per fault kind, the lower confidence bound
of the dating recall over held-out seeds put through this same path and the bar it gives for this test's faults,
and the false-alarm bar from the upper bound of the rate per meter-year; ``bench/recall_bars.py --write``
computes it and says how.
"""

from __future__ import annotations

import json
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pandas as pd
import pytest

from analytics.job.run import ELECTRIC_HEATING
from coopwatt.settings import Settings
from coopwatt.simulator.faults import plan_faults
from coopwatt.simulator.residence import make_residences
from tests.analytics_year_support import STEP_S, match_faults, other_kind_alarms
from tests.year_job_support import run_year

START = datetime(2025, 1, 1, tzinfo=UTC)
END = datetime(2026, 1, 1, tzinfo=UTC)
PERIOD = pd.Timedelta(seconds=STEP_S)
DWELLINGS = 60
BARS_FILE = Path(__file__).parent / "data" / "recall_bars.json"

# On the production store only. What these two tests judge is the detectors over a year (recall, false alarms);
# that the job's loaders hand the detectors the same frames in both storage modes is what
# tests/test_analytics_year_job.py checks on both, through this same path (the job's alerts over a simulated year
# with every fault kind must equal the in-memory detectors'). On plain PostgreSQL too, this pair cost CI about
# eight more minutes of one worker (docs/benchmarks.md, "Test suite").
pytestmark = [pytest.mark.slow, pytest.mark.timeout(1800), pytest.mark.storage("timescaledb")]


def _bars() -> dict:
    """The derived bars, read when judged (bench/recall_bars.py --write may rewrite them during a long run)."""
    return json.loads(BARS_FILE.read_text())


def _heating_homes(residences: list, kind: str) -> int:
    """Dwellings with a meter of this energy kind (each gets a baseline of it)."""
    return len({(m.residence_code, m.dwelling_code) for r in residences for m in r.meters
                if m.kind == kind and m.dwelling_code})


def test_fault_free_dwellings_raise_no_alert_in_a_year(settings: Settings):
    residences = make_residences(DWELLINGS, seed=21)
    year = run_year(settings, residences, START, END, seed=21)
    alarms = [(a.source, a.kind, str(a.start), a.evidence) for a in year.alarms]
    print(f"seconds per step: {year.seconds}; {year.readings} readings")
    print(f"false alarms: {len(alarms)} over {len(year.meters)} meters of {DWELLINGS} dwellings × 1 year: {alarms}")
    # Above-baseline judged every home: each one's electricity (and gas) baseline fitted and stored.
    assert year.baselines["electricity"] == DWELLINGS
    assert year.baselines["gas"] == _heating_homes(residences, "gas")
    assert year.anomalies.meters_processed == len(year.meters)
    bars = _bars()
    assert bars["path"] == "job"  # the bar was derived on this path, above-baseline included
    assert len(year.meters) == bars["false_alarms"]["test_meters"]  # and for this many meters
    assert len(alarms) <= bars["false_alarms"]["bar"], (bars["false_alarms"], alarms)


def test_injected_faults_are_found_with_kind_meter_and_start(settings: Settings):
    residences = make_residences(DWELLINGS, seed=5)
    faults = plan_faults(residences, START, END, 5, per_kind=10)
    heating = {(d.residence_code, d.code): d.heating_type for r in residences for d in r.dwellings}
    year = run_year(settings, residences, START, END, seed=5, faults=faults)
    matches, false_alarms = match_faults(year.alarms, faults)
    within = Counter()
    found = Counter()
    for m in matches:
        kind = m.fault.kind
        # A spike is the reading at its start: what it measured flowed during the period that ends there.
        truth = pd.Timestamp(m.fault.start) - (PERIOD if kind == "spike" else pd.Timedelta(0))
        error = None if m.anomaly is None else m.anomaly.start - truth
        found[kind] += m.anomaly is not None
        within[kind] += error is not None and abs(error) <= PERIOD
        print(kind, m.fault.meter_source, m.fault.start, m.fault.parameters,
              "MISSED" if error is None else f"start error {error / pd.Timedelta(hours=1):+.1f} h")
    total = len(faults)
    print(f"seconds per step: {year.seconds}; {year.readings} readings")
    print(f"recall {sum(found.values())}/{total} found, {sum(within.values())}/{total} with start within one "
          f"reporting period; by kind found {dict(found)}, within one period {dict(within)}; "
          f"false alarms on fault-free meters {len(false_alarms)}: {false_alarms}")
    assert year.baselines["electricity"] == DWELLINGS
    # Nor does a fault raise alarms of another kind on its meter (a silence's spread hours read as a leak).
    assert other_kind_alarms(year.alarms, faults) == []
    bars = _bars()
    assert bars["path"] == "job" and {f.kind for f in faults} == set(bars["within_one_period"])
    assert bars["per_kind"] == 10
    for kind, bar in bars["within_one_period"].items():
        assert within[kind] >= bar["bar"], (kind, within[kind], bar)
    # Leaks: always found, never dated after they began; the household's own use just before a leak, above the
    # leak's rate in every period, is indistinguishable from it, so some are dated to that use (a few hours early).
    leaks = [m for m in matches if m.fault.kind == "water_leak"]
    assert all(m.anomaly is not None and m.error <= PERIOD for m in leaks)
    # Base load: dated back from the first night (or unheated day) it shows to the end of the last interval below
    # the reference plus half the rise, so never after it began; the household's own use just before it can date
    # it early. Electrically heated homes are judged on their unheated daytime hours and dated from any hour below
    # the lowest one plus half the rise; one of this year's two is dated to the household's use the day before.
    jumps = [m for m in matches if m.fault.kind == "base_load_jump"]
    assert all(m.anomaly is not None and m.error <= timedelta(0) for m in jumps), jumps
    electric = [m for m in jumps if heating[(m.fault.residence_code, m.fault.dwelling_code)] in ELECTRIC_HEATING]
    assert len(electric) >= 2  # the seed puts jumps in electrically heated homes: they are found too
    # Alarms on the meters without a fault: within the bar derived for that many meters.
    clean = [source for source in year.meters if source not in {f.meter_source for f in faults}]
    assert len(clean) == bars["false_alarms"]["fault_year_clean_meters"]
    assert len(false_alarms) <= bars["false_alarms"]["fault_year_bar"], (bars["false_alarms"], false_alarms)
