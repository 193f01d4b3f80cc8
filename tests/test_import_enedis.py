"""Enedis load-curve import: DST days, a step change, unsorted rows, bad rows, idempotence, the CLI."""

from __future__ import annotations

import argparse
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pandas as pd
import psycopg
import pytest

from coopwatt.quantities import Quantity
from coopwatt.rollups import refresh_rollups
from coopwatt.settings import load_settings
from ingest.derive import derive_pending
from ingest.enedis import infer_steps_min, parse_enedis
from ingest.importer import ImportFailed, import_file, main
from tests.factories import consent_to_all

DATA = Path(__file__).parent / "data" / "csv"
FILE = DATA / "enedis_dst_steps.csv"
PARIS = ZoneInfo("Europe/Paris")
PRM = "09876543210123"


def _line_of(fragment: str) -> int:
    """The 1-based line number of the fixture line holding a fragment."""
    lines = FILE.read_text(encoding="utf-8").splitlines()
    return next(i for i, line in enumerate(lines, start=1) if fragment in line)


def _register(conn: psycopg.Connection, source: str = PRM, kind: str = "electricity") -> int:
    conn.execute("INSERT INTO residence (code, name) VALUES ('R', 'R')")
    conn.execute("INSERT INTO building (residence_id, code) SELECT id, 'B' FROM residence")
    dwelling = conn.execute("INSERT INTO dwelling (building_id, code, floor_area_m2, heating_type)"
                            " SELECT id, 'D', 60, 'electric' FROM building RETURNING id").fetchone()[0]
    consent_to_all(conn, dwelling)
    meter = conn.execute("INSERT INTO meter (dwelling_id, kind, mode, source) SELECT id, %s, 'interval', %s FROM dwelling"
                         " RETURNING id", (kind, source)).fetchone()[0]
    conn.commit()
    return meter


def test_steps_follow_the_previous_row_then_the_next_then_the_preamble() -> None:
    base = pd.Timestamp("2026-01-05T00:00:00Z")
    minutes = [30, 60, 90, 100, 110, 120, 300, 310]  # 30-min, then 10-min, then a hole
    times = pd.Series([base + pd.Timedelta(minutes=m) for m in minutes])
    assert list(infer_steps_min(times, None)) == [30, 30, 30, 10, 10, 10, 10, 10]
    assert list(infer_steps_min(times[:1], 15.0)) == [15]
    assert list(infer_steps_min(times[:1], None)) == [30]


def test_parse_keeps_dst_days_whole_and_reports_bad_rows() -> None:
    parsed = parse_enedis(FILE.read_text(encoding="utf-8").splitlines(), PARIS)
    assert parsed.prm == PRM
    assert [(b.line, b.raw) for b in parsed.bad] == [
        (_line_of(";12OO"), "2026-03-29T12:00:00+02:00;12OO"),
        (_line_of("T26:00"), "2026-10-25T26:00:00+01:00;600"),
    ]
    assert "not a number" in parsed.bad[0].reason and "time" in parsed.bad[1].reason
    rows = parsed.rows
    assert rows["time"].is_monotonic_increasing and rows["time"].is_unique
    local_day = rows["time"].dt.tz_convert(PARIS).dt.date.astype(str)
    # Each row's energy covers the step ending at its time: the days sum to 23 h and 25 h of power.
    spring = rows[local_day == "2026-03-29"]
    autumn = rows[(rows["time"] > pd.Timestamp("2026-10-25", tz=PARIS)) & (rows["time"] <= pd.Timestamp("2026-10-26", tz=PARIS))]
    assert (spring["step_min"] == 30).all()
    assert spring["step_min"].sum() + 30 == 23 * 60  # the last step of the day ends at midnight, the next day
    assert autumn["step_min"].sum() + 30 == 25 * 60  # one measure (09:30) is missing: its 30 min are not covered
    assert parsed.empty == 1
    assert autumn["energy_kwh"].sum() == pytest.approx(0.6 * (25 - 0.5))
    assert set(autumn["step_min"]) == {10.0, 30.0}


