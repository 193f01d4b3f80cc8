"""The embedded PostgreSQL and MQTT broker that `coopwatt demo` starts on a fresh machine.

They run beside the machine's own PostgreSQL (5432) and Mosquitto (1883), on ports of their own.
"""

from __future__ import annotations

import queue
import uuid
from collections.abc import Iterator
from pathlib import Path

import paho.mqtt.client as mqtt
import psutil
import psycopg
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from coopwatt.db import StorageMode
from coopwatt.embedded import EmbeddedBroker, EmbeddedPostgres
from coopwatt.migrations import migrate


def _postgres_processes(pgdata: Path) -> list[psutil.Process]:
    """Server processes whose command line names this data directory."""
    found = []
    for proc in psutil.process_iter(attrs=["name", "cmdline"]):
        cmdline = proc.info.get("cmdline") or []
        if proc.info.get("name") == "postgres" and any(str(pgdata) in part for part in cmdline):
            found.append(proc)
    return found


@pytest.fixture(scope="module")
def embedded_pg(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedPostgres]:
    server = EmbeddedPostgres(tmp_path_factory.mktemp("embedded-pg"))
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def embedded_broker() -> Iterator[EmbeddedBroker]:
    broker = EmbeddedBroker()
    broker.start()
    try:
        yield broker
    finally:
        broker.stop()


def _client(broker: EmbeddedBroker, client_id: str, *, clean_session: bool = True,
            password: str | None = None) -> mqtt.Client:
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id, protocol=mqtt.MQTTv311,
                         clean_session=clean_session)
    client.username_pw_set(broker.username, broker.password if password is None else password)
    return client


def _connect(client: mqtt.Client, broker: EmbeddedBroker) -> None:
    """Connect and wait for CONNACK; fail the test on refusal."""
    acks: queue.Queue[object] = queue.Queue()
    client.on_connect = lambda _c, _u, _flags, reason, _props: acks.put(reason)
    client.connect("127.0.0.1", broker.port, keepalive=30)
    client.loop_start()
    reason = acks.get(timeout=10)
    assert not getattr(reason, "is_failure", False), f"connection refused: {reason}"


def test_postgres_runs_on_its_own_port_and_answers(embedded_pg: EmbeddedPostgres) -> None:
    assert embedded_pg.port != 5432
    with psycopg.connect(embedded_pg.url()) as conn:
        row = conn.execute("SELECT current_database(), 6 * 7").fetchone()
    assert row == ("coopwatt", 42)


@pytest.mark.storage("postgresql")  # about the machine's own server, not a storage mode
def test_machine_postgres_is_untouched(embedded_pg: EmbeddedPostgres, pg_admin_url: str) -> None:
    with psycopg.connect(pg_admin_url) as machine, psycopg.connect(embedded_pg.url("postgres")) as embedded:
        machine_dir = machine.execute("SHOW data_directory").fetchone()
        embedded_dir = embedded.execute("SHOW data_directory").fetchone()
    assert machine_dir != embedded_dir
    assert embedded_dir is not None and embedded_dir[0] == str(embedded_pg.pgdata)


