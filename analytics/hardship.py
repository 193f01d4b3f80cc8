"""Homes that may be in energy hardship: under-heating, a sharp fall after a price rise, unusual costs.

Contract
--------
``heating_figures(daily, today, settings)`` takes one dwelling's *daily frame* of
its heating energy (``energy_kwh`` per local day, NaN where the day was missing,
estimated or suspect; ``temperature_c``) and returns :class:`HeatingFigures`: heating
kWh per degree-day over the cold days of the last ``window_days`` and of the same
days a year before, and before/after each price rise, each with its coverage.

``flag_hardship(dwellings, settings, comparison)`` takes one row per dwelling
(``dwelling_id``, ``residence_id``, ``district``, ``floor_area_m2``,
``heating_type``, ``figures`` (HeatingFigures or None) and ``yearly_cost_eur``
(NaN when unknown)) and returns one :class:`HardshipFlag` per signal raised.

Heating kWh per degree-day is the weather-normalised measure of the baselines
(analytics.baseline): (use − the home's warm-day base use) / HDD(16 °C), summed over
cold days only. Similar homes are the comparison's partition (analytics.comparison).

What it cannot say: why. A low figure fits a household going cold to pay its bills,
but also an empty home, a household away, new insulation or a second heat source.
The flag is a reason for an adviser to ask, never a finding.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta

import numpy as np
import pandas as pd

from analytics.comparison import ComparisonSettings, assign_groups
from analytics.degree_days import heating_degree_days
from analytics.frames import require_columns

BALANCE_C = 16.0  # the degree-day base the figures are stated in
WARM_MIN_C = 18.0  # days this warm carry no heating: their median use is the home's base
MIN_WARM_DAYS = 10
UNDER_HEATING = "under_heating"
AFTER_TARIFF_RISE = "after_tariff_rise"
HIGH_COST = "high_cost"
SIGNALS = (UNDER_HEATING, AFTER_TARIFF_RISE, HIGH_COST)


@dataclass(frozen=True)
class HardshipSettings:
    """Thresholds of the signal (coopwatt.settings: hardship_*)."""

    window_days: int = 90
    cold_min_degree_days: float = 4.0
    min_cold_days: int = 20
    min_coverage: float = 0.8
    peer_ratio_max: float = 0.5
    own_ratio_max: float = 0.6
    tariff_rise_dates: tuple[date, ...] = ()
    tariff_window_days: int = 45
    tariff_drop_ratio_max: float = 0.6
    cost_ratio_min: float = 1.8


@dataclass(frozen=True)
class Window:
    """Heating kWh per degree-day over the cold days of [start, end), and how many of them were measured."""

    start: date
    end: date
    kwh_per_degree_day: float | None  # None: too few measured cold days
    cold_days: int
    measured_cold_days: int

    def to_dict(self) -> dict[str, object]:
        """JSON form for the stored evidence."""
        return {"start": self.start.isoformat(), "end": self.end.isoformat(),
                "kwh_per_degree_day": None if self.kwh_per_degree_day is None else round(self.kwh_per_degree_day, 4),
                "cold_days": self.cold_days, "measured_cold_days": self.measured_cold_days}


@dataclass(frozen=True)
class HeatingFigures:
    """One dwelling's heating figures: this winter's window, the same window a year before, around price rises."""

    base_kwh: float | None
    current: Window | None
    previous: Window | None
    tariff: tuple[tuple[date, Window, Window], ...] = ()  # (rise day, before, after)


@dataclass(frozen=True)
class HardshipFlag:
    """One signal raised for one dwelling, with the figures behind it."""

    dwelling_id: int
    signal: str
    evidence: dict[str, object] = field(default_factory=dict)


def _window(energy: pd.Series, hdd: pd.Series, base_kwh: float, start: date, end: date,
            s: HardshipSettings) -> Window:
    days = (energy.index >= pd.Timestamp(start)) & (energy.index < pd.Timestamp(end))
    cold = days & (hdd.to_numpy() >= s.cold_min_degree_days)
    measured = cold & np.isfinite(energy.to_numpy(dtype=float))
    n_cold, n_measured = int(cold.sum()), int(measured.sum())
    value = None
    if n_cold and n_measured >= s.min_cold_days and n_measured / n_cold >= s.min_coverage:
        heating = float((energy.to_numpy(dtype=float)[measured] - base_kwh).sum())
        value = max(heating, 0.0) / float(hdd.to_numpy()[measured].sum())
    return Window(start, end, value, n_cold, n_measured)


def heating_figures(daily: pd.DataFrame, today: date, settings: HardshipSettings) -> HeatingFigures:
    """Heating kWh per degree-day in the compared windows; a window without comparable coverage has None."""
    require_columns(daily, ("energy_kwh", "temperature_c"), "daily")
    index = pd.DatetimeIndex(daily.index).tz_localize(None) if daily.index.tz is not None else daily.index
    energy = pd.Series(daily["energy_kwh"].to_numpy(dtype=float), index=index)
    temps = daily["temperature_c"].to_numpy(dtype=float)
    # A day without a temperature cannot be weather-normalised: treat its use as not measured.
    energy[~np.isfinite(temps)] = np.nan
    hdd = pd.Series(heating_degree_days(np.nan_to_num(temps, nan=BALANCE_C), BALANCE_C), index=index)
    warm = (np.nan_to_num(temps, nan=-99.0) >= WARM_MIN_C) & np.isfinite(energy.to_numpy())
    if warm.sum() < MIN_WARM_DAYS:
        return HeatingFigures(None, None, None)
    base = float(np.median(energy.to_numpy()[warm]))
    w = timedelta(days=settings.window_days)
    current = _window(energy, hdd, base, today - w, today, settings)
    previous = _window(energy, hdd, base, today - w - timedelta(days=365), today - timedelta(days=365), settings)
    tw = timedelta(days=settings.tariff_window_days)
    tariff = []
    for rise in settings.tariff_rise_dates:
        if today - timedelta(days=365) <= rise < today:
            tariff.append((rise, _window(energy, hdd, base, rise - tw, rise, settings),
                           _window(energy, hdd, base, rise, min(rise + tw, today), settings)))
    return HeatingFigures(base, current, previous, tuple(tariff))


def _peer_median(values: np.ndarray, groups: pd.Series, position: int, min_peers: int) -> tuple[float | None, int]:
    """Median of the other members of this dwelling's group with a known value, and how many there were."""
    key = groups.iloc[position]
    if key is None:
        return None, 0
    same = (groups == key).to_numpy() & np.isfinite(values)
    same[position] = False
    n = int(same.sum())
    return (float(np.median(values[same])), n) if n >= min_peers else (None, n)


