"""Retention: exactly the expired raw readings go, nothing else, in either storage mode.

Plain PostgreSQL deletes them in batches (``coopwatt.policies.delete_expired_readings``, run by the analytics job's
maintenance step); TimescaleDB drops whole chunks by its retention policy (``apply_policies``). Whatever must outlive
the raw curve (hourly and daily consumption, the reading rollups, analytics results, accounts) is compared before
and after, table by table.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta

import psycopg
import pytest

from analytics.job.run import run_anomalies, run_maintenance
from coopwatt.db import StorageMode, storage_mode
from coopwatt.policies import apply_policies, delete_expired_readings, retention_horizon
from coopwatt.quantities import Quantity
from coopwatt.settings import Settings
from ingest.derive import derive_and_refresh
from ingest.store import store_readings
from tests.factories import make_meters

RETENTION_DAYS = 30
# The definition under test, written out: expired means older than RETENTION_DAYS × 24 h of elapsed time.
RETENTION = timedelta(hours=24 * RETENTION_DAYS)
INDEX = int(Quantity.ENERGY_INDEX_KWH)
# Tables retention must not change, whatever else it does (reading is the one it thins; the rest is bookkeeping).
_NOT_COMPARED = {"reading", "coopwatt_meta", "consumption_pending", "schema_migration"}


def _mode(url: str) -> StorageMode:
    with psycopg.connect(url) as conn:
        mode = storage_mode(conn)
    assert mode is not None
    return mode


def _store(url: str, rows: list[tuple[int, int, datetime, float]]) -> None:
    with psycopg.connect(url) as conn:
        store_readings(conn, rows)
        conn.commit()


def _reading_times(url: str) -> set[datetime]:
    with psycopg.connect(url) as conn:
        return {r[0] for r in conn.execute("SELECT time FROM reading")}


def _snapshot(url: str) -> dict[str, tuple[int, str]]:
    """Row count and a digest of the sorted rows of every table and view in the public schema but the excluded."""
    out: dict[str, tuple[int, str]] = {}
    with psycopg.connect(url) as conn:
        names = [r[0] for r in conn.execute(
            "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
            " WHERE n.nspname = 'public' AND c.relkind IN ('r', 'v', 'm', 'p') ORDER BY 1")]
        for name in names:
            if name in _NOT_COMPARED:
                continue
            row = conn.execute(
                f'SELECT count(*), coalesce(md5(string_agg(t::text, \'|\' ORDER BY t::text)), \'\') FROM "{name}" t'
            ).fetchone()
            out[name] = (row[0], row[1])
    return out


def _index_rows(meter_id: int, start: datetime, stop: datetime, step: timedelta) -> list[tuple[int, int, datetime, float]]:
    """A steadily rising index (0.1 kWh per quarter hour) from start to stop."""
    rows, t, value = [], start, 1000.0
    while t < stop:
        rows.append((meter_id, INDEX, t, value))
        t += step
        value += 0.1 * step / timedelta(minutes=15)
    return rows


@pytest.mark.parametrize("session_tz", ["UTC", "Europe/Paris"])
@pytest.mark.parametrize("now", [
    datetime(2026, 4, 10, 12, tzinfo=UTC),   # the cutoff lies before the spring-forward change (29 March)
    datetime(2026, 11, 10, 12, tzinfo=UTC),  # the cutoff lies before the fall-back change (25 October)
], ids=["spring", "autumn"])
def test_exactly_the_readings_older_than_the_cutoff_go_across_a_dst_change(migrated_db_url: str, now: datetime,
                                                                           session_tz: str) -> None:
    meter = make_meters(migrated_db_url, ["m1"])["m1"]
    cutoff = now - RETENTION
    # Either side of the cutoff, exactly at it, and an hour either side: a local-calendar count of 30 days (the
    # session's time zone) would put the cutoff an hour off across the DST change.
    offsets = [timedelta(hours=-1), timedelta(minutes=-30), timedelta(microseconds=-1), timedelta(0),
               timedelta(microseconds=1), timedelta(minutes=30), timedelta(hours=1), RETENTION - timedelta(hours=1)]
    _store(migrated_db_url, [(meter, INDEX, cutoff + off, 1000.0 + i) for i, off in enumerate(offsets)])
    expected_kept = {cutoff + off for off in offsets if cutoff + off >= now - RETENTION}

    with psycopg.connect(migrated_db_url, options=f"-c TimeZone={session_tz}") as conn:
        deleted = delete_expired_readings(conn, RETENTION_DAYS, batch_rows=2, now=now)

    assert _reading_times(migrated_db_url) == expected_kept
    assert deleted == len(offsets) - len(expected_kept) == 3


def test_maintenance_removes_expired_readings_and_keeps_what_must_outlive_them(settings: Settings) -> None:
    url = settings.database_url
    assert url is not None
    short = settings.model_copy(update={"retention_days": RETENTION_DAYS})
    meters = make_meters(url, ["m1", "m2"])
    start = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) - timedelta(days=RETENTION_DAYS + 10)
    stop = datetime.now(UTC) - timedelta(hours=2)
    _store(url, [row for m in meters.values() for row in _index_rows(m, start, stop, timedelta(minutes=15))])
    derive_and_refresh(url, short)
    summary = run_anomalies(url, short)
    assert summary.failures == 0
    before = _snapshot(url)
    assert before["consumption_hourly"][0] > 2 * 24 * (RETENTION_DAYS + 9)
    assert before["analytics_run"][0] == 1
    times_before = _reading_times(url)

    mode = _mode(url)
    with psycopg.connect(url) as conn:
        earliest_cutoff = conn.execute("SELECT now()").fetchone()[0] - RETENTION
    if mode is StorageMode.POSTGRESQL:
        run_maintenance(url, short)
        slack = timedelta(0)
    else:
        # TimescaleDB: the retention policy, run now rather than by its background schedule.
        apply_policies(url, short)
        with psycopg.connect(url, autocommit=True) as conn:
            job = conn.execute("SELECT job_id FROM timescaledb_information.jobs WHERE proc_name = 'policy_retention'"
                               " AND hypertable_name = 'reading'").fetchone()[0]
            conn.execute("CALL run_job(%s)", (job,))
        slack = timedelta(days=1)  # whole one-day chunks: one straddling the cutoff stays
    with psycopg.connect(url) as conn:
        latest_cutoff = conn.execute("SELECT now()").fetchone()[0] - RETENTION

    after = _reading_times(url)
    assert {t for t in times_before if t >= latest_cutoff} <= after, "a reading within the retention was deleted"
    assert not {t for t in after if t < earliest_cutoff - slack}, "an expired reading was kept"
    assert after <= times_before
    # Consumption, rollups, analytics results and everything else are exactly as they were.
    assert _snapshot(url) == before


def test_a_reading_older_than_the_retention_rewrites_no_consumption_or_rollup(settings: Settings) -> None:
    """A late message or an old file imported after retention ran must not re-derive hours whose readings are gone."""
    url = settings.database_url
    assert url is not None
    short = settings.model_copy(update={"retention_days": RETENTION_DAYS})
    meter = make_meters(url, ["m1"])["m1"]
    start = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) - timedelta(days=RETENTION_DAYS + 5)
    stop = datetime.now(UTC) - timedelta(hours=2)
    rows = _index_rows(meter, start, stop, timedelta(minutes=15))
    _store(url, rows)
    derive_and_refresh(url, short)
    mode = _mode(url)
    if mode is StorageMode.POSTGRESQL:
        run_maintenance(url, short)
    else:
        apply_policies(url, short)
        with psycopg.connect(url, autocommit=True) as conn:
            job = conn.execute("SELECT job_id FROM timescaledb_information.jobs WHERE proc_name = 'policy_retention'"
                               " AND hypertable_name = 'reading'").fetchone()[0]
            conn.execute("CALL run_job(%s)", (job,))
    with psycopg.connect(url) as conn:
        horizon = retention_horizon(conn)
    assert horizon is not None and horizon >= datetime.now(UTC) - RETENTION - timedelta(minutes=5)
    before = _snapshot(url)

    # One reading three days past the retention, between two that are gone, a little off the true index.
    late = start + timedelta(days=2, minutes=7)
    _store(url, [(meter, INDEX, late, 1000.0 + 0.1 * (2 * 96) + 0.05)])
    if mode is StorageMode.POSTGRESQL:
        run_maintenance(url, short)
        assert late not in _reading_times(url)  # and the same run's retention deletes it again
    else:
        derive_and_refresh(url, short)

    assert _snapshot(url) == before


_KILLABLE = """
import sys
from datetime import datetime
import psycopg
from coopwatt.policies import delete_expired_readings
with psycopg.connect(sys.argv[1], application_name="cw-retention-killed") as conn:
    delete_expired_readings(conn, int(sys.argv[2]), batch_rows=int(sys.argv[3]), now=datetime.fromisoformat(sys.argv[4]))
