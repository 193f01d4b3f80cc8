"""The simulator publishes over the real broker: every message arrives, QoS 1, bounded in flight."""

from __future__ import annotations

import argparse
import json
import threading
import time
from datetime import UTC, datetime, timedelta
from urllib.parse import unquote
from zoneinfo import ZoneInfo

import paho.mqtt.client as mqtt
import psycopg
import pytest
from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion

from coopwatt.settings import load_settings
from coopwatt.simulator.cli import main as simulate
from coopwatt.simulator.encode import iter_messages
from coopwatt.simulator.publish import Publisher, PublishError, publish_history, run_live
from coopwatt.simulator.residence import make_residences
from coopwatt.simulator.series import Simulation
from ingest.adapters import AdapterState, parse_message


class Collector:
    """A QoS 1 subscriber to everything under one prefix."""

    def __init__(self, host: str, port: int, prefix: str) -> None:
        self.messages: list[tuple[str, bytes]] = []
        self._lock = threading.Lock()
        subscribed = threading.Event()
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, protocol=MQTTProtocolVersion.MQTTv311)
        self.client.on_connect = lambda c, u, f, r, p: c.subscribe(f"{prefix}/#", qos=1)
        self.client.on_subscribe = lambda c, u, mid, codes, p: subscribed.set()
        self.client.on_message = self._on_message
        self.client.connect(host, port)
        self.client.loop_start()
        assert subscribed.wait(10), "no SUBACK"

    def _on_message(self, client, userdata, message) -> None:
        with self._lock:
            self.messages.append((message.topic, bytes(message.payload)))

    def wait_for(self, count: int, timeout_s: float = 60.0) -> None:
        deadline = time.monotonic() + timeout_s
        while len(self.messages) < count and time.monotonic() < deadline:
            time.sleep(0.05)

    def drain(self, host: str, port: int, prefix: str, timeout_s: float = 60.0) -> None:
        """Wait until everything the broker had accepted before now has reached us: publish a sentinel and wait for
        it (one broker, one subscriber queue, delivered in order); then forget it."""
        topic = f"{prefix}/sentinel"
        sender = mqtt.Client(CallbackAPIVersion.VERSION2, protocol=MQTTProtocolVersion.MQTTv311)
        sender.connect(host, port)
        sender.loop_start()
        try:
            sender.publish(topic, b"end", qos=1).wait_for_publish(timeout_s)
        finally:
            sender.disconnect()
            sender.loop_stop()
        deadline = time.monotonic() + timeout_s
        while not any(t == topic for t, _ in self.messages):
            assert time.monotonic() < deadline, "the sentinel never arrived"
            time.sleep(0.05)
        with self._lock:
            self.messages = [(t, m) for t, m in self.messages if t != topic]

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def test_backfill_reaches_the_broker_complete(broker, topic_prefix):
    residences = make_residences(18, 11)
    meters = [m for r in residences for m in r.meters]
    start = datetime(2025, 2, 1, tzinfo=UTC)
    until = start + timedelta(days=2)
    expected = [(f"{topic_prefix}/{m.topic}", m.payload) for m in iter_messages(
        Simulation(residences, start, seed=11).advance(until, 1800), meters, timed=True, tz="Europe/Paris")]
    collector = Collector(broker.host, broker.port, topic_prefix)
    try:
        # Fewer outstanding than messages: the publisher must wait for PUBACKs and go on. Mosquitto queues at most
        # max_queued_messages (1000 by default) for a subscriber that lags and drops the rest, so the publisher
        # waits after each window (well under 1000 messages) until this slow Python subscriber has caught up.
        with Publisher(broker.url, topic_prefix=topic_prefix, max_outstanding=50) as publisher:
            sent = publish_history(publisher, Simulation(residences, start, seed=11), meters, until,
                                   window=timedelta(hours=7), on_window=lambda _now, count: collector.wait_for(count))
        assert sent == len(expected) > 1000
        assert publisher.acknowledged == publisher.sent == sent
        collector.wait_for(len(expected))
        assert sorted(collector.messages) == sorted(expected)
    finally:
        collector.close()


