"""Simulated homes' daily electricity and outdoor °C, straight from the physics: truth for checking weather models.

``daily_electricity(dwellings, seed, start, days)`` returns the dwellings (with their heating type, the ground
truth of whether their electricity follows the weather) and two frames indexed by local day (naive midnight),
one column per dwelling: the kWh drawn that day and the day's mean outdoor °C at its residence. No meters, no
readings, no database: what :func:`coopwatt.simulator.profiles.dwelling_flows` draws, hour by hour, summed.
"""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
import pandas as pd

from coopwatt.simulator.profiles import dwelling_flows
from coopwatt.simulator.residence import Dwelling, make_residences
from coopwatt.simulator.weather import outdoor_temperature_c


def daily_electricity(dwellings: int, seed: int, start: datetime, days: int,
                      timezone: str = "Europe/Paris") -> tuple[list[Dwelling], pd.DataFrame, pd.DataFrame]:
    """(dwellings, daily electricity kWh per dwelling, daily mean °C per dwelling) over ``days`` from ``start``."""
    residences = make_residences(dwellings, seed=seed)
    homes = [d for r in residences for d in r.dwellings]
    numbers = {r.code: n for n, r in enumerate(residences)}
    ends = pd.date_range(start.astimezone(UTC), periods=days * 24, freq="h") + pd.Timedelta(hours=1)
    weather = outdoor_temperature_c(ends, seed, np.array([numbers[d.residence_code] for d in homes]), timezone)
    flows = dwelling_flows(homes, ends, 3600, weather, seed, timezone)
    day = (ends - pd.Timedelta(hours=1)).tz_convert(timezone).normalize().tz_localize(None)
    energy = pd.DataFrame(flows.electricity_kwh.T, index=day).groupby(level=0).sum()
    temperature = pd.DataFrame(weather.T, index=day).groupby(level=0).mean()
    return homes, energy, temperature
