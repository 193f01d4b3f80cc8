"""Every `coopwatt` subcommand run as a person runs it: a process of .venv/bin/coopwatt, its exit code, what it prints
and what it changed, and the documented failures (a wrong setting, the database or the broker down)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import paho.mqtt.client as mqtt
import psycopg
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from coopwatt.db import StorageMode, storage_mode
from coopwatt.migrations import migrations_for
from tests.conftest import Broker
from tests.factories import consent_to_all
from tests.mqtt_tools import ReliablePublisher, free_port

COOPWATT = Path(sys.executable).parent / "coopwatt"
LATEST = migrations_for(StorageMode.POSTGRESQL)[-1].version
DOWN_DB = "postgresql://coopwatt:s3cret@127.0.0.1:9/none"  # nothing listens on port 9 (discard)
DOWN_BROKER = "mqtt://127.0.0.1:9"
REGISTRY = """residence,building,dwelling,floor_area_m2,heating_type,meter_source,meter_kind,meter_mode
TIL,A,A01,54,electric,cli-a01,electricity,index
TIL,A,A02,71.5,gas,cli-a02,electricity,index
"""


def _env(tmp_path: Path, **settings: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("COOPWATT_")}
    env.update(HOME=str(tmp_path), COOPWATT_DATA_DIR=str(tmp_path / "data"), COOPWATT_LOG_LEVEL="INFO")
    env.update({"COOPWATT_" + k.upper(): v for k, v in settings.items()})
    return env


def _run(args: list[str], env: dict[str, str], stdin: str | None = None,
         timeout_s: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(COOPWATT), *args], env=env, input=stdin, capture_output=True, text=True,
                          timeout=timeout_s)


def _wait_until(condition: Callable[[], bool], timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def _get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def _count(url: str, table: str) -> int:
    with psycopg.connect(url) as conn:
        return conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0]  # noqa: S608 - fixed names


def test_the_coopwatt_script_is_the_installed_entry_point() -> None:
    assert COOPWATT.exists(), f"{COOPWATT} (run `python3 run.py test` once to install it)"


# --- migrate and status --------------------------------------------------------------------------------------------

def test_status_then_migrate_then_status(db_url: str, tmp_path: Path) -> None:
    env = _env(tmp_path, database_url=db_url)
    before = _run(["status"], env)
    assert before.returncode == 1, before
    assert "storage mode:   not migrated" in before.stdout and "schema version: None" in before.stdout

    first = _run(["migrate"], env)
    assert first.returncode == 0, first.stderr
    with psycopg.connect(db_url) as conn:
        mode = storage_mode(conn)
    assert mode is not None
    assert first.stdout.strip() == f"storage mode: {mode}; applied {len(migrations_for(mode))} migration(s)"
    again = _run(["migrate"], env)
    assert again.returncode == 0 and again.stdout.strip() == f"storage mode: {mode}; applied 0 migration(s)"

    with psycopg.connect(db_url) as conn:
        conn.execute("INSERT INTO residence (code, name) VALUES ('R1', 'Les Tilleuls'), ('R2', 'Les Érables')")
    after = _run(["status"], env)
    assert after.returncode == 0, after.stderr
    lines = after.stdout.splitlines()
    assert f"storage mode:   {mode}" in lines and f"schema version: {LATEST}" in lines
    counts = {parts[0]: parts[1] for parts in (line.split() for line in lines if line.startswith("  ")) if len(parts) == 2}
    assert counts["residence"] == "2" and counts["reading"] == "0"


# --- registry import, import, users --------------------------------------------------------------------------------

def test_registry_import_reports_lines_and_writes_only_the_good_ones(migrated_db_url: str, tmp_path: Path) -> None:
    env = _env(tmp_path, database_url=migrated_db_url)
    path = tmp_path / "registry.csv"
    path.write_text(REGISTRY + "TIL,A,A03,x,electric,cli-a03,electricity,index\n", encoding="utf-8")

    dry = _run(["registry", "import", "--dry-run", str(path)], env)
    assert dry.returncode == 1  # a rejected line is a failure, even in a dry run
    assert "line 4: floor_area_m2 'x' is not a number" in dry.stderr
    assert _count(migrated_db_url, "meter") == 0

    real = _run(["registry", "import", str(path)], env)
    assert real.returncode == 1
    assert real.stdout.startswith("imported 2 line(s), 1 rejected: created 1 residence(s), 1 building(s),"
                                  " 2 dwelling(s), 2 meter(s)")
    with psycopg.connect(migrated_db_url) as conn:
        assert sorted(r[0] for r in conn.execute("SELECT source FROM meter")) == ["cli-a01", "cli-a02"]

    path.write_text(REGISTRY, encoding="utf-8")
    same = _run(["registry", "import", str(path)], env)
    assert same.returncode == 0 and "created 0 residence(s), 0 building(s), 0 dwelling(s), 0 meter(s)" in same.stdout


def test_import_stores_a_plain_csv_and_names_what_it_rejected(migrated_db_url: str, tmp_path: Path) -> None:
    env = _env(tmp_path, database_url=migrated_db_url)
    (tmp_path / "registry.csv").write_text(REGISTRY, encoding="utf-8")
    assert _run(["registry", "import", str(tmp_path / "registry.csv")], env).returncode == 0
    path = tmp_path / "plain.csv"
    path.write_text("meter,time,value,unit\n"
                    "cli-a01,2026-03-01T00:00:00+01:00,100.5,kWh\n"
                    "cli-a01,2026-03-01T01:00:00+01:00,101500,Wh\n"
                    "cli-zz,2026-03-01T01:00:00+01:00,1,kWh\n", encoding="utf-8")
    # Registered, but its household has not consented yet: nothing of it is stored.
    refused = _run(["import", str(path)], env)
    assert refused.returncode == 1 and _count(migrated_db_url, "reading") == 0
    _record_paper_consents(env, "TIL/A/A01")
    result = _run(["import", str(path)], env)
    assert result.returncode == 1  # one line rejected
    assert "unknown meter 'cli-zz'" in result.stderr
    assert [line.split(":")[-1].strip() for line in result.stdout.splitlines()[1:5]] == ["3", "2", "0", "1"]
    with psycopg.connect(migrated_db_url) as conn:
        values = [r[0] for r in conn.execute("SELECT value FROM reading ORDER BY time")]
    assert values == [100.5, 101.5]  # Wh became kWh
    again = _run(["import", str(path)], env)
    assert "déjà présentes / already present:       2" in again.stdout
    assert _count(migrated_db_url, "reading") == 2


def test_users_add_list_set_password_remove(migrated_db_url: str, tmp_path: Path) -> None:
    env = _env(tmp_path, database_url=migrated_db_url)
    (tmp_path / "registry.csv").write_text(REGISTRY, encoding="utf-8")
    assert _run(["registry", "import", str(tmp_path / "registry.csv")], env).returncode == 0

    added = _run(["users", "add", "Conseil", "--role", "adviser", "--residence", "TIL", "--password-stdin"], env,
                 stdin="un mot de passe assez long\n")
    assert added.returncode == 0 and added.stdout.strip() == "added conseil (adviser)"
    listed = _run(["users", "list"], env)
    assert listed.returncode == 0
    assert listed.stdout.splitlines()[1].split() == ["conseil", "adviser", "residences", "TIL", "never"]
    twice = _run(["users", "add", "conseil", "--role", "adviser", "--residence", "TIL", "--password-stdin"], env,
                 stdin="un mot de passe assez long\n")
    assert twice.returncode != 0 and "conseil: an account with this name exists" in twice.stderr

    with psycopg.connect(migrated_db_url) as conn:
        old_hash = conn.execute("SELECT password_hash FROM account").fetchone()[0]
    changed = _run(["users", "set-password", "conseil", "--password-stdin"], env, stdin="un autre mot de passe long\n")
    assert changed.returncode == 0, changed.stderr
    from dashboard.auth import verify_password

    with psycopg.connect(migrated_db_url) as conn:
        new_hash = conn.execute("SELECT password_hash FROM account").fetchone()[0]
    assert new_hash != old_hash and verify_password(new_hash, "un autre mot de passe long")

    removed = _run(["users", "remove", "conseil"], env)
    assert removed.returncode == 0 and _count(migrated_db_url, "account") == 0
    gone = _run(["users", "remove", "conseil"], env)
    assert gone.returncode != 0 and "conseil: no such account" in gone.stderr


def _record_paper_consents(env: dict[str, str], *dwellings: str) -> None:
    """The households' signed paper forms, recorded by staff: hourly indices are their load curve."""
    if _run(["users", "list"], env).stdout.count("agnes") == 0:
        assert _run(["users", "add", "agnes", "--role", "admin", "--password-stdin"], env,
                    stdin="un mot de passe assez long\n").returncode == 0
    for n, dwelling in enumerate(dwellings):
        assert _run(["consent", "record", dwelling, "--grant", "electricity_load_curve", "electricity_daily",
                     "--staff", "agnes", "--form", f"F-{n + 1}"], env).returncode == 0


