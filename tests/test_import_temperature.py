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
    settings = load_settings({}, database_url=migrated_db_url, timezone="Europe/Paris")
    with psycopg.connect(migrated_db_url) as conn:
        summary = import_file(conn, FILE, settings, progress=False)
    # Exact: every value here is exact in the column's real (float32) once converted.
    assert _stored(migrated_db_url) == {
        ("R1", datetime(2026, 1, 4, 23, tzinfo=UTC)): 2.5,  # decimal comma
        ("R1", datetime(2026, 1, 5, 0, tzinfo=UTC)): 2.0,  # local time, °C when the unit is empty
        ("R2", datetime(2026, 1, 5, 0, tzinfo=UTC)): 2.0,  # 275.15 K
        ("R2", datetime(2026, 1, 5, 1, tzinfo=UTC)): 5.0,  # 41 °F
    }
    assert (summary.rows_read, summary.stored, summary.rejected, summary.duplicates) == (13, 4, 8, 1)
    reasons = {bad.line: bad.reason for bad in summary.bad}
    assert sorted(reasons) == [6, 7, 8, 9, 10, 11, 12, 14]
    assert "unknown residence 'R9'" in reasons[6]
    assert "ambiguous or does not exist" in reasons[7]  # 29 March 02:30 is skipped by the spring change
    assert "outside -60…60 °C" in reasons[8] and "85" in reasons[8]
    assert "temperature 'froid' is not a number" in reasons[9]
    assert "ISO 8601" in reasons[10]
    assert "ambiguous or does not exist" in reasons[11]  # 25 October 02:30 happens twice
    assert "ISO 8601" in reasons[12]  # 05/01/2026 is not read as 1 May
    assert "line 3" in reasons[14] and "2.4" in reasons[14]  # same instant as line 3, another value
    with psycopg.connect(migrated_db_url) as conn:
        dead = conn.execute("SELECT reason, payload FROM dead_letter WHERE source = 'import'"
                            " AND topic = 'temperatures.csv'").fetchall()
    assert sorted(reason for reason, _ in dead) == sorted(f"line {n}: {r}" for n, r in reasons.items())
    assert bytes(next(payload for reason, payload in dead if reason.startswith("line 6:"))).decode() == (
        "R9;2026-01-05T00:00:00Z;3.0;°C")


def test_repeated_lines_in_one_file() -> None:
    lines = ["residence,time,temperature", "R1,2026-01-05T00:00:00Z,1.5",
             "R1,2026-01-05T01:00:00+01:00,1.50",  # the same instant and value: a repeat
             "R1,2026-01-05T00:00:00Z,1.7"]  # the same instant, another value: which is right is unknown
    parsed = parse_temperatures(lines, {"R1": 1}, PARIS)
    assert parsed.rows == [(2, 1, datetime(2026, 1, 5, tzinfo=UTC), 1.5)] and parsed.duplicates == 1
    assert [(bad.line, "line 2" in bad.reason) for bad in parsed.bad] == [(4, True)]


def test_reimport_adds_nothing_and_a_corrected_file_updates(migrated_db_url: str, tmp_path: Path) -> None:
    _residences(migrated_db_url)
    settings = load_settings({}, database_url=migrated_db_url, timezone="Europe/Paris")
    with psycopg.connect(migrated_db_url) as conn:
        import_file(conn, FILE, settings, progress=False)
        before = _stored(migrated_db_url)
        again = import_file(conn, FILE, settings, progress=False)
        assert (again.stored, again.updated, again.already_present, again.rejected) == (0, 0, 4, 8)
        assert _stored(migrated_db_url) == before
        dead = conn.execute("SELECT count(*) FROM dead_letter WHERE topic = 'temperatures.csv'").fetchone()[0]
        assert dead == 8  # the bad rows are not recorded twice
        corrected = tmp_path / "corrected.csv"
        corrected.write_text("residence,time,temperature\nR1,2026-01-05T00:00:00+01:00,3.5\n"
                             "R1,2026-01-05T02:00:00+01:00,1.0\n", encoding="utf-8")
        fixed = import_file(conn, corrected, settings, progress=False)
    assert (fixed.stored, fixed.updated, fixed.already_present) == (1, 1, 0)
    assert "  corrigées / corrected:                  1" in fixed.lines()
    after = _stored(migrated_db_url)
    assert after[("R1", datetime(2026, 1, 4, 23, tzinfo=UTC))] == 3.5
    assert after[("R1", datetime(2026, 1, 5, 1, tzinfo=UTC))] == 1.0
    assert len(after) == 5


def test_a_one_place_file_needs_the_residence_named() -> None:
    lines = ["time;temperature", "2026-01-05T00:00:00Z;1,5"]
    with pytest.raises(PayloadError, match="--residence"):
        parse_temperatures(lines, {"R1": 1}, PARIS)
    with pytest.raises(PayloadError, match="unknown residence 'R7'"):
        parse_temperatures(lines, {"R1": 1}, PARIS, residence="R7")
    parsed = parse_temperatures(lines, {"R1": 1}, PARIS, residence="R1")
    assert parsed.rows == [(2, 1, datetime(2026, 1, 5, tzinfo=UTC), 1.5)] and parsed.bad == []
    with pytest.raises(PayloadError, match="residence column"):  # both: refused, not one silently ignored
        parse_temperatures(["residence,time,temperature", "R1,2026-01-05T00:00:00Z,1"], {"R1": 1}, PARIS,
                           residence="R1")


def _cli(url: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("COOPWATT_")},
           "COOPWATT_DATABASE_URL": url, "COOPWATT_TIMEZONE": "Europe/Paris"}
    return subprocess.run([sys.executable, "-m", "coopwatt.cli", "import", *args],
                          capture_output=True, text=True, env=env, timeout=120)


def test_the_command_line_imports_a_station_export(migrated_db_url: str, tmp_path: Path) -> None:
    _residences(migrated_db_url)
    export = tmp_path / "station.csv"
    export.write_text("time\ttemperature\n2026-01-05 00:00\t-1.5\n2026-01-05 01:00\t-2\n", encoding="utf-8")
    result = _cli(migrated_db_url, str(export), "--residence", "R2")  # recognised from its header
    assert result.returncode == 0, result.stderr
    assert "(temperature)" in result.stdout
    assert "enregistrées / stored:                  2" in result.stdout
    assert _stored(migrated_db_url) == {("R2", datetime(2026, 1, 4, 23, tzinfo=UTC)): -1.5,
                                        ("R2", datetime(2026, 1, 5, 0, tzinfo=UTC)): -2.0}
    unknown = _cli(migrated_db_url, str(export), "--format", "temperature", "--residence", "R7")
    assert unknown.returncode == 2 and "unknown residence 'R7'" in unknown.stderr
    assert len(_stored(migrated_db_url)) == 2


def test_the_command_line_reports_bad_rows_and_reimports_nothing(migrated_db_url: str) -> None:
    _residences(migrated_db_url)
    first = _cli(migrated_db_url, str(FILE))
    assert first.returncode == 1  # some rows were rejected
    assert "ligne/line 6: unknown residence 'R9'" in first.stderr
    assert "ligne/line 7: local time '2026-03-29 02:30:00' is ambiguous or does not exist" in first.stderr
    assert "enregistrées / stored:                  4" in first.stdout
    assert "rejetées / rejected:                    8" in first.stdout
    second = _cli(migrated_db_url, str(FILE))
    assert "enregistrées / stored:                  0" in second.stdout
    assert "déjà présentes / already present:       4" in second.stdout
    assert "corrigées" not in second.stdout
    assert len(_stored(migrated_db_url)) == 4
