"""Savings suggestions for one dwelling, each with kWh/year, €/year and the evidence.

Contract
--------
Each ``suggest_*`` function is pure and returns a :class:`Suggestion` or
None (nothing worth saying). Money comes only from the :class:`Tariffs`
passed in (€ per kWh or per m³, VAT included), so every € figure can be
traced to ``energy × price``. Inputs:

* ``suggest_base_load``: the dwelling's night base load (W, see
  ``base_load.night_base_load_w``) and its comparison group's published
  efficient-neighbours base load (W);
* ``suggest_heating_setpoint``: the dwelling's fitted :class:`DailyModelParams`,
  its floor area (m²), the group's typical heating sensitivity
  (kWh per K·day per m²) and a normal-year daily temperature series (°C);
* the off-peak tariff check is :mod:`analytics.offpeak` (it needs the contract and the tariff grid);
* ``suggest_drift``: last year's and this year's fitted models and a
  normal-year temperature series — both predicted on the same weather;
* ``suggest_leak_repair``: a ``water_leak`` :class:`Anomaly`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

import numpy as np
import pandas as pd

from analytics.anomalies import Anomaly, AnomalyKind
from analytics.baseline import DailyBaselineModel, DailyModelParams
from analytics.degree_days import heating_degree_days

HOURS_PER_YEAR = 8760.0


class SuggestionKind(StrEnum):
    """What the household could do; values are stored in the database."""

    BASE_LOAD = "base_load"
    HEATING_SETPOINT = "heating_setpoint"
    OFFPEAK_TARIFF = "offpeak_tariff"
    DRIFT = "drift"
    LEAK = "leak"


@dataclass(frozen=True)
class Tariffs:
    """Prices, VAT included (defaults are placeholders; the settings carry the cooperative's real tariffs)."""

    electricity_base_eur_per_kwh: float = 0.2016
    gas_eur_per_kwh: float = 0.1051
    heat_eur_per_kwh: float = 0.10
    water_eur_per_m3: float = 4.34


@dataclass(frozen=True)
class SuggestionThresholds:
    """When a suggestion is worth making."""

    base_load_margin: float = 0.20  # own base load above the efficient level by this fraction
    base_load_min_w: float = 20.0
    heating_margin: float = 0.20  # sensitivity per m² above the group's by this fraction
    setpoint_saving_fraction_per_c: float = 0.07  # ADEME: about 7 % of heating per °C lowered
    offpeak_min_saving_eur_per_year: float = 20.0
    offpeak_min_days: int = 28
    drift_min_fraction: float = 0.05
    min_saving_eur_per_year: float = 5.0


@dataclass(frozen=True)
class Suggestion:
    """One suggestion: estimated yearly saving in energy (kWh) or water (m³) and money (€), with evidence."""

    kind: SuggestionKind
    dwelling_id: int
    energy_kwh_per_year: float
    cost_eur_per_year: float
    evidence: dict[str, float] = field(default_factory=dict)
    volume_m3_per_year: float = 0.0


def suggest_base_load(
    dwelling_id: int, base_load_w: float, efficient_base_load_w: float, price_eur_per_kwh: float,
    thresholds: SuggestionThresholds = SuggestionThresholds(),
) -> Suggestion | None:
    """Always-on use above the efficient neighbours': the difference, all year round."""
    excess_w = base_load_w - efficient_base_load_w
    if excess_w < thresholds.base_load_min_w or base_load_w < efficient_base_load_w * (1 + thresholds.base_load_margin):
        return None
    kwh = excess_w * HOURS_PER_YEAR / 1000.0
    eur = kwh * price_eur_per_kwh
    if eur < thresholds.min_saving_eur_per_year:
        return None
    return Suggestion(SuggestionKind.BASE_LOAD, dwelling_id, kwh, eur, {
        "base_load_w": base_load_w, "efficient_base_load_w": efficient_base_load_w,
        "excess_w": excess_w, "price_eur_per_kwh": price_eur_per_kwh,
    })


def normal_year_heating_kwh(params: DailyModelParams, normal_temperature_c: pd.Series) -> float:
    """Heating kWh the model attributes to a normal year's weather."""
    if params.heating_balance_c is None:
        return 0.0
    hdd = heating_degree_days(normal_temperature_c.to_numpy(dtype=float), params.heating_balance_c)
    return float(params.heating_kwh_per_degree_day * np.nansum(hdd))


def suggest_heating_setpoint(
    dwelling_id: int, params: DailyModelParams, floor_area_m2: float, group_kwh_per_degree_day_per_m2: float,
    normal_temperature_c: pd.Series, price_eur_per_kwh: float,
    thresholds: SuggestionThresholds = SuggestionThresholds(),
) -> Suggestion | None:
    """Heating sensitivity above similar homes': lowering the set-point by 1 °C saves about 7 % of heating."""
    if params.heating_balance_c is None or floor_area_m2 <= 0:
        return None
    own = params.heating_kwh_per_degree_day / floor_area_m2
    if own <= group_kwh_per_degree_day_per_m2 * (1 + thresholds.heating_margin):
        return None
    heating_kwh = normal_year_heating_kwh(params, normal_temperature_c)
    kwh = heating_kwh * thresholds.setpoint_saving_fraction_per_c
    eur = kwh * price_eur_per_kwh
    if eur < thresholds.min_saving_eur_per_year:
        return None
    return Suggestion(SuggestionKind.HEATING_SETPOINT, dwelling_id, kwh, eur, {
        "kwh_per_degree_day_per_m2": own, "group_kwh_per_degree_day_per_m2": group_kwh_per_degree_day_per_m2,
        "heating_kwh_per_year": heating_kwh, "saving_fraction_per_c": thresholds.setpoint_saving_fraction_per_c,
        "price_eur_per_kwh": price_eur_per_kwh,
    })


def suggest_drift(
    dwelling_id: int, previous: DailyModelParams, current: DailyModelParams,
    normal_temperature_c: pd.Series, price_eur_per_kwh: float,
    thresholds: SuggestionThresholds = SuggestionThresholds(),
) -> Suggestion | None:
    """Weather-normalised use drifting upwards year on year (both years predicted on the same normal weather)."""
    weather = pd.DataFrame({"temperature_c": normal_temperature_c.to_numpy(dtype=float)})
    before = float(DailyBaselineModel.from_params(previous).predict(weather)["predicted_kwh"].sum())
    after = float(DailyBaselineModel.from_params(current).predict(weather)["predicted_kwh"].sum())
    if before <= 0:
        return None
    growth = after / before - 1.0
    if growth < thresholds.drift_min_fraction:
        return None
    kwh = after - before
    eur = kwh * price_eur_per_kwh
    if eur < thresholds.min_saving_eur_per_year:
        return None
    return Suggestion(SuggestionKind.DRIFT, dwelling_id, kwh, eur, {
        "previous_normal_year_kwh": before, "current_normal_year_kwh": after, "growth_fraction": growth,
        "price_eur_per_kwh": price_eur_per_kwh,
    })


def suggest_leak_repair(dwelling_id: int, leak: Anomaly, tariffs: Tariffs) -> Suggestion | None:
    """A water leak left running: its lowest continuous flow for a year, at the water price."""
    if leak.kind != AnomalyKind.WATER_LEAK:
        return None
    flow_l_per_h = leak.evidence.get("min_flow_l_per_h", 0.0)
    m3 = flow_l_per_h * HOURS_PER_YEAR / 1000.0
    if m3 <= 0:
        return None
    return Suggestion(SuggestionKind.LEAK, dwelling_id, 0.0, m3 * tariffs.water_eur_per_m3, {
        "min_flow_l_per_h": flow_l_per_h, "price_eur_per_m3": tariffs.water_eur_per_m3,
    }, volume_m3_per_year=m3)
