"""Pure tests of one dwelling's nightly analysis: normalised months and the complete-month calendar."""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd
import pytest

from analytics.baseline import DailyBaselineModel
from analytics.degree_days import normal_year_temperature_c
from analytics.dwelling_year import DwellingInputs, analyse_dwelling, complete_months, monthly_normalised_kwh
from analytics.synthetic import daily_frame


def test_complete_months_are_the_whole_months_before_today():
    assert complete_months(date(2026, 11, 1), 3) == [date(2026, 8, 1), date(2026, 9, 1), date(2026, 10, 1)]
    assert complete_months(date(2026, 1, 15), 2) == [date(2025, 11, 1), date(2025, 12, 1)]


def _two_years(seed: int = 4) -> pd.DataFrame:
    days = pd.date_range("2024-11-01", periods=730, freq="D")
    return daily_frame(days, seed, intercept_kwh=7.0, heating_kwh_per_degree_day=1.4, heating_balance_c=16.0,
                       noise_kwh=0.0)


def test_a_month_normalised_with_the_true_model_is_its_use_in_normal_weather():
    frame = _two_years()
    normal = normal_year_temperature_c(frame["temperature_c"])
    params = DailyBaselineModel().fit(frame.iloc[365:]).params
    month = date(2026, 1, 1)
    got = monthly_normalised_kwh(frame["energy_kwh"], frame["temperature_c"], normal, params, [month])[month]
    days = pd.date_range("2026-01-01", "2026-01-31", freq="D")
    expected = (7.0 + 1.4 * np.maximum(16.0 - normal.reindex(days.day_of_year).to_numpy(), 0)).sum()
    assert got == pytest.approx(expected, rel=0.01)


def test_a_month_with_too_many_missing_days_is_left_out():
    frame = _two_years()
    energy = frame["energy_kwh"].copy()
    energy.loc["2026-01-01":"2026-01-05"] = np.nan  # 26 of 31 days: under 90 %
    params = DailyBaselineModel().fit(frame.iloc[365:]).params
    normal = normal_year_temperature_c(frame["temperature_c"])
    got = monthly_normalised_kwh(energy, frame["temperature_c"], normal, params, [date(2026, 1, 1), date(2026, 2, 1)])
    assert list(got) == [date(2026, 2, 1)]


def test_analyse_dwelling_fits_both_years_and_does_not_touch_its_inputs():
    frame = _two_years()
    frame.loc[frame.index >= "2025-11-01", "energy_kwh"] *= 1.2  # this year uses 20 % more
    daily, temps = frame["energy_kwh"].copy(), frame["temperature_c"].copy()
    inputs = DwellingInputs(1, date(2026, 11, 1), {"electricity": daily}, temps, normal_year_temperature_c(temps))
    year = analyse_dwelling(inputs, months=2, prices_eur_per_kwh={"electricity": 0.2})
    kind = year.kinds["electricity"]
    assert kind.qualified and kind.previous_params is not None
    assert kind.drift_fraction == pytest.approx(0.2, abs=0.01)
    assert [s.kind.value for s in year.suggestions] == ["drift"]
    assert year.suggestions[0].evidence["energy_kind"] == "electricity"
    assert sorted(kind.monthly_normalised_kwh) == [date(2026, 9, 1), date(2026, 10, 1)]
    pd.testing.assert_series_equal(daily, frame["energy_kwh"])
    pd.testing.assert_series_equal(temps, frame["temperature_c"])


def test_last_nights_model_type_is_kept_when_tonight_is_a_close_call():
    # Seed 105's weak heating (0.1 kWh per degree-day against 1.5 kWh of daily noise): fitted afresh, the year to
    # 2026-02-05 keeps a heating term and the year to two days later does not.
    days = pd.date_range("2025-01-01", periods=730, freq="D")
    frame = daily_frame(days, 105, intercept_kwh=9.0, heating_kwh_per_degree_day=0.1, noise_kwh=1.5)
    daily, temps = frame["energy_kwh"], frame["temperature_c"]
    night, two_days_later = date(2026, 2, 5), date(2026, 2, 7)
    first = analyse_dwelling(DwellingInputs(1, night, {"electricity": daily}, temps, None))
    afresh = analyse_dwelling(DwellingInputs(1, two_days_later, {"electricity": daily}, temps, None))
    kept = analyse_dwelling(DwellingInputs(1, two_days_later, {"electricity": daily}, temps, None,
                                           previous_model_types={"electricity": "heating"}))
    assert first.kinds["electricity"].params.model_type == "heating"
    assert afresh.kinds["electricity"].params.model_type == "intercept_only"
    assert kept.kinds["electricity"].params.model_type == "heating"
