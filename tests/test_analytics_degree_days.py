"""Degree-days, daily mean temperature per local day, and the normal year."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from analytics import synthetic
from analytics.baseline import DailyBaselineModel, normalised_annual_kwh
from analytics.degree_days import (
    cooling_degree_days,
    daily_mean_temperature_c,
    heating_degree_days,
    normal_year_temperature_c,
)


def test_degree_days_for_one_and_many_balance_points() -> None:
    temps = np.array([-2.0, 10.0, 18.0, 25.0])
    np.testing.assert_allclose(heating_degree_days(temps, 16.0), [18.0, 6.0, 0.0, 0.0])
    np.testing.assert_allclose(cooling_degree_days(temps, 22.0), [0.0, 0.0, 0.0, 3.0])
    grid = heating_degree_days(temps, np.array([15.0, 16.0, 17.0]))
    assert grid.shape == (4, 3)
    np.testing.assert_allclose(grid[:, 1], heating_degree_days(temps, 16.0))


def test_daily_mean_uses_local_days_and_marks_sparse_days() -> None:
    # Hourly readings stored in UTC; the local day in Paris starts at 23:00 UTC in winter.
    times = pd.date_range("2025-01-05 23:00", periods=48, freq="h", tz="UTC")
    values = np.r_[np.full(24, 4.0), np.full(24, 8.0)]
    temperature = pd.Series(values, index=times)
    daily = daily_mean_temperature_c(temperature, "Europe/Paris")
    assert list(daily.index.strftime("%Y-%m-%d")) == ["2025-01-06", "2025-01-07"]
    np.testing.assert_allclose(daily.to_numpy(), [4.0, 8.0])
    sparse = daily_mean_temperature_c(temperature.iloc[:30], "Europe/Paris")
    assert sparse.iloc[0] == 4.0 and np.isnan(sparse.iloc[1])  # six hours of the second day are not enough


def test_normal_year_averages_years_and_smooths() -> None:
    days = synthetic.daily_index("2023-01-01", 3 * 365)
    temps = pd.Series(synthetic.temperature_c(days, seed=3), index=days)
    normal = normal_year_temperature_c(temps)
    assert len(normal) == 365 and not normal.isna().any()
    assert normal.iloc[10] < 5 < normal.iloc[200]  # January cold, July warm
    assert normal.diff().abs().max() < 1.0  # day-to-day noise of 3 °C smoothed away
    assert normal.mean() == pytest.approx(temps.mean(), abs=0.3)


def test_normalised_annual_kwh_sums_the_model_over_the_normal_year() -> None:
    days = synthetic.daily_index("2025-01-01", 365)
    daily = synthetic.daily_frame(days, 2)
    params = DailyBaselineModel().fit(daily).params
    assert params is not None
    normal = normal_year_temperature_c(daily["temperature_c"])
    expected = 365 * params.intercept_kwh + params.heating_kwh_per_degree_day * heating_degree_days(
        normal.to_numpy(), params.heating_balance_c).sum()
    assert normalised_annual_kwh(params, normal) == pytest.approx(expected)
