"""The standby figure of homes whose electricity heats, like-with-like groups and the consistency guard (pure core)."""

from __future__ import annotations

from dataclasses import replace
from datetime import date

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from analytics.anomalies import AnomalyThresholds
from analytics.base_load import night_base_load_w, unheated_base_load_w
from analytics.baseline import BaselineSettings
from analytics.dwelling_year import analyse_dwelling
from analytics.neighbour_suggestions import neighbour_suggestions
from analytics.standby import (
    STANDBY_NOT_MEASURED, StandbyMethod, heated_below_c, measure_standby, standby_reason, unheated_day_minima_w,
)
from analytics.suggestion_guard import relevant_use_kwh, within_use
from analytics.suggestions import Suggestion, SuggestionKind
from coopwatt.tariffs import load_tariff_grids
from tests.nightly_support import SHAPE
from tests.standby_support import TrueHome, home_inputs, weather_until

PRICES = {"electricity": 0.2016, "gas": 0.105}
AUTUMN = date(2026, 10, 1)  # eight weeks of August and September: many nights without heating
WINTER = date(2027, 1, 1)  # eight weeks of November and December: heated every day


# A home heated by electricity, with an off-peak water heater: both raise its night minimum.
HEATED = TrueHome(standby_w=80.0, slope_kwh_per_degree_day=3.0, balance_c=16.0, electric_heating=True,
                  water_heater_kwh_per_day=3.0)


def test_a_heated_homes_standby_is_measured_on_unheated_hours_only():
    weather = weather_until(AUTUMN)
    inputs = home_inputs(1, HEATED, AUTUMN, weather, seed=1)
    nights = night_base_load_w(inputs.hourly)
    # The data hold what misled the old figure: the median night minimum is far above the true standby.
    assert float(np.median(nights)) > HEATED.standby_w + 400.0
    standby = measure_standby(inputs.hourly, inputs.outdoor_c, 16.0)
    assert standby is not None and standby.method == StandbyMethod.UNHEATED_DAYS
    assert standby.windows >= standby.needed_windows == 7
    # Each day's lowest unheated hour holds the standby and whatever else ran that hour; never less.
    assert HEATED.standby_w - 1.0 <= standby.power_w <= HEATED.standby_w + 60.0


@pytest.mark.parametrize("today", [AUTUMN, date(2026, 6, 1), date(2026, 12, 1)])
def test_the_day_minima_are_the_rise_detectors_unheated_days_with_every_hour_counted(today: date):
    weather = weather_until(today)
    inputs = home_inputs(1, HEATED, today, weather, seed=5)
    limits = replace(AnomalyThresholds(), unheated_outdoor_c=16.0, unheated_excluded_hours=())
    expected = unheated_base_load_w(inputs.hourly, inputs.outdoor_c, limits)["base_load_w"].to_numpy()
    found = unheated_day_minima_w(inputs.hourly, inputs.outdoor_c, 16.0, limits.unheated_day_min_hours)
    assert len(found) == len(expected) > 0
    assert found == pytest.approx(expected)


def test_too_few_unheated_days_give_no_figure_and_say_why():
    weather = weather_until(WINTER)
    inputs = home_inputs(1, HEATED, WINTER, weather, seed=1)
    standby = measure_standby(inputs.hourly, inputs.outdoor_c, 16.0)
    assert standby is not None and standby.power_w is None and standby.method == StandbyMethod.NOT_MEASURED
    assert standby.windows < standby.needed_windows == 7
    assert measure_standby(inputs.hourly, None, 16.0) == replace(standby, windows=0)  # no °C: heated hours unknown
    reason = standby_reason(standby, 56)
    assert reason is not None and reason.code == STANDBY_NOT_MEASURED and not reason.blocking
    assert "hors période de chauffage" in reason.message_fr and f"n'en comptent que {standby.windows}" in reason.message_fr
    assert "outside the heating period" in reason.message_en and f"hold {standby.windows}" in reason.message_en


