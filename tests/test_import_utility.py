"""Utility exports through `coopwatt import` into the real PostgreSQL: Enedis daily consumption, daily indices,
maximum power and the per-measure layout, GRDF gas, a water utility's daily index; messy files; idempotence."""

from __future__ import annotations

import argparse
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import psycopg
import pytest

from coopwatt.quantities import Quantity
from coopwatt.rollups import refresh_rollups
from coopwatt.settings import Settings, load_settings
from ingest.derive import derive_pending
from ingest.importer import ImportFailed, detect_format, import_file, main, read_lines
from tests.factories import consent_to_all

DATA = Path(__file__).parent / "data" / "csv"
PARIS = ZoneInfo("Europe/Paris")
PRM = "09876543210123"
PRM_B = "09876543210124"


def _line_of(name: str, fragment: str) -> int:
    """The 1-based line number of the example file's line holding a fragment (files are Latin-1 or UTF-8)."""
    lines = read_lines(DATA / name)
    return next(i for i, line in enumerate(lines, start=1) if fragment in line)


def _register(conn: psycopg.Connection, *meters: tuple[str, str]) -> dict[str, int]:
    """A dwelling with meters (source, kind); their ids by source."""
    conn.execute("INSERT INTO residence (code, name) VALUES ('R', 'R')")
    conn.execute("INSERT INTO building (residence_id, code) SELECT id, 'B' FROM residence")
    dwelling = conn.execute("INSERT INTO dwelling (building_id, code, floor_area_m2, heating_type)"
                            " SELECT id, 'D', 60, 'electric' FROM building RETURNING id").fetchone()[0]
    consent_to_all(conn, dwelling)
    ids = {}
    for source, kind in meters:
        ids[source] = conn.execute("INSERT INTO meter (dwelling_id, kind, mode, source) SELECT id, %s, 'index', %s"
                                   " FROM dwelling RETURNING id", (kind, source)).fetchone()[0]
    conn.commit()
    return ids


def _days(conn: psycopg.Connection, meter_id: int) -> dict[str, tuple]:
    return {d.astimezone(PARIS).date().isoformat(): (e, v, est, origin) for d, e, v, est, origin in conn.execute(
        "SELECT day, energy_kwh, volume_m3, estimated, origin FROM consumption_day WHERE meter_id = %s ORDER BY day",
        (meter_id,))}


def _dead(conn: psycopg.Connection, name: str) -> list[tuple[bytes, str]]:
    return [(bytes(p), r) for p, r in conn.execute(
        "SELECT payload, reason FROM dead_letter WHERE source = 'import' AND topic = %s ORDER BY id", (name,))]


@pytest.fixture
def settings(migrated_db_url: str) -> Settings:
    """Import settings on this test's database."""
    return load_settings({}, database_url=migrated_db_url, timezone="Europe/Paris")


def test_each_example_file_is_recognised() -> None:
    formats = {name: detect_format(read_lines(DATA / name)) for name in (
        "enedis_daily_consumption.csv", "enedis_index.csv", "enedis_max_power.csv", "enedis_measures.csv",
        "grdf_daily.csv", "water_index.csv")}
    assert formats == {"enedis_daily_consumption.csv": "enedis", "enedis_index.csv": "enedis",
                       "enedis_max_power.csv": "enedis", "enedis_measures.csv": "enedis_measures",
                       "grdf_daily.csv": "grdf", "water_index.csv": "water"}
    # The messy parts are really in the files: BOM + CRLF, Latin-1 accents.
    assert (DATA / "enedis_daily_consumption.csv").read_bytes().startswith(b"\xef\xbb\xbf")
    assert b"\r\n" in (DATA / "enedis_daily_consumption.csv").read_bytes()
    assert "Arrêté".encode("latin-1") in (DATA / "enedis_index.csv").read_bytes()
    with pytest.raises(UnicodeDecodeError):
        (DATA / "enedis_measures.csv").read_bytes().decode("utf-8")


