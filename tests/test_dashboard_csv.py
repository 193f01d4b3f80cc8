"""CSV exports French users can open: parsed as French (and English) Excel would, checked against the database."""

from __future__ import annotations

import csv
import io
from datetime import date, datetime, timedelta
from decimal import Decimal

import psycopg
import pytest
import requests

from dashboard.csv_format import BOM, csv_text, local_time_cell, number_cell, style_for
from dashboard.date_range import RangeRefused, day_range
from tests.dashboard_fixtures import seeded, server  # noqa: F401 - the shared seeded dashboard
from tests.dashboard_support import PARIS, DashboardServer, Seed, login, post_form
from tests.dashboard_views_support import AnalyticsSeed

FR, EN = style_for("fr"), style_for("en")


def test_numbers_are_rounded_with_the_languages_decimal_mark_and_no_float_noise() -> None:
    assert number_cell(0.20000000000001705, 3, FR) == "0,2"
    assert number_cell(0.20000000000001705, 3, EN) == "0.2"
    assert number_cell(1234.5678, 3, FR) == "1234,568"  # no thousands separator: Excel would read text
    assert number_cell(100.0, 3, FR) == "100"
    assert number_cell(-0.0001, 3, FR) == "0"
    assert number_cell(2.5, 0, EN) == "2"  # half to even, as the page shows it
    assert number_cell(None, 3, FR) == ""


def test_times_are_local_with_their_offset_on_both_sides_of_a_dst_change() -> None:
    from datetime import UTC
    assert local_time_cell(datetime(2026, 3, 29, 0, 30, tzinfo=UTC), PARIS) == "2026-03-29T01:30:00+01:00"
    assert local_time_cell(datetime(2026, 3, 29, 1, 30, tzinfo=UTC), PARIS) == "2026-03-29T03:30:00+02:00"
    # The autumn hour that happens twice stays two distinct, ordered texts.
    twice = [local_time_cell(datetime(2026, 10, 25, h, 30, tzinfo=UTC), PARIS) for h in (0, 1)]
    assert twice == ["2026-10-25T02:30:00+02:00", "2026-10-25T02:30:00+01:00"]


def test_the_file_starts_with_a_bom_and_uses_the_languages_separator() -> None:
    text = "".join(csv_text(["Compteur", "Valeur"], [["a;b", number_cell(1.5, 3, FR)]], FR))
    assert text.startswith(BOM)
    rows = list(csv.reader(io.StringIO(text.removeprefix(BOM)), delimiter=";"))
    assert rows == [["Compteur", "Valeur"], ["a;b", "1,5"]]  # a separator inside a cell is quoted
    english = "".join(csv_text(["Meter", "Value"], [["m", number_cell(1.5, 3, EN)]], EN))
    assert list(csv.reader(io.StringIO(english.removeprefix(BOM)))) == [["Meter", "Value"], ["m", "1.5"]]


def test_ranges_default_to_a_recent_period_and_refuse_what_cannot_be_served() -> None:
    today = date(2026, 12, 5)
    default = day_range(None, None, today=today, default_days=31, max_days=366)
    assert (default.first, default.last, default.days) == (date(2026, 11, 5), today, 31)
    assert day_range("2026-01-01", "2026-01-31", today=today, default_days=31, max_days=366).days == 31
    only_start = day_range("2026-01-01", "", today=today, default_days=31, max_days=366)
    assert only_start.last == date(2026, 1, 31)
    for first, last, key in (("2026-13-01", None, "range.bad_day"), ("01/02/2026", None, "range.bad_day"),
                             ("2026-02-01", "2026-01-01", "range.reversed"), ("2027-01-01", None, "range.future"),
                             ("2020-01-01", "2026-01-01", "range.too_long"), (["x"], None, "range.bad_day")):
        with pytest.raises(RangeRefused) as refused:
            day_range(first, last, today=today, default_days=31, max_days=366)
        assert refused.value.key == key, (first, last)


def _as_french_excel(response: requests.Response) -> list[dict[str, str]]:
    """What French Excel reads: UTF-8 only thanks to the BOM, `;` between cells."""
    assert response.content.startswith(BOM.encode("utf-8")), response.content[:20]
    text = response.content.decode("utf-8").removeprefix(BOM)
    return list(csv.DictReader(io.StringIO(text), delimiter=";"))


def _french_number(cell: str) -> float:
    assert "." not in cell, cell  # French Excel would read "0.2" as a date or as text
    return float(Decimal(cell.replace(",", "."))) if cell else float("nan")


