"""The broker's access control grants what each service needs and nothing more.

A Mosquitto of the test's own runs with the deploy's ACL, configuration and password files
(tests/acl_broker.py, which also says how a denial is proven). The broker is private to this
module, so the deploy's fixed topic names cannot meet another test's messages.
"""

from __future__ import annotations

import os
import queue
import subprocess
import threading
import time
import uuid
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode

from tests.acl_broker import (
    DEPLOY_MOSQUITTO,
    METER_LISTENER_PORT,
    ROOT,
    SERVICE_ACCOUNTS,
    SERVICE_LISTENER_PORT,
    WAIT_S,
    AclBroker,
    Session,
    accounts,
    acl_broker,
    alerts_observer,
    assert_publish_denied,
    assert_read_denied,
    ingest_observer,
    require_tools,
    token,
)
from tests.mqtt_tools import free_port

__all__ = ["acl_broker", "alerts_observer", "ingest_observer"]  # the fixtures, imported for the tests below


def test_derived_config_keeps_every_deploy_limit(acl_broker: AclBroker) -> None:
    """The test broker runs with the deploy's persistence, anonymity and flow-control lines."""
    deploy_lines = {line.strip() for line in (DEPLOY_MOSQUITTO / "mosquitto.conf").read_text().splitlines()}
    for key in ("persistence", "max_inflight_messages", "max_queued_messages",
                "max_queued_bytes", "persistent_client_expiration", "per_listener_settings"):
        lines = [line for line in deploy_lines if line.split(" ", 1)[0] == key]
        assert len(lines) == 1, f"deploy mosquitto.conf must set {key} exactly once"
        assert lines[0] in acl_broker.config_text.splitlines()
    # Per listener: every listener refuses anonymous clients and has its own accounts.
    sections = _listener_sections((DEPLOY_MOSQUITTO / "mosquitto.conf").read_text())
    assert set(sections) == {METER_LISTENER_PORT, SERVICE_LISTENER_PORT}
    for port, lines in sections.items():
        assert "allow_anonymous false" in lines and any(line.startswith("acl_file ") for line in lines), port
    assert "use_username_as_clientid true" in sections[METER_LISTENER_PORT]
    assert "per_listener_settings true" in deploy_lines


def _listener_sections(conf: str) -> dict[int, list[str]]:
    """The active lines that follow each `listener` line, by port."""
    sections: dict[int, list[str]] = {}
    current: list[str] | None = None
    for line in conf.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("listener "):
            current = sections.setdefault(int(line.split()[1]), [])
        elif current is not None:
            current.append(line)
    return sections


def test_anonymous_and_wrong_passwords_are_refused(acl_broker: AclBroker) -> None:
    """No client gets in without a valid account."""
    assert Session(acl_broker, None).connack.is_failure
    assert Session(acl_broker, "meter-a", "not-the-password").connack.is_failure
    assert Session(acl_broker, "meter-unknown", "whatever").connack.is_failure
    assert not Session(acl_broker, "meter-a").connack.is_failure


@pytest.mark.parametrize("account", ["meter-a", "coopwatt-alerts"])
def test_meter_accounts_are_refused_on_the_service_listener(acl_broker: AclBroker, account: str) -> None:
    """The services' listener knows no meter account, so no meter can pick a service's client id there."""
    assert Session(acl_broker, account, port=acl_broker.service_port).connack.is_failure


@pytest.mark.parametrize("account", sorted(SERVICE_ACCOUNTS))
def test_service_accounts_are_refused_on_the_meter_listener(acl_broker: AclBroker, account: str) -> None:
    """Services connect on their own listener only (the meter listener is the one published)."""
    assert Session(acl_broker, account, port=acl_broker.port).connack.is_failure
    assert not Session(acl_broker, account).connack.is_failure


OWN_TOPICS = [
    "coopwatt/{m}/reading",
    "coopwatt/{m}/temperature",
    "tele/{m}/SENSOR",
    "teleinfo/{m}",
    "shellies/{m}/emeter/0/total",
    "shellies/{m}/emeter/0/energy",
    "{m}/status/em:0",
    "{m}/status/emdata:0",
    "esphome/{m}/sensor/energy/state",
    "{m}/sensor/energy/state",
]


