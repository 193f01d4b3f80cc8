"""The ingester end to end against the real PostgreSQL and Mosquitto: nothing lost, nothing twice."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit

import psycopg
import pytest

from coopwatt.settings import Settings
from ingest.service import IngestService
from ingest.subscriber import subscription_filters
from tests.factories import index_stream, make_meters
from tests.mqtt_tools import MosquittoServer, ReliablePublisher, free_port
from tests.tcp_proxy import TcpProxy

# The deploy broker's limits that matter for loss: a queue large enough for an outage.
BROKER_LIMITS = ("max_queued_messages 1000000", "max_queued_bytes 0", "max_inflight_messages 20000")
START = datetime(2026, 1, 5, tzinfo=UTC)


def wait_until(condition: Callable[[], bool], timeout_s: float, what: str,
               detail: Callable[[], str] | None = None) -> None:
    """Poll until the condition holds; fail with a message naming what did not happen (and `detail`'s account)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.1)
    said = f"\n{detail()}" if detail is not None else ""
    raise AssertionError(f"timed out after {timeout_s} s waiting for {what}{said}")


def stored(url: str) -> set[tuple[int, datetime]]:
    with psycopg.connect(url) as conn:
        return set(conn.execute("SELECT meter_id, time FROM reading").fetchall())


def count(url: str, table: str = "reading") -> int:
    with psycopg.connect(url) as conn:
        return int(conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0])


def expected_keys(stream: list[tuple[str, bytes, str, datetime]], ids: dict[str, int]) -> set[tuple[int, datetime]]:
    return {(ids[source], time) for _, _, source, time in stream}


@pytest.fixture
def private_broker(tmp_path: Path) -> Iterator[MosquittoServer]:
    """A Mosquitto of this test's own, configured like the deploy broker."""
    try:
        server = MosquittoServer(tmp_path / "mosquitto", BROKER_LIMITS)
    except FileNotFoundError:
        if os.environ.get("CI"):
            raise
        pytest.skip("needs the mosquitto binary (loss tests restart their own broker)")
    with server:
        yield server


class IngesterProcess:
    """`coopwatt ingest` as a separate process, so it can be SIGKILLed."""

    def __init__(self, settings: Settings, **extra_env: str) -> None:
        self.metrics_port = free_port()
        env = {k: v for k, v in os.environ.items() if not k.startswith("COOPWATT_")}
        env.update({
            "COOPWATT_DATABASE_URL": settings.database_url or "",
            "COOPWATT_MQTT_URL": settings.mqtt_url or "",
            "COOPWATT_MQTT_TOPIC_PREFIX": settings.mqtt_topic_prefix,
            "COOPWATT_MQTT_CLIENT_ID": settings.mqtt_client_id,
            "COOPWATT_METRICS_PORT": str(self.metrics_port),
            "COOPWATT_LOG_LEVEL": "WARNING",
            **extra_env,
        })
        self.process = subprocess.Popen([sys.executable, "-m", "coopwatt.cli", "ingest"], env=env,
                                        stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        wait_until(self.connected, 30, "the ingester to connect")

    def health(self) -> dict[str, object]:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.metrics_port}/health", timeout=2) as response:
                return json.loads(response.read())
        except urllib.error.HTTPError as exc:  # 503 while not healthy still carries the detail
            return json.loads(exc.read())

    def connected(self) -> bool:
        if self.process.poll() is not None:
            raise AssertionError("ingester exited: " + self.process.stdout.read().decode())  # type: ignore[union-attr]
        try:
            return bool(self.health()["subscribed"])
        except OSError:
            return False


