"""Deterministic synthetic meter data with known parameters, for tests and benchmarks.

Everything here is generated from a seed, so a test can state the truth it
expects the analytics to recover. Frames follow the contracts of the other
analytics modules (daily frame, interval frame, hourly volume frame, index
readings).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

TIMEZONE = "Europe/Paris"


def daily_index(start: str, days: int, timezone: str = TIMEZONE) -> pd.DatetimeIndex:
    """Local midnights of ``days`` consecutive days."""
    return pd.date_range(start, periods=days, freq="D", tz=timezone)


def temperature_c(days: pd.DatetimeIndex, seed: int, mean_c: float = 11.0, amplitude_c: float = 8.0, noise_c: float = 3.0) -> np.ndarray:
    """A French-like yearly cycle of daily mean outdoor °C (coldest mid-January) plus day-to-day noise."""
    rng = np.random.default_rng(seed)
    day_of_year = days.day_of_year.to_numpy()
    return mean_c - amplitude_c * np.cos(2 * np.pi * (day_of_year - 15) / 365.25) + rng.normal(0.0, noise_c, len(days))


def daily_frame(
    days: pd.DatetimeIndex, seed: int, intercept_kwh: float = 8.0, heating_kwh_per_degree_day: float = 1.5,
    heating_balance_c: float = 16.0, cooling_kwh_per_degree_day: float = 0.0, cooling_balance_c: float = 24.0,
    noise_kwh: float = 1.0, temperatures_c: np.ndarray | None = None,
) -> pd.DataFrame:
    """Daily frame whose energy follows the CalTRACK model with the given parameters plus Gaussian noise."""
    rng = np.random.default_rng(seed + 1)
    temps = temperature_c(days, seed) if temperatures_c is None else temperatures_c
    energy = (
        intercept_kwh
        + heating_kwh_per_degree_day * np.maximum(heating_balance_c - temps, 0.0)
        + cooling_kwh_per_degree_day * np.maximum(temps - cooling_balance_c, 0.0)
        + rng.normal(0.0, noise_kwh, len(days))
    )
    return pd.DataFrame({"energy_kwh": energy, "temperature_c": temps}, index=days)


def _day_shape(slots_per_day: int) -> np.ndarray:
    """Relative use through a day: low at night, a morning and a larger evening peak."""
    hours = (np.arange(slots_per_day) + 0.5) * 24.0 / slots_per_day
    daytime = ((hours > 6.5) & (hours < 23.0)).astype(float)
    shape = 0.02 + 0.3 * daytime + 1.0 * np.exp(-((hours - 7.5) ** 2) / 2.0) + 1.6 * np.exp(-((hours - 19.5) ** 2) / 4.0)
    return shape / shape.sum()


def interval_frame(
    start: str, days: int, seed: int, step_minutes: int = 30, base_load_w: float = 150.0,
    daily_use_kwh: float = 6.0, weekend_factor: float = 1.2, noise_fraction: float = 0.15, timezone: str = TIMEZONE,
) -> pd.DataFrame:
    """Interval frame (energy_kwh per interval) of a dwelling without electric heating: base load plus a daily shape."""
    rng = np.random.default_rng(seed)
    index = pd.date_range(start, periods=days * 1440 // step_minutes, freq=f"{step_minutes}min", tz=timezone)
    per_day = 1440 // step_minutes
    slot = (index.hour.to_numpy() * 60 + index.minute.to_numpy()) // step_minutes
    weekend = index.day_of_week.to_numpy() >= 5
    active = daily_use_kwh * _day_shape(per_day)[slot] * np.where(weekend, weekend_factor, 1.0)
    active = active * rng.lognormal(0.0, noise_fraction, len(index))
    base = base_load_w * step_minutes / 60.0 / 1000.0 * rng.normal(1.0, 0.03, len(index))
    return pd.DataFrame({"energy_kwh": active + base}, index=index)


def water_hourly(start: str, days: int, seed: int, daily_use_m3: float = 0.3, timezone: str = TIMEZONE) -> pd.DataFrame:
    """Hourly water volume (m³): showers and dishes by day, nothing between midnight and 6 a.m."""
    rng = np.random.default_rng(seed)
    index = pd.date_range(start, periods=days * 24, freq="h", tz=timezone)
    hours = index.hour.to_numpy()
    weights = np.where(hours < 6, 0.0, 1.0) * np.where(np.isin(hours, [7, 8, 19, 20, 21]), 4.0, 1.0)
    # Some daytime hours have no draw at all, as in real homes.
    draws = weights * (rng.random(len(index)) > 0.35)
    volume = daily_use_m3 * draws / (weights.sum() / days) * rng.lognormal(0.0, 0.3, len(index))
    return pd.DataFrame({"volume_m3": volume}, index=index)


def index_readings(intervals: pd.DataFrame, column: str = "energy_kwh", start_index: float = 12345.0) -> pd.DataFrame:
    """Cumulative counter readings (``index_value``) at the end of each interval."""
    step = intervals.index[1] - intervals.index[0]
    values = start_index + np.cumsum(np.nan_to_num(intervals[column].to_numpy(dtype=float)))
    return pd.DataFrame({"index_value": np.round(values, 3)}, index=intervals.index + step)


HARDSHIP_KINDS = ("typical", "insulated_low", "thermostat_lowered", "off_in_cold", "gappy")


def hardship_cohort(seed: int, dwellings: int, today: str, window_days: int = 90,
                    under_heating_share: float = 0.1) -> list[dict[str, object]]:
    """Electrically heated homes over two years, some of which start under-heating: the ground truth of hardship.

    Each item has ``dwelling_id``, ``residence_id``, ``district``, ``floor_area_m2``, ``heating_type``,
    ``daily`` (a daily frame), ``kind`` (one of HARDSHIP_KINDS) and ``under_heating`` (the truth).
    Under-heating homes either lowered the thermostat a lot from a day before the compared window
    (heating per degree-day cut to 20–40 %) or switch heating off on cold days (below 4 °C). The
    others are typical homes, well-insulated low users (35 % of typical, stable for two years) and
    typical homes whose recent data is mostly missing (estimated or suspect days are NaN).
    """
    rng = np.random.default_rng(seed)
    end = pd.Timestamp(today)
    days = daily_index(str((end - pd.Timedelta(days=730)).date()), 730)
    residences = 2
    temps = {r: temperature_c(days, seed * 100 + r) for r in range(residences)}
    out = []
    for i in range(dwellings):
        residence = i % residences
        area = float(rng.uniform(56.0, 74.0))
        slope = 0.045 * area * float(rng.lognormal(0.0, 0.2))
        roll = rng.random()
        if roll < under_heating_share:
            kind = "thermostat_lowered" if rng.random() < 0.6 else "off_in_cold"
        elif roll < under_heating_share + 0.1:
            kind = "insulated_low"
        elif roll < under_heating_share + 0.15:
            kind = "gappy"
        else:
            kind = "typical"
        if kind == "insulated_low":
            slope *= 0.35
        frame = daily_frame(days, seed * 10_000 + i, intercept_kwh=float(rng.uniform(4.0, 9.0)),
                            heating_kwh_per_degree_day=slope, noise_kwh=0.8, temperatures_c=temps[residence])
        heating = slope * np.maximum(16.0 - frame["temperature_c"].to_numpy(), 0.0)
        changed = end - pd.Timedelta(days=window_days + int(rng.integers(0, 30)))
        after = (frame.index.tz_localize(None) >= changed)
        if kind == "thermostat_lowered":
            frame.loc[after, "energy_kwh"] -= heating[after] * (1.0 - float(rng.uniform(0.2, 0.4)))
        elif kind == "off_in_cold":
            off = after & (frame["temperature_c"].to_numpy() < 4.0)
            frame.loc[off, "energy_kwh"] -= heating[off] * 0.9
            frame.loc[after & ~off, "energy_kwh"] -= heating[after & ~off] * 0.4
        elif kind == "gappy":
            recent = frame.index.tz_localize(None) >= end - pd.Timedelta(days=window_days)
            frame.loc[recent & (rng.random(len(frame)) < 0.5), "energy_kwh"] = np.nan
        frame["energy_kwh"] = frame["energy_kwh"].clip(lower=0.0)
        out.append({"dwelling_id": i + 1, "residence_id": residence + 1, "district": "synthetic",
                    "floor_area_m2": area, "heating_type": "electric", "daily": frame, "kind": kind,
                    "under_heating": kind in ("thermostat_lowered", "off_in_cold")})
    return out
