"""`coopwatt registry import`: the registry CSV, against a real PostgreSQL."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import psycopg
import pytest

from coopwatt import cli
from coopwatt.registry_import import import_registry, parse_registry
from coopwatt.tariffs import SupplyContract

HEADER = "residence,building,dwelling,floor_area_m2,heating_type,meter_source,meter_kind,meter_mode\n"
GOOD = HEADER + (
    "les-tilleuls,A,A-01,62.5,electric,linky-021728123456,electricity,index\n"
    "les-tilleuls,A,A-01,62.5,electric,water-a01,water,index\n"
    "les-tilleuls,A,A-02,48,gas,tasmota-a02,electricity,index\n"
    "les-tilleuls,A,,,,heat-building-a,heat,index\n"
    "la-source,1,1-01,75,heat_pump,shellypro3em-08f9e0e5a1b2/em:0,electricity,index\n"
)


def _registry(url: str) -> list[tuple[object, ...]]:
    with psycopg.connect(url) as conn:
        return conn.execute(
            "SELECT m.source, m.kind, m.mode, r.code, b.code, d.code, d.floor_area_m2, d.heating_type"
            " FROM meter m"
            " LEFT JOIN dwelling d ON d.id = m.dwelling_id"
            " JOIN building b ON b.id = coalesce(d.building_id, m.building_id)"
            " JOIN residence r ON r.id = b.residence_id ORDER BY m.source").fetchall()


def test_parse_reports_bad_lines_with_their_numbers_and_keeps_the_good() -> None:
    """Each bad line is named with its reason; the others are kept."""
    text = HEADER + (
        "r1,A,A-01,62.5,electric,m1,electricity,index\n"     # line 2: good
        "r1,A,A-02,-3,electric,m2,electricity,index\n"        # 3: area
        "r1,A,A-03,40,wood,m3,electricity,index\n"            # 4: heating type
        "r1,A,A-04,40,gas,m4,steam,index\n"                   # 5: kind
        "r1,A,A-05,40,gas,m5,gas,cumulative\n"                # 6: mode
        "r1,A,A-06,40,gas,m1,gas,index\n"                     # 7: duplicate source
        "r1,A,A-01,70,electric,m7,water,index\n"              # 8: same dwelling, other area
        ",A,A-08,40,gas,m8,gas,index\n"                       # 9: no residence
        "r1,A,,40,,m9,heat,index\n"                           # 10: collective meter with an area
        "r1,A,A-10,quarante,gas,m10,gas,index\n"              # 11: not a number
    )
    rows, errors = parse_registry(text)
    assert [row.meter_source for row in rows] == ["m1"]
    assert [error.line for error in errors] == [3, 4, 5, 6, 7, 8, 9, 10, 11]
    reasons = " | ".join(str(error) for error in errors)
    for word in ("floor_area_m2", "heating_type", "meter_kind", "meter_mode", "already on line 2",
                 "another floor area", "residence is empty", "collective meter", "not a number"):
        assert word in reasons


def test_parse_accepts_semicolons_and_decimal_commas() -> None:
    """A spreadsheet's French CSV export (semicolons, decimal comma, BOM) reads the same."""
    text = "\ufeff" + HEADER.replace(",", ";") + "r1;A;A-01;62,5;electric;m1;electricity;index\n"
    rows, errors = parse_registry(text)
    assert errors == []
    assert rows[0].floor_area_m2 == 62.5


def test_missing_columns_are_named() -> None:
    """A file without the expected header is refused as a whole, saying which columns lack."""
    rows, errors = parse_registry("residence,building\nr1,A\n")
    assert rows == [] and len(errors) == 1
    assert "dwelling" in errors[0].reason and "meter_source" in errors[0].reason


