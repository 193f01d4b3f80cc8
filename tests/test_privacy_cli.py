"""`coopwatt privacy register` and `coopwatt privacy export`, run as processes on a own_seeded cooperative.

Consents are recorded and withdrawn through coopwatt.consent, staff accesses through coopwatt.access_log;
the register must count them as they are, and a household's file must hold its own data and no other's.
"""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import psycopg

from coopwatt import consent
from coopwatt.access_log import record_access
from tests.dashboard_fixtures import own_seeded  # noqa: F401 - fixture
from tests.dashboard_support import Seed
from tests.dashboard_views_support import AnalyticsSeed

COOPWATT = Path(sys.executable).parent / "coopwatt"


def _run(args: list[str], url: str, tmp_path: Path, **settings: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("COOPWATT_")}
    env.update(HOME=str(tmp_path), COOPWATT_DATABASE_URL=url, COOPWATT_LOG_LEVEL="WARNING")
    env.update({"COOPWATT_" + k.upper(): v for k, v in settings.items()})
    return subprocess.run([str(COOPWATT), "privacy", *args], env=env, capture_output=True, text=True, timeout=120,
                          cwd=tmp_path)


def _decide_and_access(url: str, seed: Seed) -> None:
    """A's household took the load curve then withdrew it; B refused it; staff looked at A twice and B once."""
    with psycopg.connect(url) as conn:
        conn.execute("DELETE FROM consent")  # the seed consents to everything: this test decides alone
        consent.record_decisions(conn, seed.dwelling_a, {consent.LOAD_CURVE: True, consent.ELECTRICITY_DAILY: True,
                                                         consent.WATER: True}, recorded_by="household")
        consent.withdraw(conn, seed.dwelling_a, consent.LOAD_CURVE, by="household", choice="aggregate")
        consent.record_decisions(conn, seed.dwelling_b, {consent.LOAD_CURVE: False, consent.ELECTRICITY_DAILY: True},
                                 recorded_by="staff", paper_form="FORM-B-2026")
        root, claire = seed.accounts["root"], seed.accounts["claire"]
        record_access(conn, account_id=root, username="root", role="admin", dwelling_ids=[seed.dwelling_a],
                      what="csv_readings", detail={"since": None, "until": "2026-12-01T10:00:00+00:00"})
        record_access(conn, account_id=claire, username="claire", role="adviser",
                      dwelling_ids=[seed.dwelling_a, seed.dwelling_b], what="adviser_drilldown")


def test_register_counts_consents_dwellings_and_accesses_with_retention_from_settings(
    own_seeded: tuple[str, Seed, AnalyticsSeed], tmp_path: Path,  # noqa: F811
) -> None:
    url, seed, _ = own_seeded
    _decide_and_access(url, seed)
    done = _run(["register", "--format", "json"], url, tmp_path, retention_access_log_days="200",
                retention_days="400")
    assert done.returncode == 0, done.stderr
    register = json.loads(done.stdout)
    assert register["dwellings"] == 3
    assert register["accounts_by_role"] == {"admin": 1, "adviser": 1, "household": 2, "manager": 1}
    kinds = {kind["name"]: kind for kind in register["data_kinds"]}
    assert kinds["access_log"]["retention_days"] == 200
    assert kinds["access_log"]["retention_setting"] == "COOPWATT_RETENTION_ACCESS_LOG_DAYS"
    assert kinds["load_curve_raw"]["retention_days"] == 400
    assert kinds["consents"]["retention_days"] is None
    assert all(kind["purpose"] and kind["recipients"] for kind in kinds.values())
    consents = register["consents"]
    assert consents[consent.LOAD_CURVE] == {"in_force": 0, "withdrawn": 1, "refused": 1}
    assert consents[consent.ELECTRICITY_DAILY] == {"in_force": 2, "withdrawn": 0, "refused": 0}
    assert consents[consent.WATER] == {"in_force": 1, "withdrawn": 0, "refused": 0}
    assert consents[consent.GAS] == {"in_force": 0, "withdrawn": 0, "refused": 0}
    log = register["access_log"]
    assert (log["entries"], log["dwellings"]) == (3, 2)
    assert log["by_role"] == {"admin": 1, "adviser": 2}
    assert log["by_what"] == {"adviser_drilldown": 2, "csv_readings": 1}

    text = _run(["register"], url, tmp_path, retention_access_log_days="200")
    assert text.returncode == 0, text.stderr
    assert "Dwellings: 3" in text.stdout
    assert "retention: 200 days (COOPWATT_RETENTION_ACCESS_LOG_DAYS)" in text.stdout
    assert "- electricity_load_curve: 0 / 1 / 1" in text.stdout
    assert "Access log: 3 entries on 2 dwellings" in text.stdout