def test_a_home_whose_electricity_does_not_heat_is_measured_on_every_night():
    weather = weather_until(WINTER)
    inputs = home_inputs(1, TrueHome(standby_w=250.0), WINTER, weather, seed=2)
    standby = measure_standby(inputs.hourly, inputs.outdoor_c, None)
    assert standby is not None and standby.method == StandbyMethod.ALL_NIGHTS and standby.windows == 56
    assert standby.power_w == pytest.approx(250.0, abs=1.0)
    assert standby_reason(standby, 56) is None


def test_who_counts_as_heated_by_electricity():
    weather = weather_until(WINTER)
    year = analyse_dwelling(home_inputs(1, TrueHome(100.0, 2.0, 15.5), WINTER, weather, seed=3))
    params = year.kinds["electricity"].params
    assert params is not None and params.heating_balance_c is not None
    # Its electricity follows outdoor temperature: heated below its own balance point, whatever the registry says.
    assert heated_below_c(False, params) == params.heating_balance_c
    assert heated_below_c(True, None) == 18.0  # electric per the registry, no model yet: the rise detector's limit
    assert heated_below_c(False, None) is None


def test_the_nightly_core_stores_why_a_heated_home_has_no_standby():
    weather = weather_until(WINTER)
    inputs = home_inputs(1, HEATED, WINTER, weather, seed=4)
    year = analyse_dwelling(inputs, prices_eur_per_kwh=PRICES)
    assert year.base_load_w is None and year.standby is not None
    electricity = year.kinds["electricity"]
    assert electricity.qualified
    assert [r.code for r in electricity.reasons if r.code == STANDBY_NOT_MEASURED] == [STANDBY_NOT_MEASURED]
    # The year's use: every day measured here, so the last 365 days' sum.
    assert electricity.used_kwh_per_year == pytest.approx(float(inputs.daily["electricity"].iloc[-365:].sum()))


def _frame(rows: list[tuple[int, str, float, str]]) -> pd.DataFrame:
    return pd.DataFrame([{
        "dwelling_id": d, "energy_kind": "electricity", "residence_id": 1, "district": "X", "floor_area_m2": 60.0,
        "heating_type": heating, "normalised_energy_kwh": 5000.0, "base_load_w": w, "params": _NO_HEATING,
        "base_load_method": method, "base_load_windows": 20.0,
    } for d, heating, w, method in rows])


class _Params:
    heating_balance_c = None


_NO_HEATING = _Params()


def test_groups_compare_standby_figures_measured_the_same_way_only():
    # One group of similar homes: ten measured on every night (80–125 W), five measured on unheated days
    # (50–90 W) and one not measured. Mixed, the efficient level would be 68 W and eight of the ten would be
    # told to cut; apart, the five are too few to publish a level and the ten are compared among themselves.
    rows = [(i, "electric", 80.0 + 5 * i, StandbyMethod.ALL_NIGHTS.value) for i in range(10)]
    rows += [(100 + i, "electric", 50.0 + 10 * i, StandbyMethod.UNHEATED_DAYS.value) for i in range(5)]
    rows += [(200, "electric", float("nan"), StandbyMethod.NOT_MEASURED.value)]
    found = [s for s in neighbour_suggestions(_frame(rows), {}, PRICES) if s.kind == SuggestionKind.BASE_LOAD]
    assert {s.dwelling_id for s in found} == {6, 7, 8, 9}  # 110–125 W against the ten's efficient 90 W
    for s in found:
        assert s.evidence["efficient_base_load_w"] == pytest.approx(np.mean([80, 85, 90, 95, 100]))
        assert s.evidence["group_size"] == 10.0 and "unheated_days" not in s.evidence
    unheated = [(i, "electric", 60.0 + 2 * i, StandbyMethod.UNHEATED_DAYS.value) for i in range(9)]
    unheated += [(9, "electric", 400.0, StandbyMethod.UNHEATED_DAYS.value)]
    (high,) = [s for s in neighbour_suggestions(_frame(unheated), {}, PRICES) if s.kind == SuggestionKind.BASE_LOAD]
    assert high.dwelling_id == 9 and high.evidence["unheated_days"] == 20.0


