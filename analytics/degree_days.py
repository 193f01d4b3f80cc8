"""Degree-days and daily mean outdoor temperature.

Contract
--------
* ``daily_mean_temperature_c(temperature)``: ``temperature`` is a Series of
  outdoor temperature in °C indexed by a tz-aware DatetimeIndex (any step,
  typically hourly from ``outdoor_temperature``); returns a Series of daily
  means in °C indexed by local midnight in ``timezone``, NaN for days with too
  few observations.
* ``heating_degree_days`` / ``cooling_degree_days`` take daily mean
  temperatures in °C (array-like, shape (n,)) and one or several balance
  points in °C (scalar or shape (k,)); they return K·day per day, shape (n,) or
  (n, k) — all balance points at once so the grid search is one numpy call.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike, NDArray

from analytics.errors import FrameContractError, InsufficientDataError
from analytics.frames import require_datetime_index, typical_step
from analytics.sufficiency import Reason


def heating_degree_days(temperature_c: ArrayLike, balance_c: float | ArrayLike) -> NDArray[np.float64]:
    """Heating degree-days max(balance − T, 0) per day; (n, k) when several balance points are given."""
    temps = np.asarray(temperature_c, dtype=float)
    balance = np.asarray(balance_c, dtype=float)
    if balance.ndim == 0:
        return np.maximum(balance - temps, 0.0)
    return np.maximum(balance[np.newaxis, :] - temps[:, np.newaxis], 0.0)


def cooling_degree_days(temperature_c: ArrayLike, balance_c: float | ArrayLike) -> NDArray[np.float64]:
    """Cooling degree-days max(T − balance, 0) per day; (n, k) when several balance points are given."""
    temps = np.asarray(temperature_c, dtype=float)
    balance = np.asarray(balance_c, dtype=float)
    if balance.ndim == 0:
        return np.maximum(temps - balance, 0.0)
    return np.maximum(temps[:, np.newaxis] - balance[np.newaxis, :], 0.0)


def daily_mean_temperature_c(
    temperature: pd.Series, timezone: str, min_observation_hours: float = 18.0
) -> pd.Series:
    """Mean outdoor °C per local day; NaN where fewer than ``min_observation_hours`` hours were observed."""
    index = require_datetime_index(temperature, "temperature")
    if index.tz is None:
        raise FrameContractError("temperature index must be tz-aware (UTC from the database is fine)")
    values = pd.Series(temperature.to_numpy(dtype=float), index=index.tz_convert(timezone))
    days = values.index.normalize()
    grouped = values.groupby(days)
    mean_c = grouped.mean()
    # Hours observed per day: the readings' own step (median) times their count.
    step_h = _median_step_hours(values.index)
    hours = grouped.count() * step_h
    mean_c[hours < min_observation_hours] = np.nan
    mean_c.index.name = "day"
    mean_c.name = "temperature_c"
    return mean_c


def _median_step_hours(index: pd.DatetimeIndex) -> float:
    """Typical spacing of the observations, in hours (1 when it cannot be told)."""
    step = typical_step(index)
    if step is None:
        return 1.0
    return float(min(step / pd.Timedelta(hours=1), 24.0))


def normal_year_temperature_c(daily_temperature_c: pd.Series, smoothing_days: int = 15) -> pd.Series:
    """A typical year of daily mean °C (index: day of year 1–365) from one or more years of daily means.

    Each day of the year averages every year available, then a centred circular
    moving mean smooths one-off cold snaps so that "weather-normalised" does not
    mean "normalised to last January's particular weather". Day 366 of leap
    years is folded into day 365.
    """
    index = require_datetime_index(daily_temperature_c, "daily temperature")
    day_of_year = np.minimum(index.day_of_year.to_numpy(), 365)
    values = daily_temperature_c.to_numpy(dtype=float)
    known = np.isfinite(values)
    sums = np.bincount(day_of_year[known] - 1, weights=values[known], minlength=365)
    counts = np.bincount(day_of_year[known] - 1, minlength=365)
    with np.errstate(invalid="ignore", divide="ignore"):
        by_day = sums / counts
    if not np.isfinite(by_day).any():
        raise InsufficientDataError([Reason(
            "no_temperature", "No outdoor temperature to build a normal year from.",
            "Aucune température extérieure pour construire une année normale.", {"days": 0.0})])
    # Circular smoothing that ignores days never observed.
    half = smoothing_days // 2
    padded_values = np.concatenate([by_day[-half:], by_day, by_day[:half]]) if half else by_day
    finite = np.isfinite(padded_values)
    kernel = np.ones(2 * half + 1)
    smoothed_sum = np.convolve(np.where(finite, padded_values, 0.0), kernel, mode="valid")
    smoothed_count = np.convolve(finite.astype(float), kernel, mode="valid")
    with np.errstate(invalid="ignore", divide="ignore"):
        smoothed = smoothed_sum / smoothed_count
    result = pd.Series(smoothed, index=pd.RangeIndex(1, 366, name="day_of_year"), name="temperature_c")
    if result.isna().any():
        # Long holes: fill from the nearest known days around the year.
        result = result.interpolate(limit_direction="both")
    return result
