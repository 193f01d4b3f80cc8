"""A simulated year through the product's own path, judged by the analytics job, read back from its stored alerts.

For tests/test_analytics_year.py, tests/test_analytics_year_job.py and bench/recall_bars.py: the simulator registers
the cooperative (households' consents recorded) and backfills the year's readings through the ingester's COPY path
(``backfill_to_db``); the job's maintenance step derives hourly consumption and refreshes the rollups
(``derive_and_refresh``); the nightly run fits and stores every dwelling's baseline; one full anomaly run, with the
whole year in its look-back, judges every meter with the job's SQL loaders and every detector, above-baseline
included (each dwelling's last 14 days against its stored baseline). Both runs must report no failure.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

import pandas as pd
import psycopg

from analytics.job.nightly import NightlySummary
from analytics.job.run import RunSummary
from coopwatt.settings import Settings
from coopwatt.simulator.faults import Fault
from coopwatt.simulator.register import backfill_to_db, register_residences
from coopwatt.simulator.residence import Residence
from ingest.derive import derive_and_refresh
from tests.analytics_year_support import Alarm
from tests.job_runs import anomalies_ok, nightly_ok

YEAR_LOOKBACK_DAYS = 370.0  # one full run sees the whole simulated year, as the in-memory frames do


@dataclass(frozen=True)
class YearRun:
    """What the job stored over the year, and how long each step took."""

    meters: list[str]  # every registered meter's source
    alarms: list[Alarm]  # every alert the anomaly run stored (open or resolved)
    baselines: Counter[str]  # qualified baselines per energy kind
    nightly: NightlySummary
    anomalies: RunSummary
    seconds: dict[str, float]
    readings: int


def year_settings(settings: Settings) -> Settings:
    """The settings with the whole year in the anomaly run's hourly and raw-index look-backs."""
    return settings.model_copy(update={"analytics_lookback_days": YEAR_LOOKBACK_DAYS,
                                       "analytics_index_lookback_days": YEAR_LOOKBACK_DAYS})


def run_year(settings: Settings, residences: Sequence[Residence], start: datetime, end: datetime, *, seed: int,
             faults: Sequence[Fault] = ()) -> YearRun:
    """Store, derive and judge [start, end] of the simulated residences in the settings' (migrated) database."""
    url = settings.database_url
    settings = year_settings(settings)
    seconds: dict[str, float] = {}
    clock = time.perf_counter()

    def lap(step: str) -> None:
        nonlocal clock
        seconds[step] = round(time.perf_counter() - clock, 1)
        clock = time.perf_counter()

    with psycopg.connect(url) as conn:
        registered = register_residences(conn, residences, installed_at=start - timedelta(days=1))
        conn.commit()
        stored = backfill_to_db(conn, residences, registered, start, end, seed=seed, faults=faults)
        # What autovacuum does after a backfill, before the job runs: without statistics the planner takes a
        # year of readings for a few thousand rows and one full run's reading times spill a hash for minutes.
        conn.execute("ANALYZE reading")
        conn.commit()
    lap("readings")
    derive_and_refresh(url, settings)
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("ANALYZE")  # likewise the year of hourly consumption and rollups just written
    lap("derive and rollups")
    nightly = nightly_ok(url, settings, now=end + timedelta(hours=3))
    lap("nightly")
    job = anomalies_ok(url, settings, now=end, full=True)
    lap("anomalies")
    with psycopg.connect(url) as conn:
        meters = [s for (s,) in conn.execute("SELECT source FROM meter ORDER BY source").fetchall()]
        rows = conn.execute("SELECT m.source, a.kind, a.started_at, a.evidence FROM alert a"
                            " JOIN meter m ON m.id = a.meter_id ORDER BY a.id").fetchall()
        baselines = Counter(dict(conn.execute(
            "SELECT energy_kind, count(*) FROM baseline WHERE qualified GROUP BY 1").fetchall()))
    alarms = [Alarm(source, kind, pd.Timestamp(started), dict(evidence or {})) for source, kind, started, evidence
              in rows]
    return YearRun(meters=meters, alarms=alarms, baselines=baselines, nightly=nightly, anomalies=job,
                   seconds=seconds, readings=stored.readings)