def test_enedis_daily_consumption_is_stored_per_day_with_its_status(settings: Settings) -> None:
    name = "enedis_daily_consumption.csv"
    with psycopg.connect(settings.database_url) as conn:
        meter = _register(conn, (PRM, "electricity"))[PRM]
        first = import_file(conn, DATA / name, settings, progress=False)
        days = _days(conn, meter)
        # '8 523' (thousands space), ' 9120 ' (spaces, trailing semicolon), Wh → kWh; the DST day is one day.
        assert days == {"2026-03-27": (pytest.approx(8.523), None, False, "enedis"),
                        "2026-03-28": (pytest.approx(9.120), None, False, "enedis"),
                        "2026-03-29": (pytest.approx(7.810), None, True, "enedis")}  # status E: estimated
        assert first.days.stored == 3 and first.rejected == 1
        assert _dead(conn, name) == [(b"2026-03-31T00:00:00+02:00;8O12;R",
                                      f"line {_line_of(name, '8O12')}: Valeur (Wh) is not a number: '8O12'")]
        second = import_file(conn, DATA / name, settings, progress=False)
        assert (second.days.stored, second.days.corrected, second.days.unchanged) == (0, 0, 3)
        assert len(_dead(conn, name)) == 1


def test_enedis_daily_indices_become_daily_consumption(settings: Settings) -> None:
    name = "enedis_index.csv"
    with psycopg.connect(settings.database_url) as conn:
        meter = _register(conn, (PRM, "electricity"))[PRM]
        summary = import_file(conn, DATA / name, settings, progress=False)
        days = _days(conn, meter)
        assert conn.execute("SELECT count(*) FROM reading").fetchone()[0] == 0  # daily figures, no fake hours
    # EAS T differences in Wh; 01-03 has no EAS T, so its F1 + F2 stand in; 01-04 is missing, so the two days
    # from 01-03 to 01-05 share 20 kWh and are estimated. The index drops on 01-06: 01-05 stays unknown.
    assert {day: (round(e, 6), est) for day, (e, _, est, _) in days.items()} == {
        "2026-01-01": (10.0, False), "2026-01-02": (12.0, False), "2026-01-03": (10.0, True),
        "2026-01-04": (10.0, True), "2026-01-06": (12.0, False)}
    assert [b.line for b in summary.bad] == [_line_of(name, "2900000")]
    assert "index went down" in summary.bad[0].reason


def test_enedis_maximum_power_is_stored_as_apparent_power(settings: Settings) -> None:
    with psycopg.connect(settings.database_url) as conn:
        meter = _register(conn, (PRM, "electricity"))[PRM]
        import_file(conn, DATA / "enedis_max_power.csv", settings, progress=False)
        rows = conn.execute("SELECT time, value FROM reading WHERE meter_id = %s AND quantity_id = %s ORDER BY time",
                            (meter, int(Quantity.APPARENT_POWER_VA))).fetchall()
    assert rows == [(datetime(2026, 1, 1, 18, 20, tzinfo=UTC), 6120.0), (datetime(2026, 1, 2, 6, 40, tzinfo=UTC), 5880.0)]


def test_an_unknown_section_is_reported_by_line_and_reason(settings: Settings, tmp_path: Path) -> None:
    path = tmp_path / "odd.csv"
    path.write_text("Identifiant PRM;Type de donnees;Unite\n"
                    f"{PRM};Energie reactive;VArh\n"
                    "Horodate;Valeur;Autre;Encore\n"
                    "2026-01-01T00:00:00+01:00;12;3;4\n", encoding="utf-8")
    with psycopg.connect(settings.database_url) as conn:
        _register(conn, (PRM, "electricity"))
        summary = import_file(conn, path, settings, progress=False)
        dead = _dead(conn, path.name)
    assert summary.rejected == 1 and summary.bad[0].line == 4
    assert "Energie reactive (VArh)" in summary.bad[0].reason and "line 3" in summary.bad[0].reason
    assert any("lines 4–4" in s for s in summary.skipped_sections)
    assert dead[0][1].startswith("line 4: section Energie reactive")


