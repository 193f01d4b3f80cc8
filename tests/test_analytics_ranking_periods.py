"""The advisers' ranking periods (pure): which periods exist on a given night, and use over one in normal weather."""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd
import pytest

from analytics.baseline import DailyModelParams, predict_daily_kwh
from analytics.ranking_periods import (
    CALENDAR_YEAR, HEATING_SEASON, LAST_12_MONTHS, PREVIOUS_12_MONTHS, SEASON_TO_DATE, RankingPeriod, adviser_periods,
    model_for, normalised_use_kwh, season_of,
)


def _params(intercept: float = 5.0, slope: float = 1.5, balance: float | None = 16.0) -> DailyModelParams:
    return DailyModelParams("heating" if balance is not None else "intercept_only", intercept, slope, balance, 0.0,
                            None, 0.01, None, 365, 2, 10.0, 1.0, 0.1, 0.0, 0.9, 0.0, True)


def test_in_december_the_season_so_far_the_last_season_and_last_year_are_offered() -> None:
    assert adviser_periods(date(2026, 12, 5), 10, 5) == [
        RankingPeriod(LAST_12_MONTHS, date(2025, 12, 5), date(2026, 12, 5)),
        RankingPeriod(SEASON_TO_DATE, date(2026, 10, 1), date(2026, 12, 5)),
        RankingPeriod(HEATING_SEASON, date(2025, 10, 1), date(2026, 6, 1)),
        RankingPeriod(CALENDAR_YEAR, date(2025, 1, 1), date(2026, 1, 1)),
        RankingPeriod(PREVIOUS_12_MONTHS, date(2024, 12, 5), date(2025, 12, 5)),
    ]


@pytest.mark.parametrize("today, season_to_date, last_season", [
    # Two weeks into the season: too few days to rank it yet; the last complete season is the one before.
    (date(2026, 10, 15), None, (date(2025, 10, 1), date(2026, 6, 1))),
    # Thirty days in: ranked (1 to 30 October).
    (date(2026, 10, 31), (date(2026, 10, 1), date(2026, 10, 31)), (date(2025, 10, 1), date(2026, 6, 1))),
    # The day after the season ended: it is the last complete season, and no season is running.
    (date(2026, 6, 1), None, (date(2025, 10, 1), date(2026, 6, 1))),
    # Summer.
    (date(2026, 8, 15), None, (date(2025, 10, 1), date(2026, 6, 1))),
    # Still in the season on its last day.
    (date(2026, 5, 31), (date(2025, 10, 1), date(2026, 5, 31)), (date(2024, 10, 1), date(2025, 6, 1))),
])
def test_the_running_season_is_ranked_after_thirty_days_and_the_last_complete_one_always(
        today: date, season_to_date: tuple[date, date] | None, last_season: tuple[date, date]) -> None:
    periods = {p.kind: (p.start, p.end) for p in adviser_periods(today, 10, 5)}
    assert periods.get(SEASON_TO_DATE) == season_to_date
    assert periods[HEATING_SEASON] == last_season
    assert all(start < end <= today for start, end in periods.values())


def test_the_seasons_follow_the_cooperatives_months_and_a_repeated_period_is_listed_once() -> None:
    # A season of November to March (settings progress_season_*).
    assert season_of(date(2027, 2, 1), 11, 3) == (date(2026, 11, 1), date(2027, 4, 1))
    assert {p.kind: (p.start, p.end) for p in adviser_periods(date(2027, 2, 1), 11, 3)}[HEATING_SEASON] == (
        date(2025, 11, 1), date(2026, 4, 1))
    # On 1 January (2026 not a leap year) the last twelve months are the calendar year: listed once, first.
    periods = adviser_periods(date(2027, 1, 1), 10, 5)
    assert [p.kind for p in periods] == [LAST_12_MONTHS, SEASON_TO_DATE, HEATING_SEASON, PREVIOUS_12_MONTHS]
    assert (periods[0].start, periods[0].end) == (date(2026, 1, 1), date(2027, 1, 1))


def test_use_over_a_period_in_normal_weather_swaps_the_weather_share_and_needs_ninety_percent_of_days() -> None:
    start, end = date(2025, 10, 1), date(2026, 6, 1)
    days = pd.date_range(pd.Timestamp(start), pd.Timestamp(end), freq="D", inclusive="left")
    rng = np.random.default_rng(4)
    actual_c = pd.Series(8.0 + rng.normal(0, 4, len(days)), index=days)
    normal_c = np.full(len(days), 9.0)
    params = _params()
    # A home using exactly what its model says, plus a fixed 0.5 kWh a day the weather does not explain.
    use = pd.Series(predict_daily_kwh(params, actual_c.to_numpy()) + 0.5, index=days)
    expected = float((predict_daily_kwh(params, normal_c) + 0.5).sum())  # 243 days at 9 °C: 5 + 1.5 × 7 + 0.5
    assert expected == pytest.approx(243 * 16.0)
    assert normalised_use_kwh(use, actual_c, normal_c, params, start, end) == pytest.approx(expected)
    # 24 of 243 days unmeasured (under 10 %): the rest's mean stands for them (here every day is the same).
    gappy = use.copy()
    gappy.iloc[100:124] = np.nan
    assert normalised_use_kwh(gappy, actual_c, normal_c, params, start, end) == pytest.approx(expected)
    # 25 unmeasured (over 10 %): no figure, the home is not ranked over this period.
    gappy.iloc[124] = np.nan
    assert normalised_use_kwh(gappy, actual_c, normal_c, params, start, end) is None
    # A day without its temperature is not measured either.
    no_weather = actual_c.copy()
    no_weather.iloc[:25] = np.nan
    assert normalised_use_kwh(use, no_weather, normal_c, params, start, end) is None


def test_the_model_is_the_baseline_whose_year_shares_most_days_with_the_period() -> None:
    current, previous = _params(slope=1.0), _params(slope=2.0)
    fitted = [((date(2025, 12, 5), date(2026, 12, 5)), current), ((date(2024, 12, 5), date(2025, 12, 5)), previous)]
    assert model_for((date(2025, 10, 1), date(2026, 6, 1)), fitted) is current  # 178 days against 65
    assert model_for((date(2025, 1, 1), date(2026, 1, 1)), fitted) is previous  # 338 days against 27
    # Without last year's model, this year's stands in (it is the home's own weather response).
    assert model_for((date(2025, 1, 1), date(2026, 1, 1)), [fitted[0], (fitted[1][0], None)]) is current
    assert model_for((date(2025, 1, 1), date(2026, 1, 1)), [(fitted[0][0], None)]) is None
