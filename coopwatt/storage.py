"""Which storage mode a database gets (COOPWATT_STORAGE), and the health of TimescaleDB's jobs.

The choice itself is a pure function of what the server offers, what the database
already records and what the setting asks; the probes around it only read.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

import psycopg

from coopwatt.db import StorageMode

log = logging.getLogger(__name__)

StorageSetting = Literal["auto", "timescaledb", "postgresql"]

_ENABLE_HINT = (
    "add timescaledb to shared_preload_libraries in postgresql.conf (shared_preload_libraries = 'timescaledb')"
    " and restart PostgreSQL"
)


class StorageModeError(RuntimeError):
    """The storage mode asked for cannot be honoured; the message says why and what to change."""


@dataclass(frozen=True)
class TimescaleSupport:
    """What the server offers: the package installed, the library preloaded, the licence in force."""

    installed: bool
    preloaded: bool
    license: str | None  # 'timescale' (full), 'apache' (no compression, no continuous aggregates), None if unknown
    create_error: str | None = None  # why CREATE EXTENSION failed when it was tried (e.g. no privilege)

    @property
    def usable(self) -> bool:
        """True when coopwatt's TimescaleDB schema (continuous aggregates, compression) can be created."""
        return self.installed and self.preloaded and self.license != "apache" and self.create_error is None

    def why_not(self) -> str:
        """One sentence on why TimescaleDB cannot be used, and how to enable it."""
        if not self.installed:
            return ("the TimescaleDB extension is not installed on this PostgreSQL server (install it, then "
                    + _ENABLE_HINT + ")")
        if not self.preloaded:
            return f"TimescaleDB is installed but not preloaded: {_ENABLE_HINT}"
        if self.license == "apache":
            return ("this server runs TimescaleDB's Apache-only edition (timescaledb.license = 'apache', e.g. Debian's"
                    " postgresql-NN-timescaledb package), which has no continuous aggregates and no compression;"
                    " install the Timescale-licensed edition and set timescaledb.license = 'timescale'")
        if self.create_error is not None:
            return f"CREATE EXTENSION timescaledb failed: {self.create_error}"
        return "TimescaleDB is available"


def probe_timescaledb(conn: psycopg.Connection, *, try_create: bool = False) -> TimescaleSupport:
    """Read what the server offers; with try_create, also create the extension in a rolled-back transaction.

    The licence is only known once TimescaleDB is loaded in the database, so on a
    database without the extension the trial creation is what tells the Apache-only
    edition apart (and a missing privilege). It is tried only when the library is
    preloaded: otherwise the server ends the session (FATAL "must be preloaded").
    `conn` must be idle and in autocommit mode.
    """
    installed = conn.execute("SELECT 1 FROM pg_available_extensions WHERE name = 'timescaledb'").fetchone() is not None
    row = conn.execute("SELECT current_setting('shared_preload_libraries')").fetchone()
    libraries = [name.strip().strip('"') for name in (row[0] if row else "").split(",")]
    preloaded = "timescaledb" in libraries
    license_name = _license(conn)
    create_error = None
    present = conn.execute("SELECT 1 FROM pg_extension WHERE extname = 'timescaledb'").fetchone() is not None
    if try_create and installed and preloaded and not present and license_name is None:
        try:
            with conn.transaction(force_rollback=True):
                conn.execute("CREATE EXTENSION IF NOT EXISTS timescaledb")
                license_name = _license(conn)
        except psycopg.Error as exc:
            create_error = str(exc).strip().splitlines()[0]
    return TimescaleSupport(installed, preloaded, license_name, create_error)


def _license(conn: psycopg.Connection) -> str | None:
    row = conn.execute("SELECT current_setting('timescaledb.license', true)").fetchone()
    return (row[0] or None) if row else None