def test_stores_readings_and_dead_letters_bad_messages(settings: Settings, broker, topic_prefix: str) -> None:
    ids = make_meters(settings.database_url, ["m1", "m2", "m3"])
    stream = index_stream(["m1", "m2", "m3"], START, 100, prefix=topic_prefix)
    port = free_port()
    service = IngestService(settings.model_copy(update={"metrics_port": port}))
    service.start()
    try:
        assert service.subscriber.subscribed.wait(10)
        publisher = ReliablePublisher(broker.host, broker.port)
        publisher.publish_all([(t, p) for t, p, _, _ in stream])
        publisher.publish_all([
            (f"{topic_prefix}/coopwatt/m1/reading", b'{"time": "2026-01-05T00:00:00Z", "readings": ['),
            (f"{topic_prefix}/coopwatt/stranger/reading",
             json.dumps({"readings": [{"quantity": "energy_index", "value": 5, "unit": "kWh"}]}).encode()),
        ])
        publisher.close()
        wait_until(lambda: count(settings.database_url) == len(stream)
                   and count(settings.database_url, "dead_letter") == 2, 30, "all readings and dead letters")
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=2) as response:
            metrics = response.read().decode()
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2) as response:
            health = json.loads(response.read())
    finally:
        service.stop()
    assert stored(settings.database_url) == expected_keys(stream, ids)
    with psycopg.connect(settings.database_url) as conn:
        reasons = sorted(r[0] for r in conn.execute("SELECT reason FROM dead_letter"))
        payloads = {r[0] for r in conn.execute("SELECT topic FROM dead_letter")}
    assert any("json" in r.lower() for r in reasons), reasons
    assert any("stranger" in r for r in reasons), reasons
    assert payloads == {"coopwatt/m1/reading", "coopwatt/stranger/reading"}
    assert f"coopwatt_ingest_readings_stored_total {float(len(stream))}" in metrics
    assert "coopwatt_ingest_messages_rejected_total" in metrics
    assert health["broker_connected"] and health["database_ok"]
    assert service.counts()["stored"] == len(stream)
    assert service.counts()["rejected"] == 2


def left_for_session(settings: Settings, sentinel: tuple[str, bytes]) -> list[bytes]:
    """What the broker still held for the ingester's persistent session: resume it with a plain client, publish a
    sentinel once it is subscribed and collect until the sentinel arrives (one topic, delivered in order, so
    everything held before it has come by then). Returns the payloads received before the sentinel."""
    import paho.mqtt.client as mqtt
    from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion
    from paho.mqtt.packettypes import PacketTypes
    from paho.mqtt.properties import Properties

    received: list[bytes] = []
    subscribed = threading.Event()
    arrived = threading.Event()

    def on_message(client: mqtt.Client, userdata: object, message: mqtt.MQTTMessage) -> None:
        if message.payload == sentinel[1]:
            arrived.set()
        elif not arrived.is_set():
            received.append(message.payload)

    url = urlsplit(settings.mqtt_url or "")
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=settings.mqtt_client_id,
                         protocol=MQTTProtocolVersion.MQTTv5)
    client.on_message = on_message
    client.on_subscribe = lambda *args: subscribed.set()
    properties = Properties(PacketTypes.CONNECT)
    properties.SessionExpiryInterval = settings.mqtt_session_expiry_s
    client.connect(url.hostname or "127.0.0.1", url.port or 1883, clean_start=False, properties=properties)
    client.loop_start()
    try:
        client.subscribe([(topic, 1) for topic in subscription_filters(settings)])
        assert subscribed.wait(10), "no SUBACK"
        publisher = ReliablePublisher(url.hostname or "127.0.0.1", url.port or 1883)
        publisher.publish_all([sentinel])
        publisher.close()
        assert arrived.wait(30), "the sentinel never arrived"
    finally:
        client.loop_stop()
        client.disconnect()
    return received


def test_committed_messages_are_acknowledged(settings: Settings, broker, topic_prefix: str) -> None:
    """After a clean stop, a new session with the same client id gets nothing redelivered."""
    make_meters(settings.database_url, ["a1"])
    stream = index_stream(["a1"], START, 201, prefix=topic_prefix)
    stream, sentinel = stream[:-1], stream[-1]
    service = IngestService(settings)
    service.start()
    assert service.subscriber.subscribed.wait(10)
    publisher = ReliablePublisher(broker.host, broker.port)
    publisher.publish_all([(t, p) for t, p, _, _ in stream])
    publisher.close()
    wait_until(lambda: count(settings.database_url) == len(stream), 30, "readings stored")
    service.stop()
    assert left_for_session(settings, sentinel[:2]) == []