def test_the_daily_csv_reads_in_french_excel_and_agrees_with_the_database(
    server: DashboardServer, seeded: tuple[str, Seed, AnalyticsSeed],
) -> None:
    url, seed, _ = seeded
    alice = login(server.url, "alice")
    today = datetime.now(PARIS).date()
    first = today - timedelta(days=60)
    response = alice.get(server.url + "/download/daily.csv", params={"from": first.isoformat(),
                                                                      "to": today.isoformat()}, timeout=30)
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("text/csv") and "utf-8" in response.headers["Content-Type"]
    rows = _as_french_excel(response)
    assert list(rows[0]) == ["Compteur", "Énergie", "Jour", "Énergie (kWh)", "Volume (m³)", "Heures relevées",
                             "Heures estimées", "Heures suspectes", "Qualité"]
    with psycopg.connect(url) as conn:
        expected = {(r[0], r[1].isoformat()): r[2:] for r in conn.execute(
            "SELECT m.source, (cd.day AT TIME ZONE 'Europe/Paris')::date, cd.energy_kwh, cd.volume_m3,"
            " cd.estimated_hours FROM consumption_daily_all cd JOIN meter m ON m.id = cd.meter_id"
            " WHERE m.dwelling_id = %s AND cd.day >= %s AND cd.day < %s",
            (seed.dwelling_a, datetime.combine(first, datetime.min.time(), PARIS),
             datetime.combine(today + timedelta(days=1), datetime.min.time(), PARIS))).fetchall()}
    assert len(rows) == len(expected) == 3 * 61
    for row in rows:
        energy, volume, estimated = expected[(row["Compteur"], row["Jour"])]
        if energy is not None:
            assert _french_number(row["Énergie (kWh)"]) == pytest.approx(energy, abs=0.0005)
        if volume is not None:
            assert _french_number(row["Volume (m³)"]) == pytest.approx(volume, abs=0.0005)
        assert row["Qualité"] == ("estimé" if estimated else "mesuré")
    assert {row["Énergie"] for row in rows} == {"Électricité", "Gaz", "Eau"}
    # No float noise anywhere: at most three decimals.
    assert all(len(cell.partition(",")[2]) <= 3 for row in rows for cell in row.values())


def test_the_readings_csv_has_local_times_with_offset_and_follows_the_language(
    server: DashboardServer, seeded: tuple[str, Seed, AnalyticsSeed],
) -> None:
    url, seed, _ = seeded
    alice = login(server.url, "alice")
    rows = _as_french_excel(alice.get(server.url + "/download/readings.csv", timeout=30))
    with psycopg.connect(url) as conn:
        stored = conn.execute("SELECT r.time, r.value FROM reading r WHERE r.meter_id = %s ORDER BY r.time",
                              (seed.meters["a-elec"],)).fetchall()
    # The default range (the last month) holds the 48 readings of the last two days.
    assert [(row["Horodatage (heure locale, ISO 8601)"], _french_number(row["Valeur"])) for row in rows] == [
        (time.astimezone(PARIS).isoformat(timespec="seconds"), pytest.approx(value, abs=0.0005))
        for time, value in stored]
    assert {row["Grandeur"] for row in rows} == {"index d'énergie"} and {row["Unité"] for row in rows} == {"kWh"}
    # Before the range asked for: nothing.
    empty = alice.get(server.url + "/download/readings.csv", params={"from": "2020-01-01", "to": "2020-01-31"},
                      timeout=30)
    assert _as_french_excel(empty) == []
    # In English: "," and ".", English headers.
    assert post_form(alice, server.url, "/lang/en").status_code in (302, 303)
    english = alice.get(server.url + "/download/readings.csv", timeout=30)
    text = english.content.decode("utf-8").removeprefix(BOM)
    header, first = list(csv.reader(io.StringIO(text)))[:2]
    assert header == ["Meter", "Energy", "Quantity", "Unit", "Time (local, ISO 8601)", "Value", "Quality"]
    assert first[1] == "Electricity" and first[-1] == "measured" and float(first[5]) == pytest.approx(stored[0][1])


def test_a_bad_range_is_refused_with_a_reason_in_the_pages_language(
    server: DashboardServer, seeded: tuple[str, Seed, AnalyticsSeed],
) -> None:
    alice = login(server.url, "alice")
    for params, words in (({"from": "31/01/2026"}, "AAAA-MM-JJ"), ({"from": "2026-02-01", "to": "2026-01-01"},
                                                                   "avant de commencer"),
                          ({"from": "2010-01-01", "to": "2025-01-01"}, "au plus 3660")):
        response = alice.get(server.url + "/download/daily.csv", params=params, timeout=30)
        assert response.status_code == 400 and words in response.text, (params, response.text)
    too_long = alice.get(server.url + "/download/readings.csv", params={"from": "2024-01-01", "to": "2025-06-01"},
                         timeout=30)
    assert too_long.status_code == 400 and "au plus 366" in too_long.text
