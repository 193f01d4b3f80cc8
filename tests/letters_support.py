"""A residence for the letters and collective-progress tests: homes whose weather-normalised change is known.

Every home heats with electricity: 5 kWh a day plus 2 kWh per degree-day (18 °C). The baseline
season was mild (8 °C every day), this one is colder (6 °C), so a home that changed nothing uses
more kWh this season but exactly its normalised baseline. A home's ``change`` scales this season's
use, so its weather-normalised change is exactly that fraction. Use goes in as hourly consumption
(the whole day in its local-noon hour) and the product's rollup refresh builds the days.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import psycopg

from coopwatt.rollups import refresh_rollups
from coopwatt.settings import Settings, load_settings

PARIS = ZoneInfo("Europe/Paris")
BASE_KWH_PER_DAY = 5.0
SLOPE_KWH_PER_DD = 2.0
BALANCE_C = 18.0
BASELINE_TEMPERATURE_C = 8.0
THIS_SEASON_TEMPERATURE_C = 6.0
# Today in these tests: well inside the heating season that began on 1 October 2026.
TODAY = date(2026, 12, 5)
SEASON_START = date(2026, 10, 1)
BASELINE_START = date(2025, 10, 1)


@dataclass
class Residence:
    """What was seeded: ids by name."""

    residence_id: int
    buildings: dict[str, int] = field(default_factory=dict)
    dwellings: dict[str, int] = field(default_factory=dict)  # "A-1" → id
    meters: dict[str, int] = field(default_factory=dict)


def settings_for(url: str, **overrides: object) -> Settings:
    """Settings of these tests (Paris time, k = 5)."""
    return load_settings({}, database_url=url, timezone="Europe/Paris", **overrides)


def _hours_of(day: date) -> list[datetime]:
    start = datetime.combine(day, datetime.min.time(), tzinfo=PARIS)
    end = datetime.combine(day + timedelta(days=1), datetime.min.time(), tzinfo=PARIS)
    hours, at = [], start
    while at < end:
        hours.append(at)
        at = (at.astimezone(ZoneInfo("UTC")) + timedelta(hours=1)).astimezone(PARIS)
    return hours


def daily_use_kwh(temperature_c: float, change: float = 0.0) -> float:
    """A home's day at this temperature, scaled by its change."""
    return (BASE_KWH_PER_DAY + SLOPE_KWH_PER_DD * max(BALANCE_C - temperature_c, 0.0)) * (1 + change)


def seed_residence(url: str, homes: dict[str, list[float]], *, code: str = "PRO",
                   today: date = TODAY) -> Residence:
    """Buildings named by the keys, one home per change in their list; both seasons' days up to ``today``."""
    this_days = [SEASON_START + timedelta(days=n) for n in range((today - SEASON_START).days)]
    shift = (SEASON_START - BASELINE_START).days
    with psycopg.connect(url) as conn:
        residence_id = conn.execute("INSERT INTO residence (code, name, city) VALUES (%s, %s, 'Lyon') RETURNING id",
                                    (code, f"Résidence {code}")).fetchone()[0]  # type: ignore[index]
        seeded = Residence(residence_id)
        rows = []
        for building, changes in homes.items():
            seeded.buildings[building] = conn.execute(
                "INSERT INTO building (residence_id, code, name) VALUES (%s, %s, %s) RETURNING id",
                (residence_id, building, f"Bâtiment {building}")).fetchone()[0]  # type: ignore[index]
            for n, change in enumerate(changes, start=1):
                name = f"{building}-{n}"
                dwelling = conn.execute(
                    "INSERT INTO dwelling (building_id, code, floor_area_m2, heating_type) VALUES (%s, %s, 60, 'electric')"
                    " RETURNING id", (seeded.buildings[building], name)).fetchone()[0]  # type: ignore[index]
                meter = conn.execute(
                    "INSERT INTO meter (dwelling_id, kind, mode, source) VALUES (%s, 'electricity', 'index', %s)"
                    " RETURNING id", (dwelling, f"src-{code}-{name}")).fetchone()[0]  # type: ignore[index]
                seeded.dwellings[name], seeded.meters[name] = dwelling, meter
                conn.execute(
                    "INSERT INTO baseline (dwelling_id, energy_kind, period_start, period_end, qualified,"
                    " base_kwh_per_day, heating_kwh_per_degree_day, heating_balance_point_c)"
                    " VALUES (%s, 'electricity', %s, %s, true, %s, %s, %s)",
                    (dwelling, BASELINE_START, SEASON_START, BASE_KWH_PER_DAY, SLOPE_KWH_PER_DD, BALANCE_C))
                for day in this_days:
                    rows += _day_rows(meter, day, daily_use_kwh(THIS_SEASON_TEMPERATURE_C, change))
                    rows += _day_rows(meter, day - timedelta(days=shift), daily_use_kwh(BASELINE_TEMPERATURE_C))
        with conn.cursor().copy("COPY consumption_hourly (meter_id, hour, energy_kwh, volume_m3, estimated)"
                                " FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)
        for day in this_days:
            for at_day, temperature in ((day, THIS_SEASON_TEMPERATURE_C),
                                        (day - timedelta(days=shift), BASELINE_TEMPERATURE_C)):
                conn.execute("INSERT INTO outdoor_temperature VALUES (%s, %s, %s) ON CONFLICT DO NOTHING",
                             (residence_id, datetime.combine(at_day, datetime.min.time(), tzinfo=PARIS)
                              + timedelta(hours=12), temperature))
    settings = settings_for(url)
    for since in (BASELINE_START, SEASON_START):
        refresh_rollups(url, settings, datetime.combine(since, datetime.min.time(), tzinfo=PARIS) - timedelta(days=1),
                        datetime.combine(since + timedelta(days=(today - SEASON_START).days + 1), datetime.min.time(),
                                         tzinfo=PARIS))
    return seeded


def _day_rows(meter: int, day: date, energy_kwh: float) -> list[tuple[object, ...]]:
    return [(meter, hour, energy_kwh if hour.hour == 12 else 0.0, None, False) for hour in _hours_of(day)]