@pytest.mark.slow
def test_sigkill_mid_stream_loses_nothing(settings: Settings, private_broker: MosquittoServer,
                                          topic_prefix: str) -> None:
    sources = [f"k{i}" for i in range(20)]
    ids = make_meters(settings.database_url, sources)
    stream = index_stream(sources, START, 1500, prefix=topic_prefix)  # 30,000 messages
    cfg = settings.model_copy(update={"mqtt_url": private_broker.url})
    first = IngesterProcess(cfg)
    publisher = ReliablePublisher("127.0.0.1", private_broker.port, max_outstanding=1000)
    done = threading.Event()
    threading.Thread(target=lambda: (publisher.publish_all([(t, p) for t, p, _, _ in stream]), done.set()),
                     daemon=True).start()
    wait_until(lambda: count(cfg.database_url) >= 5000, 120, "a first part to be stored")
    first.process.send_signal(signal.SIGKILL)
    first.process.wait(10)
    second = IngesterProcess(cfg)
    try:
        wait_until(done.is_set, 300, "the publisher to finish")
        wait_until(lambda: count(cfg.database_url) >= len(stream), 120, "every reading to be stored")
    finally:
        second.process.send_signal(signal.SIGTERM)
        assert second.process.wait(30) == 0
        publisher.close()
    assert stored(cfg.database_url) == expected_keys(stream, ids)
    assert count(cfg.database_url) == len(stream)
    assert count(cfg.database_url, "dead_letter") == 0


@pytest.mark.slow
def test_broker_restart_mid_stream_loses_nothing(settings: Settings, private_broker: MosquittoServer,
                                                 topic_prefix: str) -> None:
    sources = [f"b{i}" for i in range(10)]
    ids = make_meters(settings.database_url, sources)
    stream = index_stream(sources, START, 1000, prefix=topic_prefix)  # 10,000 messages
    cfg = settings.model_copy(update={"mqtt_url": private_broker.url})
    service = IngestService(cfg)
    service.start()
    try:
        assert service.subscriber.subscribed.wait(10)
        publisher = ReliablePublisher("127.0.0.1", private_broker.port, max_outstanding=200)
        half = len(stream) // 2
        publisher.publish_all([(t, p) for t, p, _, _ in stream[:half]])
        private_broker.restart(down_s=1.0)
        publisher.publish_all([(t, p) for t, p, _, _ in stream[half:]])
        publisher.close()
        wait_until(lambda: count(cfg.database_url) >= len(stream), 120, "every reading to be stored")
    finally:
        service.stop()
    assert stored(cfg.database_url) == expected_keys(stream, ids)


@pytest.mark.slow
def test_database_outage_loses_nothing(settings: Settings, private_broker: MosquittoServer,
                                       topic_prefix: str) -> None:
    sources = [f"d{i}" for i in range(10)]
    ids = make_meters(settings.database_url, sources)
    stream = index_stream(sources, START, 1000, prefix=topic_prefix)
    target = urlsplit(settings.database_url)
    proxy = TcpProxy(target.hostname or "127.0.0.1", target.port or 5432)
    via_proxy = target._replace(netloc=f"{target.username or 'postgres'}@127.0.0.1:{proxy.port}").geturl()
    cfg = settings.model_copy(update={"mqtt_url": private_broker.url, "database_url": via_proxy})
    service = IngestService(cfg)
    service.start()
    try:
        assert service.subscriber.subscribed.wait(10)
        publisher = ReliablePublisher("127.0.0.1", private_broker.port, max_outstanding=500)
        third = len(stream) // 3
        publisher.publish_all([(t, p) for t, p, _, _ in stream[:third]])
        wait_until(lambda: count(settings.database_url) >= third, 60, "the first third to be stored")
        proxy.cut()
        publisher.publish_all([(t, p) for t, p, _, _ in stream[third:2 * third]])
        wait_until(lambda: not service.writer.database_ok.is_set(), 30, "the writer to notice the outage")
        time.sleep(2)
        assert service.health()[0] is False
        proxy.restore()
        publisher.publish_all([(t, p) for t, p, _, _ in stream[2 * third:]])
        publisher.close()
        wait_until(lambda: count(settings.database_url) >= len(stream), 120, "every reading to be stored")
    finally:
        service.stop()
        proxy.close()
    assert stored(settings.database_url) == expected_keys(stream, ids)
    assert service.counts()["rejected"] == 0


