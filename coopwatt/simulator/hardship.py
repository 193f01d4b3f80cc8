"""Households that under-heat from some day on: the simulator's ground truth for the hardship signal."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from typing import Sequence

import numpy as np

from coopwatt.simulator.residence import Residence

# Heating a dwelling controls itself (collective heating is the building's).
OWN_HEATING = ("electric", "gas")


def plan_under_heating(residences: Sequence[Residence], start: datetime, end: datetime, seed: int, *,
                       share: float, keep: tuple[float, float] = (0.2, 0.4)) -> list[dict[str, object]]:
    """Turn ``share`` of the individually heated dwellings into under-heaters from a day in [start, end].

    Each chosen household heats only 20–40 % (``keep``) of what it needs from that instant on, as a
    thermostat turned far down would. The residences' dwellings are replaced in place; returns the
    ground truth (dwelling, residence, from, keep) sorted by dwelling code.
    """
    if not 0.0 <= share <= 1.0:
        raise ValueError(f"share must be within [0, 1] (got {share})")
    rng = np.random.default_rng([seed, 0x4EA7])
    truth = []
    for residence in residences:
        for i, dwelling in enumerate(residence.dwellings):
            if dwelling.heating_type not in OWN_HEATING or rng.random() >= share:
                continue
            at_s = float(int(rng.uniform(start.timestamp(), end.timestamp())))  # whole seconds: exact in JSON
            kept = round(float(rng.uniform(*keep)), 3)
            residence.dwellings[i] = replace(dwelling, under_heating_from_s=at_s, under_heating_keep=kept)
            truth.append({"dwelling_code": dwelling.code, "residence_code": residence.code,
                          "from": datetime.fromtimestamp(at_s, tz=UTC).isoformat(), "keep": kept})
    return sorted(truth, key=lambda item: str(item["dwelling_code"]))