def resolve_mode(setting: StorageSetting, recorded: StorageMode | None,
                 support: TimescaleSupport) -> tuple[StorageMode, str | None]:
    """The mode to use and a warning to log (or None); raise StorageModeError when the setting cannot be honoured."""
    if recorded is not None:
        if setting != "auto" and setting != recorded:
            raise StorageModeError(
                f"COOPWATT_STORAGE={setting}, but this database was migrated in {recorded} mode; coopwatt never"
                f" switches a database's storage mode (set COOPWATT_STORAGE={recorded} or auto, or migrate a new"
                " database and move the data)")
        if recorded is StorageMode.TIMESCALEDB and not (support.installed and support.preloaded):
            raise StorageModeError(
                f"this database was migrated in timescaledb mode, but {support.why_not()}")
        return recorded, None
    if setting == "postgresql":
        return StorageMode.POSTGRESQL, None
    if setting == "timescaledb":
        if not support.usable:
            raise StorageModeError(f"COOPWATT_STORAGE=timescaledb cannot be honoured: {support.why_not()}")
        return StorageMode.TIMESCALEDB, None
    if support.usable:
        return StorageMode.TIMESCALEDB, None
    if not support.installed:
        # The usual development machine: plain PostgreSQL is the expected mode, worth a note but no alarm.
        return StorageMode.POSTGRESQL, None
    return StorageMode.POSTGRESQL, (
        f"COOPWATT_STORAGE=auto: using plain PostgreSQL because {support.why_not()}"
        " (then migrate a new database, or set COOPWATT_STORAGE=postgresql to silence this warning)")


@dataclass(frozen=True)
class FailedJob:
    """A TimescaleDB background job whose last run failed."""

    job_id: int
    proc_name: str
    hypertable: str | None
    last_run: datetime | None
    total_failures: int
    error: str | None

    def describe(self) -> str:
        """One line for a person: which job, on what, when, and the server's error."""
        target = f" on {self.hypertable}" if self.hypertable else ""
        when = f" at {self.last_run.isoformat()}" if self.last_run else ""
        return (f"TimescaleDB job {self.job_id} ({self.proc_name}{target}) failed{when}"
                f" ({self.total_failures} failures): {self.error or 'no error recorded'}")


def failed_jobs(conn: psycopg.Connection) -> list[FailedJob]:
    """TimescaleDB jobs whose last run failed, with their latest error; empty in plain mode.

    The telemetry job is left out: it fails wherever the server has no network,
    and says nothing about coopwatt's data.
    """
    present = conn.execute("SELECT 1 FROM pg_extension WHERE extname = 'timescaledb'").fetchone()
    if present is None:
        return []
    rows = conn.execute(
        "SELECT s.job_id, j.proc_name, s.hypertable_name, s.last_run_started_at, s.total_failures,"
        "       (SELECT e.err_message FROM timescaledb_information.job_errors e"
        "         WHERE e.job_id = s.job_id ORDER BY e.start_time DESC LIMIT 1)"
        " FROM timescaledb_information.job_stats s JOIN timescaledb_information.jobs j USING (job_id)"
        " WHERE s.last_run_status = 'Failed' AND j.proc_name <> 'policy_telemetry'"
        " ORDER BY s.job_id").fetchall()
    return [FailedJob(int(r[0]), str(r[1]), r[2], r[3], int(r[4] or 0), r[5]) for r in rows]


class JobWatch:
    """Failed TimescaleDB jobs of one database, read at most once per `max_age_s` (for /metrics and /health).

    A scrape every few seconds must not query the catalog each time; a database that
    cannot be reached keeps the last answer (the writer's own health reports that).
    """

    def __init__(self, url: str, *, max_age_s: float = 60.0) -> None:
        self._url = url
        self._max_age_s = max_age_s
        self._lock = threading.Lock()
        self._checked_at: float | None = None
        self._failed: list[FailedJob] = []

    def current(self) -> list[FailedJob]:
        """The failed jobs as of the last check, checking again when it is older than max_age_s."""
        with self._lock:
            now = time.monotonic()
            if self._checked_at is None or now - self._checked_at >= self._max_age_s:
                self._checked_at = now
                try:
                    with psycopg.connect(self._url, connect_timeout=5, application_name="coopwatt-jobwatch") as conn:
                        self._failed = failed_jobs(conn)
                except psycopg.Error as exc:
                    log.warning("could not read TimescaleDB job stats: %s", exc)
                for job in self._failed:
                    log.warning("%s", job.describe())
            return list(self._failed)
