"""Device topics through the real ingester (Mosquitto + PostgreSQL): ESPHome's default topic layout
(``<node>/sensor/<id>/state``) and Shelly Gen1 energy counters (watt-minutes, Wh totals)."""

from __future__ import annotations

import paho.mqtt.client as mqtt
import psycopg
import pytest
from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion

from coopwatt.quantities import Quantity
from coopwatt.settings import Settings
from ingest.service import IngestService
from ingest.subscriber import subscription_filters
from tests.factories import make_meters
from tests.test_ingest_service import wait_until


def _readings(url: str) -> list[tuple[str, int, float]]:
    with psycopg.connect(url) as conn:
        return conn.execute("SELECT m.source, r.quantity_id, r.value FROM reading r JOIN meter m ON m.id = r.meter_id"
                            " ORDER BY m.source, r.quantity_id, r.time").fetchall()


def _dead_letters(url: str) -> list[tuple[str, str]]:
    with psycopg.connect(url) as conn:
        return conn.execute("SELECT topic, reason FROM dead_letter ORDER BY id").fetchall()


def _publish_once(broker, messages: list[tuple[str, bytes]]) -> None:
    """Publish each message once at QoS 1, in order. These devices send no timestamp: a copy re-sent by a
    publisher that retries (tests.mqtt_tools.ReliablePublisher) would be a second reading, so no retries here."""
    client = mqtt.Client(CallbackAPIVersion.VERSION2, protocol=MQTTProtocolVersion.MQTTv311)
    client.connect(broker.host, broker.port)
    client.loop_start()
    try:
        for topic, payload in messages:
            client.publish(topic, payload, qos=1).wait_for_publish(timeout=10)
    finally:
        client.loop_stop()
        client.disconnect()


def _run(settings: Settings, broker, messages: list[tuple[str, bytes]], expect_readings: int,
         expect_dead: int) -> None:
    service = IngestService(settings)
    service.start()
    try:
        assert service.subscriber.subscribed.wait(10)
        _publish_once(broker, messages)
        url = settings.database_url
        wait_until(lambda: len(_readings(url)) >= expect_readings and len(_dead_letters(url)) >= expect_dead,
                   30, f"{expect_readings} readings and {expect_dead} dead letters")
        # Everything published has been handled once the counts cover every message.
        wait_until(lambda: service.counts()["received"] >= len(messages), 30, "every message received")
    finally:
        service.stop()


def test_esphome_default_topics_are_subscribed_and_stored_once(settings: Settings, broker, topic_prefix: str) -> None:
    assert f"{topic_prefix}/+/sensor/+/state" in subscription_filters(settings)
    make_meters(settings.database_url, ["compteur-b7", "compteur-b8"])
    p = topic_prefix
    messages = [
        (f"{p}/compteur-b7/sensor/house_energy_wh/state", b"123456"),  # node name as prefix: ESPHome's default
        (f"{p}/compteur-b7/sensor/power/state", b"850.5"),
        (f"{p}/compteur-b7/sensor/temperature/state", b"21.5"),  # valid, not a meter value: not stored
        (f"{p}/compteur-b7/sensor/power/state", b"nan"),  # no value yet: not stored
        (f"{p}/esphome/compteur-b8/sensor/power/state", b"40"),  # the explicit esphome/<node> prefix still works
        (f"{p}/noeud-inconnu/sensor/power/state", b"10"),  # a node no meter has: dead letter
    ]
    _run(settings, broker, messages, expect_readings=3, expect_dead=1)
    assert _readings(settings.database_url) == [
        ("compteur-b7", int(Quantity.ENERGY_INDEX_KWH), pytest.approx(123.456)),
        ("compteur-b7", int(Quantity.POWER_W), 850.5),
        ("compteur-b8", int(Quantity.POWER_W), 40.0),
    ]
    dead = _dead_letters(settings.database_url)
    assert [topic for topic, _ in dead] == ["noeud-inconnu/sensor/power/state"]
    assert "noeud-inconnu" in dead[0][1]


def test_shelly_gen1_energy_counters(settings: Settings, broker, topic_prefix: str) -> None:
    """EM/3EM: ``total`` (Wh, kept across reboots) is the channel's index; its ``energy`` (watt-minutes since
    boot) is not a second index. Plug/1PM: ``relay/<n>/energy`` is watt-minutes since boot → kWh."""
    make_meters(settings.database_url, ["shellyem-A1/emeter/0", "shellyplug-B2/relay/0"])
    p = f"{topic_prefix}/shellies"
    messages = [
        (f"{p}/shellyem-A1/emeter/0/power", b"1250.3"),
        (f"{p}/shellyem-A1/emeter/0/energy", b"5400"),  # 5400 Wmin = 0.09 kWh since boot: not the index
        (f"{p}/shellyem-A1/emeter/0/total", b"152340.5"),  # Wh
        (f"{p}/shellyem-A1/emeter/0/returned_energy", b"0"),
        (f"{p}/shellyem-A1/emeter/0/total_returned", b"0.0"),
        (f"{p}/shellyem-A1/emeter/0/voltage", b"231.2"),
        (f"{p}/shellyplug-B2/relay/0/power", b"60.5"),
        (f"{p}/shellyplug-B2/relay/0/energy", b"3000"),  # Wmin → 0.05 kWh
        (f"{p}/shellyplug-B2/relay/0/energy", b"60"),  # after a reboot: the counter restarted
    ]
    _run(settings, broker, messages, expect_readings=5, expect_dead=0)
    rows = _readings(settings.database_url)
    assert rows == [
        ("shellyem-A1/emeter/0", int(Quantity.ENERGY_INDEX_KWH), pytest.approx(152.3405)),
        ("shellyem-A1/emeter/0", int(Quantity.POWER_W), 1250.3),
        ("shellyplug-B2/relay/0", int(Quantity.ENERGY_INDEX_KWH), pytest.approx(3000 / 60 / 1000)),
        ("shellyplug-B2/relay/0", int(Quantity.ENERGY_INDEX_KWH), pytest.approx(60 / 60 / 1000)),
        ("shellyplug-B2/relay/0", int(Quantity.POWER_W), 60.5),
    ]
    assert _dead_letters(settings.database_url) == []
