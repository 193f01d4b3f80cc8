"""Poison messages and restarts against the real ingester, Mosquitto and PostgreSQL (issue 11).

Each payload that used to kill the writer thread is published on its real topic, followed by a valid
reading: the poison becomes a dead letter with its reason, the reading after it is stored, the process
stays alive, and nothing is redelivered to the next session (the dead letter was acknowledged).
"""

from __future__ import annotations

import json
import signal
from datetime import UTC, datetime, timedelta

import psycopg
import pytest

from coopwatt.settings import Settings
from ingest.service import IngestService
from tests.factories import make_meters, native_payload
from tests.mqtt_tools import ReliablePublisher
from tests.test_ingest_bounds import POISON
from tests.test_ingest_service import IngesterProcess, count, wait_until

# The devices the poison topics name, registered, so that nothing is refused for being unknown.
POISON_SOURCES = ["m1", "plug", "0218", "em/emeter/0", "dev/em:0", "n", "ok"]


def connected_publisher(broker) -> ReliablePublisher:
    """A publisher whose connection is acknowledged: one that publishes before its CONNACK re-sends (a duplicate)."""
    publisher = ReliablePublisher(broker.host, broker.port)
    wait_until(publisher._client.is_connected, 10, "the publisher's CONNACK")
    return publisher


def _dead_letters(url: str) -> list[tuple[str, bytes, str]]:
    with psycopg.connect(url) as conn:
        return [(t, bytes(p), r) for t, p, r in conn.execute("SELECT topic, payload, reason FROM dead_letter ORDER BY id")]


def test_no_poison_message_stops_the_ingester(settings: Settings, broker, topic_prefix: str) -> None:
    make_meters(settings.database_url, POISON_SOURCES)
    long_topic = ("coopwatt/" + "d" * 300 + "/reading", native_payload(datetime.now(UTC), 1.0), "topic of 317 characters")
    poisons = [*POISON, long_topic]
    start = datetime.now(UTC) - timedelta(hours=1)
    messages = []
    for n, (topic, payload, _) in enumerate(poisons):
        messages.append((f"{topic_prefix}/{topic}", payload))
        # A valid reading behind each poison message, as a queue of real readings would be.
        messages.append((f"{topic_prefix}/coopwatt/ok/reading", native_payload(start + timedelta(minutes=n), 10.0 + n)))
    process = IngesterProcess(settings)
    try:
        publisher = connected_publisher(broker)
        publisher.publish_all(messages)
        publisher.close()
        wait_until(lambda: count(settings.database_url) == len(poisons)
                   and count(settings.database_url, "dead_letter") == len(poisons), 60,
                   "every valid reading stored and every poison dead-lettered")
        assert process.process.poll() is None, "the ingester exited"
        health = process.health()
        assert health["writer_alive"] and health["database_ok"], health
    finally:
        process.process.send_signal(signal.SIGTERM)
        assert process.process.wait(30) == 0
    letters = _dead_letters(settings.database_url)
    for topic, payload, reason in poisons:
        matching = [r for t, p, r in letters if t == topic and p == payload]
        assert len(matching) == 1, (topic, payload[:60])
        assert reason in matching[0], (reason, matching[0])
    with psycopg.connect(settings.database_url) as conn:
        values = sorted(v for (v,) in conn.execute("SELECT value FROM reading"))
    assert values == [10.0 + n for n in range(len(poisons))]

    # The next session gets no poison message again: each was acknowledged once its dead letter was committed.
    again = IngestService(settings)
    again.start()
    try:
        assert again.subscriber.subscribed.wait(10)
        publisher = connected_publisher(broker)
        publisher.publish_all([(f"{topic_prefix}/coopwatt/ok/reading",
                                native_payload(start + timedelta(minutes=len(poisons)), 10.0 + len(poisons)))])
        publisher.close()
        wait_until(lambda: count(settings.database_url) == len(poisons) + 1, 30, "the reading after the restart")
        assert again.writer.is_alive()
    finally:
        again.stop()
    assert count(settings.database_url, "dead_letter") == len(poisons)
    assert again.counts()["received"] == 1


