"""Pure figure builders and formatting, without a server or a database."""

from __future__ import annotations

from datetime import date

import plotly.graph_objects as go
import pytest

from dashboard.figures import (
    KIND_COLOURS,
    Tariffs,
    consumption_figure,
    consumption_summary,
    period_in_progress,
    values_shown,
)
from dashboard.i18n import MESSAGES, format_money_eur, format_period, format_quantity, t
from dashboard.queries import PeriodUse, first_period_shown

TARIFFS = Tariffs(electricity_eur_per_kwh=0.25, gas_eur_per_kwh=0.1, water_eur_per_m3=4.0, heat_eur_per_kwh=0.12)
PERIODS = [
    PeriodUse(date(2026, 1, 1), 310.0, 31, 0),
    PeriodUse(date(2026, 2, 1), 1250.5, 28, 2),
    PeriodUse(date(2026, 3, 1), 99.25, 10, 1),
]


def as_figure(data: dict) -> go.Figure:
    """A builder's plain figure loaded as Plotly would: fails on any invalid property."""
    return go.Figure(data)


def test_values_are_the_amounts_or_their_cost() -> None:
    assert values_shown(PERIODS, "electricity", "amount", TARIFFS) == [310.0, 1250.5, 99.25]
    assert values_shown(PERIODS, "electricity", "cost", TARIFFS) == pytest.approx([77.5, 312.625, 24.8125])
    assert values_shown(PERIODS, "water", "cost", TARIFFS) == pytest.approx([1240.0, 5002.0, 397.0])
    with pytest.raises(ValueError):
        values_shown(PERIODS, "electricity", "watts", TARIFFS)


@pytest.mark.parametrize("lang, labels", [
    ("fr", ["janv. 2026", "févr. 2026", "mars 2026"]),
    ("en", ["Jan 2026", "Feb 2026", "Mar 2026"]),
])
def test_month_figure_has_one_bar_per_period_labelled_in_the_language(lang: str, labels: list[str]) -> None:
    figure = as_figure(consumption_figure(PERIODS, kind="electricity", granularity="month", measure="amount", lang=lang,
                                tariffs=TARIFFS))
    bar = figure.data[0]
    assert list(bar.x) == labels
    assert list(bar.y) == [310.0, 1250.5, 99.25]
    assert list(bar.customdata) == [format_quantity(310.0, "kWh", lang), format_quantity(1250.5, "kWh", lang, digits=0),
                                    format_quantity(99.25, "kWh", lang)]
    assert bar.marker.color == KIND_COLOURS["electricity"]
    assert figure.layout.yaxis.title.text == "kWh"


def test_cost_figure_is_in_euros_and_water_in_cubic_metres() -> None:
    cost = as_figure(consumption_figure(PERIODS, kind="gas", granularity="month", measure="cost", lang="fr",
                                        tariffs=TARIFFS))
    # Rounded to the cent as shown (9.925 € is shown, and sent, as 9.92 €): no more digits leave the server.
    assert list(cost.data[0].y) == [31.0, 125.05, 9.92]
    assert cost.data[0].customdata[2] == format_money_eur(9.92, "fr")
    assert cost.layout.yaxis.title.text == "€"
    assert cost.data[0].customdata[0] == format_money_eur(31.0, "fr")
    water = as_figure(consumption_figure(PERIODS, kind="water", granularity="month", measure="amount", lang="en",
                                         tariffs=TARIFFS))
    assert water.layout.yaxis.title.text == "m³"


def test_summary_totals_latest_and_average() -> None:
    summary = consumption_summary(PERIODS, kind="electricity", granularity="month", measure="amount", lang="en",
                                  tariffs=TARIFFS)
    assert summary is not None
    total = 310.0 + 1250.5 + 99.25
    assert summary.total == format_quantity(total, "kWh", "en", digits=0) == "1,660 kWh"
    assert summary.latest == "99.2 kWh"  # Babel rounds half to even
    assert summary.latest_label == "Mar 2026"
    # March has 10 days of readings out of 31: partial, so out of the average (issue 13, item 6).
    assert summary.average == format_quantity((310.0 + 1250.5) / 2, "kWh", "en")
    assert (summary.days, summary.estimated_days) == (69, 3)
    french = consumption_summary(PERIODS, kind="electricity", granularity="month", measure="cost", lang="fr",
                                 tariffs=TARIFFS)
    assert french is not None and french.total == format_money_eur(total * 0.25, "fr")
    assert french.total.endswith("€") and "," in french.total
    assert consumption_summary([], kind="electricity", granularity="day", measure="amount", lang="fr",
                               tariffs=TARIFFS) is None


