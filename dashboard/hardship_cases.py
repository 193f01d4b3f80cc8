"""Reads and writes of the advisers' hardship cases (migration 0017); every one checked against the scope here."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import psycopg

from dashboard.scope import Role, Scope, dwelling_allowed

ACTIONS = ("contacted", "visited", "help_offered", "closed")
ROLES = (Role.ADVISER, Role.ADMIN)  # never a manager, a household or the public


@dataclass(frozen=True)
class CaseAction:
    """One step of the follow-up: who, what, when, with a note."""

    username: str
    action: str
    note: str
    acted_at: datetime


@dataclass(frozen=True)
class Case:
    """A flagged dwelling with its evidence and follow-up, as the adviser's list shows it."""

    case_id: int
    dwelling_id: int
    dwelling_code: str
    residence_name: str
    floor_area_m2: float | None
    heating_type: str
    signal: str
    status: str
    evidence: dict[str, Any]
    still_flagged: bool
    first_flagged_at: datetime
    last_flagged_at: datetime
    actions: tuple[CaseAction, ...]


def may_see(scope: Scope) -> bool:
    """Whether this role may see the hardship list at all."""
    return scope.role in ROLES


def open_cases(conn: psycopg.Connection, scope: Scope) -> list[Case]:
    """Cases not closed of the dwellings in the scope's residences (all residences for an admin); none for others."""
    if not may_see(scope):
        return []
    residences = None if scope.role is Role.ADMIN else sorted(scope.residence_ids)
    rows = conn.execute(
        """SELECT c.id, d.id, d.code, r.name, d.floor_area_m2, d.heating_type, c.signal, c.status, c.evidence,
                  c.still_flagged, c.first_flagged_at, c.last_flagged_at
             FROM hardship_case c JOIN dwelling d ON d.id = c.dwelling_id JOIN building b ON b.id = d.building_id
             JOIN residence r ON r.id = b.residence_id
            WHERE c.status <> 'closed' AND (%(all)s OR b.residence_id = ANY(%(residences)s))
            ORDER BY c.still_flagged DESC, c.first_flagged_at, c.id""",
        {"all": residences is None, "residences": residences or []},
    ).fetchall()
    history: dict[int, list[CaseAction]] = {}
    for case_id, username, action, note, acted_at in conn.execute(
            "SELECT case_id, username, action, note, acted_at FROM hardship_action WHERE case_id = ANY(%s)"
            " ORDER BY acted_at, id", ([r[0] for r in rows],)).fetchall():
        history.setdefault(case_id, []).append(CaseAction(username, action, note, acted_at))
    return [Case(r[0], r[1], r[2], r[3], None if r[4] is None else float(r[4]), r[5], r[6], r[7], r[8], r[9], r[10],
                 r[11], tuple(history.get(r[0], ()))) for r in rows]


def record_action(conn: psycopg.Connection, scope: Scope, case_id: int, action: str, note: str) -> bool:
    """Record an adviser's step on a case of a dwelling in their scope; False (nothing written) otherwise."""
    if action not in ACTIONS or not may_see(scope):
        return False
    row = conn.execute("SELECT dwelling_id FROM hardship_case WHERE id = %s AND status <> 'closed' FOR UPDATE",
                       (case_id,)).fetchone()
    if row is None or not dwelling_allowed(conn, scope, row[0]):
        return False
    conn.execute("INSERT INTO hardship_action (case_id, account_id, username, action, note) VALUES (%s, %s, %s, %s, %s)",
                 (case_id, scope.account_id, scope.username, action, note[:2000]))
    conn.execute("UPDATE hardship_case SET status = %s, closed_at = CASE WHEN %s = 'closed' THEN now() END"
                 " WHERE id = %s", (action, action, case_id))
    return True
