"""The broker's access control grants what each service needs and nothing more.

A Mosquitto of the test's own runs with the deploy's ACL file itself (deploy/mosquitto/acl),
a configuration derived from deploy/mosquitto/mosquitto.conf (same listeners and limits; its own
ports, persistence folder and log; no TLS) and the password files built by
deploy/mosquitto/make-passwd.sh, as the compose service does. Meters (and the alerts reader)
connect to the meter listener, coopwatt's services to the service listener. The broker is private to this module, so the deploy's fixed topic
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

# Settings the test broker drops (TLS, paths of the container) or rewrites in place (listener
# ports, password and ACL files: they apply to the listener above them); every other line of the
# deploy configuration is kept as is.
REPLACED_KEYS = {"certfile", "keyfile", "cafile", "tls_version", "persistence_location", "log_dest",
                 "user", "pid_file"}

METERS = ("meter-a", "meter-b")
SERVICE_ACCOUNTS = frozenset({"coopwatt-ingest", "coopwatt-analytics", "coopwatt-dashboard", "coopwatt-simulator"})
METER_LISTENER_PORT, SERVICE_LISTENER_PORT = 1883, 1884
# Accounts an operator could still add to the meter password file by hand, bypassing
# make-passwd.sh: ids equal to a topic prefix or to a level the ACL patterns put after %u.
COLLIDING_METERS = ("alerts", "coopwatt", "tele", "teleinfo", "shellies", "esphome", "zigbee2mqtt",
                    "status", "sensor", "ingest")


def _require_tools() -> None:
    missing = [tool for tool in ("mosquitto", "mosquitto_passwd") if shutil.which(tool) is None]
    if missing:
        message = f"{', '.join(missing)} not installed (Debian package mosquitto)"
        if IN_CI:
            pytest.fail(message)
        pytest.skip(message)


def derive_config(deploy_conf: str, *, ports: dict[int, int], workdir: Path, auth_dir: Path,
                  acl_dir: Path) -> str:
    """The deploy broker configuration with this test's ports, files and folders instead."""
    kept = []
    for line in deploy_conf.splitlines():
        words = line.split()
        if not words or words[0].startswith("#"):
            kept.append(line)
        elif words[0] in REPLACED_KEYS:
            continue
        elif words[0] == "listener":
            kept.append(f"listener {ports[int(words[1])]} 127.0.0.1")
        elif words[0] == "password_file":
            kept.append(f"password_file {auth_dir / Path(words[1]).name}")
        elif words[0] == "acl_file":
            kept.append(f"acl_file {acl_dir / Path(words[1]).name}")
        else:
            kept.append(line)
    kept += [
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
    """The private broker (its meter and service listeners) and the accounts' passwords."""

    port: int
    service_port: int
    passwords: dict[str, str]
    config_text: str
    workdir: Path
    clients: list[mqtt.Client] = field(default_factory=list)
    sessions: dict[str, Session] = field(default_factory=dict)

    def port_for(self, username: str | None) -> int:
        """The listener an account connects to: services to theirs, everyone else to the meters'."""
        return self.service_port if username in SERVICE_ACCOUNTS else self.port


@pytest.fixture(scope="module")
def acl_broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AclBroker]:
    """Mosquitto with the deploy ACL, limits and password file, on a free port; stopped afterwards."""
    _require_tools()
    workdir = tmp_path_factory.mktemp("acl-broker")
    (workdir / "data").mkdir()
    passwords = {name: secrets.token_hex(12) for name in (*METERS, *SERVICE_ACCOUNTS, "coopwatt-alerts")}

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
    meter_accounts = _accounts(passwd)
    service_accounts = _accounts(passwd.parent / "services.passwd")
    assert meter_accounts == {*METERS, "coopwatt-alerts"}, "the meter listener takes meters and the alerts reader"
    assert service_accounts == SERVICE_ACCOUNTS, "the service listener takes coopwatt's services only"
    # Colliding meter accounts added by hand after make-passwd.sh (which refuses them): the ACL
    # alone must keep them in their own topics.
    for name in COLLIDING_METERS:
        passwords[name] = secrets.token_hex(12)
        subprocess.run(["mosquitto_passwd", "-b", str(passwd), name, passwords[name]], check=True,
                       capture_output=True)

    deploy_conf = (DEPLOY_MOSQUITTO / "mosquitto.conf").read_text()
    for attempt in range(3):
        ports = {METER_LISTENER_PORT: _free_port(), SERVICE_LISTENER_PORT: _free_port()}
        config_text = derive_config(deploy_conf, ports=ports, workdir=workdir, auth_dir=passwd.parent,
                                    acl_dir=DEPLOY_MOSQUITTO)
        config = workdir / "mosquitto.conf"
        config.write_text(config_text)
        process = subprocess.Popen(["mosquitto", "-c", str(config)],
                                   stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        if all(_wait_listening(port, process) for port in ports.values()):
            break
        process.kill()
        process.wait()
    else:
        log = (workdir / "mosquitto.log").read_text() if (workdir / "mosquitto.log").exists() else ""
        pytest.fail(f"the test broker did not start; its log:\n{log}")

    broker = AclBroker(ports[METER_LISTENER_PORT], ports[SERVICE_LISTENER_PORT], passwords, config_text, workdir)
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


def _accounts(passwd: Path) -> set[str]:
    return {line.split(":", 1)[0] for line in passwd.read_text().splitlines() if line}


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

    def __init__(self, broker: AclBroker, username: str | None, password: str | None = None, *,
                 port: int | None = None) -> None:
        self.name = username or "anonymous"
        port = broker.port_for(username) if port is None else port
        if port == broker.port and username in broker.sessions:
            # On the meter listener the client id is the username: a second connection of the
            # account would take the first one's session over, and paho would reconnect it.
            broker.sessions.pop(username).close(broker)
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
        client.connect("127.0.0.1", port, keepalive=30, clean_start=True, properties=properties)
        client.loop_start()
        broker.clients.append(client)
        self.connack = self._connack.get(timeout=WAIT_S)
        if port == broker.port and username is not None and not self.connack.is_failure:
            broker.sessions[username] = self

    def close(self, broker: AclBroker) -> None:
        """Disconnect for good."""
        self.client.disconnect()
        self.client.loop_stop()
        broker.clients.remove(self.client)

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
    dead = subprocess.run(["sh", "-c", command.replace("-p 1883", f"-p {_free_port()}")],
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

    _require_tools()
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
            assert name in _accounts(output)
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
