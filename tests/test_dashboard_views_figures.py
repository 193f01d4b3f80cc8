"""Pure builders of the analytics parts of the views: verdicts, year-on-year, plain-words anomalies, figures."""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

import plotly.graph_objects as go
import pytest

from dashboard.figures import (
    VERDICTS,
    anomaly_sentence,
    building_curve_figure,
    building_phrase,
    comparison_figure,
    comparison_verdict,
    load_curve_figure,
    manager_alert_sentence,
    reason_text,
    similar_homes_explained,
    year_on_year,
)
from dashboard.i18n import MESSAGES, format_fraction_percent, format_ranking_period, t

PARIS = ZoneInfo("Europe/Paris")


def as_figure(data: dict) -> go.Figure:
    """A builder's plain figure loaded as Plotly would: fails on any invalid property."""
    return go.Figure(data)


@pytest.mark.parametrize("own, expected", [
    (20.0, "efficient"), (25.0, "efficient"), (30.0, "below_average"), (40.0, "below_average"),
    (43.0, "near_average"), (60.0, "above_average"),
])
def test_verdict_places_the_home_among_similar_ones(own: float, expected: str) -> None:
    assert comparison_verdict(own, 40.0, 25.0) == expected


def test_verdicts_are_encouraging_in_both_languages() -> None:
    shaming = ("gaspill", "mauvais", "trop", "waste", "bad", "too much")
    for lang in ("fr", "en"):
        for verdict in VERDICTS:
            text = t(f"verdict.{verdict}", lang).lower()
            assert text and not [word for word in shaming if word in text], (lang, verdict, text)


def test_without_efficient_level_the_verdict_uses_the_average_only() -> None:
    assert comparison_verdict(10.0, 40.0, None) == "below_average"


def test_comparison_figure_shows_the_three_levels_per_m2() -> None:
    figure = as_figure(comparison_figure(34.84, 40.5, 25.25, "fr"))
    bar = figure.data[0]
    assert list(bar.x) == [34.8, 40.5, 25.2]  # rounded as the text shows them (half to even, as Babel does)
    assert list(bar.y) == [t("similar.you", "fr"), t("similar.average", "fr"), t("similar.efficient", "fr")]
    assert bar.text[0] == "34,8 kWh/m²"
    assert len(as_figure(comparison_figure(34.84, 40.5, None, "en")).data[0].x) == 2


@pytest.mark.parametrize("key, lang, expected", [
    ("residence:3|55-75|gas", "fr", "Logements similaires : même résidence, de 55 à 75 m², chauffage gaz."),
    ("district:Croix-Rousse|120-inf|electric", "en",
     "Similar homes: same district, over 120 m², electric heating."),
])
def test_who_similar_homes_are(key: str, lang: str, expected: str) -> None:
    assert similar_homes_explained(key, lang) == expected


def test_year_on_year_removes_the_weather_with_the_baseline_slope() -> None:
    # Last year 300 kWh with 100 degree-days; this year 150 degree-days at 2 kWh per degree-day:
    # last year in this year's weather would have been 400 kWh, so 380 kWh is 5 % less.
    result = year_on_year(380.0, 300.0, degree_days_this=150.0, degree_days_last=100.0, heating_kwh_per_degree_day=2.0)
    assert result is not None and result.weather_normalised
    assert result.last_year_normalised == pytest.approx(400.0)
    assert result.change_fraction == pytest.approx(-0.05)


def test_year_on_year_without_weather_is_the_raw_change_and_says_so() -> None:
    result = year_on_year(330.0, 300.0, degree_days_this=None, degree_days_last=100.0, heating_kwh_per_degree_day=2.0)
    assert result is not None and not result.weather_normalised
    assert result.change_fraction == pytest.approx(0.1)
    assert year_on_year(10.0, 0.0, degree_days_this=None, degree_days_last=None, heating_kwh_per_degree_day=None) is None


