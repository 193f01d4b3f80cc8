"""Shared fixtures: a real PostgreSQL and a real MQTT broker.

Where the machine's PostgreSQL (127.0.0.1:5432) and Mosquitto (127.0.0.1:1883)
are reachable, the tests use them; otherwise they start the embedded ones.
In CI (CI=true) a missing service is a failure, never a skip.

Storage modes: every test whose fixtures reach ``pg_admin_url`` runs once per
mode, ``[postgresql]`` on the server above and ``[timescaledb]`` on the
TimescaleDB server at TEST_TSDB_ADMIN_URL (deploy/timescaledb/dev-server.sh
starts one on 127.0.0.1:5433). Where none answers, the TimescaleDB variants
skip with the reason (never in CI). ``@pytest.mark.storage("timescaledb")``
narrows a test to the modes it names (the year-long recall tests and the
default demo run on TimescaleDB only: their storage paths run on both modes in
smaller tests, named where they are marked); browser tests run on plain
PostgreSQL only; TEST_STORAGE_MODES=postgresql (comma-separated) narrows the
whole run.
"""

from __future__ import annotations

import contextlib
import os
import socket
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import psycopg
import pytest

from coopwatt.settings import Settings, load_settings

pytest_plugins = ["pytester",  # tests of these fixtures run pytest on a small file of their own
                  "tests.dashboard_fixtures"]  # the module-wide seeded dashboard behind `seeded` and `server`

IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
ADMIN_URL = os.environ.get("TEST_PG_ADMIN_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
TSDB_ADMIN_URL = os.environ.get("TEST_TSDB_ADMIN_URL", "postgresql://postgres@127.0.0.1:5433/postgres")
STORAGE_MODES = tuple(m.strip() for m in os.environ.get("TEST_STORAGE_MODES", "postgresql,timescaledb").split(",")
                      if m.strip())
MQTT_URL = os.environ.get("TEST_MQTT_URL", "mqtt://127.0.0.1:1883")
ARTIFACTS = Path(__file__).resolve().parent.parent / "artifacts"


def _postgres_reachable(url: str) -> bool:
    try:
        with psycopg.connect(url, connect_timeout=3):
            return True
    except psycopg.OperationalError:
        return False


def _tcp_reachable(url: str) -> bool:
    parts = urlsplit(url)
    try:
        with socket.create_connection((parts.hostname or "127.0.0.1", parts.port or 1883), timeout=3):
            return True
    except OSError:
        return False


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Run every storage-touching test once per storage mode (see the module docstring)."""
    if "storage_mode_name" not in metafunc.fixturenames:
        return
    marker = metafunc.definition.get_closest_marker("storage")
    if marker is not None:
        modes = tuple(m for m in marker.args if m in STORAGE_MODES)
    elif metafunc.definition.get_closest_marker("browser") is not None:
        modes = ("postgresql",)  # the dashboard's storage paths are covered by the non-browser tests
    else:
        modes = STORAGE_MODES
    if not modes:  # a narrowed run (TEST_STORAGE_MODES) leaves this test no mode: say so rather than "empty set"
        reason = f"runs only on {', '.join(marker.args) if marker else 'other modes'}; TEST_STORAGE_MODES={','.join(STORAGE_MODES)}"
        metafunc.parametrize("storage_mode_name", [pytest.param("none", marks=pytest.mark.skip(reason=reason))],
                             indirect=True, scope="session")
        return
    metafunc.parametrize("storage_mode_name", modes, indirect=True, scope="session")


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Under pytest-xdist, the longest files first, so that no worker is left alone with one at the end.

    Workers take whole files (run.py: --dist loadfile, in collection order), so a module's shared
    fixtures (the compose stack builds images for minutes) are set up once, on one worker. Files with
    tests marked slow go first; then the files with the most tests that reach a database (each costs a
    database and often a server), so that the last files handed out are the short ones.
    """
    if not hasattr(config, "workerinput"):
        return

    def file_of(item: pytest.Item) -> str:
        return item.nodeid.split("::")[0]

    long_files = {file_of(item) for item in items if item.get_closest_marker("slow") is not None}
    weight: dict[str, float] = {}
    for item in items:
        names = getattr(item, "fixturenames", ())
        weight[file_of(item)] = weight.get(file_of(item), 0.0) + (1.0 if "pg_admin_url" in names else 0.2)
    # Slow files keep their order among themselves (their test counts say nothing of their length).
    items.sort(key=lambda item: (0.0, 0.0) if file_of(item) in long_files else (1.0, -weight[file_of(item)]))


@pytest.fixture(scope="session")
def storage_mode_name(request: pytest.FixtureRequest) -> str:
    """The storage mode this test runs on: 'postgresql' or 'timescaledb'."""
    return str(getattr(request, "param", "postgresql"))


def _timescaledb_problem(url: str) -> str | None:
    """Why the server at `url` cannot serve the TimescaleDB mode, or None when it can."""
    from coopwatt.storage import probe_timescaledb

    try:
        with psycopg.connect(url, connect_timeout=3) as conn:
            support = probe_timescaledb(conn)
    except psycopg.OperationalError as exc:
        return (f"no TimescaleDB server at {url} ({str(exc).strip().splitlines()[0]});"
                " start one with deploy/timescaledb/dev-server.sh or set TEST_TSDB_ADMIN_URL")
    return None if support.usable else f"{url}: {support.why_not()}"


@pytest.fixture(scope="session")
def pg_admin_url(storage_mode_name: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A URL to a maintenance database on a real server of this test's storage mode."""
    if storage_mode_name == "timescaledb":
        problem = _timescaledb_problem(TSDB_ADMIN_URL)
        if problem is None:
            yield TSDB_ADMIN_URL
            return
        if IN_CI:
            pytest.fail(f"TimescaleDB tests cannot run in CI: {problem}")
        pytest.skip(problem)
    if _postgres_reachable(ADMIN_URL):
        yield ADMIN_URL
        return
    if IN_CI:
        pytest.fail(f"PostgreSQL is not reachable at {ADMIN_URL} (CI needs the real service)")
    from coopwatt.embedded import EmbeddedPostgres

    server = EmbeddedPostgres(tmp_path_factory.mktemp("pg"))
    server.start()
    try:
        yield server.url("postgres")
    finally:
        server.stop()


def _with_database(admin_url: str, name: str) -> str:
    parts = urlsplit(admin_url)
    return parts._replace(path="/" + name).geturl()


def _stop_on_failed_jobs(url: str) -> None:
    """End the whole run at the first failed TimescaleDB job, with its error, not with a cascade of failures."""
    from coopwatt.storage import failed_jobs

    try:
        with psycopg.connect(url, connect_timeout=5) as conn:
            failed = failed_jobs(conn)
    except psycopg.Error:
        return  # a test that broke its database reports that itself
    if failed:
        pytest.exit("TimescaleDB background job failed: " + "; ".join(job.describe() for job in failed), returncode=1)


@contextlib.contextmanager
def _dropped_after(pg_admin_url: str, storage_mode_name: str, name: str) -> Iterator[str]:
    """The URL of database `name`; once done with, its TimescaleDB jobs are checked and it is dropped."""
    url = _with_database(pg_admin_url, name)
    try:
        yield url
        if storage_mode_name == "timescaledb":
            _stop_on_failed_jobs(url)
    finally:
        with psycopg.connect(pg_admin_url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def _test_database(pg_admin_url: str, storage_mode_name: str) -> Iterator[str]:
    """The URL of this test's own database, made by `db_url` or `migrated_db_url`, dropped afterwards."""
    with _dropped_after(pg_admin_url, storage_mode_name, "cw_test_" + uuid.uuid4().hex[:12]) as url:
        yield url


@pytest.fixture
def db_url(_test_database: str, pg_admin_url: str) -> str:
    """An empty database of its own for one test, dropped afterwards (the migrated one if the test asked for it first)."""
    name = urlsplit(_test_database).path.lstrip("/")
    with psycopg.connect(pg_admin_url, autocommit=True) as conn:
        try:
            conn.execute(f'CREATE DATABASE "{name}"')
        except psycopg.errors.DuplicateDatabase:
            pass  # migrated_db_url made it already: the same database, as the test's two fixtures must be
    return _test_database


@pytest.fixture(scope="session")
def migrated_template(pg_admin_url: str, storage_mode_name: str) -> Iterator[str]:
    """A database migrated once per run and storage mode: each test's migrated database is a copy of it.

    `coopwatt migrate` itself runs here, and from nothing in the migration tests (on `db_url`); a copy
    (0.05–0.15 s) saves each of the other tests the schema's building (0.4–0.7 s on this 2-core machine).
    """
    from coopwatt.migrations import migrate

    name = "cw_template_" + uuid.uuid4().hex[:12]
    with psycopg.connect(pg_admin_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        url = _with_database(pg_admin_url, name)
        migrate(url, storage="timescaledb" if storage_mode_name == "timescaledb" else "postgresql")
        from tests.db_copies import close

        close(url)  # copying needs no session in it, its job scheduler's included
        yield name
    finally:
        with psycopg.connect(pg_admin_url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def migrated_db_url(_test_database: str, storage_mode_name: str, pg_admin_url: str, migrated_template: str) -> str:
    """A database with the whole schema applied, in this test's storage mode (never silently the other).

    Made straight from the migrated template (an empty one made first by `db_url`, if the test asked for that
    too, is replaced): one database copied per test, not two.
    """
    name = urlsplit(_test_database).path.lstrip("/")
    with psycopg.connect(pg_admin_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}" TEMPLATE "{migrated_template}"')
    _start_jobs_of_copy(_test_database, storage_mode_name)
    return _test_database


def _start_jobs_of_copy(url: str, storage_mode_name: str) -> None:
    if storage_mode_name == "timescaledb":
        # A copied database gets its job scheduler at the launcher's next look (up to a minute): start it now,
        # as CREATE EXTENSION does in a migrated one.
        from tests.db_copies import start_job_scheduler

        start_job_scheduler(url)


@pytest.fixture(scope="module")
def module_migrated_db_url(pg_admin_url: str, storage_mode_name: str, migrated_template: str) -> Iterator[str]:
    """A migrated database shared by one module's tests (those that only read it), dropped after the module."""
    name = "cw_module_" + uuid.uuid4().hex[:12]
    with psycopg.connect(pg_admin_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}" TEMPLATE "{migrated_template}"')
    with _dropped_after(pg_admin_url, storage_mode_name, name) as url:
        _start_jobs_of_copy(url, storage_mode_name)
        yield url


@pytest.fixture(scope="session", autouse=True)
def _seed_templates() -> Iterator[None]:
    """The seeded templates this run made (tests/db_copies.py) are dropped at its end."""
    yield
    from tests.db_copies import drop_templates

    drop_templates()


@dataclass(frozen=True)
class Broker:
    """A reachable MQTT broker; `full` when it supports MQTT 5 shared subscriptions."""

    url: str
    full: bool

    @property
    def host(self) -> str:
        return urlsplit(self.url).hostname or "127.0.0.1"

    @property
    def port(self) -> int:
        return urlsplit(self.url).port or 1883


@pytest.fixture(scope="session")
def broker() -> Iterator[Broker]:
    """The machine's Mosquitto, or an embedded broker on a bare machine."""
    if _tcp_reachable(MQTT_URL):
        yield Broker(MQTT_URL, full=True)
        return
    if IN_CI:
        pytest.fail(f"MQTT broker is not reachable at {MQTT_URL} (CI needs the real service)")
    from coopwatt.embedded import EmbeddedBroker

    embedded = EmbeddedBroker()
    embedded.start()
    try:
        yield Broker(embedded.url, full=False)
    finally:
        embedded.stop()


@pytest.fixture
def full_broker(broker: Broker) -> Broker:
    """A broker with MQTT 5 shared subscriptions; skips (never in CI) on the embedded one."""
    if not broker.full:
        if IN_CI:
            pytest.fail("the full MQTT 5 broker is required in CI")
        pytest.skip("needs an MQTT 5 broker with shared subscriptions (Mosquitto); the embedded one has none")
    return broker


@pytest.fixture
def topic_prefix() -> str:
    """A topic prefix of its own, so concurrent test runs on one broker never see each other's messages."""
    return "cwtest-" + uuid.uuid4().hex[:10]


@pytest.fixture
def settings(migrated_db_url: str, storage_mode_name: str, broker: Broker, topic_prefix: str,
             tmp_path: Path) -> Settings:
    """Settings pointing at this test's database and broker."""
    return load_settings(
        {},
        database_url=migrated_db_url,
        storage=storage_mode_name,
        mqtt_url=broker.url,
        mqtt_topic_prefix=topic_prefix,
        mqtt_client_id="ingest-" + topic_prefix,
        data_dir=tmp_path / "data",
        metrics_port=0,
    )


@pytest.fixture(scope="session")
def artifacts_dir() -> Path:
    """Where tests keep screenshots and other evidence for a person to look at."""
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS
