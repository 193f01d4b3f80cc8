"""A Mosquitto with the deploy's access control, and clients that prove what it grants and denies.

The broker runs with the deploy's ACL file itself (deploy/mosquitto/acl), a configuration derived
from deploy/mosquitto/mosquitto.conf (same listeners and limits; its own ports, persistence folder
and log; no TLS) and the password files built by deploy/mosquitto/make-passwd.sh, as the compose
service does. Meters (and the alerts reader) connect to the meter listener, coopwatt's services
to the service listener. tests/test_mqtt_acl.py proves the ACL with it; tests/test_broker_reload.py
starts the deploy's broker script on the same derived configuration.

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
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode

from tests.mqtt_tools import free_port

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


def require_tools() -> None:
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
    require_tools()
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
    meter_accounts = accounts(passwd)
    service_accounts = accounts(passwd.parent / "services.passwd")
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
        ports = {METER_LISTENER_PORT: free_port(), SERVICE_LISTENER_PORT: free_port()}
        config_text = derive_config(deploy_conf, ports=ports, workdir=workdir, auth_dir=passwd.parent,
                                    acl_dir=DEPLOY_MOSQUITTO)
        config = workdir / "mosquitto.conf"
        config.write_text(config_text)
        process = subprocess.Popen(["mosquitto", "-c", str(config)],
                                   stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        if all(wait_listening(port, process) for port in ports.values()):
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


def accounts(passwd: Path) -> set[str]:
    return {line.split(":", 1)[0] for line in passwd.read_text().splitlines() if line}


def wait_listening(port: int, process: subprocess.Popen[bytes]) -> bool:
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

