"""The login throttle: growing pauses after failed logins, per account, per address and per both.

Three counters, each over the last ``COOPWATT_DASHBOARD_LOGIN_WINDOW_S`` seconds, kept in
``login_attempt`` so every gunicorn worker sees them:

* one user name from one address: ``max_failures`` free failures, then a pause that
  doubles with each further failure (from ``first_pause_s``, capped at the window); the
  owner's own success clears it;
* one address, whatever the names: four times as many free failures (a flat-share or an
  office may sit behind one address);
* one user name, whatever the addresses (someone guessing from many addresses): four
  times as many too, and it never pauses an address this account has logged in from
  before, so an attacker cannot lock the owner out from the owner's usual place.

A refused attempt (made during a pause) is recorded but never counted: hammering does
not lengthen the pause. The right password from another address than the attacker's is
never held up by the attacker's failures.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import psycopg

from coopwatt.settings import Settings

# An address from which the account logged in this recently is "known" (spared the account-wide pause).
KNOWN_ADDRESS_DAYS = 90
# Per address and per account, this many times the per-pair free failures.
WIDE_FACTOR = 4
# Advisory lock classes (any constants; "cw" and 1 or 2).
_NAME_LOCK_CLASS = 0x6377_0001
_ADDRESS_LOCK_CLASS = 0x6377_0002


@dataclass(frozen=True)
class PauseRule:
    """How many failures are free, and how the pause grows after them."""

    free_failures: int
    first_pause_s: float
    max_pause_s: float


def pause_after(rule: PauseRule, failures: int) -> float:
    """Seconds of pause after this many counted failures: none while free, then doubling, capped."""
    if failures < rule.free_failures:
        return 0.0
    # The exponent is bounded so a huge count cannot overflow before the cap applies.
    return min(rule.first_pause_s * 2.0 ** min(failures - rule.free_failures, 60), rule.max_pause_s)


def wait_s(rule: PauseRule, failures: int, last_failure_at: datetime | None, now: datetime) -> float:
    """Seconds until the next attempt is allowed (0: allowed now); the pause runs from the last counted failure."""
    pause = pause_after(rule, failures)
    if pause <= 0 or last_failure_at is None:
        return 0.0
    return max(0.0, (last_failure_at + timedelta(seconds=pause) - now).total_seconds())


@dataclass(frozen=True)
class Rules:
    """The three rules, from the settings."""

    pair: PauseRule
    address: PauseRule
    account: PauseRule

    @classmethod
    def from_settings(cls, settings: Settings) -> Rules:
        """The rules the settings describe."""
        first, cap = settings.dashboard_login_first_pause_s, float(settings.dashboard_login_window_s)
        free = settings.dashboard_login_max_failures
        return cls(PauseRule(free, first, cap), PauseRule(WIDE_FACTOR * free, first, cap),
                   PauseRule(WIDE_FACTOR * free, first, cap))


def login_wait_s(conn: psycopg.Connection, settings: Settings, username: str, remote_addr: str) -> float:
    """Seconds this user name must wait before trying from this address (0: try now)."""
    rules = Rules.from_settings(settings)
    row = conn.execute(
        """
        WITH recent AS (
            SELECT username, remote_addr, attempted_at FROM login_attempt
            WHERE NOT succeeded AND NOT refused AND attempted_at > now() - %(window)s
              AND (username = %(name)s OR remote_addr = %(addr)s)
        ), pair_cleared AS (
            SELECT coalesce(max(attempted_at), '-infinity') AS at FROM login_attempt
            WHERE username = %(name)s AND remote_addr = %(addr)s AND succeeded
        )
        SELECT now(),
               count(*) FILTER (WHERE username = %(name)s AND remote_addr = %(addr)s
                                AND attempted_at > (SELECT at FROM pair_cleared)),
               max(attempted_at) FILTER (WHERE username = %(name)s AND remote_addr = %(addr)s
                                         AND attempted_at > (SELECT at FROM pair_cleared)),
               count(*) FILTER (WHERE remote_addr = %(addr)s),
               max(attempted_at) FILTER (WHERE remote_addr = %(addr)s),
               count(*) FILTER (WHERE username = %(name)s),
               max(attempted_at) FILTER (WHERE username = %(name)s),
               EXISTS (SELECT 1 FROM login_attempt WHERE username = %(name)s AND remote_addr = %(addr)s
                       AND succeeded AND attempted_at > now() - %(known)s)
        FROM recent
        """,
        {"name": username, "addr": remote_addr, "window": timedelta(seconds=settings.dashboard_login_window_s),
         "known": timedelta(days=KNOWN_ADDRESS_DAYS)},
    ).fetchone()
    assert row is not None
    now, pair_n, pair_at, addr_n, addr_at, name_n, name_at, known = row
    waits = [wait_s(rules.pair, pair_n, pair_at, now), wait_s(rules.address, addr_n, addr_at, now)]
    if not known:
        waits.append(wait_s(rules.account, name_n, name_at, now))
    return max(waits)


def lock_attempts(conn: psycopg.Connection, username: str, remote_addr: str) -> None:
    """Serialise attempts on one user name and on one address across workers (until the transaction ends)."""
    # Always name first, then address: two transactions can never wait on each other in a circle.
    # The two-key form keeps names and addresses apart (a name's hash can never block an address's).
    conn.execute("SELECT pg_advisory_xact_lock(%s, hashtext(%s))", (_NAME_LOCK_CLASS, username))
    conn.execute("SELECT pg_advisory_xact_lock(%s, hashtext(%s))", (_ADDRESS_LOCK_CLASS, remote_addr))


def record_attempt(conn: psycopg.Connection, username: str, remote_addr: str, *, succeeded: bool,
                   refused: bool) -> None:
    """Keep one login attempt (a refused one is recorded but never counted as a failure)."""
    conn.execute(
        "INSERT INTO login_attempt (username, remote_addr, succeeded, refused) VALUES (%s, %s, %s, %s)",
        (username, remote_addr, succeeded, refused),
    )