def _per_m2(window: Window | None, area: float) -> float:
    if window is None or window.kwh_per_degree_day is None or not area > 0:
        return float("nan")
    return window.kwh_per_degree_day / area


def flag_hardship(dwellings: pd.DataFrame, settings: HardshipSettings,
                  comparison: ComparisonSettings = ComparisonSettings()) -> list[HardshipFlag]:
    """Every signal raised: under-heating, a sharp fall after a price rise, costs far above similar homes."""
    require_columns(dwellings, ("dwelling_id", "residence_id", "district", "floor_area_m2", "heating_type",
                                "figures", "yearly_cost_eur"), "dwellings")
    if dwellings.empty:
        return []
    frame = dwellings.reset_index(drop=True)
    area = frame["floor_area_m2"].to_numpy(dtype=float)
    groups = assign_groups(frame.drop(columns=[c for c in ("normalised_energy_kwh",) if c in frame]), comparison)
    now = np.array([_per_m2(f.current if f else None, a) for f, a in zip(frame["figures"], area)])
    before = np.array([_per_m2(f.previous if f else None, a) for f, a in zip(frame["figures"], area)])
    cost = frame["yearly_cost_eur"].to_numpy(dtype=float) / np.where(area > 0, area, np.nan)
    k = comparison.min_group_size
    tariff_ratios = _tariff_ratios(frame["figures"], settings.tariff_rise_dates)
    flags: list[HardshipFlag] = []
    for i, row in enumerate(frame.itertuples(index=False)):
        figures: HeatingFigures | None = row.figures
        dwelling_id = int(row.dwelling_id)
        peer_now, n_now = _peer_median(now, groups, i, k)
        if figures and np.isfinite(now[i]) and np.isfinite(before[i]) and peer_now and before[i] > 0:
            peer_ratio, own_ratio = now[i] / peer_now, now[i] / before[i]
            if peer_ratio <= settings.peer_ratio_max and own_ratio <= settings.own_ratio_max:
                flags.append(HardshipFlag(dwelling_id, UNDER_HEATING, {
                    "kwh_per_degree_day_per_m2": round(float(now[i]), 5),
                    "peer_median_kwh_per_degree_day_per_m2": round(peer_now, 5), "peers": n_now,
                    "peer_ratio": round(float(peer_ratio), 3), "own_ratio": round(float(own_ratio), 3),
                    "current": figures.current.to_dict(), "previous": figures.previous.to_dict(),  # type: ignore[union-attr]
                    "thresholds": {"peer_ratio_max": settings.peer_ratio_max, "own_ratio_max": settings.own_ratio_max},
                }))
        for rise, win_before, win_after in figures.tariff if figures else ():
            flag = _tariff_flag(dwelling_id, rise, win_before, win_after, tariff_ratios[rise], i, groups, settings, k)
            if flag is not None:
                flags.append(flag)
        peer_cost, n_cost = _peer_median(cost, groups, i, k)
        if np.isfinite(cost[i]) and peer_cost and cost[i] / peer_cost >= settings.cost_ratio_min:
            flags.append(HardshipFlag(dwelling_id, HIGH_COST, {
                "yearly_cost_eur": round(float(row.yearly_cost_eur), 2), "eur_per_m2": round(float(cost[i]), 3),
                "peer_median_eur_per_m2": round(peer_cost, 3), "peers": n_cost,
                "ratio": round(float(cost[i] / peer_cost), 3), "thresholds": {"cost_ratio_min": settings.cost_ratio_min},
            }))
    return flags