def test_export_is_the_households_whole_file_and_nothing_of_another(
    own_seeded: tuple[str, Seed, AnalyticsSeed], tmp_path: Path,  # noqa: F811
) -> None:
    url, seed, _ = own_seeded
    _decide_and_access(url, seed)
    with psycopg.connect(url) as conn:
        (raw,) = conn.execute("SELECT count(*) FROM reading r JOIN meter m ON m.id = r.meter_id"
                              " WHERE m.dwelling_id = %s", (seed.dwelling_a,)).fetchone() or (0,)
        (hourly,) = conn.execute("SELECT count(*) FROM consumption_hourly c JOIN meter m ON m.id = c.meter_id"
                                 " WHERE m.dwelling_id = %s", (seed.dwelling_a,)).fetchone() or (0,)
        alerts = {row[0] for row in conn.execute("SELECT id FROM alert WHERE dwelling_id = %s",
                                                 (seed.dwelling_a,)).fetchall()}
    assert raw and hourly and alerts
    out = tmp_path / "a.zip"
    done = _run(["export", "TIL/A/A-12", "--output", str(out)], url, tmp_path)
    assert done.returncode == 0, done.stderr
    assert f"readings.csv ({raw} rows)" in done.stdout
    with zipfile.ZipFile(out) as archive:
        assert set(archive.namelist()) == {"household.json", "readings.csv", "consumption_hourly.csv",
                                           "consumption_daily.csv"}
        contents = {name: archive.read(name).decode() for name in archive.namelist()}
    for name, text in contents.items():
        # Nothing of the neighbours (B is A-13 next door, C is B-01) and no secret.
        assert "src-b-" not in text and "src-c-" not in text and "A-13" not in text and "$argon2" not in text, name
    readings = list(csv.reader(io.StringIO(contents["readings.csv"])))
    assert readings[0] == ["meter", "kind", "quantity", "unit", "time_utc", "value"] and len(readings) == raw + 1
    assert len(contents["consumption_hourly.csv"].splitlines()) == hourly + 1
    assert len(contents["consumption_daily.csv"].splitlines()) > 300
    document = json.loads(contents["household.json"])
    assert document["dwelling"]["code"] == "A-12" and document["dwelling"]["residence_code"] == "TIL"
    assert document["contract"] is None and "contract" in document["contract_note"]
    assert [a["username"] for a in document["accounts"]] == ["alice"]
    history = {(c["flow"], c["granted"], c["in_force"], c["withdrawal_choice"]) for c in document["consent_history"]}
    assert history == {(consent.LOAD_CURVE, True, False, "aggregate"), (consent.ELECTRICITY_DAILY, True, True, None),
                       (consent.WATER, True, True, None)}
    assert document["consents_in_force"] == [consent.ELECTRICITY_DAILY, consent.WATER]
    assert {a["id"] for a in document["alerts"]} == alerts
    assert sorted((e["username"], e["what"]) for e in document["access_log"]) == [
        ("claire", "adviser_drilldown"), ("root", "csv_readings")]
    assert document["baselines"] and document["suggestions"] and document["comparisons"]
    assert document["readings_files"]["readings.csv"] == raw

    as_json = _run(["export", str(seed.dwelling_a), "--format", "json"], url, tmp_path)
    assert as_json.returncode == 0, as_json.stderr
    inline = json.loads(as_json.stdout)
    assert len(inline["readings"]["readings"]["rows"]) == raw
    assert inline["access_log"] == document["access_log"]

    missing = _run(["export", "999999"], url, tmp_path)
    assert missing.returncode == 2 and "no such dwelling" in missing.stderr
