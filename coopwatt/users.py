"""``coopwatt users add|list|set-password|remove``: dashboard accounts and their scope."""

from __future__ import annotations

import argparse
import getpass
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING

from coopwatt.settings import Settings

if TYPE_CHECKING:
    import psycopg

ROLES = ("household", "adviser", "manager", "admin")
MIN_PASSWORD_LENGTH = 10


class UserError(ValueError):
    """A users command cannot do what was asked; the message says why."""


def add_arguments(users: argparse.ArgumentParser) -> None:
    """The users subcommands and their options."""
    sub = users.add_subparsers(dest="users_command", required=True)
    add = sub.add_parser("add", help="create an account")
    add.add_argument("username")
    add.add_argument("--role", choices=ROLES, required=True)
    add.add_argument("--dwelling", help="household: dwelling id or RESIDENCE/BUILDING/DWELLING codes")
    add.add_argument("--residence", action="append", default=[], help="adviser: residence id or code (repeatable)")
    add.add_argument("--building", action="append", default=[], help="manager: building id or RESIDENCE/BUILDING (repeatable)")
    add.add_argument("--language", choices=("fr", "en"), default="fr")
    add.add_argument("--password-stdin", action="store_true", help="read the password from standard input")
    sub.add_parser("list", help="list accounts and their scope")
    password = sub.add_parser("set-password", help="change an account's password (ends its sessions)")
    password.add_argument("username")
    password.add_argument("--password-stdin", action="store_true", help="read the password from standard input")
    remove = sub.add_parser("remove", help="delete an account")
    remove.add_argument("username")


def _read_password(from_stdin: bool) -> str:
    if from_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = getpass.getpass("Password: ")
        if getpass.getpass("Again: ") != password:
            raise UserError("the two passwords differ")
    if len(password) < MIN_PASSWORD_LENGTH:
        raise UserError(f"a password needs at least {MIN_PASSWORD_LENGTH} characters")
    return password


def _resolve(conn: psycopg.Connection, what: str, reference: str) -> int:
    """An id from an id or a code path: residence CODE, building RES/BLD, dwelling RES/BLD/DWELLING."""
    if reference.isdecimal():
        table = {"residence": "residence", "building": "building", "dwelling": "dwelling"}[what]
        row = conn.execute(f"SELECT id FROM {table} WHERE id = %s", (int(reference),)).fetchone()
    else:
        parts = reference.split("/")
        queries = {
            ("residence", 1): "SELECT id FROM residence WHERE code = %s",
            ("building", 2): "SELECT b.id FROM building b JOIN residence r ON r.id = b.residence_id"
                             " WHERE r.code = %s AND b.code = %s",
            ("dwelling", 3): "SELECT d.id FROM dwelling d JOIN building b ON b.id = d.building_id"
                             " JOIN residence r ON r.id = b.residence_id WHERE r.code = %s AND b.code = %s AND d.code = %s",
        }
        query = queries.get((what, len(parts)))
        if query is None:
            raise UserError(f"--{what} {reference!r}: expected an id or {'/'.join(['CODE'] * len(parts))} codes")
        row = conn.execute(query, parts).fetchone()  # type: ignore[arg-type]
    if row is None:
        raise UserError(f"--{what} {reference!r}: no such {what}")
    return int(row[0])


def normalise_username(username: str) -> str:
    """User names are compared without case and surrounding spaces."""
    return username.strip().lower()


def add_user(conn: psycopg.Connection, args: argparse.Namespace, password: str) -> int:
    """Create an account with its scope; return its id (the caller commits)."""
    from dashboard.auth import hash_password

    username = normalise_username(args.username)
    role = args.role
    if role == "household" and (not args.dwelling or args.residence or args.building):
        raise UserError("a household account needs --dwelling and nothing else")
    if role == "adviser" and (not args.residence or args.dwelling or args.building):
        raise UserError("an adviser account needs one or more --residence and nothing else")
    if role == "manager" and (not args.building or args.dwelling or args.residence):
        raise UserError("a manager account needs one or more --building and nothing else")
    if role == "admin" and (args.dwelling or args.residence or args.building):
        raise UserError("an admin account sees everything: no --dwelling, --residence or --building")
    if conn.execute("SELECT 1 FROM account WHERE username = %s", (username,)).fetchone():
        raise UserError(f"{username}: an account with this name exists")
    dwelling_id = _resolve(conn, "dwelling", args.dwelling) if args.dwelling else None
    row = conn.execute(
        "INSERT INTO account (username, password_hash, role, dwelling_id, language) VALUES (%s, %s, %s, %s, %s)"
        " RETURNING id",
        (username, hash_password(password), role, dwelling_id, args.language),
    ).fetchone()
    assert row is not None
    account_id = int(row[0])
    for reference in args.residence:
        conn.execute("INSERT INTO account_residence VALUES (%s, %s) ON CONFLICT DO NOTHING",
                     (account_id, _resolve(conn, "residence", reference)))
    for reference in args.building:
        conn.execute("INSERT INTO account_building VALUES (%s, %s) ON CONFLICT DO NOTHING",
                     (account_id, _resolve(conn, "building", reference)))
    return account_id


