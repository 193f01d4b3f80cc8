"""Suggestions that compare a dwelling with similar homes: base load and heating set-point.

Contract
--------
``neighbour_suggestions(dwellings, normal_c_by_residence, tariffs_by_kind, settings)``
takes a *dwellings frame*, one row per (dwelling, energy kind) with a fitted
baseline: ``dwelling_id``, ``energy_kind``, ``residence_id``, ``district``,
``floor_area_m2``, ``heating_type``, ``normalised_energy_kwh``, ``base_load_w``
(electricity only, else NaN) and ``params`` (:class:`DailyModelParams`); optionally
``base_load_method`` (:class:`~analytics.standby.StandbyMethod`, default all nights) and
``base_load_windows`` (the nights or unheated days it was measured on).

Standby figures are compared like with like: the efficient level of a group is computed
separately over the homes measured on all nights and over those measured on unheated
days only (heated by electricity), each with its own k-anonymity check.

The neighbours' figures behind a suggestion are shown to the household, so they
follow the comparison's privacy rules: similar homes are the same partition as
:func:`analytics.comparison.assign_groups`; a group of fewer than k homes gives
nothing; the efficient base load is the mean over the efficient set (at least k
homes, and k more outside it: the kWh a suggestion shows is own − efficient); the typical heating sensitivity is Σ slope / Σ m² over at least k
homes with a heating term (a sum, not a median, which would be one home's value).
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd

from analytics.comparison import ComparisonSettings, assign_groups, efficient_set
from analytics.frames import require_columns
from analytics.standby import StandbyMethod
from analytics.suggestions import (
    Suggestion, SuggestionThresholds, suggest_base_load, suggest_heating_setpoint,
)

COLUMNS = ("dwelling_id", "energy_kind", "residence_id", "district", "floor_area_m2", "heating_type",
           "normalised_energy_kwh", "base_load_w", "params")


def neighbour_suggestions(
    dwellings: pd.DataFrame, normal_c_by_residence: dict[int, pd.Series], prices_eur_per_kwh: dict[str, float],
    settings: ComparisonSettings = ComparisonSettings(), thresholds: SuggestionThresholds = SuggestionThresholds(),
) -> list[Suggestion]:
    """Base-load and heating set-point suggestions from each dwelling's published-size group of similar homes."""
    require_columns(dwellings, COLUMNS, "dwellings")
    found: list[Suggestion] = []
    for kind, rows in dwellings.groupby("energy_kind", sort=True):
        rows = rows.reset_index(drop=True)
        keys = assign_groups(rows, settings)
        price = prices_eur_per_kwh.get(str(kind))
        if price is None:
            continue
        for _, positions in rows.groupby(keys).indices.items():
            if len(positions) < settings.min_group_size:
                continue
            group = rows.iloc[positions]
            if kind == "electricity":
                found += _base_load(group, price, settings, thresholds)
            found += _heating(group, normal_c_by_residence, price, settings, thresholds, str(kind))
    return found


def _base_load(group: pd.DataFrame, price: float, settings: ComparisonSettings,
               thresholds: SuggestionThresholds) -> list[Suggestion]:
    """Per way of measuring: standby above the efficient level of the homes measured the same way."""
    methods = (group["base_load_method"].astype(str).to_numpy() if "base_load_method" in group.columns
               else np.full(len(group), StandbyMethod.ALL_NIGHTS.value))
    windows = (group["base_load_windows"].to_numpy(dtype=float) if "base_load_windows" in group.columns
               else np.full(len(group), np.nan))
    base = group["base_load_w"].to_numpy(dtype=float)
    out = []
    for method in (StandbyMethod.ALL_NIGHTS, StandbyMethod.UNHEATED_DAYS):
        known = np.isfinite(base) & (methods == method.value)
        if known.sum() < settings.min_group_size:
            continue
        chosen = efficient_set(base[known], np.ones(int(known.sum())), settings)
        if chosen is None:
            continue
        efficient_w = float(base[known][chosen].mean())
        for dwelling_id, own_w, count in zip(group["dwelling_id"].to_numpy()[known], base[known], windows[known]):
            suggestion = suggest_base_load(int(dwelling_id), float(own_w), efficient_w, price, thresholds)
            if suggestion is None:
                continue
            if method == StandbyMethod.UNHEATED_DAYS:
                # The page and letter say the figure was measured outside the heating period, and on how many days.
                suggestion = replace(suggestion, evidence={**suggestion.evidence, "unheated_days": float(count)})
            out.append(_tagged(suggestion, "electricity", int(known.sum())))
    return out


def _heating(group: pd.DataFrame, normal_c_by_residence: dict[int, pd.Series], price: float,
             settings: ComparisonSettings, thresholds: SuggestionThresholds, kind: str) -> list[Suggestion]:
    heated = [(row.dwelling_id, row.residence_id, row.floor_area_m2, row.params) for row in group.itertuples()
              if row.params.heating_balance_c is not None and row.floor_area_m2 and row.floor_area_m2 > 0]
    if len(heated) < settings.min_group_size:
        return []
    typical = sum(p.heating_kwh_per_degree_day for *_, p in heated) / sum(area for _, _, area, _ in heated)
    out = []
    for dwelling_id, residence_id, area, params in heated:
        normal = normal_c_by_residence.get(int(residence_id))
        if normal is None:
            continue
        suggestion = suggest_heating_setpoint(int(dwelling_id), params, float(area), typical, normal, price, thresholds)
        if suggestion is not None:
            out.append(_tagged(suggestion, kind, len(heated)))
    return out


def _tagged(suggestion: Suggestion, kind: str, group_size: int) -> Suggestion:
    return replace(suggestion, evidence={**suggestion.evidence, "energy_kind": kind, "group_size": float(group_size)})
