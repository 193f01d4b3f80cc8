"""`coopwatt demo` as a person runs it: a subprocess, then a look at what it left in the database."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import psutil
import psycopg
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from coopwatt.embedded import EmbeddedPostgres

DEMO_TIMEOUT_S = 600


def _clean_environment() -> dict[str, str]:
    """This process's environment without any COOPWATT_* setting (so the test decides them all)."""
    return {key: value for key, value in os.environ.items() if not key.startswith("COOPWATT_")}


def run_demo(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    """Run `coopwatt demo` the way a person would, and return what it printed."""
    result = subprocess.run(
        [sys.executable, "-m", "coopwatt.cli", "demo", *args],
        env=env, capture_output=True, text=True, timeout=DEMO_TIMEOUT_S, check=False,
    )
    assert result.returncode == 0, f"demo failed ({result.returncode}):\n{result.stdout}\n{result.stderr}"
    return result


def check_database(url: str, *, days: int, dwellings: int) -> None:
    """History was backfilled, live readings arrived, consumption was derived, nothing unexpected was rejected."""
    with psycopg.connect(url) as conn:
        meters_with_dwelling = conn.execute("SELECT count(DISTINCT dwelling_id) FROM meter").fetchone()
        assert meters_with_dwelling is not None and meters_with_dwelling[0] == dwellings

        first, last = conn.execute("SELECT min(time), max(time) FROM reading").fetchone()  # type: ignore[misc]
        assert first is not None and last is not None
        assert last - first >= timedelta(days=days) - timedelta(hours=2), "the backfill should cover --days of history"

        # History is written every 30 min; live devices report every minute, so off-grid times came through MQTT.
        live = conn.execute(
            "SELECT count(*) FROM reading WHERE extract(epoch FROM time)::bigint % 1800 <> 0"
        ).fetchone()
        assert live is not None and live[0] > 0, "readings published live should have been ingested"

        hours = conn.execute(
            "SELECT count(DISTINCT meter_id), count(*) FROM consumption_hourly"
            " WHERE coalesce(energy_kwh, volume_m3) IS NOT NULL"
        ).fetchone()
        assert hours is not None and hours[0] > 0 and hours[1] >= hours[0] * 24 * (days - 1), \
            "hourly consumption should be derived for the backfilled days"

        # The simulated devices send only valid messages: injected faults (leak, reset, frozen index, spike…)
        # change what is measured, and are stored, not rejected. Any dead letter is a bug somewhere.
        reasons = [row[0] for row in conn.execute("SELECT DISTINCT reason FROM dead_letter")]
        assert reasons == [], f"unexpected dead letters: {reasons}"


def _forget_session(broker_url: str, client_id: str) -> None:
    """Remove the demo ingester's persistent session from the shared broker (clean start, then leave)."""
    from urllib.parse import urlsplit

    parts = urlsplit(broker_url)
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id, protocol=mqtt.MQTTv311, clean_session=True)
    client.connect(parts.hostname or "127.0.0.1", parts.port or 1883)
    client.loop_start()
    client.disconnect()
    client.loop_stop()


@pytest.fixture
def demo_client_id(broker: Any, topic_prefix: str) -> Iterator[str]:
    client_id = "demo-" + topic_prefix
    yield client_id
    _forget_session(broker.url, client_id)


