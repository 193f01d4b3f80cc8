"""Outdoor temperature: a seasonal cycle, a daily cycle and passing weather, deterministic by seed.

The weather is a sum of slow sinusoids with random periods and phases, so it is a
smooth, continuous function of absolute time: a backfill and the live run that
follows it join without a seam.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from coopwatt.simulator import noise

ANNUAL_MEAN_C = 12.0
ANNUAL_AMPLITUDE_C = 7.5  # mid-January mean about 4.5 °C, mid-July about 19.5 °C
COLDEST_DAY_OF_YEAR = 15
WEATHER_SD_C = 3.0  # day-to-day weather around the seasonal normal
_WEATHER_COMPONENTS = 12
_SECONDS_PER_DAY = 86_400.0


def _weather_terms(seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Periods (days), amplitudes (°C) and phases of the passing-weather sinusoids."""
    rng = np.random.default_rng([seed, 0xC11A7E])
    periods_d = np.exp(rng.uniform(np.log(1.5), np.log(25.0), _WEATHER_COMPONENTS))
    weights = rng.uniform(0.5, 1.5, _WEATHER_COMPONENTS)
    amplitudes = WEATHER_SD_C * np.sqrt(2.0) * weights / np.sqrt((weights**2).sum())
    phases = rng.uniform(0.0, 2 * np.pi, _WEATHER_COMPONENTS)
    return periods_d, amplitudes, phases


def epoch_seconds(times: pd.DatetimeIndex) -> np.ndarray:
    """Whole seconds since 1970 (UTC), whatever the index's resolution."""
    delta = times.tz_convert("UTC") - pd.Timestamp("1970-01-01", tz="UTC")
    return np.asarray(delta // pd.Timedelta(seconds=1), dtype=np.int64)


def outdoor_temperature_c(times: pd.DatetimeIndex, seed: int, residence_numbers: np.ndarray,
                          timezone: str = "Europe/Paris") -> np.ndarray:
    """Outdoor temperature (°C) per residence (rows) and time (columns)."""
    utc = times.tz_convert("UTC")
    seconds = epoch_seconds(utc)
    days = seconds / _SECONDS_PER_DAY
    local = utc.tz_convert(timezone)
    day_of_year = np.asarray(local.day_of_year, dtype=float)
    hour = np.asarray(local.hour + local.minute / 60.0, dtype=float)

    seasonal = ANNUAL_MEAN_C - ANNUAL_AMPLITUDE_C * np.cos(2 * np.pi * (day_of_year - COLDEST_DAY_OF_YEAR) / 365.25)
    # Wider daily swings in summer (clear long days) than in winter.
    summer = 0.5 - 0.5 * np.cos(2 * np.pi * (day_of_year - COLDEST_DAY_OF_YEAR) / 365.25)
    daily = (2.5 + 2.5 * summer) * np.cos(2 * np.pi * (hour - 15.0) / 24.0)
    periods_d, amplitudes, phases = _weather_terms(seed)
    weather = (amplitudes[:, None] * np.sin(2 * np.pi * days[None, :] / periods_d[:, None] + phases[:, None])).sum(0)
    regional = seasonal + daily + weather

    rows = np.asarray(residence_numbers, dtype=np.int64)[:, None]
    # Each residence sits a little warmer or colder (altitude, urban heat), plus sensor noise.
    offset = 1.0 * noise.normal(seed, 901, rows, np.zeros((1, 1), dtype=np.int64))
    sensor = 0.25 * noise.normal(seed, 902, rows, seconds[None, :])
    return np.round(regional[None, :] + offset + sensor, 2)
