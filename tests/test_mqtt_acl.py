"""The broker's access control grants what each service needs and nothing more.

A Mosquitto of the test's own runs with the deploy's ACL file itself (deploy/mosquitto/acl),
a configuration derived from deploy/mosquitto/mosquitto.conf (same limits; its own port,
persistence folder and log; no TLS) and a password file built by deploy/mosquitto/make-passwd.sh,
as the compose service does. The broker is private to this module, so the deploy's fixed topic
names cannot meet another test's messages.

How denial is proven, without waiting for "long enough": Mosquitto drops an unauthorised
publish (an MQTT 5 client gets PUBACK reason 135) and, for a subscription it may not read,
grants the SUBSCRIBE (2.0) but never delivers. The broker forwards a publish to its subscribers
before it acknowledges it, and answers each client's packets in order; so once the publisher has
its PUBACK and the observer has the SUBACK of a later "barrier" subscription, anything the broker
routed to the observer has already reached it. A positive control (an authorised reader that does
receive) shows each observer would have seen the message.
"""

from __future__ import annotations

import os
import queue
import secrets
import shutil
import socket
import subprocess
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion
from paho.mqtt.properties import Properties
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.reasoncodes import ReasonCode

ROOT = Path(__file__).resolve().parent.parent
DEPLOY_MOSQUITTO = ROOT / "deploy" / "mosquitto"
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
WAIT_S = 10.0  # an upper bound for one broker round trip on loopback, never a measured expectation

# Settings the test broker replaces; every other line of the deploy configuration is kept as is.
REPLACED_KEYS = {"listener", "protocol", "certfile", "keyfile", "cafile", "tls_version",
                 "password_file", "acl_file", "persistence_location", "log_dest", "user", "pid_file"}

METERS = ("meter-a", "meter-b")


def _require_tools() -> None:
    missing = [tool for tool in ("mosquitto", "mosquitto_passwd") if shutil.which(tool) is None]
    if missing:
        message = f"{', '.join(missing)} not installed (Debian package mosquitto)"
        if IN_CI:
            pytest.fail(message)
        pytest.skip(message)


def derive_config(deploy_conf: str, *, port: int, workdir: Path, passwd: Path, acl: Path) -> str:
    """The deploy broker configuration with this test's port, files and folders instead."""
    kept = []
    for line in deploy_conf.splitlines():
        words = line.split()
        if words and not words[0].startswith("#") and words[0] in REPLACED_KEYS:
            continue
        kept.append(line)
    kept += [
        f"listener {port} 127.0.0.1",
        f"password_file {passwd}",
        f"acl_file {acl}",
        f"persistence_location {workdir}/data/",
        f"log_dest file {workdir}/mosquitto.log",
    ]
    if os.geteuid() == 0:
        # As root Mosquitto would switch to the "mosquitto" user, who cannot enter pytest's
        # private temporary folders; the container runs it as that user instead.
        kept.append("user root")
    return "\n".join(kept) + "\n"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class AclBroker:
    """The private broker and the accounts' passwords."""

    port: int
    passwords: dict[str, str]
    config_text: str
    clients: list[mqtt.Client] = field(default_factory=list)


