"""Who may see what: the session's scope, decided on the server, checked by every callback and download.

Ids that come from the browser (callback inputs, stores, query strings) are
only ever *requests*; the scope loaded from the database for the logged-in
account decides.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

import flask
import psycopg


class Role(StrEnum):
    """What an account is for."""

    HOUSEHOLD = "household"
    ADVISER = "adviser"
    MANAGER = "manager"
    ADMIN = "admin"


class ScopeDenied(Exception):
    """The session may not see what was asked for (or is not logged in)."""


@dataclass(frozen=True)
class Scope:
    """One logged-in account and the part of the cooperative it may see."""

    account_id: int
    username: str
    role: Role
    language: str
    password_changed_at: str
    dwelling_id: int | None
    residence_ids: frozenset[int]
    building_ids: frozenset[int]


def load_scope(conn: psycopg.Connection, account_id: int) -> Scope | None:
    """The account's scope from the database, or None if the account is gone."""
    row = conn.execute(
        """
        SELECT a.id, a.username, a.role, a.language, a.password_changed_at::text, a.dwelling_id,
               coalesce(array(SELECT residence_id FROM account_residence WHERE account_id = a.id), '{}'),
               coalesce(array(SELECT building_id FROM account_building WHERE account_id = a.id), '{}')
        FROM account a WHERE a.id = %s
        """,
        (account_id,),
    ).fetchone()
    if row is None:
        return None
    return Scope(
        account_id=row[0], username=row[1], role=Role(row[2]), language=row[3], password_changed_at=row[4],
        dwelling_id=row[5], residence_ids=frozenset(row[6]), building_ids=frozenset(row[7]),
    )


def current_scope() -> Scope:
    """The scope of this request's session (set by the login guard); ScopeDenied when logged out."""
    scope = flask.g.get("scope")
    if scope is None:
        raise ScopeDenied("not logged in")
    return scope


def parse_id(value: object) -> int | None:
    """A positive integer id from browser input, or None when absent; anything else is refused."""
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        raise ScopeDenied("not an id")
    if isinstance(value, int):
        number = value
    elif isinstance(value, str) and value.isdecimal() and len(value) <= 10:
        number = int(value)
    else:
        raise ScopeDenied("not an id")
    if number <= 0:
        raise ScopeDenied("not an id")
    return number


def dwelling_allowed(conn: psycopg.Connection, scope: Scope, dwelling_id: int) -> bool:
    """True when the scope covers this dwelling."""
    if scope.role is Role.HOUSEHOLD:
        return scope.dwelling_id == dwelling_id
    if scope.role is Role.ADMIN:
        return conn.execute("SELECT 1 FROM dwelling WHERE id = %s", (dwelling_id,)).fetchone() is not None
    row = conn.execute(
        "SELECT b.id, b.residence_id FROM dwelling d JOIN building b ON b.id = d.building_id WHERE d.id = %s",
        (dwelling_id,),
    ).fetchone()
    if row is None:
        return False
    building_id, residence_id = row
    if scope.role is Role.ADVISER:
        return residence_id in scope.residence_ids
    # A manager comes for meters going silent, leaks and heating faults: a home of their building
    # is theirs to look at only while it has an open alert (data minimisation, docs/operations.md).
    return building_id in scope.building_ids and dwelling_has_open_alert(conn, dwelling_id)


def dwelling_has_open_alert(conn: psycopg.Connection, dwelling_id: int) -> bool:
    """True when an alert of this dwelling is still open."""
    return conn.execute("SELECT 1 FROM alert WHERE dwelling_id = %s AND status = 'open' LIMIT 1",
                        (dwelling_id,)).fetchone() is not None


def may_download_readings(scope: Scope) -> bool:
    """Whether this role may download a dwelling's raw readings (its fine-grained load curve): never a manager."""
    return scope.role is not Role.MANAGER


def building_meters_allowed(conn: psycopg.Connection, scope: Scope, building_id: int) -> bool:
    """True when the scope covers a building's own (collective) meters: its managers and admins."""
    return scope.role in (Role.MANAGER, Role.ADMIN) and building_allowed(conn, scope, building_id)


def building_allowed(conn: psycopg.Connection, scope: Scope, building_id: int) -> bool:
    """True when the scope covers this whole building (households never do)."""
    if scope.role is Role.HOUSEHOLD:
        return False
    if scope.role is Role.MANAGER:
        return building_id in scope.building_ids
    row = conn.execute("SELECT residence_id FROM building WHERE id = %s", (building_id,)).fetchone()
    if row is None:
        return False
    return scope.role is Role.ADMIN or row[0] in scope.residence_ids


def resolve_dwelling(conn: psycopg.Connection, scope: Scope, requested: object = None) -> int:
    """The dwelling a view shows: a household's own one, or a requested one inside the scope."""
    requested_id = parse_id(requested)
    if scope.role is Role.HOUSEHOLD:
        if requested_id is None or requested_id == scope.dwelling_id:
            assert scope.dwelling_id is not None  # the schema ties every household to a dwelling
            return scope.dwelling_id
        raise ScopeDenied("another household's dwelling")
    if requested_id is None or not dwelling_allowed(conn, scope, requested_id):
        raise ScopeDenied("dwelling outside the scope")
    return requested_id
