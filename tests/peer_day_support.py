"""Homes with a known typical day, written as hourly consumption, for the similar-homes typical-day tests.

Every home uses ``scale × SHAPE[local hour]`` kWh in each hour of each day, so a group's true mean per
hour is the mean of its homes' scales times SHAPE, whatever days the window holds (DST days included).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

import numpy as np
import pandas as pd
import psycopg

from coopwatt.consent import COMPARISONS
from coopwatt.rollups import refresh_rollups
from coopwatt.settings import Settings
from tests.factories import consent_to_all

TZ = "Europe/Paris"
SHAPE = np.array([3, 2, 2, 2, 2, 3, 6, 12, 9, 5, 4, 4, 6, 5, 4, 4, 5, 7, 12, 15, 13, 10, 7, 4], dtype=float) / 100
ESTIMATED_KWH = 9.0  # what an estimated hour holds: far from any measured hour, so counting it would show


@dataclass(frozen=True)
class PeerHome:
    """A home's truth: where it is, how much it uses per hour (scale × SHAPE), what it consents to."""

    code: str
    residence: str
    scale: float
    comparisons: bool = True  # consents to neighbourhood comparisons
    days: int | None = None  # measured only on the last `days` days
    estimated_days: int = 0  # on this many days, 19:00 is an estimated hour instead


@dataclass
class PeerCoop:
    """Ids of what was written."""

    residence_ids: dict[str, int] = field(default_factory=dict)
    dwelling_ids: dict[str, int] = field(default_factory=dict)
    meter_ids: dict[str, int] = field(default_factory=dict)


def write_peer_homes(settings: Settings, homes: list[PeerHome], today: date, *, days: int = 70) -> PeerCoop:
    """Registry, consents and hourly electricity for ``days`` local days before ``today``, then the rollups."""
    url = settings.database_url
    assert url is not None
    coop = PeerCoop()
    first = today - timedelta(days=days)
    hours = pd.date_range(pd.Timestamp(first).tz_localize(TZ), pd.Timestamp(today).tz_localize(TZ), freq="h",
                          inclusive="left")
    local = hours.tz_convert(TZ)
    day_number = (local.normalize().tz_localize(None) - pd.Timestamp(first)).days.to_numpy()
    with psycopg.connect(url) as conn:
        buildings = {}
        for code in sorted({h.residence for h in homes}):
            coop.residence_ids[code] = conn.execute(
                "INSERT INTO residence (code, name, district) VALUES (%s, %s, 'Bacalan') RETURNING id",
                (code, "Résidence " + code)).fetchone()[0]
            buildings[code] = conn.execute(
                "INSERT INTO building (residence_id, code, name) VALUES (%s, 'A', %s) RETURNING id",
                (coop.residence_ids[code], "Bâtiment " + code)).fetchone()[0]
        for home in homes:
            dwelling = conn.execute(
                "INSERT INTO dwelling (building_id, code, floor_area_m2, heating_type) VALUES (%s, %s, 62, 'electric')"
                " RETURNING id", (buildings[home.residence], home.code)).fetchone()[0]
            coop.dwelling_ids[home.code] = dwelling
            consent_to_all(conn, dwelling, refused=() if home.comparisons else (COMPARISONS,))
            coop.meter_ids[home.code] = conn.execute(
                "INSERT INTO meter (dwelling_id, kind, mode, source, installed_at, reporting_period_s)"
                " VALUES (%s, 'electricity', 'index', %s, %s, 1800) RETURNING id",
                (dwelling, "elec-" + home.code, datetime.combine(first, datetime.min.time(), UTC)),
            ).fetchone()[0]
        with conn.cursor().copy("COPY consumption_hourly (meter_id, hour, energy_kwh, estimated) FROM STDIN") as copy:
            for home in homes:
                since = days - (home.days or days)
                for t, hour, day in zip(hours, local.hour, day_number):
                    if day < since:
                        continue
                    estimated = hour == 19 and day >= days - home.estimated_days
                    value = ESTIMATED_KWH if estimated else home.scale * SHAPE[hour]
                    copy.write_row((coop.meter_ids[home.code], t.to_pydatetime(), float(value), bool(estimated)))
        conn.commit()
    refresh_rollups(url, settings, since=datetime.combine(first - timedelta(days=1), datetime.min.time(), UTC),
                    until=datetime.combine(today + timedelta(days=1), datetime.min.time(), UTC))
    return coop


def true_mean(homes: list[PeerHome]) -> list[float]:
    """The group's true mean use per local hour of the day (kWh), before the card's rounding."""
    return [float(np.mean([h.scale for h in homes]) * SHAPE[hour]) for hour in range(24)]


def rounded_as_shown(values: list[float], truth: list[float]) -> bool:
    """Each value has at most two decimals and is the truth rounded to them (half a hundredth either way)."""
    return len(values) == len(truth) == 24 and all(
        round(v, 2) == v and abs(v - t) <= 0.005 + 1e-9 for v, t in zip(values, truth))
