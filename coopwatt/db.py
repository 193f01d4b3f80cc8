"""Database access: connections, the pool, and which storage mode is in use."""

from __future__ import annotations

import logging
from enum import StrEnum

import psycopg
from psycopg_pool import ConnectionPool

log = logging.getLogger(__name__)


class StorageMode(StrEnum):
    """Where readings live: TimescaleDB hypertables, or plain PostgreSQL tables."""

    TIMESCALEDB = "timescaledb"
    POSTGRESQL = "postgresql"


def connect(url: str, *, autocommit: bool = False) -> psycopg.Connection:
    """Open one connection (for CLI commands and the writer)."""
    return psycopg.connect(url, autocommit=autocommit, application_name="coopwatt")


def _no_jit(conn: psycopg.Connection) -> None:
    """Pooled connections serve short requests: JIT-compiling them costs more than it saves.

    The continuous aggregates' plans are costed high enough for PostgreSQL to compile one household
    callback's query for 450 ms (measured on the 10,000-dwelling TimescaleDB database) to run it in 20.
    """
    conn.execute("SET jit = off")
    conn.commit()


def make_pool(url: str, *, min_size: int = 1, max_size: int = 4, name: str = "coopwatt") -> ConnectionPool:
    """Open the one connection pool of a process."""
    pool = ConnectionPool(
        url, min_size=min_size, max_size=max_size, name=name, open=False,
        kwargs={"application_name": name}, configure=_no_jit,
    )
    pool.open(wait=True, timeout=30)
    return pool


def storage_mode(conn: psycopg.Connection) -> StorageMode | None:
    """The mode recorded by migrate, or None before the first migration."""
    exists = conn.execute("SELECT to_regclass('coopwatt_meta') IS NOT NULL").fetchone()
    if not exists or not exists[0]:
        return None
    row = conn.execute("SELECT value FROM coopwatt_meta WHERE key = 'storage_mode'").fetchone()
    return StorageMode(row[0]) if row else None