def test_an_unforeseen_exception_is_dead_lettered_and_the_writer_goes_on(
        settings: Settings, broker, topic_prefix: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """The last resort: a defect in an adapter (simulated) costs its message, with the exception named."""
    from ingest.adapters import zigbee2mqtt

    real = zigbee2mqtt.parse

    def defective(name: str, payload: bytes, received_at: datetime) -> list:
        if name == "trap":
            raise KeyError("a defect nobody foresaw")
        return real(name, payload, received_at)

    monkeypatch.setattr(zigbee2mqtt, "parse", defective)
    make_meters(settings.database_url, ["plug"])
    service = IngestService(settings)
    service.start()
    try:
        assert service.subscriber.subscribed.wait(10)
        publisher = connected_publisher(broker)
        publisher.publish_all([(f"{topic_prefix}/zigbee2mqtt/trap", b'{"energy": 1}'),
                               (f"{topic_prefix}/zigbee2mqtt/plug", b'{"energy": 2}')])
        publisher.close()
        wait_until(lambda: count(settings.database_url) == 1 and count(settings.database_url, "dead_letter") == 1,
                   30, "the plug's reading and the trap's dead letter")
        assert service.writer.is_alive()
    finally:
        service.stop()
    assert "KeyError" in _dead_letters(settings.database_url)[0][2]


def _publish(broker, topic: str, payload: bytes) -> None:
    publisher = connected_publisher(broker)
    publisher.publish_all([(topic, payload)])
    publisher.close()


def test_the_jump_check_survives_a_restart(settings: Settings, broker, topic_prefix: str) -> None:
    """Issue 11: after a restart, 0.61 kWh then 5000.5 kWh 8 s later was accepted; the last value now comes
    from the database the first time a process sees the meter."""
    ids = make_meters(settings.database_url, ["r1", "r2"])
    t0 = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=5)
    first = IngestService(settings)
    first.start()
    try:
        assert first.subscriber.subscribed.wait(10)
        _publish(broker, f"{topic_prefix}/coopwatt/r1/reading", native_payload(t0, 0.61))
        _publish(broker, f"{topic_prefix}/coopwatt/r2/reading", native_payload(t0, 52.0))
        wait_until(lambda: count(settings.database_url) == 2, 30, "the first readings")
    finally:
        first.stop()

    second = IngestService(settings)
    second.start()
    try:
        assert second.subscriber.subscribed.wait(10)
        publisher = connected_publisher(broker)
        publisher.publish_all([
            (f"{topic_prefix}/coopwatt/r1/reading", native_payload(t0 + timedelta(seconds=8), 5000.5)),
            (f"{topic_prefix}/coopwatt/r2/reading", native_payload(t0 + timedelta(seconds=8), 1.7e305)),
            (f"{topic_prefix}/coopwatt/r1/reading", native_payload(t0 + timedelta(seconds=16), 0.62)),
            (f"{topic_prefix}/coopwatt/r2/reading", native_payload(t0 + timedelta(seconds=16), 52.01)),
        ])
        publisher.close()
        wait_until(lambda: count(settings.database_url) == 4 and count(settings.database_url, "dead_letter") == 2,
                   30, "two plausible readings stored and two absurd ones dead-lettered")
    finally:
        second.stop()
    with psycopg.connect(settings.database_url) as conn:
        stored = dict(conn.execute("SELECT value, meter_id FROM reading").fetchall())
    assert stored == {0.61: ids["r1"], 0.62: ids["r1"], 52.0: ids["r2"], 52.01: ids["r2"]}
    reasons = {json.loads(p)["readings"][0]["value"]: r for _, p, r in _dead_letters(settings.database_url)}
    assert reasons[5000.5].startswith("absurd jump") and "since " + t0.isoformat() in reasons[5000.5]
    assert "largest index a meter can show" in reasons[1.7e305]


def test_a_first_reading_is_judged_against_the_stored_one_even_when_absurd_but_below_any_ceiling(
        settings: Settings, broker, topic_prefix: str) -> None:
    """A process that never saw the meter: the stored 52 kWh is the previous value of its first reading."""
    ids = make_meters(settings.database_url, ["r3"])
    t0 = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=5)
    with psycopg.connect(settings.database_url) as conn:
        conn.execute("INSERT INTO reading (meter_id, quantity_id, time, value) VALUES (%s, 1, %s, 52)",
                     (ids["r3"], t0))
    service = IngestService(settings)
    service.start()
    try:
        assert service.subscriber.subscribed.wait(10)
        _publish(broker, f"{topic_prefix}/coopwatt/r3/reading", native_payload(t0 + timedelta(minutes=1), 900_000.0))
        wait_until(lambda: count(settings.database_url, "dead_letter") == 1, 30, "the absurd reading's dead letter")
    finally:
        service.stop()
    assert count(settings.database_url) == 1
    assert _dead_letters(settings.database_url)[0][2].startswith("absurd jump")
