"""Plain CSV import: mixed units through ingest.units, an unknown meter, local times, idempotence."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import psycopg
import pytest

from coopwatt.quantities import Quantity
from coopwatt.settings import load_settings
from ingest.importer import import_file
from ingest.plain_csv import MeterRef, parse_plain, parse_time
from ingest.reading import PayloadError
from tests.factories import consent_to_all

FILE = Path(__file__).parent / "data" / "csv" / "plain_mixed_units.csv"
PARIS = ZoneInfo("Europe/Paris")


def _line_of(fragment: str) -> int:
    lines = FILE.read_text(encoding="utf-8").splitlines()
    return next(i for i, line in enumerate(lines, start=1) if fragment in line)


def _meters(conn: psycopg.Connection) -> dict[str, int]:
    conn.execute("INSERT INTO residence (code, name) VALUES ('R', 'R')")
    conn.execute("INSERT INTO building (residence_id, code) SELECT id, 'B' FROM residence")
    dwelling = conn.execute("INSERT INTO dwelling (building_id, code, floor_area_m2, heating_type)"
                            " SELECT id, 'D', 60, 'gas' FROM building RETURNING id").fetchone()[0]
    consent_to_all(conn, dwelling)
    ids = {}
    for source, kind in (("elec-1", "electricity"), ("water-1", "water")):
        ids[source] = conn.execute("INSERT INTO meter (dwelling_id, kind, mode, source) SELECT id, %s, 'index', %s"
                                   " FROM dwelling RETURNING id", (kind, source)).fetchone()[0]
    conn.commit()
    return ids


def test_local_times_without_offset() -> None:
    assert parse_time("2026-01-05 02:00:00", PARIS) == datetime(2026, 1, 5, 1, tzinfo=UTC)
    with pytest.raises(PayloadError, match="ambiguous or does not exist"):
        parse_time("2026-10-25 02:30", PARIS)  # happens twice
    with pytest.raises(PayloadError, match="ambiguous or does not exist"):
        parse_time("2026-03-29 02:30", PARIS)  # never happens
    with pytest.raises(PayloadError, match="ISO 8601"):
        parse_time("yesterday", PARIS)
    with pytest.raises(PayloadError, match="ISO 8601"):
        parse_time("05/01/2026 10:00", PARIS)  # a lenient parser would store 1 May
    assert parse_time("2026-01-05T10:00:00Z", PARIS) == datetime(2026, 1, 5, 10, tzinfo=UTC)
    assert parse_time("2026-01-05T10:00:00+01:00", PARIS) == datetime(2026, 1, 5, 9, tzinfo=UTC)


def test_without_quantity_the_unit_and_mode_decide() -> None:
    lines = ["meter;time;value;unit",
             "a;2026-01-05T00:00:00Z;5;kWh", "b;2026-01-05T00:00:00Z;5;kWh", "a;2026-01-05T00:00:00Z;3;VA"]
    parsed = parse_plain(lines, {"a": MeterRef(1, "index"), "b": MeterRef(2, "interval")}, PARIS)
    quantities = [r.quantity for _, r in parsed.readings]
    assert quantities == [Quantity.ENERGY_INDEX_KWH, Quantity.ENERGY_KWH, Quantity.APPARENT_POWER_VA]


def test_mixed_units_and_an_unknown_meter(migrated_db_url: str) -> None:
    settings = load_settings({}, database_url=migrated_db_url, timezone="Europe/Paris")
    with psycopg.connect(migrated_db_url) as conn:
        ids = _meters(conn)
        summary = import_file(conn, FILE, settings, progress=False)
        stored = conn.execute(
            "SELECT meter_id, quantity_id, time, value FROM reading ORDER BY meter_id, quantity_id, time").fetchall()
        dead = conn.execute("SELECT topic, payload, reason FROM dead_letter ORDER BY id").fetchall()
        again = import_file(conn, FILE, settings, progress=False)
        assert conn.execute("SELECT count(*) FROM dead_letter").fetchone()[0] == len(dead)
    assert (summary.format, summary.rows_read, summary.stored, summary.rejected) == ("plain", 8, 6, 2)
    assert (again.stored, again.already_present, again.rejected) == (0, 6, 2)
    elec, water = ids["elec-1"], ids["water-1"]
    t0 = datetime(2026, 1, 4, 23, tzinfo=UTC)
    assert [(m, q, t, round(v, 9)) for m, q, t, v in stored] == [
        (elec, int(Quantity.ENERGY_INDEX_KWH), t0, 12500.0),  # Wh → kWh
        (elec, int(Quantity.ENERGY_INDEX_KWH), datetime(2026, 1, 5, 0, tzinfo=UTC), 12501.2),
        (elec, int(Quantity.POWER_W), datetime(2026, 1, 5, 1, tzinfo=UTC), 1850.0),
        (water, int(Quantity.VOLUME_INDEX_M3), t0, 123.456),
        (water, int(Quantity.VOLUME_INDEX_M3), datetime(2026, 1, 5, 1, tzinfo=UTC), 123.556),  # litres, local time
        (water, int(Quantity.VOLUME_INDEX_M3), datetime(2026, 1, 5, 2, tzinfo=UTC), 123.7),  # decimal comma
    ]
    assert [(t, r.split(":")[0]) for t, _, r in dead] == [
        (FILE.name, f"line {_line_of('ghost-7')}"), (FILE.name, f"line {_line_of('furlongs')}")]
    assert "unknown meter 'ghost-7'" in dead[0][2] and "furlongs" in dead[1][2]
    assert bytes(dead[0][1]).decode() == FILE.read_text(encoding="utf-8").splitlines()[_line_of("ghost-7") - 1]
