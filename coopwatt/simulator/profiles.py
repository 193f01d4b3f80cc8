"""The physics of a dwelling: what it draws in each interval, as pure vectorised functions.

Every array has one row per dwelling and one column per reading time; a value is
what flowed during the interval that ends at that reading. Randomness comes from
:mod:`coopwatt.simulator.noise`, keyed by the dwelling's number and the time, so the
same inputs always give the same series.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from coopwatt.simulator import noise
from coopwatt.simulator.residence import Dwelling
from coopwatt.simulator.weather import epoch_seconds

BOILER_EFFICIENCY = 0.9  # gas boiler, heating and hot water
OFFPEAK_HOURS = (22.0, 6.0)  # heures creuses, local time
WATER_HEATER_HOURS = (23.0, 5.0)  # an off-peak water heater runs inside the off-peak window
DRAWS_PER_PERSON_PER_DAY = 9.0  # taps, flushes, showers
SUBSCRIBED_ELECTRIC_HEATING_W = 12_000.0  # active power a 12 kVA contract allows at cos φ ≈ 1
SUBSCRIBED_OTHER_W = 9_000.0

# Noise streams (one per independent random quantity).
_S_ACTIVITY, _S_ACTIVITY_DAY, _S_HEATING_DAY, _S_HEATING, _S_POWER = 1, 2, 3, 4, 5
_S_DRAWS, _S_DRAW_SIZE, _S_WATER_DAY, _S_BASE = 6, 7, 8, 9


@dataclass(frozen=True)
class Flows:
    """What each dwelling drew during each interval (rows: dwellings, columns: reading times)."""

    electricity_kwh: np.ndarray
    electricity_offpeak_kwh: np.ndarray  # the part drawn in off-peak hours
    power_w: np.ndarray  # active power at the reading time
    gas_kwh: np.ndarray  # fuel burnt by the boiler (zero for homes without gas)
    water_m3: np.ndarray
    collective_heat_kwh: np.ndarray  # heat and hot water the building's plant delivered to the dwelling
    heating_kwh: np.ndarray  # space heating delivered (whatever the energy), for the ground truth


def _bump(hour: np.ndarray, centre: float, width: float) -> np.ndarray:
    """A smooth daily bump (Gaussian on the circular distance to `centre`)."""
    distance = (hour - centre + 12.0) % 24.0 - 12.0
    return np.exp(-0.5 * (distance / width) ** 2)


def _in_window(hour: np.ndarray, window: tuple[float, float]) -> np.ndarray:
    start, end = window
    return (hour >= start) | (hour < end) if start > end else (hour >= start) & (hour < end)


def activity_shape(hour: np.ndarray, weekend: np.ndarray, home_by_day: bool) -> np.ndarray:
    """Relative use of appliances, light and cooking by local hour (unnormalised)."""
    morning = np.where(weekend, 0.9 * _bump(hour, 9.5, 1.5), 1.1 * _bump(hour, 7.3, 0.8))
    midday = np.where(weekend | home_by_day, 1.0, 0.25) * _bump(hour, 12.7, 1.0)
    daytime = np.where(weekend | home_by_day, 0.55, 0.1) * _in_window(hour, (9.0, 17.0))
    evening = 2.0 * _bump(hour, 19.8, 1.6)
    night = 0.12
    return night + morning + midday + daytime + evening


def water_shape(hour: np.ndarray, weekend: np.ndarray, home_by_day: bool) -> np.ndarray:
    """Relative rate of water draws by local hour: showers in the morning, dishes at night, none at 1-5 h."""
    morning = np.where(weekend, 1.4 * _bump(hour, 9.5, 1.3), 2.0 * _bump(hour, 7.0, 0.8))
    day = np.where(weekend | home_by_day, 0.5, 0.08) * _in_window(hour, (9.0, 18.0))
    evening = 1.3 * _bump(hour, 20.0, 1.8)
    quiet = _in_window(hour, (0.5, 5.5))
    return np.where(quiet, 0.0, 0.03 + morning + day + evening)


def heating_schedule(hour: np.ndarray) -> np.ndarray:
    """Heating by local hour relative to its daily mean: night set-back, morning and evening boost."""
    raw = 0.8 + 0.45 * _bump(hour, 7.0, 1.2) + 0.35 * _bump(hour, 19.0, 2.5)
    return raw / (0.8 + (0.45 * 1.2 + 0.35 * 2.5) * np.sqrt(2 * np.pi) / 24)


def _daily_lognormal(seed: int, stream: int, rows: np.ndarray, day: np.ndarray, sigma: float) -> np.ndarray:
    """Mean-one lognormal factors, one per dwelling and local day (drawn per day, spread over its intervals)."""
    days, position = np.unique(day, return_inverse=True)
    factors = np.exp(sigma * noise.normal(seed, stream, rows, days[None, :]) - 0.5 * sigma**2)
    return factors[:, position.ravel()]


def _normalised(shape_fn, hour: np.ndarray, weekend: np.ndarray, home: np.ndarray) -> np.ndarray:
    """A shape per dwelling, scaled so a typical weekday averages exactly 1."""
    grid = np.arange(0.0, 24.0, 0.25)
    out = np.empty((home.size, hour.size))
    for flag in (False, True):
        rows = home == flag
        if rows.any():
            mean = shape_fn(grid, np.zeros(grid.size, dtype=bool), flag).mean()
            out[rows] = shape_fn(hour, weekend, flag) / mean
    return out


def dwelling_flows(dwellings: Sequence[Dwelling], times: pd.DatetimeIndex, step_s: int,
                   temperature_c: np.ndarray, seed: int, timezone: str = "Europe/Paris") -> Flows:
    """Energy, gas and water each dwelling drew in the `step_s` intervals ending at `times`."""
    rows = np.array([d.number for d in dwellings], dtype=np.int64)[:, None]
    seconds = epoch_seconds(times)
    cols = seconds[None, :]
    # The interval's middle decides its hour of day and day of week.
    middle = times.tz_convert(timezone) - pd.Timedelta(seconds=step_s / 2)
    hour = np.asarray(middle.hour + middle.minute / 60.0 + middle.second / 3600.0, dtype=float)
    weekend = np.asarray(middle.day_of_week >= 5)
    day = np.asarray((middle.normalize().tz_localize(None) - pd.Timestamp("1970-01-01")) // pd.Timedelta(days=1),
                     dtype=np.int64)
    fraction_of_day = step_s / 86_400.0
    step_h = step_s / 3600.0

    def column(name: str) -> np.ndarray:
        return np.array([getattr(d, name) for d in dwellings], dtype=float)[:, None]

    home = np.array([d.home_by_day for d in dwellings])
    heating_type = np.array([d.heating_type for d in dwellings])[:, None]
    offpeak_tariff = np.array([d.offpeak_tariff for d in dwellings])[:, None]

    # Always-on load: fridge, standby, ventilation; it hardly varies.
    base_kwh = column("base_load_w") * step_h / 1000.0 * _daily_lognormal(seed, _S_BASE, rows, day, 0.04)
    # Appliances and cooking: a daily rhythm, busier and quieter days, bursty intervals.
    activity_kwh = (column("activity_kwh_per_day") * fraction_of_day
                    * _normalised(activity_shape, hour, weekend, home)
                    * _daily_lognormal(seed, _S_ACTIVITY_DAY, rows, day, 0.25)
                    * noise.mean_one(seed, _S_ACTIVITY, rows, cols, 0.6))

    # Space heating: degree-days below the dwelling's balance point.
    degrees_below = np.maximum(column("balance_point_c") - temperature_c, 0.0)
    heating_kwh = (column("heating_sensitivity_kwh_per_c_day") * degrees_below * fraction_of_day
                   * heating_schedule(hour)[None, :]
                   * _daily_lognormal(seed, _S_HEATING_DAY, rows, day, 0.1)
                   * noise.mean_one(seed, _S_HEATING, rows, cols, 0.2))
    # Households that under-heat (thermostat turned down to save money) from a known instant on.
    cut_from_s = np.array([np.inf if d.under_heating_from_s is None else d.under_heating_from_s
                           for d in dwellings], dtype=float)[:, None]
    heating_kwh = heating_kwh * np.where(cols >= cut_from_s, column("under_heating_keep"), 1.0)

    # Water: Poisson draws whose rate follows the household's rhythm; sizes vary a lot (flush vs shower).
    draws_per_day = DRAWS_PER_PERSON_PER_DAY * column("occupants")
    rate = draws_per_day * fraction_of_day * _normalised(water_shape, hour, weekend, home)
    draws = noise.poisson(seed, _S_DRAWS, rows, cols, rate)
    litres_per_draw = column("water_l_per_day") / draws_per_day
    water_l = (draws * litres_per_draw * noise.mean_one(seed, _S_DRAW_SIZE, rows, cols, 0.5)
               * _daily_lognormal(seed, _S_WATER_DAY, rows, day, 0.15))
    # Hot water energy follows the litres actually drawn.
    hot_water_kwh = column("hot_water_kwh_per_day") * water_l / column("water_l_per_day")

    electric = heating_type == "electric"
    gas = heating_type == "gas"
    collective = heating_type == "collective"
    # An electric water heater on an off-peak contract heats the day's water at night.
    heater_window = _in_window(hour, WATER_HEATER_HOURS)[None, :]
    night_heater_kwh = (column("hot_water_kwh_per_day") * fraction_of_day * (24.0 / 6.0) * heater_window
                        * _daily_lognormal(seed, _S_HEATING_DAY + 100, rows, day, 0.1))
    electric_hot_water_kwh = np.where(offpeak_tariff, night_heater_kwh, hot_water_kwh)

    electricity_kwh = base_kwh + activity_kwh + np.where(electric, heating_kwh + electric_hot_water_kwh, 0.0)
    # The subscribed power (12 kVA for electric heating, 9 kVA otherwise) caps what a home can draw.
    max_w = np.where(electric, SUBSCRIBED_ELECTRIC_HEATING_W, SUBSCRIBED_OTHER_W)
    electricity_kwh = np.minimum(electricity_kwh, 0.9 * max_w * step_h / 1000.0)
    offpeak = _in_window(hour, OFFPEAK_HOURS)[None, :]
    # What the meter shows at the reading: the interval's average, with instantaneous wobble above base load.
    average_w = electricity_kwh * 1000.0 / step_h
    base_w = base_kwh * 1000.0 / step_h
    power_w = np.minimum(base_w + (average_w - base_w) * noise.mean_one(seed, _S_POWER, rows, cols, 0.35), max_w)
    gas_kwh = np.where(gas, (heating_kwh + hot_water_kwh) / BOILER_EFFICIENCY, 0.0)
    return Flows(
        electricity_kwh=electricity_kwh,
        electricity_offpeak_kwh=np.where(offpeak, electricity_kwh, 0.0),
        power_w=power_w,
        gas_kwh=gas_kwh,
        water_m3=water_l / 1000.0,
        collective_heat_kwh=np.where(collective, heating_kwh + hot_water_kwh, 0.0),
        heating_kwh=heating_kwh,
    )