def test_demo_on_the_machine_services(db_url: str, broker: Any, topic_prefix: str, demo_client_id: str,
                                      tmp_path: Path) -> None:
    env = _clean_environment() | {
        "COOPWATT_DATABASE_URL": db_url,
        "COOPWATT_MQTT_URL": broker.url,
        "COOPWATT_MQTT_TOPIC_PREFIX": topic_prefix,
        "COOPWATT_MQTT_CLIENT_ID": demo_client_id,
        "COOPWATT_DATA_DIR": str(tmp_path / "data"),
        "COOPWATT_METRICS_PORT": "0",
        # A raw-index look-back shorter than the fault window: the demo's analysis must read the whole window.
        "COOPWATT_ANALYTICS_INDEX_LOOKBACK_DAYS": "1.5",
    }
    # 100 s live at ×120 replays the last 3.3 hours: longer than a 30-minute meter's silence limit (6 periods),
    # and long enough for one anomaly run during the live phase.
    result = run_demo(env, "--days", "12", "--dwellings", "6", "--duration-s", "100")
    assert "stockage" in result.stdout and "storage" in result.stdout, result.stdout
    assert "dashboard: http://127.0.0.1:" in result.stdout, result.stdout
    for role in ("household", "adviser", "manager", "admin"):  # one printed demo account per role
        assert any(line.split()[:1] == [role] for line in result.stdout.splitlines()), result.stdout
    with psycopg.connect(db_url) as conn:
        roles = {r[0] for r in conn.execute("SELECT role FROM account")}
    assert roles == {"household", "adviser", "manager", "admin"}
    # The nightly analytics ran before the dashboard came up: twelve days are too few for a weather baseline,
    # so every dwelling has its reasons stored instead of a model, and the demo says so.
    assert "nightly analytics: 0 weather baselines fitted" in result.stdout, result.stdout
    # The month's letters: half the households by e-mail to the demo's own SMTP server, the rest in the print file.
    assert re.search(r"letters of \d{4}-\d{2}: progress of 1 residence\(s\) computed; 3 e-mail\(s\) and 3 paper",
                     result.stdout), result.stdout
    assert "3 e-mail(s) delivered to the local SMTP server" in result.stdout, result.stdout
    letters = tmp_path / "data" / "letters"
    assert len(list((letters / "mailbox").glob("*.eml"))) == 3
    assert len(list(letters.glob("letters-*.pdf"))) == 1
    assert "hall page (no login): /hall/" in result.stdout, result.stdout
    with psycopg.connect(db_url) as conn:
        baselines = conn.execute("SELECT count(*), bool_or(qualified), min(jsonb_array_length(reasons))"
                                 " FROM baseline").fetchone()
    assert baselines[0] >= 6 and baselines[1] is False and baselines[2] >= 1
    assert not (tmp_path / "data" / "pgdata").exists(), "with a database URL set, no embedded PostgreSQL is started"
    check_database(db_url, days=12, dwellings=6)
    # Live meters replay the recent past at speed: judged at the simulated clock, only a meter the ground
    # truth made silent may ever get a silence alert (at the wall clock every meter would look silent).
    truth = json.loads((tmp_path / "data" / "demo-ground-truth.json").read_text())
    made_silent = {f["meter_source"] for f in truth["faults"] if f["kind"] == "meter_silent"}
    with psycopg.connect(db_url) as conn:
        silent = {r[0] for r in conn.execute("SELECT m.source FROM alert a JOIN meter m ON m.id = a.meter_id"
                                             " WHERE a.kind = 'meter_silent'")}
        meters = conn.execute("SELECT count(*) FROM meter").fetchone()[0]
        runs = conn.execute("SELECT count(*) FROM analytics_run WHERE job = 'anomalies' AND status = 'ok'").fetchone()[0]
        # A detector that throws is counted in its run and the run goes on: none may have.
        failed = conn.execute("SELECT r.job, f.reason FROM analytics_failure f JOIN analytics_run r ON r.id = f.run_id"
                              ).fetchall()
    assert meters > 10
    assert failed == []
    assert silent <= made_silent, silent - made_silent
    # Faults seen in the raw index are found wherever in the ten-day fault window they fell, though the job
    # reads 1.5 days of it here: the demo's history arrived at once, so its analysis reads the whole window.
    by_index = {(f["kind"], f["meter_source"]) for f in truth["faults"] if f["kind"] in ("counter_reset", "frozen_index")}
    with psycopg.connect(db_url) as conn:
        alerted = set(conn.execute("SELECT a.kind, m.source FROM alert a JOIN meter m ON m.id = a.meter_id").fetchall())
    assert by_index and by_index <= alerted, by_index - alerted
    assert runs >= 3, "anomaly runs: after the backfill, during the live phase and at the end"


