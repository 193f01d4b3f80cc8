"""A home's standby (always-on) power, measured only on hours that say something about it.

Contract
--------
``measure_standby(hourly, outdoor_c, heated_below_c, settings)`` is pure. ``hourly``: recent hourly
electricity (``energy_kwh``, tz-aware local index); ``outdoor_c``: the residence's outdoor °C by time
(tz-aware, any step). ``heated_below_c``: None for a home whose electricity does not heat (every night's
minimum is its standby, as before), else the outdoor °C below which it heats (its fitted baseline's
balance point, or :attr:`StandbySettings.default_balance_c` when no heating term was fitted).

A home whose electricity heats has its night minimum raised by the heating for half the year (a radiator
on at 3 a.m. is no always-on appliance) and, on an off-peak contract, by the water heater every night. Its
standby is measured on the hours the base-load rise detector judges such homes on
(:func:`analytics.base_load.unheated_base_load_w`): each day's lowest hour at an outdoor temperature at or
above the balance point (off-peak hours included: a water heater only makes an hour higher), then a low
quantile over the days (daytime household use only adds to the always-on load). With fewer than ``min_unheated_days`` such days in the window
it is not measured at all — no figure, no suggestion — and :func:`standby_reason` says why.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

import numpy as np
import pandas as pd

from analytics.anomalies import AnomalyThresholds
from analytics.base_load import night_base_load_w
from analytics.baseline import DailyModelParams
from analytics.sufficiency import Reason

STANDBY_NOT_MEASURED = "standby_not_measured"


class StandbyMethod(StrEnum):
    """How a standby figure was measured: only figures measured the same way are compared."""

    ALL_NIGHTS = "all_nights"
    UNHEATED_DAYS = "unheated_days"
    NOT_MEASURED = "not_measured"


@dataclass(frozen=True)
class StandbySettings:
    """When and how a heated home's standby is measured (the rise detector's unheated-hours rules)."""

    min_unheated_days: int = AnomalyThresholds().unheated_min_days
    min_unheated_hours: float = AnomalyThresholds().unheated_day_min_hours  # fewer in a day: that day is not judged
    # Household daytime use only adds to the always-on load: a low quantile of the days' minima, as the detector.
    unheated_quantile: float = AnomalyThresholds().unheated_reference_quantile
    # No heating term fitted yet the registry says electric: the outdoor °C no home heats at.
    default_balance_c: float = AnomalyThresholds().unheated_outdoor_c


@dataclass(frozen=True)
class Standby:
    """A home's standby power (W), how it was measured and over how many nights or unheated days."""

    power_w: float | None
    method: StandbyMethod
    windows: int
    needed_windows: int = 0


def heated_below_c(electric_heating: bool, params: DailyModelParams | None,
                   settings: StandbySettings = StandbySettings()) -> float | None:
    """Outdoor °C below which the home's electricity heats (None: it does not heat).

    Heated by electricity per the registry, or its daily electricity follows outdoor temperature (its
    fitted model has a heating term, e.g. an electric heater in a gas-heated home).
    """
    if params is not None and params.heating_balance_c is not None:
        return float(params.heating_balance_c)
    return settings.default_balance_c if electric_heating else None


def measure_standby(hourly: pd.DataFrame | None, outdoor_c: pd.Series | None, heated_below: float | None,
                    settings: StandbySettings = StandbySettings()) -> Standby | None:
    """The standby over the hours that can show it (None: no hourly data at all)."""
    if hourly is None or not len(hourly):
        return None
    if heated_below is None:
        nights = night_base_load_w(hourly)
        if not len(nights):
            return None
        return Standby(float(np.nanmedian(nights.to_numpy())), StandbyMethod.ALL_NIGHTS, len(nights))
    needed = settings.min_unheated_days
    if outdoor_c is None or not len(outdoor_c):
        return Standby(None, StandbyMethod.NOT_MEASURED, 0, needed)  # no temperature: heated hours unknown
    days = unheated_day_minima_w(hourly, outdoor_c, heated_below, settings.min_unheated_hours)
    if len(days) < needed:
        return Standby(None, StandbyMethod.NOT_MEASURED, len(days), needed)
    return Standby(float(np.quantile(days, settings.unheated_quantile)), StandbyMethod.UNHEATED_DAYS,
                   len(days), needed)


def unheated_day_minima_w(hourly: pd.DataFrame, outdoor_c: pd.Series, heated_below: float,
                          min_hours: float) -> np.ndarray:
    """Each local day's lowest power (W) over its hours at or above ``heated_below`` °C outdoors (days with fewer
    than ``min_hours`` such hours left out), as :func:`analytics.base_load.unheated_base_load_w` with no hour
    excluded: every hour counts, off-peak ones too, since a night water heater only makes an hour higher and
    the lowest is kept. In numpy: the nightly runs it for every heated home (pandas' grouping cost 30 ms each).
    """
    index = pd.DatetimeIndex(hourly.index).as_unit("ns")  # asi8 below counts nanoseconds
    energy = hourly["energy_kwh"].to_numpy(dtype=float)
    step_h = float(np.median(np.diff(index.asi8))) / 3.6e12 if len(index) > 1 else 1.0
    outdoor = pd.Series(outdoor_c).sort_index()
    outdoor = outdoor[~outdoor.index.duplicated()]
    # The temperature reported last before the hour began, if recent: a stale value says nothing.
    celsius = outdoor.reindex(index, method="ffill", tolerance=pd.Timedelta(hours=3)).to_numpy(dtype=float)
    with np.errstate(invalid="ignore"):
        kept = np.isfinite(energy) & (celsius >= heated_below)
    if not kept.any():
        return np.empty(0)
    local_day = index.tz_localize(None).asi8[kept] // 86_400_000_000_000 if index.tz is not None else \
        index.asi8[kept] // 86_400_000_000_000
    power_w = energy[kept] * 1000.0 / step_h
    starts = np.flatnonzero(np.r_[True, local_day[1:] != local_day[:-1]])  # hours come in time order
    counts = np.diff(np.r_[starts, len(local_day)])
    minima = np.minimum.reduceat(power_w, starts)
    return minima[counts * step_h >= min_hours]


def standby_reason(standby: Standby | None, window_days: int) -> Reason | None:
    """Why a heated home has no standby figure (stored with its electricity baseline for the page and letter)."""
    if standby is None or standby.method != StandbyMethod.NOT_MEASURED:
        return None
    return Reason(
        STANDBY_NOT_MEASURED,
        f"Standby use not measured: this home's electricity heats, so standby is measured outside the heating "
        f"period only, on days without heating, and the last {window_days} days hold "
        f"{standby.windows} (at least {standby.needed_windows} are needed).",
        f"Consommation de veille non mesurée : l'électricité chauffe ce logement, la veille est donc mesurée "
        f"hors période de chauffage, sur des jours sans chauffage, et les {window_days} "
        f"derniers jours n'en comptent que {standby.windows} (il en faut au moins {standby.needed_windows}).",
        {"unheated_days": float(standby.windows), "needed_days": float(standby.needed_windows),
         "window_days": float(window_days)},
        blocking=False,
    )
