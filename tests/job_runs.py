"""The analytics job's runs as tests call them: a run that counted a failure fails the test, with the reasons.

A detector that throws is recorded in analytics_failure and counted, and the run goes on; a test that looked only at
its expectation ("the alert stays open") would still pass. Tests that expect failures call the job directly.
"""

from __future__ import annotations

from datetime import datetime

import psycopg

from analytics.job.nightly import NightlySummary, run_nightly
from analytics.job.run import RunSummary, run_anomalies
from coopwatt.settings import Settings


def _reasons(url: str, run_id: int) -> list[tuple[object, ...]]:
    with psycopg.connect(url) as conn:
        return conn.execute("SELECT dwelling_id, meter_id, reason FROM analytics_failure WHERE run_id = %s",
                            (run_id,)).fetchall()


def anomalies_ok(url: str, settings: Settings, now: datetime | None = None, *, full: bool = False) -> RunSummary:
    """run_anomalies, asserting it finished 'ok' with no failure."""
    summary = run_anomalies(url, settings, now, full=full)
    assert summary.failures == 0 and summary.status == "ok", (summary.status, _reasons(url, summary.run_id))
    return summary


def nightly_ok(url: str, settings: Settings, now: datetime | None = None) -> NightlySummary:
    """run_nightly, asserting it finished 'ok' with no failure."""
    summary = run_nightly(url, settings, now=now)
    assert summary.failures == 0 and summary.status == "ok", (summary.status, _reasons(url, summary.run_id))
    return summary