@pytest.fixture(scope="module")
def acl_broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AclBroker]:
    """Mosquitto with the deploy ACL, limits and password file, on a free port; stopped afterwards."""
    _require_tools()
    workdir = tmp_path_factory.mktemp("acl-broker")
    (workdir / "data").mkdir()
    passwords = {name: secrets.token_hex(12) for name in (
        *METERS, "coopwatt-ingest", "coopwatt-analytics", "coopwatt-dashboard",
        "coopwatt-simulator", "coopwatt-alerts")}

    meters_passwd = workdir / "meters.passwd"
    meters_passwd.touch()
    for meter in METERS:
        subprocess.run(["mosquitto_passwd", "-b", str(meters_passwd), meter, passwords[meter]],
                       check=True, capture_output=True)
    passwd = workdir / "auth" / "passwd"
    env = dict(os.environ, OUTPUT=str(passwd), METERS_PASSWD=str(meters_passwd),
               MQTT_INGEST_PASSWORD=passwords["coopwatt-ingest"],
               MQTT_ANALYTICS_PASSWORD=passwords["coopwatt-analytics"],
               MQTT_DASHBOARD_PASSWORD=passwords["coopwatt-dashboard"],
               MQTT_SIMULATOR_PASSWORD=passwords["coopwatt-simulator"],
               MQTT_ALERTS_PASSWORD=passwords["coopwatt-alerts"])
    made = subprocess.run(["sh", str(DEPLOY_MOSQUITTO / "make-passwd.sh")], env=env,
                          capture_output=True, text=True)
    assert made.returncode == 0, made.stderr
    accounts = {line.split(":", 1)[0] for line in passwd.read_text().splitlines() if line}
    assert accounts == set(passwords), "make-passwd.sh must write exactly the meter and service accounts"

    for attempt in range(3):
        port = _free_port()
        config_text = derive_config((DEPLOY_MOSQUITTO / "mosquitto.conf").read_text(), port=port,
                                    workdir=workdir, passwd=passwd, acl=DEPLOY_MOSQUITTO / "acl")
        config = workdir / "mosquitto.conf"
        config.write_text(config_text)
        process = subprocess.Popen(["mosquitto", "-c", str(config)],
                                   stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        if _wait_listening(port, process):
            break
        process.kill()
        process.wait()
    else:
        log = (workdir / "mosquitto.log").read_text() if (workdir / "mosquitto.log").exists() else ""
        pytest.fail(f"the test broker did not start; its log:\n{log}")

    broker = AclBroker(port, passwords, config_text)
    try:
        yield broker
    finally:
        for client in broker.clients:
            client.disconnect()
            client.loop_stop()
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _wait_listening(port: int, process: subprocess.Popen[bytes]) -> bool:
    deadline = time.monotonic() + WAIT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            return False
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return True
        except OSError:
            time.sleep(0.05)
    return False


class Session:
    """One MQTT 5 client of the test: what it received and the broker's answers to it."""

    def __init__(self, broker: AclBroker, username: str | None, password: str | None = None) -> None:
        self.name = username or "anonymous"
        self.messages: queue.Queue[tuple[str, bytes]] = queue.Queue()
        self._connack: queue.Queue[ReasonCode] = queue.Queue()
        self._pubacks: dict[int, ReasonCode] = {}
        self._subacks: dict[int, list[ReasonCode]] = {}
        self._acked = threading.Condition()
        client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"acl-{self.name}-{uuid.uuid4().hex[:8]}",
                             protocol=MQTTProtocolVersion.MQTTv5)
        if username is not None:
            client.username_pw_set(username, password if password is not None else broker.passwords[username])
        client.on_connect = lambda c, u, flags, rc, props: self._connack.put(rc)
        client.on_message = lambda c, u, msg: self.messages.put((msg.topic, msg.payload))
        client.on_publish = self._on_publish
        client.on_subscribe = self._on_subscribe
        self.client = client
        properties = Properties(PacketTypes.CONNECT)
        properties.SessionExpiryInterval = 0  # leave no session behind on the broker
        client.connect("127.0.0.1", broker.port, keepalive=30, clean_start=True, properties=properties)
        client.loop_start()
        broker.clients.append(client)
        self.connack = self._connack.get(timeout=WAIT_S)

    def _on_publish(self, client: mqtt.Client, userdata: object, mid: int, rc: ReasonCode, props: object) -> None:
        with self._acked:
            self._pubacks[mid] = rc
            self._acked.notify_all()

    def _on_subscribe(self, client: mqtt.Client, userdata: object, mid: int, rcs: list[ReasonCode],
                      props: object) -> None:
        with self._acked:
            self._subacks[mid] = rcs
            self._acked.notify_all()

    def _wait(self, table: dict[int, object], mid: int) -> object:
        with self._acked:
            assert self._acked.wait_for(lambda: mid in table, timeout=WAIT_S), f"{self.name}: no answer to mid {mid}"
            return table.pop(mid)

    def publish(self, topic: str, payload: bytes) -> ReasonCode:
        """Publish at QoS 1 and return the broker's PUBACK reason code."""
        info = self.client.publish(topic, payload, qos=1)
        rc = self._wait(self._pubacks, info.mid)
        assert isinstance(rc, ReasonCode)
        return rc

    def subscribe(self, topic_filter: str) -> ReasonCode:
        """Subscribe at QoS 1 and return the SUBACK reason code."""
        result, mid = self.client.subscribe(topic_filter, qos=1)
        assert result == mqtt.MQTT_ERR_SUCCESS
        rcs = self._wait(self._subacks, mid)
        assert isinstance(rcs, list) and len(rcs) == 1
        return rcs[0]

    def receive_until(self, payload: bytes) -> list[tuple[str, bytes]]:
        """Everything received up to and including the message carrying `payload`."""
        seen = []
        deadline = time.monotonic() + WAIT_S
        while True:
            remaining = deadline - time.monotonic()
            assert remaining > 0, f"{self.name} never received {payload!r}; got {seen}"
            try:
                message = self.messages.get(timeout=remaining)
            except queue.Empty:
                continue
            seen.append(message)
            if message[1] == payload:
                return seen

    def barrier(self) -> list[tuple[str, bytes]]:
        """Round-trip a SUBSCRIBE, then return (and forget) everything received before its SUBACK."""
        self.subscribe(f"coopwatt/barrier/{uuid.uuid4().hex}")
        drained = []
        while not self.messages.empty():
            drained.append(self.messages.get_nowait())
        return drained


def token(label: str) -> bytes:
    """A payload no other check sends."""
    return f"{label}-{uuid.uuid4().hex}".encode()