# --- analytics --once ----------------------------------------------------------------------------------------------

def test_analytics_once_derives_judges_and_prints_its_summary(migrated_db_url: str, tmp_path: Path) -> None:
    env = _env(tmp_path, database_url=migrated_db_url)
    (tmp_path / "registry.csv").write_text(REGISTRY, encoding="utf-8")
    assert _run(["registry", "import", str(tmp_path / "registry.csv")], env).returncode == 0
    _record_paper_consents(env, "TIL/A/A01", "TIL/A/A02")
    # Three days of hourly indices, 0.5 kWh an hour; cli-a02 stopped reporting two days ago.
    start = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) - timedelta(days=3)
    lines = ["meter,time,value,unit"]
    for hour in range(72):
        lines.append(f"cli-a01,{(start + timedelta(hours=hour)).isoformat()},{1000 + 0.5 * hour},kWh")
        if hour <= 24:
            lines.append(f"cli-a02,{(start + timedelta(hours=hour)).isoformat()},{2000 + 0.5 * hour},kWh")
    (tmp_path / "readings.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    assert _run(["import", str(tmp_path / "readings.csv")], env).returncode == 0
    with psycopg.connect(migrated_db_url) as conn:
        conn.execute("UPDATE meter SET reporting_period_s = 3600")

    result = _run(["analytics", "--once"], env)
    assert result.returncode == 0, result.stderr
    out = result.stdout.splitlines()
    assert len(out) == 3, result.stdout
    with psycopg.connect(migrated_db_url) as conn:
        runs = conn.execute("SELECT id, job, status, dwellings_processed, failures, detail FROM analytics_run"
                            " ORDER BY id").fetchall()
        alerts = conn.execute("SELECT a.kind, m.source FROM alert a JOIN meter m ON m.id = a.meter_id"
                              " WHERE a.status = 'open'").fetchall()
        derived = conn.execute("SELECT m.source, sum(c.energy_kwh) FROM consumption_hourly c"
                               " JOIN meter m ON m.id = c.meter_id GROUP BY 1 ORDER BY 1").fetchall()
    anomalies = next(r for r in runs if r[1] == "anomalies")
    nightly = next(r for r in runs if r[1] != "anomalies")
    assert anomalies[2] == "ok" and anomalies[3] == 2 and anomalies[4] == 0
    assert nightly[2] == "ok" and nightly[4] == 0, (nightly[5].get("step_errors"), _failures(migrated_db_url))
    # The maintenance step derived the imported indices: 71 and 24 hours of 0.5 kWh.
    assert [(s, round(e, 6)) for s, e in derived] == [("cli-a01", 35.5), ("cli-a02", 12.0)]
    # The silent meter is the one alert, and the summary says so in the words of its record.
    assert alerts == [("meter_silent", "cli-a02")]
    assert out[0] == (f"analytics run {anomalies[0]}: ok; 2 dwellings, 0 failures; anomalies "
                      f"{ {'meter_silent': 1} }; alerts opened 1, resolved 0 (full)")
    assert out[1].startswith(f"analytics nightly run {nightly[0]}: ok; {nightly[3]} dwellings, 0 failures; ")
    assert out[2].startswith("alert notifications: ")


# --- ingest --------------------------------------------------------------------------------------------------------

def _start(args: list[str], env: dict[str, str]) -> subprocess.Popen[str]:
    return subprocess.Popen([str(COOPWATT), *args], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True)


def _health(port: int) -> tuple[int, dict[str, object]] | None:
    try:
        status, body = _get(f"http://127.0.0.1:{port}/health")
    except OSError:
        return None
    return status, json.loads(body)


def test_ingest_serves_health_stores_readings_and_stops_on_sigterm(migrated_db_url: str, broker: Broker,
                                                                    topic_prefix: str, tmp_path: Path) -> None:
    env = _env(tmp_path, database_url=migrated_db_url)
    (tmp_path / "registry.csv").write_text(REGISTRY, encoding="utf-8")
    assert _run(["registry", "import", str(tmp_path / "registry.csv")], env).returncode == 0
    with psycopg.connect(migrated_db_url) as conn:  # the household of cli-a01 consents online
        consent_to_all(conn, conn.execute("SELECT dwelling_id FROM meter WHERE source = 'cli-a01'").fetchone()[0])
        conn.commit()
    port = free_port()
    env.update(COOPWATT_MQTT_URL=broker.url, COOPWATT_MQTT_TOPIC_PREFIX=topic_prefix,
               COOPWATT_MQTT_CLIENT_ID="ingest-" + topic_prefix, COOPWATT_METRICS_PORT=str(port))
    process = _start(["ingest"], env)
    try:
        _wait_until(lambda: (h := _health(port)) is not None and h[0] == 200, 60, "the ingester to be healthy")
        status, detail = _health(port)  # type: ignore[misc]
        assert detail["broker_connected"] is True and detail["subscribed"] is True
        publisher = ReliablePublisher(broker.host, broker.port)
        now = datetime.now(UTC).replace(microsecond=0)
        publisher.publish_all([(f"{topic_prefix}/coopwatt/cli-a01/reading", json.dumps(
            {"time": now.isoformat(), "readings": [{"quantity": "energy_index", "value": 1234.5, "unit": "kWh"}]}
        ).encode())])
        publisher.close()
        _wait_until(lambda: _count(migrated_db_url, "reading") == 1, 30, "the reading to be stored")
    finally:
        process.send_signal(signal.SIGTERM)
        output = process.communicate(timeout=60)[0]
    assert process.returncode == 0, output
    assert "received SIGTERM: flushing and stopping" in output and "Traceback" not in output


def test_ingest_with_the_broker_down_says_so_and_is_unhealthy(migrated_db_url: str, tmp_path: Path) -> None:
    port = free_port()
    env = _env(tmp_path, database_url=migrated_db_url, mqtt_url=DOWN_BROKER, metrics_port=str(port))
    process = _start(["ingest"], env)
    try:
        _wait_until(lambda: _health(port) is not None, 60, "the health endpoint")
        status, detail = _health(port)  # type: ignore[misc]
        assert status == 503 and detail["broker_connected"] is False
    finally:
        process.send_signal(signal.SIGTERM)
        output = process.communicate(timeout=60)[0]
    assert process.returncode == 0, output
    assert "cannot reach the MQTT broker at 127.0.0.1:9 (COOPWATT_MQTT_URL)" in output
    assert "Traceback" not in output


# --- dashboard -----------------------------------------------------------------------------------------------------

def test_dashboard_serves_health_and_the_login_page_then_stops_on_sigterm(migrated_db_url: str,
                                                                         tmp_path: Path) -> None:
    port = free_port()
    env = _env(tmp_path, database_url=migrated_db_url, dashboard_secret_key="k" * 48)
    process = _start(["dashboard", "--host", "127.0.0.1", "--port", str(port), "--workers", "1"], env)
    try:
        def up() -> bool:
            if process.poll() is not None:
                raise AssertionError("the dashboard exited: " + (process.stdout.read() if process.stdout else ""))
            try:
                return _get(f"http://127.0.0.1:{port}/healthz") == (200, "ok")
            except OSError:
                return False

        _wait_until(up, 90, "the dashboard to answer /healthz")
        status, page = _get(f"http://127.0.0.1:{port}/login")
        assert status == 200
        assert 'id="login-form"' in page and 'type="password"' in page
        # Anything else needs a session: the guard sends a stranger to the login page.
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=5) as response:
            assert urllib.parse.urlsplit(response.url).path == "/login"
    finally:
        process.send_signal(signal.SIGTERM)
        output = process.communicate(timeout=60)[0]
    assert process.returncode == 0, output
    assert f"coopwatt dashboard on http://127.0.0.1:{port}/" in output
    assert "Traceback" not in output


