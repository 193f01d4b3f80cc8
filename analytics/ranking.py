"""High consumers for energy advisers: weather-normalised kWh/m²/year against similar homes, with reasons.

Contract
--------
``rank_high_consumers(dwellings, settings)`` takes a *dwellings frame* (one
row per dwelling in the adviser's scope):

* ``dwelling_id``, ``residence_id``, ``district``, ``floor_area_m2`` (m²),
  ``heating_type`` — as for :mod:`analytics.comparison`;
* ``normalised_energy_kwh``: weather-normalised use over a normal year, kWh;
* optional ``base_load_w`` (standby, W; ``base_load_method`` says how it was measured,
  :class:`~analytics.standby.StandbyMethod`, and only figures measured the same way are
  compared), ``heating_kwh_per_degree_day``
  (the baseline's heating slope) and ``drift_fraction`` (year-on-year change of
  normalised use, 0.1 = +10 %), each adding a reason when it stands out.

It returns a new frame sorted from the highest ratio down: ``dwelling_id``,
``kwh_per_m2_year``, ``reference_kwh_per_m2_year`` (median of the reference
group), ``reference_group`` and its ``reference_size``, ``ratio``, ``rank``
(1 = highest), ``high`` (ratio ≥ threshold) and ``reasons`` (a tuple of
:class:`Reason`). Advisers are allowed to see identified dwellings, so the
reference may be any group of at least ``min_reference_size`` homes: the
comparison group if big enough, else the same band and heating type across the
scope, else the same heating type, else every home of a similar size (any
heating), else every home of the scope. A home compared with one of the wider
groups gets a ``reference_wider`` reason that says which, so that no home sits
at the end of the ranking merely because few homes resemble it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from analytics.comparison import ComparisonSettings, assign_groups, floor_area_band
from analytics.frames import require_columns
from analytics.sufficiency import Reason
from analytics.wording import fr_number, fr_percent


@dataclass(frozen=True)
class RankingSettings:
    """When a dwelling counts as a high consumer, and what makes a reason."""

    high_ratio: float = 1.5  # kWh/m²/year over the reference median
    min_reference_size: int = 5
    base_load_ratio: float = 1.5
    heating_ratio: float = 1.3  # heating slope per m² over the reference median
    drift_min_fraction: float = 0.10
    comparison: ComparisonSettings = ComparisonSettings()


def rank_high_consumers(dwellings: pd.DataFrame, settings: RankingSettings = RankingSettings()) -> pd.DataFrame:
    """Dwellings ranked by weather-normalised kWh/m²/year relative to similar homes, with reasons."""
    require_columns(dwellings, ("dwelling_id", "residence_id", "district", "floor_area_m2", "heating_type",
                                "normalised_energy_kwh"), "dwellings")
    frame = dwellings.loc[np.isfinite(dwellings["normalised_energy_kwh"].to_numpy(dtype=float))].copy()
    frame["kwh_per_m2_year"] = frame["normalised_energy_kwh"] / frame["floor_area_m2"]
    if "heating_kwh_per_degree_day" in frame.columns:
        frame["heating_per_m2"] = frame["heating_kwh_per_degree_day"] / frame["floor_area_m2"]
    band = floor_area_band(frame["floor_area_m2"], settings.comparison.floor_area_bands_m2)
    candidates = [
        assign_groups(frame, settings.comparison),
        "scope|" + band + "|" + frame["heating_type"].astype(str),
        "scope|" + frame["heating_type"].astype(str),
        "scope|" + band,
        pd.Series("scope", index=frame.index),
    ]
    # Each candidate grouping gives every home a median over ALL the homes of its group; the first grouping
    # whose group is big enough is the home's reference.
    chosen = pd.Series(False, index=frame.index)
    frame["reference_group"] = None
    frame["reference_size"] = 0
    frame["_reference_level"] = 0
    reference_columns = ["kwh_per_m2_year"] + [c for c in ("base_load_w", "heating_per_m2") if c in frame.columns]
    for column in reference_columns:
        frame[f"_median_{column}"] = np.nan
    for level, keys in enumerate(candidates):
        sizes = keys.map(keys.value_counts())
        take = ~chosen & (sizes >= settings.min_reference_size)
        if not take.any():
            continue
        by_group = frame.groupby(keys)
        frame.loc[take, "reference_group"] = keys[take]
        frame.loc[take, "reference_size"] = sizes[take]
        frame.loc[take, "_reference_level"] = level
        for column in reference_columns:
            frame.loc[take, f"_median_{column}"] = by_group[column].transform("median")[take]
        if "base_load_w" in frame.columns and "base_load_method" in frame.columns:
            # Like with like: a heated home's standby (unheated daytime hours) against homes measured that way.
            same_way = frame.groupby([keys, frame["base_load_method"].fillna("")])["base_load_w"]
            frame.loc[take, "_median_base_load_w"] = same_way.transform("median")[take]
        chosen |= take
    frame["reference_kwh_per_m2_year"] = frame["_median_kwh_per_m2_year"]
    frame["ratio"] = frame["kwh_per_m2_year"] / frame["reference_kwh_per_m2_year"]
    frame["reasons"] = [_reasons(row, settings) for row in frame.to_dict("records")]
    frame["high"] = frame["ratio"] >= settings.high_ratio
    frame = frame.sort_values("ratio", ascending=False, na_position="last")
    frame["rank"] = np.arange(1, len(frame) + 1)
    columns = ["dwelling_id", "kwh_per_m2_year", "reference_kwh_per_m2_year", "reference_group", "reference_size",
               "ratio", "rank", "high", "reasons"]
    return frame[columns].reset_index(drop=True)


def _reasons(row: dict[str, object], s: RankingSettings) -> tuple[Reason, ...]:
    reasons = []
    ratio = row["ratio"]
    if not np.isfinite(ratio):
        # Ranked last with no figure to compare: the adviser should know why, not guess.
        reasons.append(Reason(
            "no_reference_group",
            f"Fewer than {s.min_reference_size} homes in the whole scope: nothing to compare with.",
            f"Moins de {s.min_reference_size} logements dans tout le périmètre : pas de comparaison possible.",
            {"min_reference_size": float(s.min_reference_size)}, blocking=False))
    level = int(row.get("_reference_level", 0) or 0)
    if np.isfinite(ratio) and level > 0:
        reasons.append(_wider_reference(level, int(row["reference_size"]), s))
    if np.isfinite(ratio) and ratio >= s.high_ratio:
        reasons.append(Reason(
            "intensity_above_similar",
            f"Uses {ratio:.1f}× the typical kWh/m² of similar homes (weather-normalised).",
            f"Consomme {fr_number(ratio)} fois les kWh/m² habituels de logements similaires (corrigé du climat).",
            {"ratio": float(ratio), "kwh_per_m2_year": float(row["kwh_per_m2_year"]),
             "reference_kwh_per_m2_year": float(row["reference_kwh_per_m2_year"])}, blocking=False))
    base, base_ref = row.get("base_load_w", np.nan), row.get("_median_base_load_w", np.nan)
    if np.isfinite(base) and np.isfinite(base_ref) and base_ref > 0 and base >= s.base_load_ratio * base_ref:
        unheated = row.get("base_load_method") == "unheated_days"
        reasons.append(Reason(
            "base_load_above_similar",
            (f"Standby of {base:.0f} W on unheated hours against {base_ref:.0f} W typical." if unheated else
             f"Night base load of {base:.0f} W against {base_ref:.0f} W typical."),
            (f"Consommation de veille de {base:.0f} W hors période de chauffage contre {base_ref:.0f} W habituellement."
             if unheated else
             f"Consommation de veille nocturne de {base:.0f} W contre {base_ref:.0f} W habituellement."),
            {"base_load_w": float(base), "reference_w": float(base_ref)}, blocking=False))
    heat, heat_ref = row.get("heating_per_m2", np.nan), row.get("_median_heating_per_m2", np.nan)
    if np.isfinite(heat) and np.isfinite(heat_ref) and heat_ref > 0 and heat >= s.heating_ratio * heat_ref:
        reasons.append(Reason(
            "heating_sensitivity_above_similar",
            f"Heating needs {heat / heat_ref:.1f}× those of similar homes per degree-day and m².",
            f"Besoins de chauffage {fr_number(heat / heat_ref)} fois ceux de logements similaires par degré-jour et m².",
            {"kwh_per_degree_day_per_m2": float(heat), "reference": float(heat_ref)}, blocking=False))
    drift = row.get("drift_fraction", np.nan)
    if np.isfinite(drift) and drift >= s.drift_min_fraction:
        reasons.append(Reason(
            "upward_drift",
            f"Weather-normalised use up {drift:.0%} on last year.",
            f"Consommation corrigée du climat en hausse de {fr_percent(drift)} sur un an.",
            {"drift_fraction": float(drift)}, blocking=False))
    return tuple(reasons)


# Levels of the reference after the comparison group itself (level 0): what each compares with, in words.
_WIDER = {
    1: ("homes of the same size band and heating across the scope",
        "logements de même taille et même chauffage de tout le périmètre"),
    2: ("homes with the same heating across the scope", "logements au même chauffage de tout le périmètre"),
    3: ("homes of a similar size across the scope, any heating",
        "logements de taille similaire du périmètre, tous chauffages"),
    4: ("all homes of the scope", "tous les logements du périmètre"),
}


def _wider_reference(level: int, size: int, s: RankingSettings) -> Reason:
    """The reason that says which wider group a home was compared with, and why."""
    en, fr = _WIDER[min(level, 4)]
    return Reason(
        "reference_wider",
        f"Compared with the {size} {en} (fewer than {s.min_reference_size} closer matches).",
        f"Comparé aux {size} {fr} (moins de {s.min_reference_size} logements plus proches).",
        {"level": float(level), "reference_size": float(size), "min_reference_size": float(s.min_reference_size)},
        blocking=False)
