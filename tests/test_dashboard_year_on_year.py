"""The household's year-on-year card on real rollup rows: only days measured on both sides count."""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta
from pathlib import Path

import plotly.utils
import psycopg
import pytest

from analytics.job.suspect import mark_suspect_hours
from coopwatt.rollups import refresh_rollups
from coopwatt.settings import Settings, load_settings
from dashboard import household_analytics
from tests.dashboard_support import PARIS, Seed, seeded_cooperative


@pytest.fixture
def coop(migrated_db_url: str, tmp_path: Path) -> tuple[Settings, Seed, date]:
    """The dashboard tests' cooperative: bob's electricity is 777.0x kWh every day for 400 days, no alert."""
    today = datetime.now(PARIS).date()
    seed = seeded_cooperative(migrated_db_url, today=today)
    settings = load_settings({}, database_url=migrated_db_url, data_dir=tmp_path, timezone="Europe/Paris")
    return settings, seed, today


def _card(settings: Settings, dwelling_id: int, today: date, lang: str = "fr") -> str:
    with psycopg.connect(settings.database_url) as conn:
        component = household_analytics.last_year(conn, dwelling_id, "electricity", lang, settings, today)
    text = json.dumps(component, cls=plotly.utils.PlotlyJSONEncoder, ensure_ascii=False)
    # French puts a (narrow) no-break space before "%": compare on plain spaces.
    return text.replace("\u202f", " ").replace("\u00a0", " ")


def _day(day: date) -> datetime:
    return datetime.combine(day, datetime.min.time(), PARIS)


def _rewrite_days(settings: Settings, meter_id: int, days: list[date], statement: str, params: tuple = ()) -> None:
    """Run `statement` on the meter's hourly consumption of each local day, then the product's rollup refresh.

    `statement` is an UPDATE or DELETE of consumption_hourly ending in a WHERE clause; the meter and the
    day's bounds are appended (the daily rollup is never written behind the product's back).
    """
    assert settings.database_url is not None
    with psycopg.connect(settings.database_url) as conn:
        for day in days:
            conn.execute(statement + " AND meter_id = %s AND hour >= %s AND hour < %s",
                         (*params, meter_id, _day(day), _day(day + timedelta(days=1))))
    refresh_rollups(settings.database_url, settings, _day(min(days)), _day(max(days) + timedelta(days=1)))


def _days_since(today: date, back_days: int) -> list[date]:
    return [today - timedelta(days=n) for n in range(back_days + 1)]


def _silence(settings: Settings, meter_id: int, days: list[date]) -> None:
    _rewrite_days(settings, meter_id, days, "DELETE FROM consumption_hourly WHERE true")


def _open_alert(settings: Settings, seed: Seed, kind: str) -> None:
    with psycopg.connect(settings.database_url) as conn:
        conn.execute("INSERT INTO alert (kind, severity, meter_id, dwelling_id, building_id, started_at)"
                     " VALUES (%s, 'warning', %s, %s, %s, now() - interval '3 days')",
                     (kind, seed.meters["b-elec"], seed.dwelling_b, seed.building_id))


def test_a_silent_meters_gap_is_not_read_as_lower_use(coop: tuple[Settings, Seed, date]) -> None:
    """Three silent days out of 30 made the old card say "−10 %, Continuez comme ça !"; the use did not change."""
    settings, seed, today = coop
    _silence(settings, seed.meters["b-elec"], [today - timedelta(days=n) for n in (1, 2, 3)])
    _open_alert(settings, seed, "meter_silent")
    text = _card(settings, seed.dwelling_b, today)
    assert "stable" in text, text
    assert "Continuez" not in text and "de moins" not in text
    assert "27 jours sur 30" in text
    assert "moins de 3 % d'écart" in text  # the threshold is stated
    english = _card(settings, seed.dwelling_b, today, "en")
    assert "steady" in english and "27 of 30 days" in english and "Keep it up" not in english


def test_too_few_days_on_both_sides_gives_no_verdict(coop: tuple[Settings, Seed, date]) -> None:
    settings, seed, today = coop
    # Silent for 4 days this month and 4 other days a year ago: 22 of 30 comparable days, 24 needed.
    _silence(settings, seed.meters["b-elec"], [today - timedelta(days=n) for n in (1, 2, 3, 4, 370, 371, 372, 373)])
    text = _card(settings, seed.dwelling_b, today)
    assert "lastyear-incomparable" in text and "22 jours sur 30" in text and "(il en faut 24)" in text
    assert "lastyear-verdict" not in text and "stable" not in text
    assert "only 22 of 30 days" in _card(settings, seed.dwelling_b, today, "en")


def test_estimated_days_are_left_out_and_the_true_change_is_given(coop: tuple[Settings, Seed, date]) -> None:
    """12 % more on every day of the window; a day a year ago spread over a gap (estimated) is 40 % low."""
    settings, seed, today = coop
    meter = seed.meters["b-elec"]
    _rewrite_days(settings, meter, _days_since(today, 30),
                  "UPDATE consumption_hourly SET energy_kwh = energy_kwh * 1.12 WHERE true")
    estimated_day = today - timedelta(days=365 + 10)
    # 20 of the day's hours spread over a gap (estimated), the day's total 40 % low.
    _rewrite_days(settings, meter, [estimated_day],
                  "UPDATE consumption_hourly SET energy_kwh = energy_kwh * 0.6,"
                  " estimated = hour < %s WHERE true", (_day(estimated_day) + timedelta(hours=20),))
    text = _card(settings, seed.dwelling_b, today)
    # 777.0x kWh against 777.0x × 1.12: +12 % on the 29 days measured both years.
    assert "12 % de plus" in text and "29 jours sur 30" in text, text
    assert "You used 12% more" in _card(settings, seed.dwelling_b, today, "en")


def test_lower_use_beside_an_open_alert_is_not_praised(coop: tuple[Settings, Seed, date]) -> None:
    settings, seed, today = coop
    _rewrite_days(settings, seed.meters["b-elec"], _days_since(today, 30),
                  "UPDATE consumption_hourly SET energy_kwh = energy_kwh * 0.8 WHERE true")
    assert "20 % de moins" in _card(settings, seed.dwelling_b, today)
    assert "Continuez comme ça" in _card(settings, seed.dwelling_b, today)  # no alert: praise is fair
    _open_alert(settings, seed, "frozen_index")
    text = _card(settings, seed.dwelling_b, today)
    assert "20 % de moins" in text and "Continuez" not in text and "alerte est ouverte" in text
    assert "Keep it up" not in _card(settings, seed.dwelling_b, today, "en")


def test_suspect_days_are_left_out_like_missing_ones(coop: tuple[Settings, Seed, date]) -> None:
    """A frozen index for three days (tiny figures, no estimated hour): not a drop, those days are not compared."""
    settings, seed, today = coop
    meter = seed.meters["b-elec"]
    frozen = [today - timedelta(days=n) for n in (5, 6, 7)]
    # 0.3 kWh a day, spread over the day's hours (23 or 25 on a DST day).
    for day in frozen:
        _rewrite_days(settings, meter, [day],
                      "UPDATE consumption_hourly h SET energy_kwh = 0.3 / (SELECT count(*) FROM consumption_hourly d"
                      " WHERE d.meter_id = h.meter_id AND d.hour >= %s AND d.hour < %s) WHERE true",
                      (_day(day), _day(day + timedelta(days=1))))
    with psycopg.connect(settings.database_url) as conn:
        alert = conn.execute(
            "INSERT INTO alert (kind, severity, meter_id, dwelling_id, started_at, ended_at, status)"
            " VALUES ('frozen_index', 'warning', %s, %s, %s, %s, 'resolved') RETURNING id",
            (meter, seed.dwelling_b, _day(frozen[-1]), _day(frozen[0]) + timedelta(hours=23))).fetchone()
        assert alert is not None
        assert mark_suspect_hours(conn, meter) == 3 * 24
    text = _card(settings, seed.dwelling_b, today)
    assert "stable" in text and "27 jours sur 30" in text, text
