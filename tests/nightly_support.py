"""A small synthetic cooperative written as rollups, with each dwelling's true model, for nightly-run tests."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta

import numpy as np
import pandas as pd
import psycopg

from coopwatt.rollups import refresh_rollups
from coopwatt.settings import Settings
from tests.factories import consent_to_all

TZ = "Europe/Paris"
# Hourly shares of the day's non-base use: nothing from 01:00 to 06:00 so the night minimum is the base load.
_SHAPE = np.array([2, 0, 0, 0, 0, 0, 0, 5, 8, 5, 4, 4, 5, 5, 4, 4, 4, 5, 8, 10, 10, 8, 6, 3], dtype=float)
SHAPE = _SHAPE / _SHAPE.sum()


@dataclass(frozen=True)
class Home:
    """A dwelling's truth: daily kWh = intercept + slope × HDD(balance); night base load; optional changes."""

    code: str
    floor_area_m2: float = 60.0
    heating_type: str = "electric"
    intercept_kwh: float = 6.0
    slope_kwh_per_degree_day: float = 1.2
    balance_c: float = 16.0
    base_load_w: float = 100.0
    growth_last_year: float = 0.0  # +0.2 = the last 365 days use 20 % more
    cut_from: date | None = None  # from this day on, use falls by cut_fraction
    cut_fraction: float = 0.0
    first_day: date | None = None  # measured only from this day (a newcomer)
    surge_from: date | None = None  # from this day on, use is multiplied by surge_factor (a fault)
    surge_factor: float = 1.0
    residence: str = "R1"
    # Electric radiators that heat by the hour's outdoor °C, nights included: slope / 24 per hour and degree
    # below the balance point (else the heating follows the household's day-time shape, and the night minimum
    # stays the base load all winter).
    heating_by_the_hour: bool = False


def daily_temperature(days: pd.DatetimeIndex, seed: int = 3) -> np.ndarray:
    """A French-like yearly cycle of daily mean °C with day-to-day noise."""
    rng = np.random.default_rng(seed)
    return 11.0 - 8.0 * np.cos(2 * np.pi * (days.day_of_year.to_numpy() - 15) / 365.25) + rng.normal(0, 2.5, len(days))


def home_daily_kwh(home: Home, days: pd.DatetimeIndex, temps: np.ndarray, today: date, seed: int) -> np.ndarray:
    """The home's true daily use with 5 % noise (NaN before it was measured)."""
    rng = np.random.default_rng(seed)
    kwh = home.intercept_kwh + home.slope_kwh_per_degree_day * np.maximum(home.balance_c - temps, 0.0)
    kwh = kwh * rng.normal(1.0, 0.05, len(days))
    naive = days.tz_localize(None) if days.tz is not None else days
    if home.growth_last_year:
        kwh = np.where(naive >= pd.Timestamp(today) - pd.Timedelta(days=365), kwh * (1 + home.growth_last_year), kwh)
    if home.cut_from is not None:
        kwh = np.where(naive >= pd.Timestamp(home.cut_from), kwh * (1 - home.cut_fraction), kwh)
    if home.surge_from is not None:
        kwh = np.where(naive >= pd.Timestamp(home.surge_from), kwh * home.surge_factor, kwh)
    if home.first_day is not None:
        kwh = np.where(naive >= pd.Timestamp(home.first_day), kwh, np.nan)
    return kwh


def quiet_hour_w(home: Home) -> float:
    """A home's household use beyond its base load in its quietest day-time hour that has any (W, 15 % noise allowed).

    A home heated by electricity has its standby measured on each unheated day's lowest hour outside the off-peak
    hours: its base load plus whatever the household drew that hour, at least the base load, at most this above it.
    """
    quiet_share = min(share for share in SHAPE[6:22] if share > 0)
    return 1000.0 * (home.intercept_kwh - 24 * home.base_load_w / 1000.0) * quiet_share * 1.15


@dataclass(frozen=True)
class Coop:
    """Ids of what was written."""

    residence_ids: dict[str, int]
    building_ids: dict[str, int]
    dwelling_ids: dict[str, int]
    meter_ids: dict[str, int]