@pytest.mark.parametrize("pattern", OWN_TOPICS)
def test_meter_publishes_its_own_topic_and_not_another_meters(
        acl_broker: AclBroker, ingest_observer: Session, pattern: str) -> None:
    """A meter (username = device id) reaches the ingester on its own topics only."""
    meter_a = Session(acl_broker, "meter-a")
    own = token("own")
    assert not meter_a.publish(pattern.format(m="meter-a"), own).is_failure
    assert (pattern.format(m="meter-a"), own) in ingest_observer.receive_until(own)
    assert_publish_denied(meter_a, pattern.format(m="meter-b"), ingest_observer)


def test_meter_cannot_raise_alerts_nor_read_its_neighbours(
        acl_broker: AclBroker, ingest_observer: Session, alerts_observer: Session) -> None:
    """A meter can neither publish an alert nor listen to another meter."""
    meter_a, meter_b = Session(acl_broker, "meter-a"), Session(acl_broker, "meter-b")
    assert_publish_denied(meter_a, "coopwatt/alerts/b1/leak", alerts_observer)
    assert_read_denied(meter_a, "tele/+/SENSOR", writer=meter_b, topic="tele/meter-b/SENSOR",
                       control=ingest_observer)


def test_ingesters_share_one_stream_through_a_shared_subscription(acl_broker: AclBroker) -> None:
    """Two ingesters in one $share group split a meter's stream: each message once, none lost."""
    group = f"g{uuid.uuid4().hex[:8]}"
    first, second = Session(acl_broker, "coopwatt-ingest"), Session(acl_broker, "coopwatt-ingest")
    for ingester in (first, second):
        assert not ingester.subscribe(f"$share/{group}/tele/+/SENSOR").is_failure
    meter = Session(acl_broker, "meter-a")
    sent = [token(f"shared-{n}") for n in range(40)]
    for payload in sent:
        assert not meter.publish("tele/meter-a/SENSOR", payload).is_failure
    received = [payload for ingester in (first, second) for _, payload in ingester.barrier()]
    assert sorted(received) == sorted(sent)


def test_ingester_cannot_publish(acl_broker: AclBroker, ingest_observer: Session,
                                 alerts_observer: Session) -> None:
    """The ingest account only reads: not a meter's topic, not one named after itself, no alert."""
    ingest = Session(acl_broker, "coopwatt-ingest")
    for topic in ("tele/meter-a/SENSOR", "tele/coopwatt-ingest/SENSOR", "coopwatt/coopwatt-ingest/reading",
                  "coopwatt-ingest/status/em:0", "esphome/coopwatt-ingest/sensor/e/state"):
        assert_publish_denied(ingest, topic, ingest_observer)
    assert_publish_denied(ingest, "coopwatt/alerts/b1/leak", alerts_observer)


def test_ingester_cannot_read_alerts(acl_broker: AclBroker, alerts_observer: Session) -> None:
    """Reading is limited to meter topics: an ingester subscribed to everything gets no alert."""
    ingest = Session(acl_broker, "coopwatt-ingest")
    assert_read_denied(ingest, "#", writer=Session(acl_broker, "coopwatt-analytics"),
                       topic="coopwatt/alerts/b1/leak", control=alerts_observer)


@pytest.mark.parametrize("account", ["coopwatt-analytics", "coopwatt-dashboard"])
def test_alert_publishers_publish_alerts_only(acl_broker: AclBroker, ingest_observer: Session,
                                              alerts_observer: Session, account: str) -> None:
    """Analytics and the dashboard raise alerts; they cannot pose as a meter nor read anything."""
    publisher = Session(acl_broker, account)
    alert = token("alert")
    assert not publisher.publish("coopwatt/alerts/building-1/water_leak", alert).is_failure
    assert ("coopwatt/alerts/building-1/water_leak", alert) in alerts_observer.receive_until(alert)

    for topic in ("tele/meter-a/SENSOR", f"tele/{account}/SENSOR", f"coopwatt/{account}/reading"):
        assert_publish_denied(publisher, topic, ingest_observer)
    assert_read_denied(publisher, "tele/+/SENSOR", writer=Session(acl_broker, "meter-a"),
                       topic="tele/meter-a/SENSOR", control=ingest_observer)
    assert_read_denied(publisher, "coopwatt/alerts/#", writer=Session(acl_broker, "coopwatt-analytics"),
                       topic="coopwatt/alerts/b2/silent_meter", control=alerts_observer)


