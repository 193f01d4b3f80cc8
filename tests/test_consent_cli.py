"""Paper forms: consents read from the registry import and recorded or withdrawn with `coopwatt consent`."""

from __future__ import annotations

from pathlib import Path
from zoneinfo import ZoneInfo

import psycopg

from coopwatt import consent
from tests.test_cli import _env, _run

REGISTRY = """residence,building,dwelling,floor_area_m2,heating_type,meter_source,meter_kind,meter_mode,consent_granted,consent_refused,consent_form,consent_date
TIL,A,A01,54,electric,p-a01,electricity,index,electricity_daily|gas|comparisons,electricity_load_curve,F-2026-001,2026-11-30
TIL,A,A01,54,electric,p-a01w,water,index,electricity_daily|gas|comparisons,electricity_load_curve,F-2026-001,2026-11-30
TIL,A,A02,71.5,gas,p-a02,gas,index,,,,
TIL,A,A03,60,gas,p-a03,gas,index,gas,,,
TIL,A,,,,p-heat,heat,index,,,,
"""


def _in_force(url: str, code: str) -> dict[str, consent.ConsentRecord]:
    with psycopg.connect(url) as conn:
        dwelling = conn.execute("SELECT id FROM dwelling WHERE code = %s", (code,)).fetchone()[0]
        return consent.consents_in_force(conn, dwelling)


def test_registry_import_records_paper_forms_and_the_cli_withdraws(migrated_db_url: str, tmp_path: Path) -> None:
    url = migrated_db_url
    env = _env(tmp_path, database_url=url)
    assert _run(["users", "add", "agnes", "--role", "admin", "--password-stdin"], env,
                stdin="un mot de passe assez long\n").returncode == 0
    path = tmp_path / "registry.csv"
    path.write_text(REGISTRY, encoding="utf-8")

    without_staff = _run(["registry", "import", str(path)], env)
    assert without_staff.returncode == 2 and "--staff" in without_staff.stderr
    done = _run(["registry", "import", "--staff", "agnes", str(path)], env)
    assert done.returncode == 1  # line 5: consents without their form
    assert "line 5: consents need consent_form" in done.stderr
    assert "created 1 residence(s), 1 building(s), 2 dwelling(s)" in done.stdout
    assert "4 consent decision(s)" in done.stdout
    records = _in_force(url, "A01")
    assert set(records) == {consent.ELECTRICITY_DAILY, consent.GAS, consent.COMPARISONS}
    daily = records[consent.ELECTRICITY_DAILY]
    assert (daily.recorded_by, daily.recorded_username, daily.paper_form) == ("staff", "agnes", "F-2026-001")
    assert daily.decided_at.astimezone(ZoneInfo("Europe/Paris")).date().isoformat() == "2026-11-30"
    assert _in_force(url, "A02") == {}  # no form: registered, not collected
    again = _run(["registry", "import", "--staff", "agnes", str(path)], env)
    assert "consent decision" not in again.stdout  # the same forms twice record nothing new

    texts = _run(["consent", "texts", "--lang", "en"], env)
    assert texts.returncode == 0 and consent.TEXT_VERSION in texts.stdout and "Raw readings are kept 3 years" in texts.stdout
    no_form = _run(["consent", "record", "TIL/A/A02", "--grant", "gas", "--staff", "agnes", "--form", " "], env)
    assert no_form.returncode == 2 and "paper form" in no_form.stderr
    not_staff = _run(["consent", "record", "TIL/A/A02", "--grant", "gas", "--staff", "nobody", "--form", "F-9"], env)
    assert not_staff.returncode == 2 and "no staff account" in not_staff.stderr
    recorded = _run(["consent", "record", "TIL/A/A02", "--grant", "gas", "water", "--refuse", "letters",
                     "--staff", "agnes", "--form", "F-2026-002"], env)
    assert recorded.returncode == 0, recorded.stderr
    assert set(_in_force(url, "A02")) == {consent.GAS, consent.WATER}
    withdrawn = _run(["consent", "withdraw", "TIL/A/A01", "gas", "--data", "delete", "--staff", "agnes",
                      "--form", "F-2026-003"], env)
    assert withdrawn.returncode == 0, withdrawn.stderr
    assert "withdrawn" in withdrawn.stdout and "(delete)" in withdrawn.stdout
    assert consent.GAS not in _in_force(url, "A01")
    with psycopg.connect(url) as conn:
        row = conn.execute("SELECT withdrawn_by, withdrawal_form, withdrawal_choice FROM consent"
                           " WHERE flow = 'gas' AND withdrawn_at IS NOT NULL").fetchone()
    assert row == ("staff", "F-2026-003", "delete")
