"""The demo's households that turned their heating far down: something for the advisers' hardship list to find."""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Sequence

from coopwatt.simulator.hardship import OWN_HEATING
from coopwatt.simulator.residence import Residence

UNDER_HEATERS = 2  # at most this many, so the others of their group still give a normal median
UNDER_HEATING_KEEP = 0.3  # the share of its heating needs the household still heats
# A bit more than the signal's 90-day window before the live start: the whole recent window is cold-at-home,
# and the same days a year before (in the 400-day history) show how the household heated then.
UNDER_HEATING_LEAD_DAYS = 100


def _cell(floor_area_m2: float, heating_type: str) -> tuple[int, str]:
    """The comparison's cell (analytics.comparison): similar homes share floor-area band and heating type."""
    from analytics.comparison import ComparisonSettings

    return sum(floor_area_m2 >= edge for edge in ComparisonSettings().floor_area_bands_m2[1:]), heating_type


def plan_demo_under_heating(residences: Sequence[Residence], live_start: datetime, *, min_group_size: int,
                            avoid: set[tuple[str, str]]) -> list[tuple[str, str]]:
    """Turn one or two households down from ``UNDER_HEATING_LEAD_DAYS`` before the live start; return them.

    Chosen in a group of similar homes (same floor-area band and own heating) large enough for the signal
    to have ``min_group_size`` other homes to compare with; never a dwelling in ``avoid`` (injected faults,
    the load-curve refusal). None when no group is large enough (a small ``--dwellings``).
    """
    cells: dict[tuple[int, str], list[tuple[int, int]]] = defaultdict(list)
    for r_index, residence in enumerate(residences):
        for d_index, dwelling in enumerate(residence.dwellings):
            if dwelling.heating_type in OWN_HEATING:
                cells[_cell(dwelling.floor_area_m2, dwelling.heating_type)].append((r_index, d_index))
    chosen: list[tuple[str, str]] = []
    at_s = float(int((live_start - timedelta(days=UNDER_HEATING_LEAD_DAYS)).timestamp()))
    for members in sorted(cells.values(), key=len, reverse=True):
        room = min(UNDER_HEATERS, len(members) - min_group_size)  # each under-heater keeps k others to compare with
        for r_index, d_index in members:
            dwelling = residences[r_index].dwellings[d_index]
            if len(chosen) >= room or (dwelling.residence_code, dwelling.code) in avoid:
                continue
            residences[r_index].dwellings[d_index] = replace(dwelling, under_heating_from_s=at_s,
                                                             under_heating_keep=UNDER_HEATING_KEEP)
            chosen.append((dwelling.residence_code, dwelling.code))
        if chosen:
            break
    return chosen


def replay_under_heating(residences: Sequence[Residence], truth_path: Path) -> list[tuple[str, str]]:
    """An earlier run's under-heating households, from its ground truth, applied again to the same residence."""
    document = json.loads(truth_path.read_text(encoding="utf-8"))
    recorded = {(d["residence_code"], d["code"]): (d.get("under_heating_from_s"), d.get("under_heating_keep", 1.0))
                for d in document.get("dwellings", [])}
    chosen = []
    for residence in residences:
        for i, dwelling in enumerate(residence.dwellings):
            at_s, keep = recorded.get((dwelling.residence_code, dwelling.code), (None, 1.0))
            if at_s is not None:
                residence.dwellings[i] = replace(dwelling, under_heating_from_s=float(at_s), under_heating_keep=float(keep))
                chosen.append((dwelling.residence_code, dwelling.code))
    return chosen


def under_heating_day(residences: Sequence[Residence]) -> str | None:
    """The day (UTC) the demo's households turned their heating down, for the console."""
    instants = [d.under_heating_from_s for r in residences for d in r.dwellings if d.under_heating_from_s is not None]
    return datetime.fromtimestamp(min(instants), tz=UTC).strftime("%Y-%m-%d") if instants else None
