"""Retention per data kind: hourly values, daily values and resolved alerts older than their setting are deleted.

Raw readings have their own path (``coopwatt.policies``: batched deletes in plain PostgreSQL, TimescaleDB's
retention policy). The kinds here are deleted the same way in both storage modes, by the analytics job's
maintenance step (``run_maintenance``), each at ``now − N × 24 h`` of elapsed time, as for raw readings:

- hourly (``COOPWATT_RETENTION_HOURLY_DAYS``): ``consumption_hourly``, ``consumption_suspect``, ``reading_hourly``;
- daily (``COOPWATT_RETENTION_DAILY_DAYS``): ``consumption_day``, ``consumption_daily``, ``reading_daily``;
- alerts (``COOPWATT_RETENTION_ALERTS_DAYS``): alerts resolved before the cutoff, their notifications and
  the actions staff took on them (open alerts are never deleted);
- the access log (``COOPWATT_RETENTION_ACCESS_LOG_DAYS``) is deleted by the access log's own module.

The hourly cutoff is recorded in ``coopwatt_meta`` before anything is deleted, so that a rollup refresh
never recomputes a day whose hours are gone (``coopwatt.rollups``).
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

import psycopg
from psycopg import sql

from coopwatt.consent_data import rollup_table
from coopwatt.settings import Settings

log = logging.getLogger(__name__)

HOURLY_CUTOFF_KEY = "retention_hourly_cutoff"
# (table or rollup, its time column) per kind; rollups are resolved to their storage by consent_data.rollup_table.
_HOURLY = (("consumption_hourly", "hour"), ("consumption_suspect", "hour"), ("reading_hourly", "bucket"))
_DAILY = (("consumption_day", "day"), ("consumption_daily", "day"), ("reading_daily", "bucket"))
_ROLLUPS = {"reading_hourly", "reading_daily", "consumption_daily"}


def cutoff(now: datetime, days: int) -> datetime:
    """The instant before which a kind kept ``days`` is deleted: days × 24 hours of elapsed time before now."""
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    return now.astimezone(UTC) - timedelta(days=days)


def hourly_horizon(conn: psycopg.Connection) -> datetime | None:
    """The instant before which hourly values may have been deleted, or None while none can have been."""
    row = conn.execute("SELECT value::timestamptz FROM coopwatt_meta WHERE key = %s", (HOURLY_CUTOFF_KEY,)).fetchone()
    return row[0] if row else None


def _delete_before(conn: psycopg.Connection, name: str, column: str, before: datetime) -> int:
    table = rollup_table(conn, name) if name in _ROLLUPS else sql.Identifier(name)
    cur = conn.execute(sql.SQL("DELETE FROM {} WHERE {} < %s").format(table, sql.Identifier(column)), (before,))
    return max(cur.rowcount, 0)


def delete_expired(conn: psycopg.Connection, settings: Settings, *, now: datetime | None = None) -> dict[str, int]:
    """Delete every kind older than its retention; return rows deleted per table. Commits."""
    if now is None:
        row = conn.execute("SELECT now()").fetchone()
        now = row[0] if row else datetime.now(UTC)
    hourly = cutoff(now, settings.retention_hourly_days)
    conn.execute(
        "INSERT INTO coopwatt_meta (key, value) VALUES (%s, %s) ON CONFLICT (key) DO UPDATE"
        " SET value = greatest(coopwatt_meta.value::timestamptz, excluded.value::timestamptz)::text",
        (HOURLY_CUTOFF_KEY, hourly.isoformat()),
    )
    conn.commit()
    deleted: dict[str, int] = {}
    for name, column in _HOURLY:
        deleted[name] = _delete_before(conn, name, column, hourly)
    for name, column in _DAILY:
        deleted[name] = _delete_before(conn, name, column, cutoff(now, settings.retention_daily_days))
    ids = [r[0] for r in conn.execute("DELETE FROM alert WHERE status = 'resolved'"
                                      " AND coalesce(resolved_at, ended_at, last_seen_at) < %s RETURNING id", (cutoff(now, settings.retention_alerts_days),))]
    deleted["alert"] = len(ids)
    # alert_action names the alert without a foreign key (it outlives analytics re-runs): removed with it here.
    deleted["alert_action"] = max(conn.execute("DELETE FROM alert_action WHERE alert_id = ANY(%s)", (ids,)).rowcount, 0)
    conn.commit()
    log.info("retention: %s", {k: v for k, v in deleted.items() if v} or "nothing expired")
    return deleted