def test_a_period_in_progress_is_named_and_drawn_lighter() -> None:
    today = date(2026, 3, 10)
    summary = consumption_summary(PERIODS, kind="electricity", granularity="month", measure="amount", lang="fr",
                                  tariffs=TARIFFS, today=today)
    assert summary is not None and summary.latest_label == "mars 2026, en cours"
    figure = as_figure(consumption_figure(PERIODS, kind="electricity", granularity="month", measure="amount", lang="en",
                                tariffs=TARIFFS, today=today))
    opacity = list(figure.data[0].marker.opacity)
    assert opacity[:2] == [1.0, 1.0] and opacity[2] < 1.0
    later = as_figure(consumption_figure(PERIODS, kind="electricity", granularity="month", measure="amount", lang="en",
                               tariffs=TARIFFS, today=date(2026, 4, 1)))
    # Ended, but with 10 days of readings out of 31: still partial, still lighter.
    assert list(later.data[0].marker.opacity) == [1.0, 1.0, 0.45]
    whole_march = [*PERIODS[:2], PeriodUse(date(2026, 3, 1), 99.25, 31, 1)]
    ended = as_figure(consumption_figure(whole_march, kind="electricity", granularity="month", measure="amount",
                                         lang="en", tariffs=TARIFFS, today=date(2026, 4, 1)))
    assert list(ended.data[0].marker.opacity) == [1.0, 1.0, 1.0]
    assert period_in_progress(date(2026, 3, 2), "week", date(2026, 3, 8))
    assert not period_in_progress(date(2026, 3, 2), "week", date(2026, 3, 9))
    assert period_in_progress(date(2026, 1, 1), "year", date(2026, 12, 31))
    assert period_in_progress(date(2026, 3, 9), "day", date(2026, 3, 9))


def test_formatting_follows_the_language() -> None:
    assert format_quantity(1234.5, "kWh", "fr", digits=1) == "1\u202f234,5\u202fkWh"
    assert format_quantity(1234.5, "kWh", "en", digits=1) == "1,234.5 kWh"
    assert format_quantity(2.25, "m³", "fr", digits=2) == "2,25\u202fm³"
    assert format_money_eur(12.5, "fr") == "12,50\xa0€"
    assert format_money_eur(12.5, "en") == "€12.50"
    assert format_period(date(2026, 3, 2), "week", "fr") == "sem. du 2 mars"
    assert format_period(date(2026, 3, 2), "week", "en") == "week of 2 Mar"
    assert format_period(date(2026, 3, 2), "day", "fr") == "2 mars"
    assert format_period(date(2026, 1, 1), "year", "en") == "2026"
    with pytest.raises(ValueError):
        format_period(date(2026, 1, 1), "decade", "en")


def test_catalogue_has_every_message_in_both_languages() -> None:
    assert set(MESSAGES["fr"]) == set(MESSAGES["en"])
    assert t("consumption.title", "fr") == "Ma consommation"
    assert t("consumption.title", "de") == "Ma consommation"  # unknown languages fall back to French


@pytest.mark.parametrize("granularity, today, expected", [
    ("day", date(2026, 3, 31), date(2026, 3, 1)),
    ("week", date(2026, 3, 5), date(2025, 9, 8)),
    ("month", date(2026, 3, 15), date(2024, 4, 1)),
    ("month", date(2026, 12, 1), date(2025, 1, 1)),
    ("year", date(2026, 6, 1), date(2017, 1, 1)),
])
def test_first_period_shown(granularity: str, today: date, expected: date) -> None:
    assert first_period_shown(today, granularity) == expected
