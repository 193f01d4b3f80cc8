"""``coopwatt status``: which storage mode, which schema version, how much data."""

from __future__ import annotations

import psycopg

from coopwatt.db import StorageMode, storage_mode
from coopwatt.migrations import schema_version
from coopwatt.settings import Settings
from coopwatt.storage import failed_jobs, probe_timescaledb

_COUNTED = ("residence", "building", "dwelling", "meter", "reading", "consumption_hourly", "dead_letter")


def collect_status(conn: psycopg.Connection) -> dict[str, object]:
    """Mode, schema version and row counts, as a plain dict."""
    mode = storage_mode(conn)
    support = probe_timescaledb(conn)
    status: dict[str, object] = {
        "storage_mode": str(mode) if mode else "not migrated",
        "timescaledb_available": support.usable,
        "timescaledb_note": None if support.usable else support.why_not(),
        "schema_version": schema_version(conn),
    }
    if mode is None:
        return status
    status["timescaledb_jobs_failed"] = [job.describe() for job in failed_jobs(conn)]
    counts: dict[str, int] = {}
    for table in _COUNTED:
        if mode is StorageMode.TIMESCALEDB and table in ("reading", "consumption_hourly"):
            # Exact counts over compressed hypertables are slow; the planner's estimate is enough here.
            row = conn.execute("SELECT approximate_row_count(%s::regclass)", (table,)).fetchone()
        else:
            row = conn.execute(f"SELECT count(*) FROM {table}").fetchone()  # noqa: S608 - fixed table names
        counts[table] = int(row[0]) if row else 0
    status["counts"] = counts
    last = conn.execute("SELECT max(time) FROM reading").fetchone()
    status["last_reading"] = last[0].isoformat() if last and last[0] else None
    return status


def print_status(url: str, settings: Settings) -> int:
    """Print the status for a person; exit code 1 when the schema is missing, 3 when TimescaleDB jobs failed."""
    with psycopg.connect(url) as conn:
        status = collect_status(conn)
    mode = status["storage_mode"]
    print(f"storage mode:   {mode}")
    if mode == StorageMode.POSTGRESQL:
        print("                (plain tables, rollups refreshed by coopwatt)")
    if status.get("timescaledb_note"):
        print(f"timescaledb:    {status['timescaledb_note']}")
    failed = list(status.get("timescaledb_jobs_failed") or [])  # type: ignore[call-overload]
    for line in failed:
        print(f"WARNING: {line}")
    print(f"schema version: {status['schema_version']}")
    for table, count in dict(status.get("counts", {})).items():  # type: ignore[call-overload]
        print(f"  {table:<20} {count:>12,}")
    if status.get("last_reading"):
        print(f"last reading:   {status['last_reading']}")
    if status["schema_version"] is None:
        return 1
    return 3 if failed else 0