@pytest.mark.slow
def test_demo_on_embedded_defaults_twice(tmp_path: Path) -> None:
    """No URLs: embedded PostgreSQL and broker; a second run finds the first run's data and keeps it."""
    data_dir = tmp_path / "coopwatt-data"
    env = _clean_environment() | {"COOPWATT_DATA_DIR": str(data_dir), "COOPWATT_METRICS_PORT": "0"}
    first = run_demo(env, "--days", "3", "--dwellings", "6", "--duration-s", "20")
    assert "PostgreSQL" in first.stdout and "MQTT" in first.stdout, first.stdout
    second = run_demo(env, "--days", "3", "--dwellings", "6", "--duration-s", "10")
    assert "0 migration" in second.stdout, "the second run should find the schema already there"

    pgdata = data_dir / "pgdata"
    left = [p for p in psutil.process_iter(attrs=["name", "cmdline"])
            if p.info.get("name") == "postgres" and any(str(pgdata) in part for part in p.info.get("cmdline") or [])]
    assert left == [], "the demo must stop its PostgreSQL"

    with EmbeddedPostgres(data_dir) as server:
        check_database(server.url("coopwatt"), days=3, dwellings=6)
        # The second run replays the first one's steps (30-minute history, then one-minute live readings), so
        # every index carries on exactly: no reset but the injected one, no jump.
        truth = json.loads((data_dir / "demo-ground-truth.json").read_text())
        made_reset = {f["meter_source"] for f in truth["faults"] if f["kind"] == "counter_reset"}
        with psycopg.connect(server.url("coopwatt")) as conn:
            resets = {r[0] for r in conn.execute("SELECT m.source FROM alert a JOIN meter m ON m.id = a.meter_id"
                                                 " WHERE a.kind = 'counter_reset'")}
    assert resets <= made_reset, resets - made_reset
    assert "index reset" not in second.stdout and "index jump" not in second.stdout, second.stdout


# The default demo runs on the production store only: the demo's pipeline is run on both storage modes by
# test_demo_on_the_machine_services, and the hardship job's reads on both by tests/test_hardship_job.py; this
# one judges what the default demo shows an adviser (on plain PostgreSQL too it cost CI over 3 more minutes).
@pytest.mark.slow
@pytest.mark.storage("timescaledb")
def test_demo_puts_its_cold_homes_on_the_advisers_hardship_list(db_url: str, broker: Any, topic_prefix: str,
                                                                 demo_client_id: str, tmp_path: Path) -> None:
    """The default demo (400 days, 36 homes): its under-heating households are cases an adviser sees, once set up."""
    from tests.dashboard_support import free_port, login
    from tests.demo_process import DemoProcess, demo_environment

    env = demo_environment(tmp_path / "data", database_url=db_url, mqtt_url=broker.url,
                           mqtt_topic_prefix=topic_prefix, mqtt_client_id=demo_client_id, dashboard_port=str(free_port()))
    demo = DemoProcess(env, "--duration-s", "600")
    try:
        demo.wait_for("live for 600 s", timeout_s=DEMO_TIMEOUT_S)
        truth = json.loads((tmp_path / "data" / "demo-ground-truth.json").read_text())
        cold = {d["code"] for d in truth["dwellings"] if d.get("under_heating_from_s") is not None}
        assert 1 <= len(cold) <= 2, cold
        with psycopg.connect(db_url) as conn:
            # The signal compares cold days (daily mean at most 12 °C) of the last 90: a summer run has too few.
            cold_days = conn.execute(
                "SELECT count(*) FROM (SELECT time::date, avg(temperature_c) AS t FROM outdoor_temperature"
                " WHERE time > (SELECT max(time) FROM outdoor_temperature) - interval '90 days' GROUP BY 1) d"
                " WHERE t <= 12").fetchone()[0]
            if cold_days < 25:
                pytest.skip(f"only {cold_days} cold days in the demo's last 90: outside the heating season")
            cases = conn.execute("SELECT d.code, c.signal FROM hardship_case c JOIN dwelling d ON d.id = c.dwelling_id"
                                 " WHERE c.still_flagged").fetchall()
        flagged = {code for code, signal in cases if signal == "under_heating"}
        assert flagged & cold, (cases, cold)
        assert flagged <= cold, f"a household that heats normally was flagged: {flagged - cold}"
        assert re.search(r"energy hardship: \d+ signals? for the advisers", demo.output), demo.output
        url = re.search(r"dashboard: (http://\S+)", demo.output).group(1).rstrip("/")  # type: ignore[union-attr]
        account = next(line.split() for line in demo.lines if line.split()[:1] == ["adviser"])
        page = login(url, account[1], account[2]).get(url + "/adviser/hardship", timeout=30)
        assert page.status_code == 200
        for code in flagged:
            assert code in page.text, page.text
    finally:
        demo.ctrl_c()
        assert demo.finish() == 0, demo.output
