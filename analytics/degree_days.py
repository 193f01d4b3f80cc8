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

from analytics.frames import require_datetime_index, typical_step


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
        raise ValueError("temperature index must be tz-aware (UTC from the database is fine)")
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