# --- simulate ------------------------------------------------------------------------------------------------------

def test_simulate_registers_and_publishes_a_short_residence(migrated_db_url: str, broker: Broker, topic_prefix: str,
                                                            tmp_path: Path) -> None:
    received: list[str] = []
    client = mqtt.Client(CallbackAPIVersion.VERSION2)
    client.on_message = lambda c, u, message: received.append(message.topic)
    client.connect(broker.host, broker.port)
    client.subscribe(f"{topic_prefix}/#", qos=1)
    client.loop_start()
    try:
        env = _env(tmp_path, database_url=migrated_db_url, mqtt_url=broker.url, mqtt_topic_prefix=topic_prefix)
        result = _run(["simulate", "--dwellings", "2", "--backfill-days", "0", "--speed", "600",
                       "--duration-s", "1", "--register"], env)
        assert result.returncode == 0, result.stderr
        meters = _count(migrated_db_url, "meter")
        assert _count(migrated_db_url, "dwelling") == 2 and meters >= 2
        _wait_until(lambda: len(received) > 0, 30, "simulated messages")
    finally:
        client.loop_stop()
        client.disconnect()
    assert all(topic.startswith(topic_prefix + "/") for topic in received)


# --- documented failures -------------------------------------------------------------------------------------------

_DB_COMMANDS = [["migrate"], ["status"], ["analytics", "--once"], ["users", "list"],
                ["registry", "import", "REGISTRY"], ["import", "READINGS"]]