def test_migrations_apply_on_the_embedded_server(embedded_pg: EmbeddedPostgres) -> None:
    name = "cw_embedded_" + uuid.uuid4().hex[:8]
    with psycopg.connect(embedded_pg.url("postgres"), autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    url = embedded_pg.url(name)
    mode, applied = migrate(url)
    assert mode is StorageMode.POSTGRESQL  # the wheel has no TimescaleDB
    assert applied, "a fresh database should get every migration"
    with psycopg.connect(url) as conn:
        assert conn.execute("SELECT to_regclass('reading') IS NOT NULL").fetchone() == (True,)
    _mode, again = migrate(url)
    assert again == []


def test_data_survives_a_restart_and_stop_leaves_no_process(tmp_path: Path) -> None:
    server = EmbeddedPostgres(tmp_path / "data")
    server.start()
    try:
        with psycopg.connect(server.url()) as conn:
            conn.execute("CREATE TABLE kept (energy_kwh numeric)")
            conn.execute("INSERT INTO kept VALUES (12.5)")
        assert _postgres_processes(server.pgdata), "the server should be running while started"
    finally:
        server.stop()
    assert _postgres_processes(server.pgdata) == []

    again = EmbeddedPostgres(tmp_path / "data")
    again.start()
    try:
        with psycopg.connect(again.url()) as conn:
            assert conn.execute("SELECT energy_kwh FROM kept").fetchall() == [(12.5,)]
    finally:
        again.stop()
    assert _postgres_processes(again.pgdata) == []


def test_a_server_left_running_is_adopted(tmp_path: Path) -> None:
    first = EmbeddedPostgres(tmp_path / "data").start()
    try:
        # e.g. an earlier demo that was killed: a second start on the same data dir uses the running server.
        second = EmbeddedPostgres(tmp_path / "data").start()
        assert second.port == first.port
        # Which server it found is said, so that a demo can leave alone one it did not start.
        assert first.adopted_pid is None and second.adopted_pid == first.server_pid is not None
        second.stop()
        assert _postgres_processes(first.pgdata) == []
    finally:
        first.stop()


def test_broker_delivers_qos1(embedded_broker: EmbeddedBroker, topic_prefix: str) -> None:
    assert embedded_broker.port != 1883
    assert embedded_broker.url.startswith(f"mqtt://{embedded_broker.username}:{embedded_broker.password}@127.0.0.1:")
    received: queue.Queue[mqtt.MQTTMessage] = queue.Queue()
    subscribed: queue.Queue[object] = queue.Queue()
    sub = _client(embedded_broker, "sub-" + topic_prefix)
    sub.on_message = lambda _c, _u, message: received.put(message)
    sub.on_subscribe = lambda _c, _u, mid, reasons, _p: subscribed.put(reasons)
    pub = _client(embedded_broker, "pub-" + topic_prefix)
    try:
        _connect(sub, embedded_broker)
        sub.subscribe(f"{topic_prefix}/+/reading", qos=1)
        subscribed.get(timeout=10)
        _connect(pub, embedded_broker)
        info = pub.publish(f"{topic_prefix}/m1/reading", b'{"energy_kwh": 1.5}', qos=1)
        info.wait_for_publish(timeout=10)
        message = received.get(timeout=10)
    finally:
        for client in (sub, pub):
            client.disconnect()
            client.loop_stop()
    assert message.topic == f"{topic_prefix}/m1/reading"
    assert message.payload == b'{"energy_kwh": 1.5}'
    assert message.qos == 1


def test_broker_keeps_a_persistent_session_for_its_user(embedded_broker: EmbeddedBroker, topic_prefix: str) -> None:
    """QoS 1 messages published while the ingester is away are delivered when it comes back."""
    client_id = "ingest-" + topic_prefix
    subscribed: queue.Queue[object] = queue.Queue()
    sub = _client(embedded_broker, client_id, clean_session=False)
    sub.on_subscribe = lambda _c, _u, mid, reasons, _p: subscribed.put(reasons)
    _connect(sub, embedded_broker)
    sub.subscribe(f"{topic_prefix}/#", qos=1)
    subscribed.get(timeout=10)
    sub.disconnect()
    sub.loop_stop()

    pub = _client(embedded_broker, "pub-" + topic_prefix)
    _connect(pub, embedded_broker)
    pub.publish(f"{topic_prefix}/m2/reading", b"while-away", qos=1).wait_for_publish(timeout=10)
    pub.disconnect()
    pub.loop_stop()

    received: queue.Queue[mqtt.MQTTMessage] = queue.Queue()
    back = _client(embedded_broker, client_id, clean_session=False)
    back.on_message = lambda _c, _u, message: received.put(message)
    try:
        _connect(back, embedded_broker)
        message = received.get(timeout=10)
    finally:
        back.disconnect()
        back.loop_stop()
    assert message.payload == b"while-away"


def test_broker_refuses_a_wrong_password(embedded_broker: EmbeddedBroker, topic_prefix: str) -> None:
    acks: queue.Queue[object] = queue.Queue()
    client = _client(embedded_broker, "intruder-" + topic_prefix, password="not-the-password")
    client.on_connect = lambda _c, _u, _flags, reason, _props: acks.put(reason)
    client.on_connect_fail = lambda _c, _u: acks.put("failed")
    try:
        client.connect("127.0.0.1", embedded_broker.port, keepalive=30)
        client.loop_start()
        reason = acks.get(timeout=10)
    finally:
        client.disconnect()
        client.loop_stop()
    assert reason == "failed" or getattr(reason, "is_failure", False)