def test_simulator_publishes_meter_topics_but_no_alerts(acl_broker: AclBroker, ingest_observer: Session,
                                                        alerts_observer: Session) -> None:
    """The demo simulator speaks for any simulated meter, and for nothing else."""
    simulator = Session(acl_broker, "coopwatt-simulator")
    for topic in ("tele/sim-dwelling-7/SENSOR", "shellies/sim-3/emeter/0/total", "zigbee2mqtt/sim-z2m-2",
                  "teleinfo/021728123456", "sim-shelly-9/status/em:0", "shellies/sim-4/emeter/1/energy",
                  "sim-esp-5/sensor/energy/state"):
        reading = token("sim")
        assert not simulator.publish(topic, reading).is_failure
        assert (topic, reading) in ingest_observer.receive_until(reading)
    assert_publish_denied(simulator, "coopwatt/alerts/b1/leak", alerts_observer)


def test_alerts_account_reads_alerts_only(acl_broker: AclBroker, ingest_observer: Session,
                                          alerts_observer: Session) -> None:
    """The read-only alerts account cannot read readings nor publish.

    Its one connection is the observer itself: on the meter listener its client id is its
    username, so a second connection of the account would take the observer's session over.
    """
    assert_read_denied(alerts_observer, "tele/+/SENSOR", writer=Session(acl_broker, "meter-a"),
                       topic="tele/meter-a/SENSOR", control=ingest_observer)
    assert_publish_denied(alerts_observer, "coopwatt/alerts/b1/leak", alerts_observer)


def test_compose_health_check_tells_a_running_broker_from_a_dead_one(acl_broker: AclBroker) -> None:
    """The mosquitto service's health check passes on this broker and fails where none listens."""
    import yaml

    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    kind, command = compose["services"]["mosquitto"]["healthcheck"]["test"]
    assert kind == "CMD-SHELL" and "-p 1883" in command
    alive = subprocess.run(["sh", "-c", command.replace("-p 1883", f"-p {acl_broker.port}")],
                           capture_output=True, timeout=30)
    assert alive.returncode == 0
    dead = subprocess.run(["sh", "-c", command.replace("-p 1883", f"-p {free_port()}")],
                          capture_output=True, timeout=30)
    assert dead.returncode != 0


class PersistentIngester:
    """An ingester's persistent session (MQTT 5, QoS 1, session kept an hour), as ingest/subscriber.py opens it."""

    def __init__(self, broker: AclBroker, client_id: str) -> None:
        self.broker, self.client_id = broker, client_id
        self.received: queue.Queue[bytes] = queue.Queue()

    def connect(self) -> mqtt.Client:
        """Resume (or create) the session, subscribed to Tasmota readings."""
        client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=self.client_id,
                             protocol=MQTTProtocolVersion.MQTTv5)
        client.username_pw_set("coopwatt-ingest", self.broker.passwords["coopwatt-ingest"])
        subscribed = threading.Event()
        client.on_connect = lambda c, u, flags, rc, props: c.subscribe("tele/+/SENSOR", qos=1)
        client.on_subscribe = lambda *args: subscribed.set()
        client.on_message = lambda c, u, msg: self.received.put(msg.payload)
        properties = Properties(PacketTypes.CONNECT)
        properties.SessionExpiryInterval = 3600
        client.connect("127.0.0.1", self.broker.service_port, keepalive=30, clean_start=False,
                       properties=properties)
        client.loop_start()
        assert subscribed.wait(WAIT_S), "the ingester's subscription was not granted"
        return client

    def receive(self, expected: set[bytes]) -> set[bytes]:
        """What arrives of `expected` within the bound (all of it, unless some was lost)."""
        got: set[bytes] = set()
        deadline = time.monotonic() + WAIT_S
        while not expected <= got and time.monotonic() < deadline:
            try:
                got.add(self.received.get(timeout=0.1))
            except queue.Empty:
                pass
        return got & expected


