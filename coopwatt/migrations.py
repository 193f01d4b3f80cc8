"""Versioned, idempotent schema migrations, recorded in ``schema_migration``.

Files live in ``coopwatt/schema``: ``NNNN_name.sql`` runs in both modes;
``NNNN_name.timescale.sql`` and ``NNNN_name.plain.sql`` are the two variants
of one version, and only the one for the current mode runs.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from importlib import resources
from importlib.resources.abc import Traversable

import psycopg
from psycopg import sql

from coopwatt.db import StorageMode, storage_mode, timescaledb_available
from coopwatt.errors import CoopwattError

log = logging.getLogger(__name__)

_FILE_RE = re.compile(r"^(\d{4})_([a-z0-9_]+?)(?:\.(timescale|plain))?\.sql$")
_MODE_SUFFIX = {StorageMode.TIMESCALEDB: "timescale", StorageMode.POSTGRESQL: "plain"}
# Any constant would do; it keeps two processes from migrating at once.
_MIGRATE_LOCK_KEY = 0x636F_6F70_6D69_6772  # "coopmigr"


class MigrationError(CoopwattError):
    """A migration that failed; its transaction was rolled back and the versions before it stay applied."""


@dataclass(frozen=True)
class Migration:
    """One schema version for one storage mode."""

    version: int
    name: str
    text: str


def migrations_for(mode: StorageMode, directory: Traversable | None = None) -> list[Migration]:
    """All migrations that apply to a storage mode, in version order (from coopwatt/schema unless told)."""
    found: dict[int, Migration] = {}
    for entry in (directory or resources.files("coopwatt.schema")).iterdir():
        match = _FILE_RE.match(entry.name)
        if not match:
            continue
        version, name, variant = int(match[1]), match[2], match[3]
        if variant is not None and variant != _MODE_SUFFIX[mode]:
            continue
        if version in found:
            raise RuntimeError(f"two migrations share version {version}: {found[version].name} and {name}")
        found[version] = Migration(version, name, entry.read_text(encoding="utf-8"))
    return [found[v] for v in sorted(found)]


def _render(text: str, timezone: str) -> str:
    """Fill the few settings a migration needs ({{timezone}} becomes a quoted literal)."""
    literal = "'" + timezone.replace("'", "''") + "'"
    return text.replace("{{timezone}}", literal)


def choose_mode(conn: psycopg.Connection) -> StorageMode:
    """The mode already recorded, else TimescaleDB when the server has it."""
    recorded = storage_mode(conn)
    if recorded is not None:
        return recorded
    return StorageMode.TIMESCALEDB if timescaledb_available(conn) else StorageMode.POSTGRESQL


def applied_versions(conn: psycopg.Connection) -> set[int]:
    """Versions already recorded in schema_migration."""
    conn.execute(
        "CREATE TABLE IF NOT EXISTS schema_migration ("
        " version integer PRIMARY KEY, name text NOT NULL, mode text NOT NULL,"
        " applied_at timestamptz NOT NULL DEFAULT now())"
    )
    return {row[0] for row in conn.execute("SELECT version FROM schema_migration")}


def migrate(url: str, *, timezone: str = "Europe/Paris", target_version: int | None = None,
            directory: Traversable | None = None) -> tuple[StorageMode, list[Migration]]:
    """Apply every pending migration (up to ``target_version``); return the mode and what was applied.

    Each migration runs in a transaction of its own: one that fails raises :class:`MigrationError` naming it,
    and leaves the schema at the version before it. ``directory`` replaces coopwatt/schema (tests).
    """
    applied: list[Migration] = []
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("SELECT pg_advisory_lock(%s)", (_MIGRATE_LOCK_KEY,))
        try:
            mode = choose_mode(conn)
            log.info("storage mode: %s%s", mode, "" if mode is StorageMode.TIMESCALEDB
                     else " (TimescaleDB not available on this server; rollups refreshed by coopwatt)")
            done = applied_versions(conn)
            for migration in migrations_for(mode, directory):
                if migration.version in done or (target_version is not None and migration.version > target_version):
                    continue
                try:
                    with conn.transaction():
                        conn.execute(sql.SQL(_render(migration.text, timezone)))  # type: ignore[arg-type]
                        conn.execute(
                            "INSERT INTO schema_migration (version, name, mode) VALUES (%s, %s, %s)",
                            (migration.version, migration.name, str(mode)),
                        )
                        conn.execute(
                            "INSERT INTO coopwatt_meta (key, value) VALUES ('storage_mode', %s)"
                            " ON CONFLICT (key) DO NOTHING",
                            (str(mode),),
                        )
                except psycopg.DatabaseError as exc:
                    before = max(done | {m.version for m in applied}, default=None)
                    raise MigrationError(
                        f"migration {migration.version:04d}_{migration.name} failed and was rolled back "
                        f"(schema left at version {before if before is not None else 'none'}): "
                        f"{type(exc).__name__}: {str(exc).strip()}"
                    ) from exc
                log.info("applied migration %04d_%s", migration.version, migration.name)
                applied.append(migration)
        finally:
            conn.execute("SELECT pg_advisory_unlock(%s)", (_MIGRATE_LOCK_KEY,))
    return mode, applied


def schema_version(conn: psycopg.Connection) -> int | None:
    """The highest applied migration, or None on an empty database."""
    exists = conn.execute("SELECT to_regclass('schema_migration') IS NOT NULL").fetchone()
    if not exists or not exists[0]:
        return None
    row = conn.execute("SELECT max(version) FROM schema_migration").fetchone()
    return row[0] if row else None
