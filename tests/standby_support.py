"""Synthetic homes with a known standby, heating and household use, as the nightly run hands them to the pure core."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import numpy as np
import pandas as pd

from analytics.degree_days import normal_year_temperature_c
from analytics.dwelling_year import DwellingInputs
from analytics.offpeak import HourOfDayUse
from tests.nightly_support import SHAPE, TZ, daily_temperature

HOURLY_DAYS = 56  # as analytics.job.nightly reads


@dataclass(frozen=True)
class TrueHome:
    """A home's truth: standby (W) all the time, heating, household use and an off-peak water heater.

    Heating runs whenever the outdoor °C of the hour is below the balance point (radiators, nights included):
    ``slope_kwh_per_degree_day`` / 24 per hour and degree below it.
    """

    standby_w: float
    slope_kwh_per_degree_day: float = 0.0
    balance_c: float = 16.0
    household_kwh_per_day: float = 4.0
    electric_heating: bool = False  # as the registry says
    water_heater_kwh_per_day: float = 0.0  # heats between 23:00 and 05:00 (off-peak)


@dataclass(frozen=True)
class Weather:
    """Two years of outdoor °C: daily means (naive local days), hourly (local), and the normal year."""

    days: pd.DatetimeIndex
    temperature_c: pd.Series
    hourly_c: pd.Series
    normal_c: pd.Series


def weather_until(today: date, days: int = 730, seed: int = 3) -> Weather:
    """The residence's °C over the ``days`` before ``today``: a yearly cycle, day-to-day noise, a daily swing."""
    local = pd.date_range(pd.Timestamp(today) - pd.Timedelta(days=days), periods=days, freq="D")
    daily = daily_temperature(local, seed)
    hours = pd.date_range(local[0].tz_localize(TZ), (local[-1] + pd.Timedelta(days=1)).tz_localize(TZ), freq="h",
                          inclusive="left")
    day_of_hour = (hours.normalize().tz_localize(None) - local[0]).days.to_numpy()
    hourly = daily[day_of_hour] + 3.0 * np.sin(2 * np.pi * (hours.hour.to_numpy() - 9) / 24)
    # The daily mean the nightly reads is the hours' mean (the swing averages out over a day).
    temperature = pd.Series(hourly, index=hours).groupby(day_of_hour).mean()
    temperature.index = local[temperature.index.to_numpy()]
    return Weather(local, temperature, pd.Series(hourly, index=hours), normal_year_temperature_c(temperature))


def home_inputs(dwelling_id: int, home: TrueHome, today: date, weather: Weather, seed: int) -> DwellingInputs:
    """The home's daily use over two years, its last eight weeks of hours and its use by hour of day."""
    rng = np.random.default_rng(seed)
    hours = weather.hourly_c.index
    day_of_hour = (hours.normalize().tz_localize(None) - weather.days[0]).days.to_numpy()
    hour = hours.hour.to_numpy()
    heating = (home.slope_kwh_per_degree_day / 24.0 * np.maximum(home.balance_c - weather.hourly_c.to_numpy(), 0.0)
               * rng.normal(1, 0.05, len(weather.days))[day_of_hour])
    household = home.household_kwh_per_day * rng.lognormal(0.0, 0.2, len(weather.days))
    water = np.where(np.isin(hour, (23, 0, 1, 2, 3, 4)), home.water_heater_kwh_per_day / 6.0, 0.0)
    per_hour = home.standby_w / 1000.0 + heating + water + household[day_of_hour] * SHAPE[hour]
    hourly = pd.DataFrame({"energy_kwh": per_hour}, index=hours)
    daily = hourly["energy_kwh"].groupby(day_of_hour).sum()
    daily.index = weather.days[daily.index.to_numpy()]
    start = pd.Timestamp(today).tz_localize(TZ)
    recent = hourly[(hourly.index >= start - pd.Timedelta(days=HOURLY_DAYS)) & (hourly.index < start)]
    year = hourly[(hourly.index >= start - pd.Timedelta(days=365)) & (hourly.index < start)]["energy_kwh"]
    by_hour = year.groupby(year.index.hour)
    use = HourOfDayUse(tuple(float(by_hour.sum().get(h, 0.0)) for h in range(24)),
                       tuple(int(by_hour.count().get(h, 0)) for h in range(24)))
    return DwellingInputs(dwelling_id, today, {"electricity": daily}, weather.temperature_c, weather.normal_c,
                          recent, use, electric_heating=home.electric_heating,
                          outdoor_c=weather.hourly_c[weather.hourly_c.index >= start - pd.Timedelta(days=HOURLY_DAYS)])