def _attacker(broker: AclBroker, port: int, client_id: str, protocol: MQTTProtocolVersion) -> ReasonCode | int:
    """Connect with meter-a's credentials and `client_id`, as `mosquitto_sub -i <id> -c` does."""
    connack: queue.Queue[object] = queue.Queue()
    version5 = protocol == MQTTProtocolVersion.MQTTv5
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id, protocol=protocol,
                         clean_session=None if version5 else False)
    client.username_pw_set("meter-a", broker.passwords["meter-a"])
    client.on_connect = lambda c, u, flags, rc, props: connack.put(rc)
    if version5:
        client.connect("127.0.0.1", port, keepalive=30, clean_start=True)
    else:
        client.connect("127.0.0.1", port, keepalive=30)
    client.loop_start()
    try:
        rc = connack.get(timeout=WAIT_S)
    finally:
        client.disconnect()
        client.loop_stop()
    return rc  # type: ignore[return-value]


@pytest.mark.parametrize("protocol", [MQTTProtocolVersion.MQTTv311, MQTTProtocolVersion.MQTTv5])
def test_a_meter_cannot_take_over_the_ingesters_session(acl_broker: AclBroker, protocol: MQTTProtocolVersion) -> None:
    """Meter credentials with the ingester's client id, on either listener, leave its queued readings intact.

    The attack of issue 12: while the ingester is away, its persistent session queues QoS 1
    readings; a meter connecting with the ingester's client id used to replace that session,
    and the ingester got none of them back.
    """
    ingester = PersistentIngester(acl_broker, f"coopwatt-ingest-{uuid.uuid4().hex[:8]}")
    client = ingester.connect()
    client.disconnect()
    client.loop_stop()
    meter_b = Session(acl_broker, "meter-b")
    queued = {token("queued") for _ in range(3)}
    for payload in queued:
        assert not meter_b.publish("tele/meter-b/SENSOR", payload).is_failure

    for port in (acl_broker.port, acl_broker.service_port):
        _attacker(acl_broker, port, ingester.client_id, protocol)

    client = ingester.connect()
    try:
        assert ingester.receive(queued) == queued, "the ingester's queued readings were lost"
    finally:
        client.disconnect()
        client.loop_stop()


# (colliding account, topic it tries, what that topic would pass for, observer fixture)
COLLISIONS = [
    ("alerts", "coopwatt/alerts/reading", "an alert", "alerts_observer"),
    ("alerts", "coopwatt/alerts/temperature", "an alert", "alerts_observer"),
    ("coopwatt", "coopwatt/status/reading", "native meter 'status'", "ingest_observer"),
    ("tele", "tele/status/SENSOR", "Tasmota 'status'", "ingest_observer"),
    ("teleinfo", "teleinfo/status", "teleinfo meter 'status'", "ingest_observer"),
    ("shellies", "shellies/status/emeter/0/energy", "Shelly Gen1 'status'", "ingest_observer"),
    ("esphome", "esphome/status/sensor/energy/state", "ESPHome node 'status'", "ingest_observer"),
    ("zigbee2mqtt", "zigbee2mqtt/status", "Zigbee device 'status'", "ingest_observer"),
    ("status", "tele/status/em:0", "Shelly Gen2 'tele'", "ingest_observer"),
    ("status", "shellies/status/em:0", "Shelly Gen2 'shellies'", "ingest_observer"),
    ("status", "esphome/status/emdata:0", "Shelly Gen2 'esphome'", "ingest_observer"),
    ("sensor", "tele/sensor/energy/state", "ESPHome node 'tele'", "ingest_observer"),
    ("sensor", "shellies/sensor/energy/state", "ESPHome node 'shellies'", "ingest_observer"),
    ("sensor", "esphome/sensor/energy/state", "ESPHome node 'esphome'", "ingest_observer"),
]


@pytest.mark.parametrize(("account", "topic", "passes_for", "observer"), COLLISIONS,
                         ids=[f"{a}:{t}" for a, t, _, _ in COLLISIONS])