def test_sigterm_flushes_and_exits_cleanly(settings: Settings, broker, topic_prefix: str) -> None:
    """One ingester that commits nothing on its own (no batch fills, no flush interval passes): SIGTERM alone stores
    what it received, before it exits, and acknowledges it, so the broker has nothing left for its session."""
    ids = make_meters(settings.database_url, ["t1", "t2"])
    # 11 messages: fewer than a broker sends unacknowledged to one client (Mosquitto's max_inflight_messages, 20 by
    # default), since nothing is acknowledged before the commit.
    stream = index_stream(["t1", "t2"], START, 6, prefix=topic_prefix)
    stream, sentinel = stream[:-1], stream[-1]
    process = IngesterProcess(settings, COOPWATT_INGEST_BATCH_SIZE="100000", COOPWATT_INGEST_FLUSH_INTERVAL_S="60")
    publisher = ReliablePublisher(broker.host, broker.port)
    publisher.publish_all([(t, p) for t, p, _, _ in stream])
    publisher.close()
    wait_until(lambda: process.health()["messages_uncommitted"] == len(stream), 30,
               "the ingester to hold every message")
    assert count(settings.database_url) == 0  # received, not committed: only the stop can store them
    process.process.send_signal(signal.SIGTERM)
    assert process.process.wait(30) == 0
    # Right after the exit, no second ingester: every reading is there.
    assert stored(settings.database_url) == expected_keys(stream, ids)
    # And acknowledged: a fresh session on the same client id receives nothing before a sentinel sent after it.
    assert left_for_session(settings, sentinel[:2]) == []