def test_import_creates_the_registry_and_is_idempotent(migrated_db_url: str) -> None:
    """Importing creates every record once; the same file again changes nothing."""
    rows, errors = parse_registry(GOOD)
    assert errors == []
    with psycopg.connect(migrated_db_url) as conn:
        counts = import_registry(conn, rows)
        conn.commit()
    assert counts.created == {"residence": 2, "building": 2, "dwelling": 3, "meter": 5, "contract": 0}
    first = _registry(migrated_db_url)
    assert ("heat-building-a", "heat", "index", "les-tilleuls", "A", None, None, None) in first
    assert ("water-a01", "water", "index", "les-tilleuls", "A", "A-01", 62.5, "electric") in first

    with psycopg.connect(migrated_db_url) as conn:
        again = import_registry(conn, parse_registry(GOOD)[0])
        conn.commit()
    assert sum(again.created.values()) == 0 and sum(again.updated.values()) == 0
    assert _registry(migrated_db_url) == first


def test_import_moves_a_meter_and_updates_a_dwelling(migrated_db_url: str) -> None:
    """A later file wins: the meter follows it, the dwelling takes the new area."""
    with psycopg.connect(migrated_db_url) as conn:
        import_registry(conn, parse_registry(GOOD)[0])
        conn.commit()
        moved = parse_registry(HEADER + "les-tilleuls,A,A-02,50,gas,water-a01,water,interval\n")[0]
        counts = import_registry(conn, moved)
        conn.commit()
    assert counts.updated == {"dwelling": 1, "meter": 1, "contract": 0}
    registry = _registry(migrated_db_url)
    assert ("water-a01", "water", "interval", "les-tilleuls", "A", "A-02", 50.0, "gas") in registry


def test_import_adopts_an_auto_registered_meter(migrated_db_url: str) -> None:
    """A device the ingester registered on its own gets its dwelling from the file."""
    with psycopg.connect(migrated_db_url) as conn:
        conn.execute("INSERT INTO meter (kind, mode, source, auto_registered) VALUES ('electricity', 'index', 'tasmota-a02', true)")
        counts = import_registry(conn, parse_registry(GOOD)[0])
        conn.commit()
        auto = conn.execute("SELECT auto_registered, dwelling_id IS NOT NULL FROM meter WHERE source = 'tasmota-a02'").fetchone()
    assert auto == (False, True)
    assert counts.updated["meter"] == 1 and counts.created["meter"] == 4