def test_a_meter_named_like_a_topic_level_cannot_write_as_another_device_or_an_alert(
        acl_broker: AclBroker, request: pytest.FixtureRequest, account: str, topic: str, passes_for: str,
        observer: str) -> None:
    """A meter account named like a prefix ('tele', 'alerts'…) stays in its own topics, even if created by hand."""
    meter = Session(acl_broker, account)
    assert not meter.connack.is_failure
    reader = request.getfixturevalue(observer)
    # The reader does read this topic from an account allowed to write it: the denial below is the ACL's.
    writer = Session(acl_broker, "coopwatt-analytics" if observer == "alerts_observer" else "coopwatt-simulator")
    control = token("control")
    assert not writer.publish(topic, control).is_failure
    assert (topic, control) in reader.receive_until(control), f"the observer does not read {topic}"
    assert_publish_denied(meter, topic, reader), f"meter {account!r} could pass for {passes_for}"


MAKE_PASSWD_NAMES = ["meter-a", "tasmota-a02", "shellyem-ABC123", "021728123456", "Living room plug",
                     "alerts", "ALERTS", "tele", "Teleinfo", "shellies", "esphome", "zigbee2mqtt", "status",
                     "sensor", "ingest", "coopwatt", "coopwatt-ingest-1", "Coopwatt-dashboard", "coopwattx",
                     "a+b", "a#", "$SYS", "a/b"]


def test_make_passwd_refuses_colliding_meter_accounts_as_the_registry_does(tmp_path: Path) -> None:
    """make-passwd.sh stops on a meter account that could collide, naming it and why; same rules as the registry."""
    from coopwatt.device_ids import device_id_problem

    require_tools()
    for name in MAKE_PASSWD_NAMES:
        meters_passwd = tmp_path / "meters.passwd"
        meters_passwd.unlink(missing_ok=True)
        meters_passwd.touch()
        subprocess.run(["mosquitto_passwd", "-b", str(meters_passwd), name, "pw"], check=True, capture_output=True)
        output = tmp_path / "auth" / "passwd"
        env = dict(os.environ, OUTPUT=str(output), METERS_PASSWD=str(meters_passwd),
                   MQTT_INGEST_PASSWORD="i", MQTT_ANALYTICS_PASSWORD="a", MQTT_DASHBOARD_PASSWORD="d")
        made = subprocess.run(["sh", str(DEPLOY_MOSQUITTO / "make-passwd.sh")], env=env,
                              capture_output=True, text=True)
        problem = device_id_problem(name)
        if problem is None:
            assert made.returncode == 0, (name, made.stderr)
            assert name in accounts(output)
        else:
            assert made.returncode == 2, (name, made.stdout)
            assert f"'{name}'" in made.stderr and "refused" in made.stderr, made.stderr
            assert not output.exists(), "no password file may be written with a refused account"
        output.unlink(missing_ok=True)


def test_ingesters_announce_their_presence_and_no_meter_can_fake_it(acl_broker: AclBroker) -> None:
    """The failover's presence topic (ingest/presence.py): ingesters write and read it; a meter, even named 'ingest', cannot."""
    from coopwatt.settings import Settings
    from ingest.presence import presence_for

    settings = Settings(mqtt_shared_group="coopwatt-ingest", mqtt_client_id="coopwatt-ingest-1")
    presence = presence_for(settings)
    assert presence is not None
    listener = Session(acl_broker, "coopwatt-ingest")
    assert not listener.subscribe(presence.filter).is_failure
    announcer = Session(acl_broker, "coopwatt-ingest")
    online = token("online")
    assert not announcer.publish(presence.topic, online).is_failure
    assert (presence.topic, online) in listener.receive_until(online)
    for account in ("meter-a", "ingest"):
        assert_publish_denied(Session(acl_broker, account), presence.topic, listener)


def test_the_restart_guard_marks_its_own_topic_and_no_meter_can_fake_it(acl_broker: AclBroker) -> None:
    """The guard's marker (ingest/restart_guard.py): the ingest account writes and reads it; a meter cannot."""
    from coopwatt.settings import Settings
    from ingest.restart_guard import marker_topic

    topic = marker_topic(Settings(mqtt_shared_group="coopwatt-ingest", mqtt_client_id="coopwatt-ingest-1"))
    listener = Session(acl_broker, "coopwatt-ingest")
    assert not listener.subscribe(topic).is_failure
    marker = token("marker")
    assert not Session(acl_broker, "coopwatt-ingest").publish(topic, marker).is_failure
    assert (topic, marker) in listener.receive_until(marker)
    for account in ("meter-a", "ingest", "coopwatt-alerts"):
        assert_publish_denied(Session(acl_broker, account), topic, listener)