def _args(args: list[str], tmp_path: Path) -> list[str]:
    (tmp_path / "registry.csv").write_text(REGISTRY, encoding="utf-8")
    (tmp_path / "readings.csv").write_text("meter,time,value,unit\ncli-a01,2026-03-01T00:00:00+01:00,1,kWh\n",
                                           encoding="utf-8")
    paths = {"REGISTRY": str(tmp_path / "registry.csv"), "READINGS": str(tmp_path / "readings.csv")}
    return [paths.get(a, a) for a in args]


@pytest.mark.parametrize("args", _DB_COMMANDS, ids=lambda a: " ".join(a))
def test_a_database_that_does_not_answer_is_named_without_a_traceback(args: list[str], tmp_path: Path) -> None:
    result = _run(_args(args, tmp_path), _env(tmp_path, database_url=DOWN_DB, mqtt_url=DOWN_BROKER))
    assert result.returncode == 1, result
    assert "coopwatt: COOPWATT_DATABASE_URL: the database at 127.0.0.1:9/none is unreachable" in result.stderr
    assert "Traceback" not in result.stderr and "s3cret" not in result.stderr


# Settings are read once, before any subcommand runs (coopwatt.cli.main): one command of each kind is enough.
@pytest.mark.parametrize("args", [["migrate"], ["analytics", "--once"], ["ingest"], ["dashboard"],
                                  ["simulate", "--duration-s", "1"]], ids=lambda a: " ".join(a))