def test_import_end_to_end_twice(migrated_db_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    settings = load_settings({}, database_url=migrated_db_url, timezone="Europe/Paris")
    with psycopg.connect(migrated_db_url) as conn:
        meter = _register(conn)
        first = import_file(conn, FILE, settings, progress=False)
        assert first.format == "enedis" and first.rejected == 2 and first.empty == 1
        assert first.stored > 0 and first.already_present == 0
        assert first.rows_read == first.stored + first.rejected + first.empty + first.duplicates
        dead = conn.execute("SELECT source, topic, payload, reason FROM dead_letter ORDER BY id").fetchall()
        assert [(s, t, bytes(p)) for s, t, p, _ in dead] == [
            ("import", FILE.name, b"2026-03-29T12:00:00+02:00;12OO"), ("import", FILE.name, b"2026-10-25T26:00:00+01:00;600")]
        assert dead[0][3].startswith(f"line {_line_of(';12OO')}:")

        second = import_file(conn, FILE, settings, progress=False)
        assert (second.stored, second.already_present) == (0, first.stored)
        assert conn.execute("SELECT count(*) FROM dead_letter").fetchone()[0] == 2
        assert conn.execute("SELECT count(*) FROM reading WHERE meter_id = %s AND quantity_id = %s",
                            (meter, int(Quantity.ENERGY_KWH))).fetchone()[0] == first.stored
        conn.commit()
        derive_pending(conn, settings)
        refresh_rollups(conn, settings, since=datetime(2026, 3, 28, tzinfo=UTC), until=datetime(2026, 10, 27, tzinfo=UTC))
        days = {d.astimezone(PARIS).date().isoformat(): (e, h) for d, e, h in conn.execute(
            "SELECT day, energy_kwh, hours FROM consumption_daily WHERE meter_id = %s", (meter,))}
    assert days["2026-03-29"][1] == 23 and days["2026-10-25"][1] == 25
    # 1200 W for 23 hours (the bad row is an extra line); 600 W for 25 hours less the empty half hour.
    assert days["2026-03-29"][0] == pytest.approx(1.2 * 23)
    assert days["2026-10-25"][0] == pytest.approx(0.6 * (25 - 0.5))


def test_cli_reports_line_numbers_and_unknown_meter(migrated_db_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    settings = load_settings({}, database_url=migrated_db_url)
    args = argparse.Namespace(path=str(FILE), format="auto", meter=None)
    assert main(settings, args) == 2  # no meter has the file's PRM yet
    assert "unknown meter" in capsys.readouterr().err
    with psycopg.connect(migrated_db_url) as conn:
        _register(conn, source="linky-a")
        with pytest.raises(ImportFailed):
            import_file(conn, FILE, settings, progress=False)
    assert main(settings, argparse.Namespace(path=str(FILE), format="enedis", meter="linky-a")) == 1
    out = capsys.readouterr()
    assert f"line {_line_of('T26:00')}:" in out.err
    assert "rows read" in out.out and "rejetées / rejected:" in out.out


def test_a_year_of_half_hours_imports(migrated_db_url: str, tmp_path: Path) -> None:
    """A whole year at 30 minutes (17,520 rows) goes in and sums to the energy it describes."""
    settings = load_settings({}, database_url=migrated_db_url)
    start = datetime(2025, 1, 1, tzinfo=PARIS).astimezone(UTC)
    times = [start + timedelta(minutes=30 * (i + 1)) for i in range(17_520)]
    lines = ["Identifiant PRM;Type de donnees;Unite", f"{PRM};Courbe de charge;W", "Horodate;Valeur"]
    lines += [f"{t.astimezone(PARIS).isoformat()};{(i % 48) * 50}" for i, t in enumerate(times)]
    path = tmp_path / "year.csv"
    path.write_text("\n".join(lines), encoding="utf-8")
    with psycopg.connect(migrated_db_url) as conn:
        meter = _register(conn)
        summary = import_file(conn, path, settings, progress=False)
        total = conn.execute("SELECT sum(value) FROM reading WHERE meter_id = %s", (meter,)).fetchone()[0]
    assert summary.stored == 17_520 and summary.rejected == 0
    assert total == pytest.approx(sum((i % 48) * 50 * 0.5 / 1000 for i in range(17_520)))
