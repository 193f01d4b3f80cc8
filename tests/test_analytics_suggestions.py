"""Savings suggestions: each € figure follows from the kWh (or m³) and the tariffs passed in."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest

from analytics import synthetic
from analytics.anomalies import Anomaly, AnomalyKind, Severity
from analytics.baseline import DailyBaselineModel, DailyModelParams
from analytics.suggestions import (
    SuggestionKind,
    Tariffs,
    suggest_base_load,
    suggest_drift,
    suggest_heating_setpoint,
    suggest_leak_repair,
)

TARIFFS = Tariffs(electricity_base_eur_per_kwh=0.25, gas_eur_per_kwh=0.11, water_eur_per_m3=4.0)


def _normal_year() -> pd.Series:
    days = synthetic.daily_index("2025-01-01", 365)
    return pd.Series(synthetic.temperature_c(days, seed=99, noise_c=0.0), index=days)


def _params(intercept_kwh: float, slope: float, balance_c: float = 16.0) -> DailyModelParams:
    days = synthetic.daily_index("2025-01-01", 365)
    fitted = DailyBaselineModel().fit(synthetic.daily_frame(days, 1)).params
    assert fitted is not None
    return dataclasses.replace(fitted, intercept_kwh=intercept_kwh, heating_kwh_per_degree_day=slope, heating_balance_c=balance_c,
                               cooling_balance_c=None, cooling_kwh_per_degree_day=0.0, model_type="heating")


def test_base_load_above_efficient_neighbours() -> None:
    suggestion = suggest_base_load(3, base_load_w=250.0, efficient_base_load_w=100.0, price_eur_per_kwh=0.25)
    assert suggestion is not None and suggestion.kind == SuggestionKind.BASE_LOAD
    assert suggestion.energy_kwh_per_year == pytest.approx(150.0 * 8760 / 1000)
    assert suggestion.cost_eur_per_year == pytest.approx(suggestion.energy_kwh_per_year * 0.25)
    assert suggestion.evidence["excess_w"] == 150.0
    cheaper = suggest_base_load(3, 250.0, 100.0, price_eur_per_kwh=0.125)
    assert cheaper is not None and cheaper.cost_eur_per_year == pytest.approx(suggestion.cost_eur_per_year / 2)
    assert suggest_base_load(3, base_load_w=110.0, efficient_base_load_w=100.0, price_eur_per_kwh=0.25) is None


def test_heating_setpoint_saves_seven_percent_of_heating() -> None:
    normal = _normal_year()
    params = _params(8.0, slope=1.2)
    suggestion = suggest_heating_setpoint(5, params, floor_area_m2=60.0, group_kwh_per_degree_day_per_m2=0.012,
                                          normal_temperature_c=normal, price_eur_per_kwh=TARIFFS.gas_eur_per_kwh)
    assert suggestion is not None and suggestion.kind == SuggestionKind.HEATING_SETPOINT
    heating_kwh = 1.2 * np.maximum(16.0 - normal.to_numpy(), 0).sum()
    assert suggestion.evidence["heating_kwh_per_year"] == pytest.approx(heating_kwh)
    assert suggestion.energy_kwh_per_year == pytest.approx(0.07 * heating_kwh)
    assert suggestion.cost_eur_per_year == pytest.approx(0.07 * heating_kwh * TARIFFS.gas_eur_per_kwh)
    # 1.2 / 60 = 0.02 kWh per K·day per m²: no suggestion when the group is as sensitive.
    assert suggest_heating_setpoint(5, params, 60.0, 0.02, normal, 0.11) is None


def test_drift_compares_both_years_on_the_same_weather() -> None:
    normal = _normal_year()
    previous = _params(8.0, slope=1.2)
    current = _params(9.0, slope=1.2)
    suggestion = suggest_drift(2, previous, current, normal, price_eur_per_kwh=0.25)
    assert suggestion is not None and suggestion.kind == SuggestionKind.DRIFT
    assert suggestion.energy_kwh_per_year == pytest.approx(365 * 1.0)
    assert suggestion.cost_eur_per_year == pytest.approx(365 * 0.25)
    assert suggest_drift(2, current, previous, normal, 0.25) is None


def test_leak_repair_priced_at_the_water_tariff() -> None:
    leak = Anomaly(AnomalyKind.WATER_LEAK, Severity.WARNING, 1, 2, pd.Timestamp("2025-03-01", tz="UTC"),
                   pd.Timestamp("2025-03-03", tz="UTC"), True, {"min_flow_l_per_h": 3.0})
    suggestion = suggest_leak_repair(2, leak, TARIFFS)
    assert suggestion is not None and suggestion.kind == SuggestionKind.LEAK
    assert suggestion.volume_m3_per_year == pytest.approx(3.0 * 8760 / 1000)
    assert suggestion.cost_eur_per_year == pytest.approx(3.0 * 8760 / 1000 * 4.0)
    spike = dataclasses.replace(leak, kind=AnomalyKind.SPIKE)
    assert suggest_leak_repair(2, spike, TARIFFS) is None
