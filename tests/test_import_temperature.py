"""Outdoor temperature CSV import: units with offsets, bad rows with line numbers, corrections, one-place files."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import psycopg
import pytest

from coopwatt.settings import load_settings
from ingest.importer import detect_format, import_file
from ingest.reading import PayloadError
from ingest.temperature_csv import parse_temperatures

FILE = Path(__file__).parent / "data" / "csv" / "temperatures.csv"
PARIS = ZoneInfo("Europe/Paris")


def _residences(url: str) -> dict[str, int]:
    with psycopg.connect(url) as conn:
        return dict(conn.execute("INSERT INTO residence (code, name) VALUES ('R1', 'Les Tilleuls'), ('R2', 'Bacalan')"
                                 " RETURNING code, id").fetchall())


def _stored(url: str) -> dict[tuple[str, datetime], float]:
    with psycopg.connect(url) as conn:
        return {(code, time): value for code, time, value in conn.execute(
            "SELECT r.code, t.time, t.temperature_c FROM outdoor_temperature t JOIN residence r ON r.id = t.residence_id")}


def test_the_format_is_recognised_from_its_header() -> None:
    assert detect_format(FILE.read_text(encoding="utf-8").splitlines()) == "temperature"


def test_good_rows_are_stored_in_celsius_and_bad_rows_named_with_their_line(migrated_db_url: str) -> None:
    _residences(migrated_db_url)
    settings = load_settings({}, database_url=migrated_db_url)
    with psycopg.connect(migrated_db_url) as conn:
        summary = import_file(conn, FILE, settings, progress=False)
    stored = _stored(migrated_db_url)
    assert stored[("R1", datetime(2026, 1, 4, 23, tzinfo=UTC))] == pytest.approx(2.5)
    assert stored[("R1", datetime(2026, 1, 5, 0, tzinfo=UTC))] == pytest.approx(2.0)  # local time, °C by default
    assert stored[("R2", datetime(2026, 1, 5, 0, tzinfo=UTC))] == pytest.approx(2.0)  # 275.15 K
    assert stored[("R2", datetime(2026, 1, 5, 1, tzinfo=UTC))] == pytest.approx(5.0)  # 41 °F
    assert len(stored) == 4 and (summary.stored, summary.rejected) == (4, 5)
    reasons = {bad.line: bad.reason for bad in summary.bad}
    assert "unknown residence 'R9'" in reasons[6]
    assert "DST" in reasons[7]
    assert "outside" in reasons[8]
    assert "not a number" in reasons[9]
    assert "ISO 8601" in reasons[10]
    with psycopg.connect(migrated_db_url) as conn:
        dead = conn.execute("SELECT reason FROM dead_letter WHERE source = 'import'").fetchall()
    assert len(dead) == 5 and all(reason.startswith("line ") for (reason,) in dead)


def test_reimport_adds_nothing_and_a_corrected_file_updates(migrated_db_url: str, tmp_path: Path) -> None:
    _residences(migrated_db_url)
    settings = load_settings({}, database_url=migrated_db_url)
    with psycopg.connect(migrated_db_url) as conn:
        import_file(conn, FILE, settings, progress=False)
        again = import_file(conn, FILE, settings, progress=False)
        assert (again.stored, again.updated, again.already_present) == (0, 0, 4)
        corrected = tmp_path / "corrected.csv"
        corrected.write_text("residence,time,temperature\nR1,2026-01-05T00:00:00+01:00,3.5\n", encoding="utf-8")
        fixed = import_file(conn, corrected, settings, progress=False)
    assert (fixed.stored, fixed.updated) == (0, 1)
    assert _stored(migrated_db_url)[("R1", datetime(2026, 1, 4, 23, tzinfo=UTC))] == pytest.approx(3.5)


def test_a_one_place_file_needs_the_residence_named() -> None:
    lines = ["time;temperature", "2026-01-05T00:00:00Z;1,5"]
    with pytest.raises(PayloadError, match="--residence"):
        parse_temperatures(lines, {"R1": 1}, PARIS)
    with pytest.raises(PayloadError, match="unknown residence 'R7'"):
        parse_temperatures(lines, {"R1": 1}, PARIS, residence="R7")
    parsed = parse_temperatures(lines, {"R1": 1}, PARIS, residence="R1")
    assert parsed.rows == [(2, 1, datetime(2026, 1, 5, tzinfo=UTC), 1.5)] and parsed.bad == []


def test_the_command_line_imports_a_station_export(migrated_db_url: str, tmp_path: Path) -> None:
    _residences(migrated_db_url)
    export = tmp_path / "station.csv"
    export.write_text("time\ttemperature\n2026-01-05 00:00\t-1.5\n2026-01-05 01:00\t-2\n", encoding="utf-8")
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("COOPWATT_")},
           "COOPWATT_DATABASE_URL": migrated_db_url}
    result = subprocess.run([sys.executable, "-m", "coopwatt.cli", "import", str(export), "--format", "temperature",
                             "--residence", "R2"], capture_output=True, text=True, env=env, timeout=120)
    assert result.returncode == 0, result.stderr
    assert "temperature" in result.stdout and "2" in result.stdout
    stored = _stored(migrated_db_url)
    assert stored == {("R2", datetime(2026, 1, 4, 23, tzinfo=UTC)): pytest.approx(-1.5),
                      ("R2", datetime(2026, 1, 5, 0, tzinfo=UTC)): pytest.approx(-2.0)}