"""


# Batched deletes are plain PostgreSQL's retention; TimescaleDB drops whole chunks by its policy
# (tests/test_timescaledb_features.py), where a killed run has no half-way to leave.
@pytest.mark.storage("postgresql")
def test_a_retention_run_killed_mid_batch_loses_nothing_it_should_keep_and_a_rerun_finishes(
        migrated_db_url: str) -> None:
    url = migrated_db_url
    meters = make_meters(url, ["m1", "m2", "m3"])
    now = datetime(2026, 11, 10, 12, tzinfo=UTC)
    cutoff = now - RETENTION
    step = timedelta(minutes=5)
    # 3 meters × 40 days of 5-minute readings: about 12 000 expired rows per meter, 8 500 kept.
    rows = [row for m in meters.values() for row in _index_rows(m, now - timedelta(days=70), now, step)]
    _store(url, rows)
    expired = {(m, t) for m, _, t, _ in rows if t < cutoff}
    kept = {(m, t) for m, _, t, _ in rows if t >= cutoff}
    assert len(expired) > 30_000 and kept
    last_expired = max(expired, key=lambda mt: mt[1])

    # Hold the last expired reading's row lock: the run deletes batches up to it, then blocks inside a batch.
    blocker = psycopg.connect(url)
    blocker.execute("SELECT 1 FROM reading WHERE meter_id = %s AND time = %s FOR UPDATE", last_expired)
    env = dict(os.environ, PYTHONPATH=os.getcwd())
    proc = subprocess.Popen([sys.executable, "-c", _KILLABLE, url, str(RETENTION_DAYS), "2000", now.isoformat()],
                            env=env)
    try:
        with psycopg.connect(url, autocommit=True) as watch:
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                waiting = watch.execute(
                    "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'cw-retention-killed'"
                    " AND wait_event_type = 'Lock'").fetchone()[0]
                if waiting or proc.poll() is not None:
                    break
                time.sleep(0.05)
            assert waiting, "the retention run never reached the locked row"
        proc.send_signal(signal.SIGKILL)
        assert proc.wait(timeout=30) == -signal.SIGKILL
    finally:
        if proc.poll() is None:
            proc.kill()
        blocker.rollback()
        blocker.close()

    with psycopg.connect(url) as conn:
        # The server notices the dead client and rolls its batch back; wait for its backend to go.
        deadline = time.monotonic() + 30
        while conn.execute("SELECT count(*) FROM pg_stat_activity WHERE application_name = 'cw-retention-killed'"
                           ).fetchone()[0] and time.monotonic() < deadline:
            time.sleep(0.05)
        halfway = {(r[0], r[1]) for r in conn.execute("SELECT meter_id, time FROM reading")}
    assert kept <= halfway, "the killed run deleted a reading within the retention"
    assert last_expired in halfway and len(halfway) < len(rows), "the run was not killed half-way"

    with psycopg.connect(url) as conn:
        delete_expired_readings(conn, RETENTION_DAYS, batch_rows=2000, now=now)
        final = {(r[0], r[1]) for r in conn.execute("SELECT meter_id, time FROM reading")}
    assert final == kept
