"""First start and upgrade of a deployment: wait for the database, migrate, create the admin once.

Run by the one-shot ``migrate`` service of docker-compose.yml (``python -m coopwatt.firststart``)
before any other coopwatt service starts, on every ``docker compose up``: migrations and
policies are idempotent, and the admin account is created only while no admin exists.

Deployment-only inputs come from plain environment variables (they are not coopwatt settings):
``ADMIN_USERNAME`` / ``ADMIN_PASSWORD`` for the first admin, ``FIRSTSTART_WAIT_S`` for how long
to wait for the database (default 120 s).
"""

from __future__ import annotations

import logging
import os
import sys
import time
from collections.abc import Mapping

import psycopg

from coopwatt.settings import Settings, SettingsError, load_settings

log = logging.getLogger("coopwatt.firststart")

DEFAULT_WAIT_S = 120.0


class FirstStartError(RuntimeError):
    """The deployment cannot start; the message says why and what to do."""


def wait_for_database(url: str, wait_s: float, *, interval_s: float = 2.0) -> None:
    """Return once PostgreSQL accepts a connection; raise FirstStartError after `wait_s`."""
    deadline = time.monotonic() + wait_s
    attempt = 0
    while True:
        attempt += 1
        try:
            with psycopg.connect(url, connect_timeout=5):
                log.info("database reachable (attempt %d)", attempt)
                return
        except psycopg.OperationalError as exc:
            last_error = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        if time.monotonic() + interval_s > deadline:
            raise FirstStartError(
                f"COOPWATT_DATABASE_URL: database not reachable after {wait_s:g} s ({attempt} attempts); "
                f"last error: {last_error}"
            )
        log.info("waiting for the database: %s", last_error)
        time.sleep(interval_s)


def admin_credentials(environ: Mapping[str, str]) -> tuple[str, str] | None:
    """The (username, password) to create the first admin with, or None when no password is given."""
    from coopwatt.users import MIN_PASSWORD_LENGTH, normalise_username

    password = environ.get("ADMIN_PASSWORD", "")
    if not password:
        return None
    username = normalise_username(environ.get("ADMIN_USERNAME", "")) or "admin"
    if not 2 <= len(username) <= 64:
        raise FirstStartError(f"ADMIN_USERNAME: expected 2 to 64 characters (got {username!r})")
    if len(password) < MIN_PASSWORD_LENGTH:
        raise FirstStartError(f"ADMIN_PASSWORD: expected at least {MIN_PASSWORD_LENGTH} characters")
    return username, password


def ensure_admin(url: str, username: str, password: str) -> str:
    """Create the admin account unless an admin exists; say what was done."""
    from dashboard.auth import hash_password

    with psycopg.connect(url) as conn:
        has_accounts = conn.execute("SELECT to_regclass('account') IS NOT NULL").fetchone()
        if not has_accounts or not has_accounts[0]:
            return "no account table yet (dashboard accounts not installed): admin not created"
        if conn.execute("SELECT 1 FROM account WHERE role = 'admin' LIMIT 1").fetchone():
            return "an admin account exists already: nothing to do"
        inserted = conn.execute(
            "INSERT INTO account (username, password_hash, role) VALUES (%s, %s, 'admin') "
            "ON CONFLICT (username) DO NOTHING RETURNING id",
            (username, hash_password(password)),
        ).fetchone()
        conn.commit()
    if inserted is None:
        raise FirstStartError(f"ADMIN_USERNAME: a non-admin account named {username!r} exists; choose another name")
    return f"admin account {username!r} created"


def first_start(settings: Settings, environ: Mapping[str, str]) -> None:
    """Wait for the database, migrate and apply policies, then create the admin if asked."""
    from coopwatt.cli import require_database_url
    from coopwatt.migrations import migrate
    from coopwatt.policies import apply_policies

    url = require_database_url(settings)
    credentials = admin_credentials(environ)
    wait_s = float(environ.get("FIRSTSTART_WAIT_S", DEFAULT_WAIT_S))
    wait_for_database(url, wait_s)
    mode, applied = migrate(url, timezone=settings.timezone, storage=settings.storage)
    apply_policies(url, settings)
    log.info("storage mode: %s; applied %d migration(s)", mode, len(applied))
    if credentials is None:
        log.info("ADMIN_PASSWORD not set: no admin account created")
    else:
        log.info(ensure_admin(url, *credentials))


def main() -> int:
    """Entry point of the migrate service; exit 2 with a message naming the setting at fault."""
    try:
        settings = load_settings()
        logging.basicConfig(level=settings.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
        first_start(settings, os.environ)
    except (SettingsError, FirstStartError) as exc:
        print(f"coopwatt firststart: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
