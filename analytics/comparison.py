"""Neighbourhood comparison of similar homes, published only when no household can be singled out.

Contract
--------
``compare_dwellings(dwellings, settings, published_before)`` takes a
*dwellings frame*, one row per dwelling for ONE period (the caller loops over
periods):

* ``dwelling_id`` (int), ``residence_id`` (int), ``district`` (str or None),
  ``floor_area_m2`` (float, m²), ``heating_type`` (str, as in ``dwelling``);
* ``normalised_energy_kwh``: the dwelling's weather-normalised use over the
  period, kWh (NaN = not known: the dwelling is left out and does not count
  towards k).

``published_before`` maps a group key to the members it had when this same
period was last published (from the results store); pass None the first time.
It returns :class:`ComparisonResult`: ``groups`` (one :class:`GroupFigures`
per group) and ``dwellings`` (a new frame: per dwelling its use, per m², its
group's figures and its percentile; NaN where withheld, with the reason).

Privacy rules, and why
----------------------
* Similar homes form a *partition*: each dwelling is in exactly one group
  (its residence's group for its floor-area band and heating type when that
  has at least k dwellings, otherwise the pool of its district's remaining
  dwellings of the same band and type). Overlapping published groups would let
  anyone subtract one sum from another.
* A group of fewer than k dwellings is never published (k defaults to 5).
* Every published figure is a function of only two sums of use — over the
  whole group and over one "efficient" set — and of floor-area sums:
  averages are ΣkWh/n and ΣkWh/Σm² (not a mean of ratios, which would weight
  each home by its own area and add independent equations), and the
  efficient-neighbours level is the same set's ΣkWh/count and ΣkWh/Σm².
* The efficient set is the ``max(ceil(20 % of n), k)`` homes using the least
  per m², published only when both that set and the rest (whose sum anyone can
  work out from the average and the efficient level) have at least k homes,
  so only in groups of 2k homes or more. Each of these two sums then rests on
  at least k homes, like the group's: a coalition of fewer than k − 1 members
  who pool their own values still learns only a sum over two or more others.
  (With 3 homes behind the efficient level of a 7-home group, two of them
  recovered the third's use exactly: issue 12.) ``min_efficient_homes`` can only
  raise that floor.
* If a group's membership changes while its period is still being published
  (a dwelling leaves or joins), the period's figures before and after would
  differ by exactly that dwelling's value: the group is withheld for the rest
  of the period (``membership_changed``). The same holds for a group taking
  members from another group already published for the period (a residence
  reaching k pulls its homes out of the district pool): two different sums
  over overlapping homes could be subtracted. A group of exactly k losing one
  member falls below k and is withheld anyway.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from analytics.frames import require_columns

DWELLING_COLUMNS = ("dwelling_id", "residence_id", "district", "floor_area_m2", "heating_type", "normalised_energy_kwh")


@dataclass(frozen=True)
class ComparisonSettings:
    """k-anonymity and similarity rules for neighbourhood comparisons."""

    min_group_size: int = 5  # k
    floor_area_bands_m2: tuple[float, ...] = (0.0, 35.0, 55.0, 75.0, 95.0, 120.0, math.inf)
    efficient_fraction: float = 0.20  # "efficient neighbours" = the lowest-using 20 %
    min_efficient_homes: int = 3  # a floor beside k: never fewer homes behind the efficient level (nor in the rest)

    @property
    def efficient_floor(self) -> int:
        """Fewest homes behind the efficient level, and in the rest of the group: k at least."""
        return max(self.min_efficient_homes, self.min_group_size)


@dataclass(frozen=True)
class GroupFigures:
    """Published (or withheld) figures of one group of similar homes for one period."""

    key: str
    member_count: int
    published: bool
    withheld_reason: str | None
    average_kwh: float | None
    average_kwh_per_m2: float | None
    efficient_kwh: float | None
    efficient_kwh_per_m2: float | None
    efficient_home_count: int | None
    # Internal, for the membership-change rule; never shown to households.
    members: frozenset[int] = field(default_factory=frozenset, repr=False)


@dataclass(frozen=True)
class ComparisonResult:
    """Groups' figures and each dwelling's place in its group."""

    groups: dict[str, GroupFigures]
    dwellings: pd.DataFrame

    def published_members(self) -> dict[str, frozenset[int]]:
        """Membership of the published groups, to pass back as ``published_before`` next run."""
        return {key: g.members for key, g in self.groups.items() if g.published}


def floor_area_band(floor_area_m2: pd.Series, bands_m2: tuple[float, ...]) -> pd.Series:
    """Label such as '55-75' for each floor area (m²)."""
    edges = np.asarray(bands_m2, dtype=float)
    position = np.clip(np.searchsorted(edges, floor_area_m2.to_numpy(dtype=float), side="right") - 1, 0, len(edges) - 2)
    labels = [f"{edges[i]:g}-{edges[i + 1]:g}" for i in range(len(edges) - 1)]
    return pd.Series(np.asarray(labels, dtype=object)[position], index=floor_area_m2.index)


def assign_groups(dwellings: pd.DataFrame, settings: ComparisonSettings = ComparisonSettings()) -> pd.Series:
    """Group key of each dwelling with known use: residence groups of ≥ k, else the district pool (a partition)."""
    require_columns(dwellings, ("residence_id", "district", "floor_area_m2", "heating_type"), "dwellings")
    band = floor_area_band(dwellings["floor_area_m2"], settings.floor_area_bands_m2)
    cell = band + "|" + dwellings["heating_type"].astype(str)
    residence_key = "residence:" + dwellings["residence_id"].astype(str) + "|" + cell
    district = dwellings["district"].astype(object)
    has_district = district.notna() & (district.astype(str).str.len() > 0)
    district_key = "district:" + district.astype(str) + "|" + cell
    known = _known(dwellings)
    sizes = residence_key[known].value_counts()
    large_enough = residence_key.map(sizes).fillna(0) >= settings.min_group_size
    key = residence_key.where(large_enough | ~has_district, district_key)
    return key.where(known, None)


def _known(dwellings: pd.DataFrame) -> pd.Series:
    if "normalised_energy_kwh" not in dwellings.columns:
        return pd.Series(True, index=dwellings.index)
    return pd.Series(np.isfinite(dwellings["normalised_energy_kwh"].to_numpy(dtype=float)), index=dwellings.index)


def efficient_set(energy_kwh: np.ndarray, floor_area_m2: np.ndarray, settings: ComparisonSettings) -> np.ndarray | None:
    """Positions of the homes using the least per m², or None when publishing their level could reveal one home."""
    n = len(energy_kwh)
    floor = settings.efficient_floor
    count = max(math.ceil(settings.efficient_fraction * n), floor)
    if n - count < floor:
        return None
    # Stable sort so ties give the same set on every run.
    return np.argsort(energy_kwh / floor_area_m2, kind="stable")[:count]


def percentile_rank(values: np.ndarray) -> np.ndarray:
    """Percentile of each value in its group: (below + half of equal, self included) / n × 100."""
    order = np.sort(values)
    below = np.searchsorted(order, values, side="left")
    not_above = np.searchsorted(order, values, side="right")
    return (below + 0.5 * (not_above - below)) / len(values) * 100.0


def compare_dwellings(
    dwellings: pd.DataFrame,
    settings: ComparisonSettings = ComparisonSettings(),
    published_before: Mapping[str, frozenset[int]] | None = None,
) -> ComparisonResult:
    """Per-group average, efficient-neighbours level and each dwelling's percentile, k-anonymity enforced."""
    require_columns(dwellings, DWELLING_COLUMNS, "dwellings")
    keys = assign_groups(dwellings, settings)
    energy = dwellings["normalised_energy_kwh"].to_numpy(dtype=float)
    area = dwellings["floor_area_m2"].to_numpy(dtype=float)
    per_m2 = energy / area
    ids = dwellings["dwelling_id"].to_numpy()

    n_rows = len(ids)
    figures = {column: np.full(n_rows, np.nan) for column in (
        "group_average_kwh", "group_average_kwh_per_m2", "efficient_kwh", "efficient_kwh_per_m2",
        "percentile", "percentile_per_m2")}
    published = np.zeros(n_rows, dtype=bool)
    withheld = np.where(keys.isna().to_numpy(), "no_normalised_use", None).astype(object)

    previous = dict(published_before or {})
    previous_group_of = {member: key for key, members in previous.items() for member in members}
    groups: dict[str, GroupFigures] = {}
    for key, positions in _positions(keys).items():
        members = frozenset(int(i) for i in ids[positions])
        n = len(positions)
        reason = None
        if n < settings.min_group_size:
            reason = "group_too_small"
        elif _membership_changed(key, members, previous, previous_group_of):
            reason = "membership_changed"
        if reason is not None:
            groups[key] = GroupFigures(key, n, False, reason, None, None, None, None, None, members)
            withheld[positions] = reason
            continue
        values = energy[positions]
        areas = area[positions]
        chosen = efficient_set(values, areas, settings)
        efficient_kwh = float(values[chosen].mean()) if chosen is not None else None
        efficient_m2 = float(values[chosen].sum() / areas[chosen].sum()) if chosen is not None else None
        average_m2 = float(values.sum() / areas.sum())
        groups[key] = GroupFigures(
            key, n, True, None,
            average_kwh=float(values.mean()),
            average_kwh_per_m2=average_m2,
            efficient_kwh=efficient_kwh,
            efficient_kwh_per_m2=efficient_m2,
            efficient_home_count=len(chosen) if chosen is not None else None,
            members=members,
        )
        figures["group_average_kwh"][positions] = values.mean()
        figures["group_average_kwh_per_m2"][positions] = average_m2
        figures["efficient_kwh"][positions] = np.nan if efficient_kwh is None else efficient_kwh
        figures["efficient_kwh_per_m2"][positions] = np.nan if efficient_m2 is None else efficient_m2
        figures["percentile"][positions] = percentile_rank(values)
        figures["percentile_per_m2"][positions] = percentile_rank(per_m2[positions])
        published[positions] = True
    out = pd.DataFrame({
        "dwelling_id": ids,
        "group_key": keys.to_numpy(dtype=object),
        "normalised_energy_kwh": energy,
        "normalised_energy_kwh_per_m2": per_m2,
        **figures,
        "published": published,
        "withheld_reason": withheld,
    })
    return ComparisonResult(groups, out)


def _membership_changed(
    key: str, members: frozenset[int], previous: dict[str, frozenset[int]], previous_group_of: dict[int, str]
) -> bool:
    """True when this period already published a different sum over any of these homes."""
    if key in previous and previous[key] != members:
        return True
    return any(previous[previous_group_of[m]] != members for m in members if m in previous_group_of)


def _positions(keys: pd.Series) -> dict[str, np.ndarray]:
    """Row positions of each group key (rows without a key are left out)."""
    codes, uniques = pd.factorize(keys, use_na_sentinel=True)
    keep = codes >= 0
    grouped = pd.Series(np.flatnonzero(keep)).groupby(codes[keep]).indices
    positions = np.flatnonzero(keep)
    return {str(uniques[c]): positions[rows] for c, rows in grouped.items()}