def test_per_measure_file_for_many_meters(settings: Settings) -> None:
    name = "enedis_measures.csv"
    with psycopg.connect(settings.database_url) as conn:
        ids = _register(conn, (PRM, "electricity"), (PRM_B, "electricity"))
        first = import_file(conn, DATA / name, settings, progress=False)
        curve = conn.execute("SELECT time, value FROM reading WHERE meter_id = %s ORDER BY time",
                             (ids[PRM],)).fetchall()
        estimated = conn.execute("SELECT time FROM reading_estimated WHERE meter_id = %s", (ids[PRM],)).fetchall()
        days = _days(conn, ids[PRM_B])
        dead = _dead(conn, name)
        again = import_file(conn, DATA / name, settings, progress=False)
        assert (again.stored, again.days.stored, len(_dead(conn, name))) == (0, 0, len(dead))
        conn.commit()
        derive_pending(conn, settings)
        hours = conn.execute("SELECT hour, energy_kwh, estimated FROM consumption_hourly WHERE meter_id = %s"
                             " ORDER BY hour", (ids[PRM],)).fetchall()
    # 02:00 and 02:30 twice on the autumn DST day: first summer time (UTC+2), then winter time (UTC+1).
    utc = [datetime(2026, 10, 25, h, m, tzinfo=UTC) for h, m in ((0, 0), (0, 30), (1, 0), (1, 30), (2, 0))]
    assert [t for t, _ in curve] == utc
    assert [round(v, 6) for _, v in curve] == [0.6, 0.65, 0.4, round(900.5 * 0.5 / 1000, 6), 0.5]  # W × 30 min
    assert estimated == [(utc[2],)]  # status E
    assert days == {"2026-10-25": (pytest.approx(8.523), None, False, "enedis"),
                    "2026-10-26": (pytest.approx(9.010), None, True, "enedis")}
    assert first.stored == 5 and first.days.stored == 2
    reasons = {line: reason for line, reason in ((int(r.split(":")[0].split()[1]), r) for _, r in dead)}
    assert "no meter has source '11111111111111'" in reasons[_line_of(name, "11111111111111")]
    assert "Valeur is not a number" in reasons[_line_of(name, ";abc;")]
    # The hour holding the estimated half hour (00:30–01:00 UTC ends at 01:00) is derived as estimated.
    by_hour = {h: est for h, _, est in hours}
    assert by_hour[datetime(2026, 10, 25, 0, tzinfo=UTC)] is True
    assert by_hour[datetime(2026, 10, 25, 1, tzinfo=UTC)] is False


def test_grdf_export_gives_m3_and_kwh_with_its_conversion_coefficient(settings: Settings) -> None:
    name = "grdf_daily.csv"
    with psycopg.connect(settings.database_url) as conn:
        meter = _register(conn, ("GI123456", "gas"))["GI123456"]
        summary = import_file(conn, DATA / name, settings, progress=False)
        days = _days(conn, meter)
    rounded = {d: (round(e, 6), round(v, 6), est) for d, (e, v, est, _) in days.items()}
    assert rounded == {
        "2026-01-01": (36.0, 3.2, False),  # GRDF's own kWh
        "2026-01-02": (28.125, 2.5, False),  # (12350,9 − 12348,4) m³ × 11,25 kWh/m³
        "2026-01-03": (33.9, 3.0, True), "2026-01-04": (33.9, 3.0, True), "2026-01-05": (33.9, 3.0, True),
    }
    assert [b.line for b in summary.bad] == [_line_of(name, "12357,0")]


def test_water_daily_index_in_litres(settings: Settings) -> None:
    name = "water_index.csv"
    with psycopg.connect(settings.database_url) as conn:
        meter = _register(conn, ("W20A123456", "water"))["W20A123456"]
        summary = import_file(conn, DATA / name, settings, progress=False)
        days = _days(conn, meter)
    assert {d: (round(v, 6), est) for d, (_, v, est, _) in days.items()} == {
        "2026-02-01": (0.18, False), "2026-02-02": (0.17, False), "2026-02-03": (0.18, True), "2026-02-04": (0.18, True)}
    assert [b.line for b in summary.bad] == [_line_of(name, "31/02")]


def test_a_single_meter_export_of_the_wrong_kind_or_meter_fails_whole(settings: Settings, capsys) -> None:
    with psycopg.connect(settings.database_url) as conn:
        _register(conn, ("GI123456", "electricity"))
        with pytest.raises(ImportFailed, match="is a electricity meter"):
            import_file(conn, DATA / "grdf_daily.csv", settings, progress=False)
        assert conn.execute("SELECT count(*) FROM consumption_day").fetchone()[0] == 0
    args = argparse.Namespace(path=str(DATA / "water_index.csv"), format="auto", meter=None)
    assert main(settings, args) == 2
    assert "no meter has source 'W20A123456'" in capsys.readouterr().err


