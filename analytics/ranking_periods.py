"""The periods advisers rank homes over, and a home's weather-normalised use over any of them.

Contract
--------
``adviser_periods(today, season_start_month, season_end_month)`` lists the periods the
nightly run ranks, as local days [start, end) before ``today`` (the first day not analysed):

* ``last_12_months`` and ``previous_12_months``: each the fitting year of a baseline, ranked on
  the model's normal year (``normalised_annual_kwh``), as since 0007;
* ``season_to_date``: the current heating season up to yesterday, once it has run
  ``MIN_SEASON_TO_DATE_DAYS`` days (fewer days say little about a winter);
* ``heating_season``: the last complete heating season (the cooperative's months, settings
  ``progress_season_*``: 1 October to 31 May by default);
* ``calendar_year``: the last complete calendar year.

A period equal to one listed before it (on 1 January, the calendar year is the last 12 months)
is listed once. ``normalised_use_kwh`` gives a home's use over a period in normal weather:
each measured day's kWh with the model's weather share swapped for the normal year's
(as the monthly comparisons do), the unmeasured days counted at the measured days' mean, and
nothing when fewer than ``MIN_PERIOD_COVERAGE`` of the days were measured. The model is the
home's baseline whose fitting year shares the most days with the period.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

import numpy as np
import pandas as pd

from analytics.baseline import DailyModelParams, predict_daily_kwh

# As a month in the comparisons: nearly every day measured, the few others at the measured mean.
MIN_PERIOD_COVERAGE = 0.9
# The season so far is ranked once it holds a month of days.
MIN_SEASON_TO_DATE_DAYS = 30

LAST_12_MONTHS = "last_12_months"
PREVIOUS_12_MONTHS = "previous_12_months"
SEASON_TO_DATE = "season_to_date"
HEATING_SEASON = "heating_season"
CALENDAR_YEAR = "calendar_year"
# The order advisers see them in (the first is the default).
PERIOD_KINDS = (LAST_12_MONTHS, SEASON_TO_DATE, HEATING_SEASON, CALENDAR_YEAR, PREVIOUS_12_MONTHS)


@dataclass(frozen=True)
class RankingPeriod:
    """A ranked period: what it is and its local days [start, end)."""

    kind: str
    start: date
    end: date

    @property
    def days(self) -> int:
        """Number of local days in the period."""
        return (self.end - self.start).days


def _month_after(year: int, month: int) -> date:
    return date(year + 1, 1, 1) if month == 12 else date(year, month + 1, 1)


def season_of(day: date, start_month: int, end_month: int) -> tuple[date, date]:
    """The heating season [first day, day after its last) that begins in the latest start month on or before ``day``."""
    start_year = day.year if day.month >= start_month else day.year - 1
    end_year = start_year + 1 if end_month < start_month else start_year
    return date(start_year, start_month, 1), _month_after(end_year, end_month)


def adviser_periods(today: date, season_start_month: int, season_end_month: int) -> list[RankingPeriod]:
    """The periods ranked tonight, in the order advisers see them, without repeats."""
    found = [RankingPeriod(LAST_12_MONTHS, today - timedelta(days=365), today),
             RankingPeriod(PREVIOUS_12_MONTHS, today - timedelta(days=730), today - timedelta(days=365))]
    start, end = season_of(today - timedelta(days=1), season_start_month, season_end_month)
    if end > today:  # the season is running: the one before is the last complete one
        if (today - start).days >= MIN_SEASON_TO_DATE_DAYS:
            found.append(RankingPeriod(SEASON_TO_DATE, start, today))
        start, end = season_of(start - timedelta(days=1), season_start_month, season_end_month)
    found.append(RankingPeriod(HEATING_SEASON, start, end))
    found.append(RankingPeriod(CALENDAR_YEAR, date(today.year - 1, 1, 1), date(today.year, 1, 1)))
    unique: list[RankingPeriod] = []
    for period in sorted(found, key=lambda p: PERIOD_KINDS.index(p.kind)):
        if all((p.start, p.end) != (period.start, period.end) for p in unique):
            unique.append(period)
    return unique


def overlap_days(a: tuple[date, date], b: tuple[date, date]) -> int:
    """Days two [start, end) periods share."""
    return max(0, (min(a[1], b[1]) - max(a[0], b[0])).days)


def model_for(period: tuple[date, date],
              fitted: list[tuple[tuple[date, date], DailyModelParams | None]]) -> DailyModelParams | None:
    """Of the fitted baselines (window, params), the one whose year shares most days with the period (the first on a tie)."""
    best, best_days = None, -1
    for window, params in fitted:
        if params is None:
            continue
        days = overlap_days(window, period)
        if days > best_days:
            best, best_days = params, days
    return best


def normalised_use_kwh(daily: pd.Series, temperature_c: pd.Series, normal_c_by_day: np.ndarray,
                       params: DailyModelParams, start: date, end: date) -> float | None:
    """kWh over local days [start, end) in normal weather, or None when under MIN_PERIOD_COVERAGE of them were measured.

    ``normal_c_by_day`` is the normal year's °C for each day of the period, in order.
    """
    days = pd.date_range(pd.Timestamp(start), pd.Timestamp(end), freq="D", inclusive="left")
    energy = daily.reindex(days).to_numpy(dtype=float)
    actual_c = temperature_c.reindex(days).to_numpy(dtype=float)
    normalised = energy + predict_daily_kwh(params, normal_c_by_day) - predict_daily_kwh(params, actual_c)
    known = np.isfinite(normalised)
    if len(days) == 0 or known.sum() < MIN_PERIOD_COVERAGE * len(days):
        return None
    return float(normalised[known].mean() * len(days))