def assert_publish_denied(publisher: Session, topic: str, observer: Session) -> None:
    """`publisher` cannot publish `topic`: refused, and `observer` (who reads `topic`) never gets it."""
    denied = token("denied")
    rc = publisher.publish(topic, denied)
    # Mosquitto 2.0 answers an MQTT 5 client's unauthorised QoS 1 publish with "Not authorized" (135).
    assert rc.is_failure, f"{publisher.name} publishing {topic}: the broker accepted it ({rc})"
    assert denied not in [payload for _, payload in observer.barrier()], f"{publisher.name} could publish {topic}"


def assert_read_denied(reader: Session, topic_filter: str, writer: Session, topic: str,
                       control: Session) -> None:
    """`reader` subscribed to `topic_filter` never gets `topic`, which `control` does get."""
    suback = reader.subscribe(topic_filter)
    message = token("not-for-you")
    assert not writer.publish(topic, message).is_failure
    assert (topic, message) in control.receive_until(message)
    assert message not in [payload for _, payload in reader.barrier()], (
        f"{reader.name} read {topic} through {topic_filter} (SUBACK {suback})")


@pytest.fixture(scope="module")
def ingest_observer(acl_broker: AclBroker) -> Session:
    """An ingester subscribed to every meter topic the ingester reads (the deploy's filters)."""
    from coopwatt.settings import Settings

    observer = Session(acl_broker, "coopwatt-ingest")
    for topic_filter in Settings.model_fields["mqtt_topics"].default:
        assert not observer.subscribe(topic_filter).is_failure, topic_filter
    return observer


@pytest.fixture(scope="module")
def alerts_observer(acl_broker: AclBroker) -> Session:
    """The read-only alerts account, subscribed to every alert."""
    observer = Session(acl_broker, "coopwatt-alerts")
    assert not observer.subscribe("coopwatt/alerts/#").is_failure
    return observer


def test_derived_config_keeps_every_deploy_limit(acl_broker: AclBroker) -> None:
    """The test broker runs with the deploy's persistence, anonymity and flow-control lines."""
    deploy_lines = {line.strip() for line in (DEPLOY_MOSQUITTO / "mosquitto.conf").read_text().splitlines()}
    for key in ("allow_anonymous", "persistence", "max_inflight_messages", "max_queued_messages",
                "max_queued_bytes", "persistent_client_expiration"):
        lines = [line for line in deploy_lines if line.split(" ", 1)[0] == key]
        assert len(lines) == 1, f"deploy mosquitto.conf must set {key} exactly once"
        assert lines[0] in acl_broker.config_text.splitlines()
    assert "allow_anonymous false" in deploy_lines


def test_anonymous_and_wrong_passwords_are_refused(acl_broker: AclBroker) -> None:
    """No client gets in without a valid account."""
    assert Session(acl_broker, None).connack.is_failure
    assert Session(acl_broker, "meter-a", "not-the-password").connack.is_failure
    assert Session(acl_broker, "meter-unknown", "whatever").connack.is_failure
    assert not Session(acl_broker, "meter-a").connack.is_failure


OWN_TOPICS = [
    "coopwatt/{m}/reading",
    "coopwatt/{m}/temperature",
    "tele/{m}/SENSOR",
    "teleinfo/{m}",
    "shellies/{m}/emeter/0/total",
    "{m}/status/em:0",
    "{m}/status/emdata:0",
    "esphome/{m}/sensor/energy/state",
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
                  "teleinfo/021728123456", "sim-shelly-9/status/em:0"):
        reading = token("sim")
        assert not simulator.publish(topic, reading).is_failure
        assert (topic, reading) in ingest_observer.receive_until(reading)
    assert_publish_denied(simulator, "coopwatt/alerts/b1/leak", alerts_observer)


def test_alerts_account_reads_alerts_only(acl_broker: AclBroker, ingest_observer: Session,
                                          alerts_observer: Session) -> None:
    """The read-only alerts account cannot read readings nor publish."""
    reader = Session(acl_broker, "coopwatt-alerts")
    assert_read_denied(reader, "tele/+/SENSOR", writer=Session(acl_broker, "meter-a"),
                       topic="tele/meter-a/SENSOR", control=ingest_observer)
    assert_publish_denied(reader, "coopwatt/alerts/b1/leak", alerts_observer)


def test_compose_health_check_tells_a_running_broker_from_a_dead_one(acl_broker: AclBroker) -> None:
    """The mosquitto service's health check passes on this broker and fails where none listens."""
    import yaml

    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    kind, command = compose["services"]["mosquitto"]["healthcheck"]["test"]
    assert kind == "CMD-SHELL" and "-p 1883" in command
    alive = subprocess.run(["sh", "-c", command.replace("-p 1883", f"-p {acl_broker.port}")],
                           capture_output=True, timeout=30)
    assert alive.returncode == 0
    dead = subprocess.run(["sh", "-c", command.replace("-p 1883", f"-p {_free_port()}")],
                          capture_output=True, timeout=30)
    assert dead.returncode != 0
