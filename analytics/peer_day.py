"""Similar homes' typical day: the mean use per hour of the day of each group of similar homes, k-anonymous.

Contract
--------
``peer_day_profiles(homes, settings, published_before)`` takes a *homes frame*, one row per
dwelling with a typical day for ONE energy kind and window: ``dwelling_id``, ``residence_id``,
``district``, ``floor_area_m2``, ``heating_type`` (as in :mod:`analytics.comparison`) and
``mean_by_hour`` (24 floats: the home's mean use per local hour of the day over its measured
hours). It returns one :class:`PeerDay` per group.

Privacy rules, and why
----------------------
* The groups are the comparisons' partition (:func:`analytics.comparison.assign_groups`): a
  residence's homes of one floor-area band and heating type when they are k or more, else the
  district's remaining homes of that band and type. Each home is in one group only.
* A group's figure is one sum per hour over all its homes, divided by their number; no
  sub-aggregate (no "efficient" level) is published, so the comparisons' rule for such a sum
  applies: at least k homes, and a home that subtracts its own day learns only the mean of the
  k − 1 or more others.
* Figures leave rounded as the household's card shows them (``PROFILE_DIGITS``).
* Published figures never change for a window: a group whose members differ from those it was
  published with for the same window (or that takes homes from another group published for it)
  is withheld (``membership_changed``), as the comparisons do.
* The windows slide one day a night and overlap almost wholly, so two nights' means of one group
  whose members differ by one home give that home's day away (n·mean − (n−1)·mean'). A group is
  therefore withheld (``membership_changed``) while any publication of it over an overlapping window
  had members that differ from tonight's by fewer than k homes; it is published again once its
  members are back, or differ by k or more, or the windows no longer overlap.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from analytics.comparison import ComparisonSettings, assign_groups
from analytics.frames import require_columns

# Digits the household card shows per hour (dashboard.history_figures.HOUR_DIGITS): nothing finer leaves.
PROFILE_DIGITS = 2
HOURS = 24
# The household card's window: the last eight weeks (enough days for a steady mean, recent enough for habits).
WINDOW_DAYS = 56
# Fewer measured days behind an hour than this, and a home's typical day is neither drawn nor counted.
MIN_DAYS_PER_HOUR = 7


@dataclass(frozen=True)
class PeerDay:
    """One group's typical day for one kind and window, or why it is withheld."""

    key: str
    member_count: int
    published: bool
    withheld_reason: str | None
    mean_by_hour: tuple[float, ...] | None
    members: frozenset[int] = field(default_factory=frozenset, repr=False)


def peer_day_profiles(homes: pd.DataFrame, settings: ComparisonSettings = ComparisonSettings(),
                      published_before: Mapping[str, frozenset[int]] | None = None,
                      overlapping: Mapping[str, Collection[frozenset[int]]] | None = None) -> list[PeerDay]:
    """Each group's mean use per hour of the day, published only for k or more homes with an unchanged membership.

    ``published_before``: the members of each group already published for this window; ``overlapping``: the
    members each group was published with for the other windows that overlap this one.
    """
    require_columns(homes, ("dwelling_id", "residence_id", "district", "floor_area_m2", "heating_type",
                            "mean_by_hour"), "homes")
    if homes.empty:
        return []
    keys = assign_groups(homes, settings)
    profiles = np.array([np.asarray(p, dtype=float) for p in homes["mean_by_hour"]], dtype=float).reshape(-1, HOURS)
    ids = homes["dwelling_id"].to_numpy()
    previous = dict(published_before or {})
    previous_group_of = {member: key for key, members in previous.items() for member in members}
    out = []
    for key, positions in pd.Series(np.arange(len(keys))).groupby(keys.to_numpy()).groups.items():
        rows = np.asarray(positions, dtype=int)
        members = frozenset(int(i) for i in ids[rows])
        reason = None
        if len(rows) < settings.min_group_size:
            reason = "group_too_small"
        elif (key in previous and previous[key] != members) or any(
                previous[previous_group_of[m]] != members for m in members if m in previous_group_of):
            reason = "membership_changed"
        elif _isolates_fewer_than_k(members, (overlapping or {}).get(str(key), ()), settings.min_group_size):
            reason = "membership_changed"
        if reason is not None:
            out.append(PeerDay(str(key), len(rows), False, reason, None, members))
            continue
        mean = profiles[rows].mean(axis=0)
        out.append(PeerDay(str(key), len(rows), True, None,
                           tuple(round(float(v), PROFILE_DIGITS) for v in mean), members))
    return sorted(out, key=lambda p: p.key)


def _isolates_fewer_than_k(members: frozenset[int], others: Collection[frozenset[int]], k: int) -> bool:
    """Whether an overlapping window's publication differs from these members by 1 to k − 1 homes (a difference
    of the two means would show those homes' use)."""
    return any(0 < len(members ^ other) < k for other in others)