def test_anomalies_in_plain_words() -> None:
    tuesday = datetime(2026, 11, 24, 2, 0, tzinfo=PARIS)
    assert anomaly_sentence("water_leak", "water", tuesday, "fr").startswith("L'eau coule en continu depuis mardi 02:00")
    assert anomaly_sentence("water_leak", "water", tuesday, "en").startswith(
        "Water has been running continuously since Tuesday 02:00")
    assert "électricité" in anomaly_sentence("meter_silent", "electricity", tuesday, "fr")
    assert "mardi" in anomaly_sentence("some_new_kind", "gas", tuesday, "fr")


def test_every_alert_kind_of_the_schema_has_words_in_both_languages() -> None:
    for kind in ("above_baseline", "base_load_rise", "water_leak", "meter_silent", "frozen_index", "counter_reset",
                 "spike"):
        for lang in ("fr", "en"):
            assert f"anomaly.{kind}" in MESSAGES[lang]


def test_reasons_are_shown_in_the_language() -> None:
    reason = {"code": "base_load", "message_fr": "Veille élevée", "message_en": "High base load"}
    assert reason_text(reason, "fr") == "Veille élevée"
    assert reason_text(reason, "en") == "High base load"
    assert reason_text("plain", "en") == "plain"


def test_load_curve_has_the_hours_and_a_base_load_line() -> None:
    points = [(datetime(2026, 11, 1, h, tzinfo=PARIS), float(h)) for h in range(24)]
    figure = as_figure(load_curve_figure(points, "kWh", "fr", baseline_per_hour=0.5))
    assert list(figure.data[0].y) == [float(h) for h in range(24)]
    assert list(figure.data[1].y) == [0.5, 0.5]
    assert len(as_figure(load_curve_figure(points, "kWh", "fr")).data) == 1
    assert as_figure(load_curve_figure(points, "kWh", "fr")).data[0].mode == "lines"
    assert as_figure(load_curve_figure(points[:1], "m³", "fr")).data[0].mode == "markers"  # one hour still shows


def test_building_curve_puts_degree_days_on_a_second_axis() -> None:
    days = [(date(2026, 11, 1), 120.0, 8.5), (date(2026, 11, 2), 140.0, None)]
    figure = as_figure(building_curve_figure(days, "kWh", "en"))
    assert list(figure.data[0].y) == [120.0, 140.0]
    assert list(figure.data[1].y) == [8.5, None]
    assert figure.data[1].yaxis == "y2"
    assert figure.layout.yaxis2.title.text == "HDD"
    assert as_figure(building_curve_figure(days, "kWh", "fr")).layout.yaxis2.title.text == "DJU"


def test_curves_use_numeric_dates_in_both_languages() -> None:
    # Plotly would spell month names in English on a French page.
    points = [(datetime(2026, 11, 1, h, tzinfo=PARIS), 1.0) for h in range(3)]
    assert as_figure(load_curve_figure(points, "kWh", "fr")).layout.xaxis.tickformat.startswith("%d/%m")
    one_day = as_figure(building_curve_figure([(date(2026, 11, 1), 1.0, None)], "kWh", "fr"))
    assert one_day.layout.xaxis.tickformat == "%d/%m"


@pytest.mark.parametrize("fraction, lang, digits, expected", [
    (0.143, "fr", 1, "14,3\xa0%"), (0.9, "en", 0, "90%"), (0.06, "fr", 0, "6\xa0%"), (0.12345, "en", 1, "12.3%"),
])
def test_percentages_follow_the_language(fraction: float, lang: str, digits: int, expected: str) -> None:
    assert format_fraction_percent(fraction, lang, digits=digits) == expected


ALERT_KINDS = ("above_baseline", "base_load_rise", "water_leak", "meter_silent", "frozen_index", "counter_reset", "spike")