def list_users(conn: psycopg.Connection) -> list[tuple[str, str, str, str]]:
    """Every account as (username, role, scope in words, last login)."""
    rows = conn.execute(
        """
        SELECT a.username, a.role,
               CASE a.role
                 WHEN 'household' THEN 'dwelling ' || r.code || '/' || b.code || '/' || d.code
                 WHEN 'adviser' THEN 'residences ' || coalesce((SELECT string_agg(rr.code, ',' ORDER BY rr.code)
                     FROM account_residence ar JOIN residence rr ON rr.id = ar.residence_id WHERE ar.account_id = a.id), '-')
                 WHEN 'manager' THEN 'buildings ' || coalesce((SELECT string_agg(rr.code || '/' || bb.code, ',' ORDER BY rr.code, bb.code)
                     FROM account_building ab JOIN building bb ON bb.id = ab.building_id
                     JOIN residence rr ON rr.id = bb.residence_id WHERE ab.account_id = a.id), '-')
                 ELSE 'everything' END,
               coalesce(to_char(a.last_login_at, 'YYYY-MM-DD HH24:MI TZ'), 'never')
        FROM account a
        LEFT JOIN dwelling d ON d.id = a.dwelling_id
        LEFT JOIN building b ON b.id = d.building_id
        LEFT JOIN residence r ON r.id = b.residence_id
        ORDER BY a.username
        """
    ).fetchall()
    return [(row[0], row[1], row[2], row[3]) for row in rows]


def set_password(conn: psycopg.Connection, username: str, password: str) -> None:
    """Replace an account's password; its open sessions end (they carry the old change time)."""
    from dashboard.auth import hash_password

    done = conn.execute(
        "UPDATE account SET password_hash = %s, password_changed_at = clock_timestamp() WHERE username = %s",
        (hash_password(password), normalise_username(username)),
    )
    if done.rowcount != 1:
        raise UserError(f"{username}: no such account")


def remove_user(conn: psycopg.Connection, username: str) -> None:
    """Delete an account (its erasure requests stay, with the user name, for the record)."""
    done = conn.execute("DELETE FROM account WHERE username = %s", (normalise_username(username),))
    if done.rowcount != 1:
        raise UserError(f"{username}: no such account")


def ensure_demo_accounts(conn: psycopg.Connection) -> list[tuple[str, str, str]]:
    """One account per role on the demo data, with fresh random passwords; (username, password, role) each.

    The household is the first dwelling whose electricity has a published comparison with
    similar homes in the latest month that has one (so the demo shows it; else the first
    dwelling), never one on the advisers' hardship list when another will do, the adviser has its residence, the manager every building of that residence (one
    building would often have no open alert to show). Run again, it resets
    the passwords and follows the comparisons (the caller commits).
    """
    import secrets

    from dashboard.auth import hash_password

    first = conn.execute(
        """
        SELECT d.id, b.id, b.residence_id FROM dwelling d JOIN building b ON b.id = d.building_id
        ORDER BY EXISTS (SELECT 1 FROM hardship_case h WHERE h.dwelling_id = d.id AND h.still_flagged),
                 (SELECT max(m.period_end) FROM comparison_member m JOIN comparison_group g
                  USING (group_key, energy_kind, period_start, period_end)
                  WHERE m.dwelling_id = d.id AND m.energy_kind = 'electricity' AND g.published) DESC NULLS LAST,
                 d.id
        LIMIT 1
        """
    ).fetchone()
    if first is None:
        raise UserError("no dwelling yet: the demo accounts need the simulated residence")
    dwelling_id, building_id, residence_id = first
    created = []
    for username, role in (("foyer", "household"), ("conseil", "adviser"), ("gestion", "manager"), ("admin", "admin")):
        password = secrets.token_urlsafe(9)
        row = conn.execute(
            """
            INSERT INTO account (username, password_hash, role, dwelling_id) VALUES (%s, %s, %s, %s)
            ON CONFLICT (username) DO UPDATE
                SET password_hash = excluded.password_hash, password_changed_at = clock_timestamp(),
                    dwelling_id = excluded.dwelling_id
            RETURNING id
            """,
            ("demo-" + username, hash_password(password), role, dwelling_id if role == "household" else None),
        ).fetchone()
        assert row is not None
        # The demo accounts' scope follows the household's dwelling: an earlier run's is replaced.
        if role == "adviser":
            conn.execute("DELETE FROM account_residence WHERE account_id = %s", (row[0],))
            conn.execute("INSERT INTO account_residence VALUES (%s, %s)", (row[0], residence_id))
        if role == "manager":
            conn.execute("DELETE FROM account_building WHERE account_id = %s", (row[0],))
            conn.execute("INSERT INTO account_building SELECT %s, id FROM building WHERE residence_id = %s",
                         (row[0], residence_id))
        created.append(("demo-" + username, password, role))
    return created


def main(settings: Settings, args: argparse.Namespace) -> int:
    """Run one users subcommand."""
    import psycopg

    from coopwatt.cli import require_database_url
    from coopwatt.db import connect

    url = require_database_url(settings)
    try:
        with connect(url) as conn:
            if args.users_command == "add":
                password = _read_password(args.password_stdin)
                add_user(conn, args, password)
                print(f"added {normalise_username(args.username)} ({args.role})")
            elif args.users_command == "list":
                rows = list_users(conn)
                _print_table([("user", "role", "scope", "last login"), *rows])
            elif args.users_command == "set-password":
                set_password(conn, args.username, _read_password(args.password_stdin))
                print(f"password changed for {normalise_username(args.username)}")
            elif args.users_command == "remove":
                remove_user(conn, args.username)
                print(f"removed {normalise_username(args.username)}")
            conn.commit()
    except UserError as exc:
        print(f"coopwatt users: {exc}", file=sys.stderr)
        return 1
    except psycopg.errors.UndefinedTable:
        print("coopwatt users: no account table; run `coopwatt migrate` first", file=sys.stderr)
        return 1
    return 0


def _print_table(rows: Sequence[tuple[str, ...]]) -> None:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        print("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip())
