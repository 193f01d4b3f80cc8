"""Retention and compression policies whose values come from settings."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

import psycopg

from coopwatt.db import StorageMode, storage_mode
from coopwatt.settings import Settings

log = logging.getLogger(__name__)


def apply_policies(url: str, settings: Settings) -> None:
    """Make the database's retention and compression match the settings (idempotent)."""
    with psycopg.connect(url, autocommit=True) as conn:
        if storage_mode(conn) is not StorageMode.TIMESCALEDB:
            # Plain PostgreSQL: retention is enforced by coopwatt.retention on a schedule.
            return
        conn.execute("SELECT remove_retention_policy('reading', if_exists => true)")
        # Hours, not days: an interval in days is counted in the session's time zone, so a DST change would
        # keep or drop an hour more; the plain-PostgreSQL retention counts elapsed time the same way.
        conn.execute(
            "SELECT add_retention_policy('reading', drop_after => make_interval(hours => %s))",
            (24 * settings.retention_days,),
        )
        conn.execute("SELECT remove_compression_policy('reading', if_exists => true)")
        conn.execute(
            "SELECT add_compression_policy('reading', compress_after => make_interval(days => %s))",
            (settings.compress_after_days,),
        )
        conn.execute("SELECT remove_compression_policy('consumption_hourly', if_exists => true)")
        conn.execute(
            "SELECT add_compression_policy('consumption_hourly', compress_after => make_interval(days => %s))",
            (max(settings.compress_after_days, 31),),
        )
        log.info("TimescaleDB policies: retention %d days, compression after %d days",
                 settings.retention_days, settings.compress_after_days)


def retention_cutoff(now: datetime, retention_days: int) -> datetime:
    """The instant before which raw readings are expired: retention_days × 24 hours of elapsed time before now."""
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    return now.astimezone(UTC) - timedelta(days=retention_days)


def delete_expired_readings(conn: psycopg.Connection, retention_days: int, batch_rows: int = 50_000, *,
                            now: datetime | None = None) -> int:
    """Plain-PostgreSQL retention: delete raw readings older than the retention, in batches; return how many.

    The cutoff is fixed once per run (the database's clock unless ``now`` is given) and recorded in
    ``coopwatt_meta`` before anything is deleted, so that the consumption derivation never rewrites hours whose raw
    readings may be gone, even after a run killed half-way (see :func:`retention_horizon`).
    """
    if now is None:
        row = conn.execute("SELECT now()").fetchone()
        now = row[0] if row else datetime.now(UTC)
    cutoff = retention_cutoff(now, retention_days)
    conn.execute(
        "INSERT INTO coopwatt_meta (key, value) VALUES ('retention_cutoff', %s)"
        " ON CONFLICT (key) DO UPDATE SET value = greatest(coopwatt_meta.value::timestamptz,"
        " excluded.value::timestamptz)::text",
        (cutoff.isoformat(),),
    )
    conn.commit()
    total = 0
    while True:
        # The outer `time <` keeps a ctid that names another row (another chunk of a hypertable) from matching.
        cur = conn.execute(
            "DELETE FROM reading WHERE time < %s AND ctid = ANY(ARRAY("
            " SELECT ctid FROM reading WHERE time < %s LIMIT %s))",
            (cutoff, cutoff, batch_rows),
        )
        conn.commit()
        total += cur.rowcount
        if cur.rowcount < batch_rows:
            return total


def retention_horizon(conn: psycopg.Connection) -> datetime | None:
    """The instant before which retention may have deleted raw readings, or None while it can have deleted none.

    Plain PostgreSQL: the latest cutoff recorded by :func:`delete_expired_readings`. TimescaleDB: now minus the
    retention policy's ``drop_after``, if there is a policy: its background job may drop any chunk older than that
    at any moment (and runs started with ``run_job`` leave no trace in ``job_stats``).
    """
    if storage_mode(conn) is StorageMode.TIMESCALEDB:
        if conn.execute("SELECT to_regclass('timescaledb_information.jobs')").fetchone() == (None,):
            return None  # a schema before its TimescaleDB migration: no policy can have run yet
        row = conn.execute(
            "SELECT max(now() - (config->>'drop_after')::interval) FROM timescaledb_information.jobs"
            " WHERE proc_name = 'policy_retention' AND hypertable_name = 'reading'"
        ).fetchone()
    else:
        row = conn.execute(
            "SELECT value::timestamptz FROM coopwatt_meta WHERE key = 'retention_cutoff'"
        ).fetchone()
    return row[0] if row and row[0] is not None else None
