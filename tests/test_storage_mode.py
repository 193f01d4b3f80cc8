"""COOPWATT_STORAGE: which mode a database gets, on servers with TimescaleDB usable, not preloaded, or Apache-only.

The rules are tested in the pure core (resolve_mode), then against real servers:
the TimescaleDB dev server's `nopreload` cluster (the package installed, not in
shared_preload_libraries), its `apache` cluster (timescaledb.license = 'apache' on our own
build) and its `debian` cluster: Debian trixie's own postgresql-17 and postgresql-17-timescaledb
packages, the Apache-only edition an operator gets from `apt install`, preloaded as its README says.
"""

from __future__ import annotations

import logging
import os
import uuid
from collections.abc import Iterator
from datetime import date
from urllib.parse import urlsplit

import psycopg
import pytest

from coopwatt.cli import main as cli_main
from coopwatt.db import StorageMode, storage_mode
from coopwatt.migrations import migrate
from coopwatt.storage import StorageModeError, TimescaleSupport, probe_timescaledb, resolve_mode
from tests.conftest import IN_CI, TSDB_ADMIN_URL
from tests.dashboard_support import seed_cooperative

FULL = TimescaleSupport(installed=True, preloaded=True, license="timescale")
NOT_PRELOADED = TimescaleSupport(installed=True, preloaded=False, license=None)
ABSENT = TimescaleSupport(installed=False, preloaded=False, license=None)
APACHE = TimescaleSupport(installed=True, preloaded=True, license="apache")

NOPRELOAD_URL = os.environ.get("TEST_TSDB_NOPRELOAD_ADMIN_URL", "postgresql://postgres@127.0.0.1:5434/postgres")
APACHE_URL = os.environ.get("TEST_TSDB_APACHE_ADMIN_URL", "postgresql://postgres@127.0.0.1:5435/postgres")
DEBIAN_URL = os.environ.get("TEST_TSDB_DEBIAN_ADMIN_URL", "postgresql://postgres@127.0.0.1:5436/postgres")


def test_auto_takes_timescaledb_only_when_it_is_usable() -> None:
    assert resolve_mode("auto", None, FULL) == (StorageMode.TIMESCALEDB, None)
    assert resolve_mode("auto", None, ABSENT) == (StorageMode.POSTGRESQL, None)
    mode, warning = resolve_mode("auto", None, NOT_PRELOADED)
    assert mode is StorageMode.POSTGRESQL
    assert warning is not None and "shared_preload_libraries" in warning and "COOPWATT_STORAGE" in warning
    mode, warning = resolve_mode("auto", None, APACHE)
    assert mode is StorageMode.POSTGRESQL
    assert warning is not None and "Apache" in warning and "timescaledb.license" in warning


def test_an_explicit_timescaledb_that_cannot_be_honoured_stops() -> None:
    for support in (NOT_PRELOADED, ABSENT):
        with pytest.raises(StorageModeError, match="shared_preload_libraries") as info:
            resolve_mode("timescaledb", None, support)
        assert "COOPWATT_STORAGE=timescaledb" in str(info.value)
    with pytest.raises(StorageModeError, match="Apache"):
        resolve_mode("timescaledb", None, APACHE)
    assert resolve_mode("postgresql", None, FULL) == (StorageMode.POSTGRESQL, None)


def test_a_migrated_database_keeps_its_mode() -> None:
    # auto never switches, even when the server could now do otherwise.
    assert resolve_mode("auto", StorageMode.POSTGRESQL, FULL) == (StorageMode.POSTGRESQL, None)
    assert resolve_mode("auto", StorageMode.TIMESCALEDB, FULL) == (StorageMode.TIMESCALEDB, None)
    with pytest.raises(StorageModeError, match="never switches"):
        resolve_mode("timescaledb", StorageMode.POSTGRESQL, FULL)
    with pytest.raises(StorageModeError, match="never switches"):
        resolve_mode("postgresql", StorageMode.TIMESCALEDB, FULL)
    # A TimescaleDB database on a server that lost the preload cannot be served in either mode.
    with pytest.raises(StorageModeError, match="shared_preload_libraries"):
        resolve_mode("auto", StorageMode.TIMESCALEDB, NOT_PRELOADED)


def _server(url: str, what: str) -> str:
    try:
        with psycopg.connect(url, connect_timeout=3):
            return url
    except psycopg.OperationalError as exc:
        reason = f"no {what} server at {url} ({exc}); start it with deploy/timescaledb/dev-server.sh start {what}"
        if IN_CI:
            pytest.fail(reason)
        pytest.skip(reason)