def test_an_estimated_figure_never_replaces_a_measured_one(settings: Settings, tmp_path: Path) -> None:
    head = "Identifiant PRM;Type de donnees;Unite\n{prm};Consommation quotidienne;Wh\nHorodate;Valeur;Statut\n"
    measured, estimated, corrected = (tmp_path / n for n in ("a.csv", "b.csv", "c.csv"))
    measured.write_text(head.format(prm=PRM) + "2026-01-10;5000;R\n", encoding="utf-8")
    estimated.write_text(head.format(prm=PRM) + "2026-01-10;7000;E\n2026-01-11;6000;E\n", encoding="utf-8")
    corrected.write_text(head.format(prm=PRM) + "2026-01-11;6500;R\n", encoding="utf-8")
    with psycopg.connect(settings.database_url) as conn:
        meter = _register(conn, (PRM, "electricity"))[PRM]
        for path in (measured, estimated, corrected):
            import_file(conn, path, settings, progress=False)
        days = _days(conn, meter)
    assert {d: (e, est) for d, (e, _, est, _) in days.items()} == {"2026-01-10": (5.0, False), "2026-01-11": (6.5, False)}


def test_daily_figures_complete_the_rollup_without_double_counting(settings: Settings, tmp_path: Path) -> None:
    """consumption_daily_all: a complete hourly day wins, a partial one gives way to the day's total."""
    path = tmp_path / "daily.csv"
    path.write_text("Identifiant PRM;Type de donnees;Unite\n"
                    f"{PRM};Consommation quotidienne;Wh\nHorodate;Valeur\n"
                    "2026-01-10;10000\n2026-01-11;11000\n2026-01-12;12000\n", encoding="utf-8")
    with psycopg.connect(settings.database_url) as conn:
        meter = _register(conn, (PRM, "electricity"))[PRM]
        import_file(conn, path, settings, progress=False)
        # 24 measured hours of 0.5 kWh on the 10th, 6 hours on the 11th, nothing on the 12th.
        start = datetime(2026, 1, 10, tzinfo=PARIS).astimezone(UTC)
        with conn.cursor() as cur:
            cur.executemany("INSERT INTO consumption_hourly (meter_id, hour, energy_kwh) VALUES (%s, %s, 0.5)",
                            [(meter, start + timedelta(hours=h)) for h in range(30)])
        conn.commit()
        refresh_rollups(conn, settings, since=start, until=datetime(2026, 1, 13, tzinfo=UTC))
        view = {d.astimezone(PARIS).date().isoformat(): (e, hours, est, hourly) for d, e, hours, est, hourly in
                conn.execute("SELECT day, energy_kwh, hours, estimated_hours, from_hourly FROM consumption_daily_all"
                             " WHERE meter_id = %s ORDER BY day", (meter,))}
    assert view == {"2026-01-10": (12.0, 24, 0, True), "2026-01-11": (11.0, 24, 0, False),
                    "2026-01-12": (12.0, 24, 0, False)}


def test_daily_rows_count_the_dst_days_hours(settings: Settings) -> None:
    with psycopg.connect(settings.database_url) as conn:
        meter = _register(conn, (PRM, "electricity"))[PRM]
        import_file(conn, DATA / "enedis_daily_consumption.csv", settings, progress=False)
        hours = {d.astimezone(PARIS).date(): (h, est) for d, h, est in conn.execute(
            "SELECT day, hours, estimated_hours FROM consumption_daily_all WHERE meter_id = %s", (meter,))}
    assert hours[date(2026, 3, 28)] == (24, 0)
    assert hours[date(2026, 3, 29)] == (23, 23)  # the spring DST day, estimated (status E)


def test_a_load_curve_value_that_is_not_a_plain_number_is_a_bad_row() -> None:
    """'inf', 'nan', '1e400' and a 400-digit number read as infinite or missing power before; now bad rows."""
    from ingest.enedis import parse_enedis

    values = ["inf", "nan", "1e400", "9" * 400, "1200"]
    lines = ["Identifiant PRM;Type de donnees;Unite", f"{PRM};Courbe de charge;W", "Horodate;Valeur"]
    lines += [f"2026-01-05T{10 + i:02d}:00:00+01:00;{v}" for i, v in enumerate(values)]
    parsed = parse_enedis(lines, PARIS)
    assert [b.line for b in parsed.bad] == [4, 5, 6, 7]
    assert parsed.rows["power_w"].tolist() == [1200.0] and parsed.empty == 0