def test_a_wrong_setting_stops_every_kind_of_command_naming_it(args: list[str], tmp_path: Path) -> None:
    env = _env(tmp_path, database_url=DOWN_DB, mqtt_url=DOWN_BROKER, retention_days="0")
    result = _run(_args(args, tmp_path), env)
    assert result.returncode == 2, result
    assert "COOPWATT_RETENTION_DAYS: Input should be greater than or equal to 1" in result.stderr
    assert "Traceback" not in result.stderr


def test_a_missing_database_url_is_named(tmp_path: Path) -> None:
    result = _run(["status"], _env(tmp_path))
    assert result.returncode == 2 and "COOPWATT_DATABASE_URL: not set" in result.stderr


def test_simulate_with_the_broker_down_names_it_without_a_traceback(tmp_path: Path) -> None:
    result = _run(["simulate", "--dwellings", "2", "--duration-s", "1"],
                  _env(tmp_path, database_url=DOWN_DB, mqtt_url=DOWN_BROKER))
    assert result.returncode == 1, result
    assert "coopwatt: COOPWATT_MQTT_URL: cannot reach the MQTT broker at 127.0.0.1:9" in result.stderr
    assert "Traceback" not in result.stderr


def test_a_failed_migration_is_reported_and_leaves_the_schema_as_it_was(db_url: str, tmp_path: Path) -> None:
    """A migration the server refuses (here: a schema already holding one of its tables) is named, exit 1."""
    with psycopg.connect(db_url) as conn:
        conn.execute("CREATE TABLE residence (id int)")  # 0001 creates residence without IF NOT EXISTS
    result = _run(["migrate"], _env(tmp_path, database_url=db_url))
    assert result.returncode == 1, result
    assert "coopwatt: migration 0001_core failed and was rolled back (schema left at version none)" in result.stderr
    assert "DuplicateTable" in result.stderr and "Traceback" not in result.stderr
    with psycopg.connect(db_url) as conn:
        assert conn.execute("SELECT to_regclass('meter')").fetchone()[0] is None


def _failures(url: str) -> list[tuple[object, ...]]:
    with psycopg.connect(url) as conn:
        return conn.execute("SELECT dwelling_id, reason FROM analytics_failure").fetchall()
