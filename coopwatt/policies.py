"""Retention and compression policies whose values come from settings."""

from __future__ import annotations

import logging

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
        conn.execute(
            "SELECT add_retention_policy('reading', drop_after => make_interval(days => %s))",
            (settings.retention_days,),
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


def delete_expired_readings(conn: psycopg.Connection, retention_days: int, batch_rows: int = 50_000) -> int:
    """Plain-PostgreSQL retention: delete raw readings older than the retention, in batches."""
    total = 0
    while True:
        cur = conn.execute(
            "DELETE FROM reading WHERE ctid = ANY(ARRAY("
            " SELECT ctid FROM reading WHERE time < now() - make_interval(days => %s) LIMIT %s))",
            (retention_days, batch_rows),
        )
        conn.commit()
        total += cur.rowcount
        if cur.rowcount < batch_rows:
            return total