def _suggestion(kind: SuggestionKind, kwh: float, **evidence: float) -> Suggestion:
    return Suggestion(kind, 1, kwh, kwh * 0.2, {**evidence, "energy_kind": "electricity"})  # type: ignore[dict-item]


def test_the_guard_refuses_savings_beyond_the_years_use():
    used = {(1, "electricity"): 7000.0}
    # A-03 of the seeded cooperative: 1,379.5 W "always on" is 12,085 kWh a year; the home used 7,000.
    a03 = _suggestion(SuggestionKind.BASE_LOAD, 8288.0, base_load_w=1379.5, efficient_base_load_w=433.4)
    fine = _suggestion(SuggestionKind.BASE_LOAD, 700.0, base_load_w=180.0, efficient_base_load_w=100.0)
    heating = _suggestion(SuggestionKind.HEATING_SETPOINT, 560.0, heating_kwh_per_year=8000.0)
    offpeak = _suggestion(SuggestionKind.OFFPEAK_TARIFF, 0.0)
    kept, refused = within_use([a03, fine, heating, offpeak], used)
    assert refused == [a03, heating] and kept == [fine, offpeak]
    assert relevant_use_kwh(a03) == pytest.approx(1379.5 * 8.76)
    # Use unknown: an energy saving cannot be checked, so it is not made; a tariff change still is.
    assert within_use([fine, offpeak], {}) == ([offpeak], [fine])


@st.composite
def _group(draw: st.DrawFn) -> tuple[date, list[TrueHome]]:
    today = draw(st.dates(date(2026, 1, 15), date(2026, 12, 31)))
    heated = draw(st.booleans())
    homes = [TrueHome(
        standby_w=draw(st.floats(30.0, 400.0)),
        slope_kwh_per_degree_day=draw(st.floats(1.0, 4.0)) if heated else draw(st.sampled_from([0.0, 0.0, 0.5])),
        balance_c=draw(st.floats(14.0, 18.0)),
        household_kwh_per_day=draw(st.floats(1.0, 8.0)),
        electric_heating=heated,
        water_heater_kwh_per_day=draw(st.sampled_from([0.0, 3.0, 6.0])) if heated else 0.0,
    ) for _ in range(10)]
    return today, homes


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_group())
def test_no_suggestion_saves_more_than_the_home_used(case):
    """Property: whatever the season, standby, heating and household use, every suggestion fits the year's use."""
    today, homes = case
    weather = weather_until(today)
    grids = load_tariff_grids()
    years = [analyse_dwelling(home_inputs(i, home, today, weather, seed=i), grids=grids, prices_eur_per_kwh=PRICES,
                              baseline=BaselineSettings())
             for i, home in enumerate(homes)]
    used = {(y.dwelling_id, k.kind): k.used_kwh_per_year for y in years for k in y.kinds.values()}
    rows = []
    for year, home in zip(years, homes):
        kind = year.kinds["electricity"]
        if kind.params is None:
            continue
        rows.append({"dwelling_id": year.dwelling_id, "energy_kind": "electricity", "residence_id": 1,
                     "district": "X", "floor_area_m2": 60.0, "heating_type": "electric" if home.electric_heating else "gas",
                     "normalised_energy_kwh": kind.normalised_kwh_per_year, "base_load_w": year.base_load_w,
                     "params": kind.params, "base_load_method": year.standby.method.value if year.standby else None,
                     "base_load_windows": float(year.standby.windows) if year.standby else np.nan})
    found = [s for y in years for s in y.suggestions]
    if rows:
        normal = {1: weather.normal_c}
        found += neighbour_suggestions(pd.DataFrame(rows).astype({"base_load_w": float}), normal, PRICES)
    kept, refused = within_use(found, used)
    assert refused == [], [(s.kind, s.energy_kwh_per_year, used[(s.dwelling_id, "electricity")]) for s in refused]
    for s in kept:
        if s.kind == SuggestionKind.BASE_LOAD:
            # Measured without heating or water heater: the standby plus at most an hour's household use.
            home = homes[s.dwelling_id]
            assert s.evidence["base_load_w"] <= home.standby_w + 1000.0 * home.household_kwh_per_day * 1.6 * max(SHAPE)