def _tariff_ratio(before: Window, after: Window) -> float | None:
    if before.kwh_per_degree_day is None or after.kwh_per_degree_day is None or before.kwh_per_degree_day <= 0:
        return None
    return after.kwh_per_degree_day / before.kwh_per_degree_day


def _tariff_ratios(figures: pd.Series, rises: tuple[date, ...]) -> dict[date, np.ndarray]:
    """Per price rise: each dwelling's after/before heating ratio (NaN where not comparable)."""
    out = {rise: np.full(len(figures), np.nan) for rise in rises}
    for j, item in enumerate(figures):
        for day, before, after in item.tariff if item else ():
            ratio = _tariff_ratio(before, after)
            out[day][j] = np.nan if ratio is None else ratio
    return out


def _tariff_flag(dwelling_id: int, rise: date, before: Window, after: Window, peer_ratios: np.ndarray, position: int,
                 groups: pd.Series, s: HardshipSettings, k: int) -> HardshipFlag | None:
    """A sharp fall after a price rise, when similar homes did not fall as much (not the weather model's doing)."""
    ratio = _tariff_ratio(before, after)
    if ratio is None or ratio > s.tariff_drop_ratio_max:
        return None
    peer, n = _peer_median(peer_ratios, groups, position, k)
    if peer is None or peer <= s.tariff_drop_ratio_max:
        return None  # too few comparable homes, or everyone fell: not this household's restriction
    return HardshipFlag(dwelling_id, AFTER_TARIFF_RISE, {
        "rise": rise.isoformat(), "ratio": round(ratio, 3), "peer_median_ratio": round(peer, 3), "peers": n,
        "before": before.to_dict(), "after": after.to_dict(),
        "thresholds": {"tariff_drop_ratio_max": s.tariff_drop_ratio_max},
    })


def settings_from(values: object) -> HardshipSettings:
    """HardshipSettings from coopwatt's Settings (hardship_* fields)."""
    get = lambda name: getattr(values, f"hardship_{name}")  # noqa: E731
    return HardshipSettings(
        window_days=get("window_days"), cold_min_degree_days=get("cold_min_degree_days"),
        min_cold_days=get("min_cold_days"), min_coverage=get("min_coverage"), peer_ratio_max=get("peer_ratio_max"),
        own_ratio_max=get("own_ratio_max"), tariff_rise_dates=tuple(date.fromisoformat(d) for d in get("tariff_rise_dates")),
        tariff_window_days=get("tariff_window_days"), tariff_drop_ratio_max=get("tariff_drop_ratio_max"),
        cost_ratio_min=get("cost_ratio_min"),
    )
