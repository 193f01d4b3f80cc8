"""Read-only SQL for alerts as the views show them: a home's open ones, a building's open and resolved ones, and
what managers did about each. Scope is the caller's (dashboard/scope.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import psycopg

SEVERITY_ORDER = {"critical": 0, "warning": 1, "info": 2}


@dataclass(frozen=True)
class AlertRow:
    """An anomaly alert as a view shows it."""

    id: int
    kind: str
    severity: str
    meter_source: str
    meter_kind: str
    dwelling_code: str | None
    building_name: str | None
    started_at: datetime
    detected_at: datetime
    acknowledged_at: datetime | None
    evidence: dict[str, object]
    ended_at: datetime | None = None
    resolved_at: datetime | None = None
    # When this alert is the return of one a manager marked resolved: when that one was resolved.
    reopens_resolved_at: datetime | None = None


_ALERT_SELECT = """
    SELECT a.id, a.kind, a.severity, m.source, m.kind, d.code, coalesce(b.name, b.code),
           a.started_at, a.detected_at, a.acknowledged_at, a.evidence, a.ended_at, a.resolved_at,
           (SELECT p.resolved_at FROM alert p WHERE p.id = a.reopens_alert_id)
    FROM alert a JOIN meter m ON m.id = a.meter_id
    LEFT JOIN dwelling d ON d.id = a.dwelling_id
    LEFT JOIN building b ON b.id = coalesce(a.building_id, d.building_id)
"""


def _row(row: tuple[object, ...]) -> AlertRow:
    return AlertRow(*row[:10], dict(row[10] or {}), *row[11:14])  # type: ignore[arg-type]


def resolved_alerts_of_buildings(conn: psycopg.Connection, building_ids: list[int], limit: int = 20) -> list[AlertRow]:
    """The latest resolved alerts of these buildings, most recently resolved first, at most `limit`."""
    return [_row(row) for row in conn.execute(
        _ALERT_SELECT + " WHERE a.status = 'resolved' AND coalesce(a.building_id, d.building_id) = ANY(%s)"
        " ORDER BY a.resolved_at DESC NULLS LAST, a.id DESC LIMIT %s", (building_ids, limit),
    ).fetchall()]


@dataclass(frozen=True)
class AlertActionRow:
    """Who did what to an alert, and when."""

    username: str | None  # None once the account is deleted
    action: str
    comment: str
    acted_at: datetime


def alert_actions(conn: psycopg.Connection, alert_ids: list[int]) -> dict[int, list[AlertActionRow]]:
    """The recorded actions (acknowledge, resolve, comment) of these alerts, oldest first."""
    out: dict[int, list[AlertActionRow]] = {}
    for row in conn.execute(
        "SELECT x.alert_id, acc.username, x.action, x.comment, x.acted_at FROM alert_action x"
        " LEFT JOIN account acc ON acc.id = x.account_id WHERE x.alert_id = ANY(%s) ORDER BY x.acted_at, x.id",
        (alert_ids,),
    ).fetchall():
        out.setdefault(int(row[0]), []).append(AlertActionRow(row[1], row[2], row[3], row[4]))
    return out


def _alerts(rows: list[tuple[object, ...]]) -> list[AlertRow]:
    alerts = [_row(row) for row in rows]
    # Most severe first, then newest.
    return sorted(alerts, key=lambda a: (SEVERITY_ORDER.get(a.severity, 9), -a.detected_at.timestamp()))


def open_alerts_of_dwelling(conn: psycopg.Connection, dwelling_id: int) -> list[AlertRow]:
    """A dwelling's open alerts, most severe and newest first."""
    return _alerts(conn.execute(_ALERT_SELECT + " WHERE a.dwelling_id = %s AND a.status = 'open'",
                                (dwelling_id,)).fetchall())


def open_alerts_of_buildings(conn: psycopg.Connection, building_ids: list[int]) -> list[AlertRow]:
    """Open alerts of these buildings (the alert's building or its dwelling's), most severe and newest first."""
    return _alerts(conn.execute(
        _ALERT_SELECT + " WHERE a.status = 'open' AND coalesce(a.building_id, d.building_id) = ANY(%s)",
        (building_ids,),
    ).fetchall())


def alert_building(conn: psycopg.Connection, alert_id: int) -> int | None:
    """The building an alert belongs to (its own or its dwelling's), or None."""
    row = conn.execute(
        "SELECT coalesce(a.building_id, d.building_id) FROM alert a LEFT JOIN dwelling d ON d.id = a.dwelling_id"
        " WHERE a.id = %s", (alert_id,),
    ).fetchone()
    return None if row is None else row[0]


def open_alerts_of_dwellings(conn: psycopg.Connection, dwelling_ids: list[int]) -> dict[int, list[AlertRow]]:
    """Open alerts per dwelling, most severe and newest first (the ranking's "why" column)."""
    rows = conn.execute(_ALERT_SELECT.replace("SELECT a.id,", "SELECT a.dwelling_id, a.id,", 1)
                        + " WHERE a.dwelling_id = ANY(%s) AND a.status = 'open'", (dwelling_ids,)).fetchall()
    out: dict[int, list[tuple[object, ...]]] = {}
    for row in rows:
        out.setdefault(int(row[0]), []).append(row[1:])  # type: ignore[call-overload]
    return {dwelling_id: _alerts(found) for dwelling_id, found in out.items()}