def _fresh_database(admin_url: str) -> Iterator[str]:
    name = "cw_test_" + uuid.uuid4().hex[:12]
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield urlsplit(admin_url)._replace(path="/" + name).geturl()
    finally:
        with psycopg.connect(admin_url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def tsdb_db() -> Iterator[str]:
    """A database on the TimescaleDB server (preloaded, full edition)."""
    yield from _fresh_database(_server(TSDB_ADMIN_URL, "main"))


@pytest.fixture
def nopreload_db() -> Iterator[str]:
    """A database on a server where TimescaleDB is installed but not preloaded."""
    yield from _fresh_database(_server(NOPRELOAD_URL, "nopreload"))


@pytest.fixture
def apache_db() -> Iterator[str]:
    """A database on a server running TimescaleDB's Apache-only edition."""
    yield from _fresh_database(_server(APACHE_URL, "apache"))


@pytest.fixture
def debian_db() -> Iterator[str]:
    """A database on PostgreSQL 17 with Debian trixie's postgresql-17-timescaledb package, preloaded."""
    yield from _fresh_database(_server(DEBIAN_URL, "debian"))


def test_probe_sees_a_package_installed_but_not_preloaded(nopreload_db: str) -> None:
    with psycopg.connect(nopreload_db) as conn:
        assert probe_timescaledb(conn) == NOT_PRELOADED


def test_migrate_on_a_server_without_the_preload_falls_back_with_one_warning(
        nopreload_db: str, caplog: pytest.LogCaptureFixture) -> None:
    # Before COOPWATT_STORAGE, this crashed on CREATE EXTENSION ("must be preloaded").
    with caplog.at_level(logging.WARNING):
        mode, applied = migrate(nopreload_db)
    assert mode is StorageMode.POSTGRESQL and applied
    warnings = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(warnings) == 1 and "shared_preload_libraries" in warnings[0], warnings
    with psycopg.connect(nopreload_db) as conn:
        assert storage_mode(conn) is StorageMode.POSTGRESQL
        assert conn.execute("SELECT count(*) FROM pg_extension WHERE extname = 'timescaledb'").fetchone() == (0,)


def test_cli_migrate_with_timescaledb_required_stops_naming_the_preload(
        nopreload_db: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("COOPWATT_DATABASE_URL", nopreload_db)
    monkeypatch.setenv("COOPWATT_STORAGE", "timescaledb")
    assert cli_main(["migrate"]) == 2
    err = capsys.readouterr().err
    assert "COOPWATT_STORAGE=timescaledb" in err and "shared_preload_libraries" in err
    with psycopg.connect(nopreload_db) as conn:
        assert storage_mode(conn) is None  # nothing half-made
    monkeypatch.setenv("COOPWATT_STORAGE", "auto")
    assert cli_main(["migrate"]) == 0
    assert "storage mode: postgresql" in capsys.readouterr().out


def test_a_trial_creation_reads_the_licence_and_leaves_nothing(tsdb_db: str) -> None:
    with psycopg.connect(tsdb_db, autocommit=True) as conn:
        assert probe_timescaledb(conn).license is None  # not loaded in this database yet
        assert probe_timescaledb(conn, try_create=True) == FULL
        assert conn.execute("SELECT count(*) FROM pg_extension WHERE extname = 'timescaledb'").fetchone() == (0,)


def test_the_apache_edition_is_detected_and_served_as_plain_postgresql(
        apache_db: str, caplog: pytest.LogCaptureFixture) -> None:
    with psycopg.connect(apache_db, autocommit=True) as conn:
        assert probe_timescaledb(conn, try_create=True) == APACHE
    with pytest.raises(StorageModeError, match="Apache"):
        migrate(apache_db, storage="timescaledb")
    with caplog.at_level(logging.WARNING):
        mode, _ = migrate(apache_db)
    assert mode is StorageMode.POSTGRESQL
    assert any("Apache" in r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING)


def test_debians_own_package_is_detected_as_apache_only_and_coopwatt_runs_there_as_plain_postgresql(
        debian_db: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    """The real package, not our stand-in: same detection, same refusal, and the whole product on PostgreSQL 17."""
    with psycopg.connect(debian_db, autocommit=True) as conn:
        assert conn.execute("SHOW server_version_num").fetchone()[0].startswith("17")
        assert probe_timescaledb(conn, try_create=True) == APACHE
        assert conn.execute("SELECT count(*) FROM pg_extension WHERE extname = 'timescaledb'").fetchone() == (0,)
    monkeypatch.setenv("COOPWATT_DATABASE_URL", debian_db)
    monkeypatch.setenv("COOPWATT_STORAGE", "timescaledb")
    assert cli_main(["migrate"]) == 2
    err = capsys.readouterr().err
    assert "Apache" in err and "timescaledb.license" in err
    monkeypatch.setenv("COOPWATT_STORAGE", "auto")
    assert cli_main(["migrate"]) == 0
    assert "storage mode: postgresql" in capsys.readouterr().out
    # Every migration applied on PostgreSQL 17; readings and the rollup refresh work there.
    today = date(2026, 4, 10)  # the spring-forward day (29 March) is inside the 40 days seeded
    seed = seed_cooperative(debian_db, today=today, days=40)
    with psycopg.connect(debian_db) as conn:
        assert storage_mode(conn) is StorageMode.POSTGRESQL
        days, total = conn.execute(
            "SELECT count(*), sum(energy_kwh) FROM consumption_daily WHERE meter_id = %s",
            (seed.meters["c-elec"],)).fetchone()
    assert days == 40 and total == pytest.approx(40 * 555.0)


def test_a_plain_database_is_not_switched_on_a_timescaledb_server(tsdb_db: str) -> None:
    """Migrated as plain tables, then asked for TimescaleDB on a server that has it: refused, not converted."""
    assert migrate(tsdb_db, storage="postgresql")[0] is StorageMode.POSTGRESQL
    with pytest.raises(StorageModeError, match="never switches"):
        migrate(tsdb_db, storage="timescaledb")
    assert migrate(tsdb_db)[0] is StorageMode.POSTGRESQL  # auto keeps what the database records
    with psycopg.connect(tsdb_db) as conn:
        assert conn.execute("SELECT count(*) FROM pg_extension WHERE extname = 'timescaledb'").fetchone() == (0,)