def write_coop(settings: Settings, homes: list[Home], today: date, *, days: int = 731,
               temperature_residences: tuple[str, ...] | None = None, district: str = "Bacalan") -> Coop:
    """Registry, hourly consumption, outdoor temperature and daily rollups for ``days`` days before ``today``."""
    url = settings.database_url
    assert url is not None
    start = pd.Timestamp(today) - pd.Timedelta(days=days)
    local_days = pd.date_range(start, periods=days, freq="D", tz=TZ)
    temps = daily_temperature(local_days)
    residences = sorted({h.residence for h in homes})
    with_temperature = residences if temperature_residences is None else list(temperature_residences)
    with psycopg.connect(url) as conn:
        residence_ids, building_ids = {}, {}
        for code in residences:
            residence_ids[code] = conn.execute(
                "INSERT INTO residence (code, name, district) VALUES (%s, %s, %s) RETURNING id",
                (code, "Résidence " + code, district)).fetchone()[0]
            building_ids[code] = conn.execute(
                "INSERT INTO building (residence_id, code, name) VALUES (%s, 'A', %s) RETURNING id",
                (residence_ids[code], "Bâtiment " + code)).fetchone()[0]
        dwelling_ids, meter_ids = {}, {}
        for home in homes:
            dwelling_ids[home.code] = conn.execute(
                "INSERT INTO dwelling (building_id, code, floor_area_m2, heating_type) VALUES (%s, %s, %s, %s)"
                " RETURNING id", (building_ids[home.residence], home.code, home.floor_area_m2, home.heating_type),
            ).fetchone()[0]
            consent_to_all(conn, dwelling_ids[home.code])
            meter_ids[home.code] = conn.execute(
                "INSERT INTO meter (dwelling_id, kind, mode, source, installed_at, reporting_period_s)"
                " VALUES (%s, 'electricity', 'index', %s, %s, 1800) RETURNING id",
                (dwelling_ids[home.code], "elec-" + home.code, start.to_pydatetime().replace(tzinfo=UTC)),
            ).fetchone()[0]
        hours = pd.date_range(local_days[0], periods=len(local_days) * 24 + 2, freq="h", tz=TZ)
        hours = hours[hours < local_days[-1] + pd.Timedelta(days=1)]
        day_of_hour = (hours.normalize() - local_days[0]).days.to_numpy()
        hourly_c = temps[day_of_hour] + 3.0 * np.sin(2 * np.pi * (hours.hour.to_numpy() - 9) / 24)
        with conn.cursor().copy("COPY outdoor_temperature (residence_id, time, temperature_c) FROM STDIN") as copy:
            for code in with_temperature:
                for t, c in zip(hours, hourly_c):
                    copy.write_row((residence_ids[code], t.to_pydatetime(), float(c)))
        with conn.cursor().copy("COPY consumption_hourly (meter_id, hour, energy_kwh, estimated) FROM STDIN") as copy:
            for number, home in enumerate(homes):
                base_kwh = home.base_load_w / 1000.0
                if home.heating_by_the_hour:
                    rest = home_daily_kwh(replace(home, slope_kwh_per_degree_day=0.0), local_days, temps, today,
                                          seed=100 + number)
                    heating = home.slope_kwh_per_degree_day / 24.0 * np.maximum(home.balance_c - hourly_c, 0.0)
                    per_hour = base_kwh + heating + (rest[day_of_hour] - 24 * base_kwh) * SHAPE[hours.hour.to_numpy()]
                else:
                    daily = home_daily_kwh(home, local_days, temps, today, seed=100 + number)
                    per_hour = base_kwh + (daily[day_of_hour] - 24 * base_kwh * 1.0) * SHAPE[hours.hour.to_numpy()]
                for t, value in zip(hours, per_hour):
                    if np.isfinite(value):
                        copy.write_row((meter_ids[home.code], t.to_pydatetime(), float(value), False))
        conn.commit()
    refresh_rollups(url, settings, since=local_days[0].to_pydatetime() - timedelta(days=1),
                    until=datetime.combine(today, datetime.min.time(), tzinfo=UTC) + timedelta(days=1))
    return Coop(residence_ids, building_ids, dwelling_ids, meter_ids)
