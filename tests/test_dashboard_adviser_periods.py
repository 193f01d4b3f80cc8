"""The adviser's ranking periods in words (pure): each named as advisers think of it with its days, its unit and rule."""

from __future__ import annotations

from datetime import date

import pytest

from analytics.ranking_periods import (
    CALENDAR_YEAR, HEATING_SEASON, LAST_12_MONTHS, PREVIOUS_12_MONTHS, SEASON_TO_DATE,
)
from dashboard.adviser_text import period_label, period_rule, use_unit
from dashboard.i18n import format_fraction_percent, format_ranking_period
from dashboard.ranking_queries import OfferedPeriod


@pytest.mark.parametrize("period, lang, expected", [
    (OfferedPeriod(HEATING_SEASON, date(2025, 10, 1), date(2026, 6, 1)), "fr",
     "Saison de chauffe 2025-2026 : du 1 oct. 2025 au 31 mai 2026"),
    (OfferedPeriod(HEATING_SEASON, date(2025, 10, 1), date(2026, 6, 1)), "en",
     "Heating season 2025–26: 1 Oct 2025 to 31 May 2026"),
    (OfferedPeriod(SEASON_TO_DATE, date(2026, 10, 1), date(2026, 12, 5)), "fr",
     "Saison de chauffe en cours : du 1 oct. 2026 au 4 déc. 2026"),
    (OfferedPeriod(SEASON_TO_DATE, date(2026, 10, 1), date(2026, 12, 5)), "en",
     "Heating season so far: 1 Oct 2026 to 4 Dec 2026"),
    (OfferedPeriod(CALENDAR_YEAR, date(2025, 1, 1), date(2026, 1, 1)), "fr",
     "Année 2025 : du 1 janv. 2025 au 31 déc. 2025"),
    (OfferedPeriod(CALENDAR_YEAR, date(2025, 1, 1), date(2026, 1, 1)), "en", "Year 2025: 1 Jan 2025 to 31 Dec 2025"),
])
def test_seasons_and_years_are_named_with_their_first_and_last_days(period: OfferedPeriod, lang: str,
                                                                   expected: str) -> None:
    assert period_label(period, lang) == expected


def test_twelve_month_periods_keep_their_names_and_per_year_unit_the_others_say_over_the_period() -> None:
    for kind in (LAST_12_MONTHS, PREVIOUS_12_MONTHS):
        year = OfferedPeriod(kind, date(2025, 12, 5), date(2026, 12, 5))
        assert period_label(year, "fr") == format_ranking_period(year.start, year.end, "fr")
        assert use_unit(year, "kWh", "fr") == "kWh/m²/an" and use_unit(year, "kWh", "en") == "kWh/m²/yr"
        assert "année à météo normale" in period_rule(year, "fr")
    season = OfferedPeriod(SEASON_TO_DATE, date(2026, 10, 1), date(2026, 12, 5))
    assert use_unit(season, "kWh", "fr") == "kWh/m² sur la période"
    assert use_unit(season, "kWh", "en") == "kWh/m² over the period"
    rule = period_rule(season, "fr")
    assert period_label(season, "fr") in rule and format_fraction_percent(0.9, "fr") in rule and "30 jours" in rule
    rule = period_rule(season, "en")
    assert "90%" in rule and "30 days" in rule and "not per year" in rule
    assert "30 days" not in period_rule(OfferedPeriod(HEATING_SEASON, date(2025, 10, 1), date(2026, 6, 1)), "en")