@pytest.mark.parametrize("name", ["enedis_daily_consumption.csv", "enedis_index.csv", "enedis_max_power.csv",
                                  "enedis_measures.csv", "grdf_daily.csv", "water_index.csv", "enedis_dst_steps.csv"])
def test_mangled_files_give_bad_rows_never_an_exception(name: str) -> None:
    """800 mangled copies of each example (cut, doubled, garbage, huge numbers, odd separators) parse cleanly."""
    import random

    from ingest.enedis import parse_enedis
    from ingest.enedis_measures import parse_measures
    from ingest.utility_daily import parse_grdf, parse_water

    parsers = {"enedis": lambda lines: parse_enedis(lines, PARIS),
               "enedis_measures": lambda lines: parse_measures(lines, PARIS),
               "grdf": lambda lines: parse_grdf(lines, PARIS),
               "water": lambda lines: parse_water(lines, PARIS, max_m3_per_day=240.0)}
    original = read_lines(DATA / name)
    parse = parsers[detect_format(original)]
    junk = ["", ";", ";;;;", "9" * 400, "-1", "1e400", "inf", "NaN", "2026-02-30", "31/13/2026", "24:00", "25:61",
            "\x00", "é", "\ufeff", "Horodate;Valeur", "Date de la mesure;Valeur", "EAS T", " , ", "1 2 3", "R", "E"]
    rng = random.Random(11)
    for _ in range(800):
        lines = list(original)
        for _ in range(rng.randint(1, 4)):
            i = rng.randrange(len(lines))
            cells = lines[i].split(";")
            action = rng.randrange(4)
            if action == 0:
                cells[rng.randrange(len(cells))] = rng.choice(junk)
            elif action == 1:
                lines.insert(i, lines[i])
            elif action == 2:
                lines[i] = lines[i][: rng.randrange(len(lines[i]) + 1)]
            else:
                cells.insert(rng.randrange(len(cells) + 1), rng.choice(junk))
            if action in (0, 3):
                lines[i] = ";".join(cells)
        result = parse(lines)
        for bad in result.bad:
            assert bad.reason and (bad.line == 0 or 1 <= bad.line <= len(lines))


def test_an_enedis_file_without_data_rows_says_so(settings: Settings, tmp_path: Path) -> None:
    path = tmp_path / "empty.csv"
    path.write_text(f"Identifiant PRM;Type de donnees;Unite\n{PRM};Index;Wh\nHorodate;Type de releve;EAS T\n",
                    encoding="utf-8")
    with psycopg.connect(settings.database_url) as conn:
        _register(conn, (PRM, "electricity"))
        with pytest.raises(ImportFailed, match="no data row"):
            import_file(conn, path, settings, progress=False)


def test_per_measure_index_or_power_rows_are_refused_not_read_as_consumption(tmp_path: Path) -> None:
    from ingest.enedis_measures import parse_measures

    lines = ["Date de la mesure;Valeur;PRM;Type de donnees",
             f"01/02/2026;3042000;{PRM};Index", f"01/02/2026;6120;{PRM};Puissance maximale",
             f"01/02/2026;8523;{PRM};Consommation quotidienne", f"02/02/2026;4100;{PRM};Production"]
    parsed = parse_measures(lines, PARIS)
    assert [b.line for b in parsed.bad] == [2, 3, 5] and "consumption only" in parsed.bad[0].reason
    assert [(d.day, d.energy_kwh) for d in parsed.daily] == [(date(2026, 2, 1), pytest.approx(8.523))]


def test_a_per_measure_file_without_prm_column_needs_meter(settings: Settings, tmp_path: Path) -> None:
    path = tmp_path / "one_meter.csv"
    path.write_text("Date de la mesure;Valeur;Statut de la mesure\n01/02/2026;8523;R\n02/02/2026;7001;E\n",
                    encoding="utf-8")
    with psycopg.connect(settings.database_url) as conn:
        meter = _register(conn, (PRM, "electricity"))[PRM]
        without = import_file(conn, path, settings, progress=False)
        assert [b.line for b in without.bad] == [2, 3] and "pass --meter" in without.bad[0].reason
        with_meter = import_file(conn, path, settings, progress=False, meter_source=PRM)
        days = _days(conn, meter)
    assert with_meter.days.stored == 2
    assert {d: (e, est) for d, (e, _, est, _) in days.items()} == {
        "2026-02-01": (pytest.approx(8.523), False), "2026-02-02": (pytest.approx(7.001), True)}