def test_command_line_imports_good_lines_and_reports_bad_ones(
        migrated_db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    """`coopwatt registry import` exits 1 on bad lines, naming them, and still imports the rest."""
    path = tmp_path / "registry.csv"
    path.write_text(GOOD + "les-tilleuls,B,B-01,0,gas,bad-meter,gas,index\n", encoding="utf-8")
    monkeypatch.setenv("COOPWATT_DATABASE_URL", migrated_db_url)

    assert cli.main(["registry", "import", str(path), "--dry-run"]) == 1
    assert _registry(migrated_db_url) == []

    assert cli.main(["registry", "import", str(path)]) == 1
    captured = capsys.readouterr()
    assert "line 7: floor_area_m2" in captured.err
    assert len(_registry(migrated_db_url)) == 5


@pytest.mark.parametrize(("source", "why"), [
    ("alerts", "reserved"), ("tele", "reserved"), ("Shellies", "reserved"), ("status", "reserved"),
    ("coopwatt-ingest-1", "coopwatt"), ("a+b", "wildcards"), ("tasmota#1", "wildcards"),
    ("$SYS", "$"), ("tasmota-a02/extra", "channel"), ("tele/em:0", "reserved"),
])
def test_meter_ids_that_could_collide_on_the_broker_are_refused(source: str, why: str) -> None:
    """A meter id equal to a topic prefix or level, a service's name, or with wildcards: refused, naming it."""
    rows, errors = parse_registry(HEADER + f"r1,A,A-01,62.5,electric,{source},electricity,index\n"
                                  "r1,A,A-02,40,gas,tasmota-a02,electricity,index\n")
    assert [row.meter_source for row in rows] == ["tasmota-a02"]
    assert len(errors) == 1 and errors[0].line == 2
    assert repr(source) in errors[0].reason and "meter_source" in errors[0].reason and why in errors[0].reason


def test_auto_registration_refuses_the_ids_the_import_refuses(migrated_db_url: str) -> None:
    """The ingester's auto-registration applies the same rules: no meter 'tele' or 'coopwatt-ingest-1'."""
    from coopwatt.quantities import Quantity
    from ingest.registry import Registry

    registry = Registry()
    with psycopg.connect(migrated_db_url) as conn:
        for source in ("tele", "alerts", "coopwatt-ingest-1", "a+b"):
            assert registry.register(conn, source, Quantity.POWER_W) is None
        assert registry.register(conn, "tasmota-a02", Quantity.POWER_W) is not None
        conn.commit()
        sources = [row[0] for row in conn.execute("SELECT source FROM meter")]
    assert sources == ["tasmota-a02"]


CONTRACT_HEADER = HEADER.rstrip("\n") + ",contract_option,subscribed_kva,offpeak_hours,contract_from\n"


def test_contract_columns_are_checked_with_line_numbers() -> None:
    """Each dwelling's supply contract is read from the same file; a bad one is named, the rest kept."""
    text = CONTRACT_HEADER + (
        "r1,A,A-01,62.5,electric,m1,electricity,index,hphc,9,22-6,2025-08-01\n"   # 2: good
        "r1,A,A-01,62.5,electric,m1w,water,index,,,,\n"                          # 3: good, no contract
        "r1,A,A-02,40,gas,m2,electricity,index,heures creuses,6,22-6,\n"         # 4: option
        "r1,A,A-03,40,gas,m3,electricity,index,base,7.5,,\n"                     # 5: kVA
        "r1,A,A-04,40,gas,m4,electricity,index,hphc,6,,\n"                       # 6: hours missing
        "r1,A,A-05,40,gas,m5,electricity,index,base,6,22-6,\n"                   # 7: hours on base
        "r1,A,A-06,40,gas,m6,electricity,index,tempo,6,,1er août\n"             # 8: day
        "r1,A,A-01,62.5,electric,m8,gas,index,base,6,,2025-08-01\n"              # 9: other contract
        "r1,A,A-07,40,gas,m9,electricity,index,tempo,12,,\n"                     # 10: good, dated today
    )
    rows, errors = parse_registry(text, today=date(2026, 12, 5))
    assert [e.line for e in errors] == [4, 5, 6, 7, 8, 9]
    reasons = " | ".join(str(e) for e in errors)
    for word in ("contract_option", "subscribed_kva", "offpeak_hours", "belong to an hphc", "contract_from",
                 "another contract on line 2"):
        assert word in reasons
    contracts = {row.meter_source: row.contract for row in rows}
    assert contracts["m1"] == SupplyContract(date(2025, 8, 1), "hphc", 9, (22, 23, 0, 1, 2, 3, 4, 5))
    assert contracts["m1w"] is None
    assert contracts["m9"] == SupplyContract(date(2026, 12, 5), "tempo", 12)


def test_contracts_are_imported_dated_and_idempotently(migrated_db_url: str) -> None:
    """The same file twice changes nothing; a later contract is kept beside the earlier one."""
    first = CONTRACT_HEADER + "r1,A,A-01,62.5,electric,m1,electricity,index,base,6,,2024-01-01\n"
    later = CONTRACT_HEADER + "r1,A,A-01,62.5,electric,m1,electricity,index,hphc,9,22-6,2026-03-01\n"
    with psycopg.connect(migrated_db_url) as conn:
        assert import_registry(conn, parse_registry(first)[0]).created["contract"] == 1
        again = import_registry(conn, parse_registry(first)[0])
        assert again.created["contract"] == 0 and again.updated["contract"] == 0
        import_registry(conn, parse_registry(later)[0])
        conn.commit()
        stored = conn.execute("SELECT valid_from, option, subscribed_kva, offpeak_hours FROM supply_contract"
                              " ORDER BY valid_from").fetchall()
    assert stored == [(date(2024, 1, 1), "base", 6, None), (date(2026, 3, 1), "hphc", 9, [22, 23, 0, 1, 2, 3, 4, 5])]