def test_missing_setting_stops_start_up_with_its_name() -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("COOPWATT_")}
    result = subprocess.run([sys.executable, "-m", "coopwatt.cli", "ingest"], env=env,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    assert "COOPWATT_DATABASE_URL" in result.stderr


def test_shared_subscription_splits_the_stream(settings: Settings, full_broker, private_broker: MosquittoServer,
                                               topic_prefix: str) -> None:
    """Two ingesters in one MQTT 5 shared-subscription group: each reading stored once, both do work."""
    sources = [f"s{i}" for i in range(8)]
    ids = make_meters(settings.database_url, sources)
    stream = index_stream(sources, START, 500, prefix=topic_prefix)
    base = settings.model_copy(update={"mqtt_url": private_broker.url, "mqtt_shared_group": "ingest"})
    services = [IngestService(base.model_copy(update={"mqtt_client_id": f"{topic_prefix}-{n}"})) for n in (1, 2)]
    for service in services:
        service.start()
    try:
        for service in services:
            assert service.subscriber.subscribed.wait(10)
        time.sleep(0.5)  # both subscriptions registered before publishing
        publisher = ReliablePublisher("127.0.0.1", private_broker.port)
        publisher.publish_all([(t, p) for t, p, _, _ in stream])
        publisher.close()
        wait_until(lambda: count(settings.database_url) >= len(stream), 60, "every reading to be stored")
    finally:
        for service in services:
            service.stop()
    assert stored(settings.database_url) == expected_keys(stream, ids)
    received = [s.counts()["received"] for s in services]
    duplicates = sum(s.counts()["duplicate"] for s in services)
    # QoS 1 is at least once: a message re-sent or redelivered may arrive a second time and
    # is then recognised as already stored. A group that did not share would deliver all twice.
    assert sum(received) - duplicates == len(stream), (received, duplicates, publisher.sent)
    assert duplicates < len(stream) // 100, (received, duplicates, publisher.sent)
    assert min(received) > 0, received


def test_what_the_database_refuses_becomes_a_dead_letter(settings: Settings, broker, topic_prefix: str) -> None:
    """A meter deleted while the ingester runs: its readings are dead-lettered, the others stored, no crash."""
    ids = make_meters(settings.database_url, ["keep", "gone"])
    first = index_stream(["keep", "gone"], START, 5, prefix=topic_prefix)
    later = index_stream(["keep", "gone"], START + timedelta(hours=1), 5, prefix=topic_prefix)
    service = IngestService(settings)
    service.start()
    try:
        assert service.subscriber.subscribed.wait(10)
        publisher = ReliablePublisher(broker.host, broker.port)
        publisher.publish_all([(t, p) for t, p, _, _ in first])
        wait_until(lambda: count(settings.database_url) == len(first), 30, "the first readings")
        with psycopg.connect(settings.database_url) as conn:  # the registry in the ingester is now stale
            conn.execute("DELETE FROM meter WHERE id = %s", (ids["gone"],))
        publisher.publish_all([(t, p) for t, p, _, _ in later])
        publisher.close()
        wait_until(lambda: count(settings.database_url, "dead_letter") == 5, 30, "the refused readings")
        wait_until(lambda: count(settings.database_url) == 5 + 5, 30, "the other meter's readings")
        assert service.writer.is_alive()
    finally:
        service.stop()
    with psycopg.connect(settings.database_url) as conn:
        reasons = {r[0] for r in conn.execute("SELECT reason FROM dead_letter")}
        kept = conn.execute("SELECT count(*) FROM reading WHERE meter_id = %s", (ids["keep"],)).fetchone()[0]
    assert kept == 10
    assert all("gone" in reason or "refused" in reason for reason in reasons), reasons


def test_a_subscription_the_broker_refuses_is_reported_and_unhealthy(settings: Settings) -> None:
    """A broker ACL that forbids the ingester's topics: not 'subscribed', unhealthy, the refused filters named.

    Mosquitto 2.0's acl_file grants every subscription and filters on delivery, so this uses the
    embedded broker (amqtt), whose topic ACL answers a refused filter with a failure SUBACK as
    EMQX, HiveMQ and Mosquitto's dynamic-security plugin do.
    """
    from coopwatt.embedded import EmbeddedBroker

    with EmbeddedBroker(subscribe_acl={"coopwatt-demo": ["somebody-else/#"]}) as server:
        cfg = settings.model_copy(update={"mqtt_url": server.url, "mqtt_protocol": 4})
        service = IngestService(cfg)
        service.start()
        try:
            assert service.subscriber.connected.wait(10)
            wait_until(lambda: bool(service.subscriber.refused_filters), 10, "the broker's SUBACK")
            healthy, detail = service.health()
        finally:
            service.stop()
    assert not service.subscriber.subscribed.is_set()
    assert not healthy
    assert detail["broker_connected"] and not detail["subscribed"]
    assert set(detail["subscriptions_refused"]) == set(subscription_filters(cfg))


def test_ready_only_once_every_filter_is_granted(settings: Settings, broker, topic_prefix: str) -> None:
    """Health turns healthy with the SUBACK, and a message published right then is stored."""
    ids = make_meters(settings.database_url, ["r1"])
    stream = index_stream(["r1"], START, 1, prefix=topic_prefix)
    service = IngestService(settings)
    service.start()
    try:
        assert service.subscriber.subscribed.wait(10)
        wait_until(lambda: service.health()[0], 10, "the writer's database connection")
        detail = service.health()[1]
        assert detail["subscribed"] and detail["subscriptions_refused"] == []
        publisher = ReliablePublisher(broker.host, broker.port)
        publisher.publish_all([(t, p) for t, p, _, _ in stream])
        publisher.close()
        wait_until(lambda: count(settings.database_url) == 1, 30, "the reading published once ready")
    finally:
        service.stop()
    assert stored(settings.database_url) == expected_keys(stream, ids)
