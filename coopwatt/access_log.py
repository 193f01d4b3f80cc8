"""The staff access log (migration 0014): record an access, list a household's, expire old entries.

One *access* is one staff member opening one household's data in one way (``what``): a page view, a
drill-down, a download. The callbacks that fill a page log the same ``what`` as the page itself, and a
repeat by the same account on the same dwelling and ``what`` within ``repeat_window_s`` is the same
access: a page view with its charts costs one row, switching a chart's kind costs none.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
from psycopg.types.json import Jsonb

# What staff can open; the dashboard logs exactly these (tests/test_access_log.py checks every path).
ACCESS_KINDS = ("household_page", "adviser_drilldown", "alert_detail", "csv_readings", "csv_daily")
STAFF_ROLES = ("adviser", "manager", "admin")


@dataclass(frozen=True)
class AccessRow:
    """One logged access, as the household and the data-protection officer read it."""

    accessed_at: datetime
    username: str
    role: str
    what: str
    detail: dict[str, Any]


def record_access(conn: psycopg.Connection, *, account_id: int, username: str, role: str,
                  dwelling_ids: Sequence[int], what: str, detail: dict[str, Any] | None = None,
                  repeat_window_s: float = 300.0) -> int:
    """Log one staff access to each dwelling (one INSERT for all), skipping repeats within the window; rows added."""
    if role not in STAFF_ROLES:
        raise ValueError(f"only staff accesses are logged, not {role!r}")
    if what not in ACCESS_KINDS:
        raise ValueError(f"unknown access kind {what!r}")
    if not dwelling_ids:
        return 0
    cur = conn.execute(
        """
        INSERT INTO access_log (account_id, username, role, dwelling_id, what, detail)
        SELECT %(account)s, %(username)s, %(role)s, d, %(what)s, %(detail)s
        FROM unnest(%(dwellings)s::integer[]) AS d
        WHERE NOT EXISTS (
            SELECT 1 FROM access_log l
            WHERE l.dwelling_id = d AND l.account_id = %(account)s AND l.what = %(what)s
              AND l.accessed_at > now() - make_interval(secs => %(window)s))
        """,
        {"account": account_id, "username": username, "role": role, "what": what, "detail": Jsonb(detail or {}),
         "dwellings": sorted(set(dwelling_ids)), "window": repeat_window_s},
    )
    return cur.rowcount


def record_alert_access(conn: psycopg.Connection, *, account_id: int, username: str, role: str,
                        alert_ids: Sequence[int], repeat_window_s: float = 300.0) -> int:
    """Log an ``alert_detail`` access to each dwelling whose alerts were shown (one INSERT); rows added."""
    if role not in STAFF_ROLES:
        raise ValueError(f"only staff accesses are logged, not {role!r}")
    if not alert_ids:
        return 0
    cur = conn.execute(
        """
        INSERT INTO access_log (account_id, username, role, dwelling_id, what, detail)
        SELECT %(account)s, %(username)s, %(role)s, a.dwelling_id, 'alert_detail',
               jsonb_build_object('alerts', jsonb_agg(a.id ORDER BY a.id))
        FROM alert a
        WHERE a.id = ANY(%(alerts)s) AND a.dwelling_id IS NOT NULL
          AND NOT EXISTS (
            SELECT 1 FROM access_log l
            WHERE l.dwelling_id = a.dwelling_id AND l.account_id = %(account)s AND l.what = 'alert_detail'
              AND l.accessed_at > now() - make_interval(secs => %(window)s))
        GROUP BY a.dwelling_id
        """,
        {"account": account_id, "username": username, "role": role, "alerts": list(alert_ids),
         "window": repeat_window_s},
    )
    return cur.rowcount


def count_accesses(conn: psycopg.Connection, dwelling_id: int) -> int:
    """How many staff accesses to a dwelling are logged."""
    row = conn.execute("SELECT count(*) FROM access_log WHERE dwelling_id = %s", (dwelling_id,)).fetchone()
    return int(row[0]) if row else 0


def accesses_of(conn: psycopg.Connection, dwelling_id: int, *, limit: int | None = None) -> list[AccessRow]:
    """A dwelling's logged staff accesses, newest first."""
    rows = conn.execute(
        "SELECT accessed_at, username, role, what, detail FROM access_log WHERE dwelling_id = %s"
        " ORDER BY accessed_at DESC, id DESC LIMIT %s",
        (dwelling_id, limit),
    ).fetchall()
    return [AccessRow(*row) for row in rows]


def access_cutoff(now: datetime, retention_days: int) -> datetime:
    """The instant before which access-log entries are deleted: retention_days × 24 hours before now."""
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    return now.astimezone(UTC) - timedelta(days=retention_days)


def delete_expired_accesses(conn: psycopg.Connection, retention_days: int, *, now: datetime | None = None) -> int:
    """Delete access-log entries older than the retention (database clock unless ``now`` is given); how many."""
    if now is None:
        row = conn.execute("SELECT now()").fetchone()
        now = row[0] if row else datetime.now(UTC)
    cur = conn.execute("DELETE FROM access_log WHERE accessed_at < %s", (access_cutoff(now, retention_days),))
    return cur.rowcount
