"""Leader election between two `coopwatt analytics` processes, and a run killed half-way."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta

import psycopg

from coopwatt.simulator.faults import plan_faults
from coopwatt.simulator.register import backfill_to_db, register_residences
from coopwatt.simulator.residence import make_residences
from tests.job_runs import anomalies_ok


def _env(url: str, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("COOPWATT_")}
    env.update(COOPWATT_DATABASE_URL=url, **extra)
    return env


def _spawn(url: str, *args: str, **extra: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "coopwatt.cli", "analytics", *args], env=_env(url, **extra),
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def _wait_for(predicate, what: str, limit_s: float = 90.0):
    deadline = time.monotonic() + limit_s
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"gave up waiting for {what}")


def _run_pids(url: str) -> list[int]:
    with psycopg.connect(url) as conn:
        return [int(p) for (p,) in conn.execute("SELECT detail->>'pid' FROM analytics_run ORDER BY id").fetchall()]


def test_only_the_leader_runs_jobs_and_the_other_takes_over(migrated_db_url):
    url = migrated_db_url
    fast = {"COOPWATT_ANALYTICS_INTERVAL_MIN": "0.02"}  # a run every 1.2 s
    first = _spawn(url, **fast)
    _wait_for(lambda: _run_pids(url), "the first leader's run")
    second = _spawn(url, **fast)
    try:
        # Both processes are alive for a while; every run so far was made by the first one.
        _wait_for(lambda: len(_run_pids(url)) >= 5, "several runs")
        assert second.poll() is None
        assert set(_run_pids(url)) == {first.pid}
        first.send_signal(signal.SIGKILL)
        first.wait()
        _wait_for(lambda: second.pid in _run_pids(url), "the second process to take over")
        with psycopg.connect(url) as conn:
            jobs = {job for (job,) in conn.execute("SELECT id FROM apscheduler_jobs").fetchall()}
        # the schedule lives in the database (letters, progress and letter e-mails: reports/)
        assert jobs == {"anomalies", "maintenance", "nightly", "deliver", "letters", "progress", "letters-deliver"}
    finally:
        for process in (first, second):
            if process.poll() is None:
                process.send_signal(signal.SIGKILL)
                process.wait()


def test_a_run_killed_half_way_is_recorded_failed_and_the_next_completes(settings):
    url = settings.database_url
    residences = make_residences(14, 5, per_residence=14)
    end = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)  # `--once` judges up to now
    start = end - timedelta(days=40)
    faults = plan_faults(residences, start, end, 5)
    with psycopg.connect(url) as conn:
        registered = register_residences(conn, residences, installed_at=start - timedelta(days=1))
        conn.commit()
        backfill_to_db(conn, residences, registered, start, end, seed=5, faults=faults, dwellings_per_chunk=14)
    # Small chunks so the run commits alerts as it goes; kill it once it has started.
    process = _spawn(url, "--once", COOPWATT_ANALYTICS_CHUNK_METERS="1", COOPWATT_ANALYTICS_LOOKBACK_DAYS="45",
                     COOPWATT_ANALYTICS_INDEX_LOOKBACK_DAYS="45")
    try:
        def running() -> bool:
            with psycopg.connect(url) as conn:
                return conn.execute("SELECT count(*) FROM analytics_run WHERE status = 'running'").fetchone()[0] > 0
        _wait_for(running, "the run to start")
        process.send_signal(signal.SIGKILL)
        process.wait()
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    summary = anomalies_ok(url, settings.model_copy(update={"analytics_lookback_days": 45.0}), now=end)
    assert summary.status == "ok"
    with psycopg.connect(url) as conn:
        runs = conn.execute("SELECT id, status, finished_at IS NOT NULL, detail->>'reason' FROM analytics_run"
                            " ORDER BY id").fetchall()
        open_dupes = conn.execute("SELECT count(*) FROM (SELECT meter_id, kind FROM alert WHERE status = 'open'"
                                  " GROUP BY 1, 2 HAVING count(*) > 1) x").fetchone()[0]
    assert [(status, finished) for _, status, finished, _ in runs] == [("failed", True), ("ok", True)]
    assert "unfinished" in runs[0][3]
    assert summary.dwellings_processed == 14
    assert open_dupes == 0


def test_the_scheduled_anomaly_run_derives_what_arrived_first(settings):
    """Leaks and spikes are judged on hourly consumption: the 15-minute job derives new readings before judging."""
    from analytics.job import scheduler

    url = settings.database_url
    now = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    residences = make_residences(2, 4, per_residence=2)
    with psycopg.connect(url) as conn:
        registered = register_residences(conn, residences, installed_at=now - timedelta(days=4))
        conn.commit()
        backfill_to_db(conn, residences, registered, now - timedelta(days=3), now, seed=4, dwellings_per_chunk=2)
        assert conn.execute("SELECT count(*) FROM consumption_hourly").fetchone()[0] == 0
        pending = conn.execute("SELECT count(*) FROM consumption_pending").fetchone()[0]
    assert pending == len(registered.meter_ids)
    scheduler._context.update(url=url, settings=settings)
    try:
        scheduler.anomalies_job()
    finally:
        scheduler._context.clear()
    with psycopg.connect(url) as conn:
        assert conn.execute("SELECT count(*) FROM consumption_pending").fetchone()[0] == 0
        hourly = conn.execute("SELECT count(DISTINCT meter_id), count(*) FROM consumption_hourly").fetchone()
        runs = conn.execute("SELECT status FROM analytics_run WHERE job = 'anomalies'").fetchall()
    assert hourly[0] == len(registered.meter_ids) and hourly[1] >= 60 * len(registered.meter_ids)
    assert runs == [("ok",)]