def test_simulate_command_registers_backfills_and_goes_live(broker, topic_prefix, migrated_db_url, tmp_path):
    settings = load_settings({}, database_url=migrated_db_url, mqtt_url=broker.url, mqtt_topic_prefix=topic_prefix)
    truth = tmp_path / "truth.json"
    args = argparse.Namespace(dwellings=12, seed=5, backfill_days=2, speed=3600.0, duration_s=2.0,
                              ground_truth=str(truth), register=True)
    collector = Collector(broker.host, broker.port, topic_prefix)
    try:
        assert simulate(settings, args) == 0
        collector.drain(broker.host, broker.port, topic_prefix)  # the broker acknowledged all of it before
    finally:
        collector.close()
    document = json.loads(truth.read_text())
    assert len(document["faults"]) == 6 and len(document["dwellings"]) == 12
    with psycopg.connect(migrated_db_url) as conn:
        sources = {s for (s,) in conn.execute("SELECT source FROM meter").fetchall()}
    assert {f["meter_source"] for f in document["faults"]} <= sources
    topics = {topic.removeprefix(topic_prefix + "/").split("/")[0] for topic, _ in collector.messages}
    assert "coopwatt" in topics and "tele" in topics and "teleinfo" in topics
    # The history of devices without timestamps (Shelly, their sources holding '/') went over MQTT as native JSON,
    # the source percent-encoded in its topic level.
    native_devices = {unquote(topic.split("/")[-2]) for topic, _ in collector.messages if topic.endswith("/reading")}
    shelly = {s for s in sources if "/" in s}
    assert shelly and shelly <= native_devices
    # Nothing published was from the future.
    now = datetime.now(UTC)
    for topic, payload in collector.messages:
        if topic.endswith("/reading"):
            assert datetime.fromisoformat(json.loads(payload)["time"]) <= now


class SimulatedClock:
    """A clock that stands still while run_live works and jumps when it waits: its timing, not the machine's."""

    def __init__(self, start: datetime) -> None:
        self._start, self._elapsed = start, 0.0

    def monotonic(self) -> float:
        return self._elapsed

    def now(self) -> datetime:
        return self._start + timedelta(seconds=self._elapsed)

    def wait(self, stop: threading.Event, seconds: float) -> bool:
        self._elapsed += seconds
        return stop.is_set()


def test_live_in_real_time_speaks_the_device_mix_and_the_ingester_reads_it(broker, topic_prefix):
    residences = make_residences(18, 12)
    meters = [m for r in residences for m in r.meters]
    collector = Collector(broker.host, broker.port, topic_prefix)
    try:
        with Publisher(broker.url, topic_prefix=topic_prefix) as publisher:
            # Readings more than a step old when published count as late and go out in the native format with
            # their time. On the wall clock, a slow machine made every reading late (CI took over a second to
            # connect); on a simulated clock, which moves only when run_live waits, none is.
            start = datetime.now(UTC).replace(microsecond=0)
            sim = Simulation(residences, start, seed=12)
            clock = SimulatedClock(start)
            sent = run_live(publisher, sim, meters, speed=1.0, duration_s=2.5, step_s=1, clock=clock)
            assert clock.now() == start + timedelta(seconds=2.5)  # the loop ran its 2.5 simulated seconds
        collector.wait_for(sent)
    finally:
        collector.close()
    assert sent > 0 and len(collector.messages) == sent
    heads = {topic.removeprefix(topic_prefix + "/").split("/")[0] for topic, _ in collector.messages}
    assert {"coopwatt", "tele", "teleinfo", "shellies", "zigbee2mqtt", "esphome"} <= heads
    # What arrives is read by the ingester's adapters, stamped close to now, from known devices.
    state = AdapterState()
    known = {m.source for m in meters}
    received_at = datetime.now(UTC)
    readings = [r for topic, payload in collector.messages
                for r in parse_message(topic.removeprefix(topic_prefix + "/"), payload, received_at, state,
                                       ZoneInfo("Europe/Paris"))]
    assert readings
    assert all(r.source in known or r.source.startswith("residence:") for r in readings)
    assert all(abs((r.time - received_at).total_seconds()) < 30 for r in readings)


@pytest.mark.parametrize("bad", ["mqtt://127.0.0.1:1"])
def test_publisher_says_when_it_cannot_connect(bad):
    with pytest.raises(PublishError, match="COOPWATT_MQTT_URL: cannot reach the MQTT broker at 127.0.0.1:1 "):
        Publisher(bad, connect_timeout_s=2)
