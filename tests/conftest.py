"""Shared fixtures: a real PostgreSQL and a real MQTT broker.

Where the machine's PostgreSQL (127.0.0.1:5432) and Mosquitto (127.0.0.1:1883)
are reachable, the tests use them; otherwise they start the embedded ones.
In CI (CI=true) a missing service is a failure, never a skip.
"""

from __future__ import annotations

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

IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
ADMIN_URL = os.environ.get("TEST_PG_ADMIN_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
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


@pytest.fixture(scope="session")
def pg_admin_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A URL to a maintenance database on a real PostgreSQL server."""
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


@pytest.fixture
def db_url(pg_admin_url: str) -> Iterator[str]:
    """An empty database of its own for one test, dropped afterwards."""
    name = "cw_test_" + uuid.uuid4().hex[:12]
    with psycopg.connect(pg_admin_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield _with_database(pg_admin_url, name)
    finally:
        with psycopg.connect(pg_admin_url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def migrated_db_url(db_url: str) -> str:
    """A database with the whole schema applied."""
    from coopwatt.migrations import migrate

    migrate(db_url)
    return db_url


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
def settings(migrated_db_url: str, broker: Broker, topic_prefix: str, tmp_path: Path) -> Settings:
    """Settings pointing at this test's database and broker."""
    return load_settings(
        {},
        database_url=migrated_db_url,
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