def test_manager_alerts_name_the_dwelling_and_the_building_in_the_third_person() -> None:
    # French puts a no-break space before the colon: it never starts a line on a phone.
    tuesday = datetime(2026, 11, 24, 2, 0, tzinfo=PARIS)
    assert manager_alert_sentence("water_leak", "water", tuesday, "fr", dwelling_code="B-12",
                                  building_name="Les Lilas") == (
        "Logement B-12 (bâtiment Les Lilas)\xa0: l'eau coule en continu depuis mardi 02:00")
    assert manager_alert_sentence("water_leak", "water", tuesday, "en", dwelling_code="B-12",
                                  building_name="Les Lilas") == (
        "Dwelling B-12 (Les Lilas building): water has been running continuously since Tuesday 02:00")
    # A building's own meter is named as such.
    assert manager_alert_sentence("meter_silent", "heat", tuesday, "fr", dwelling_code=None,
                                  building_name="Les Lilas") == (
        "Compteur général (bâtiment Les Lilas)\xa0: le compteur (chauffage collectif) ne transmet plus depuis mardi 02:00")
    assert manager_alert_sentence("meter_silent", "heat", tuesday, "en", dwelling_code=None,
                                  building_name="Les Lilas") == (
        "Building meter (Les Lilas building): the collective heating meter has not reported since Tuesday 02:00")


def test_manager_alert_older_than_a_week_gets_its_date() -> None:
    tuesday = datetime(2026, 11, 24, 2, 0, tzinfo=PARIS)
    recent = manager_alert_sentence("spike", "electricity", tuesday, "fr", dwelling_code="B-01", building_name="B",
                                    today=date(2026, 11, 30))
    assert recent.endswith("a eu lieu mardi 02:00")
    # On the next Tuesday "mardi" would read as today: the date is said instead.
    old = manager_alert_sentence("water_leak", "water", tuesday, "fr", dwelling_code="B-01", building_name="B",
                                 today=date(2026, 12, 1))
    assert old == "Logement B-01 (bâtiment B)\xa0: l'eau coule en continu depuis le 24 nov. 2026 à 02:00"
    assert manager_alert_sentence("water_leak", "water", tuesday, "en", dwelling_code="B-01", building_name="B",
                                  today=date(2026, 12, 1)).endswith("since 24 Nov 2026 at 02:00")


@pytest.mark.parametrize("name, lang, expected", [
    ("Les Lilas", "fr", "bâtiment Les Lilas"), ("Les Lilas", "en", "Les Lilas building"),
    ("Bâtiment A", "fr", "bâtiment A"), ("Bâtiment A", "en", "building A"), ("B", "en", "building B"),
    ("Building Oakwood", "en", "Oakwood building"),
])
def test_a_building_is_named_once(name: str, lang: str, expected: str) -> None:
    assert building_phrase(name, lang) == expected


def test_every_alert_kind_has_manager_words_in_both_languages_without_the_second_person() -> None:
    tuesday = datetime(2026, 11, 24, 2, 0, tzinfo=PARIS)
    for kind in (*ALERT_KINDS, "some_new_kind"):
        for lang, second_person in (("fr", ("votre", "vous", "vérifiez")), ("en", ("your", "you", "check"))):
            assert kind == "some_new_kind" or f"manager.anomaly.{kind}" in MESSAGES[lang]
            text = manager_alert_sentence(kind, "gas", tuesday, lang, dwelling_code="A-1", building_name="Les Lilas")
            words = text.lower().replace(":", " ").replace("(", " ").replace(")", " ").split()
            assert not [w for w in second_person if w in words], (kind, lang, text)
            assert "A-1" in text and "Lilas" in text and ("mardi" in text or "Tuesday" in text), (kind, lang, text)


@pytest.mark.parametrize("start, end, lang, expected", [
    (date(2025, 11, 1), date(2026, 11, 1), "fr", "12\xa0mois jusqu'au 1 nov. 2026"),
    (date(2025, 11, 1), date(2026, 11, 1), "en", "12 months to 1 Nov 2026"),
    (date(2024, 11, 1), date(2025, 11, 1), "en", "12 months to 1 Nov 2025"),
    (date(2025, 11, 1), date(2025, 11, 15), "fr", "du 1 nov. 2025 au 14 nov. 2025"),
])
def test_ranking_periods_are_named_by_length_and_end(start: date, end: date, lang: str, expected: str) -> None:
    assert format_ranking_period(start, end, lang) == expected
