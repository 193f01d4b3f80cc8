"""Daily baseline model and hour-of-week profile on synthetic data with known parameters."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from analytics import synthetic
from analytics.baseline import BaselineSettings, DailyBaselineModel, HourOfWeekProfile, predict_interval_kwh
from analytics.errors import InsufficientDataError, NotFittedError
from analytics.metrics import cv_rmse


@pytest.mark.parametrize(("seed", "balance_c", "slope", "intercept"), [(1, 16.0, 1.5, 8.0), (2, 14.0, 0.9, 5.0), (3, 17.5, 2.4, 12.0)])
def test_fit_recovers_heating_parameters(seed: int, balance_c: float, slope: float, intercept: float) -> None:
    days = synthetic.daily_index("2025-01-01", 365)
    daily = synthetic.daily_frame(days, seed, intercept_kwh=intercept, heating_kwh_per_degree_day=slope,
                                  heating_balance_c=balance_c, noise_kwh=1.0)
    params = DailyBaselineModel().fit(daily).params
    assert params is not None
    assert params.model_type == "heating"
    assert abs(params.heating_balance_c - balance_c) <= 1.0
    assert params.heating_kwh_per_degree_day == pytest.approx(slope, rel=0.05)
    assert params.intercept_kwh == pytest.approx(intercept, abs=0.1 * intercept)
    assert params.heating_p_value is not None and params.heating_p_value < 0.001
    assert params.n_days == 365
    assert params.usable


def test_fit_recovers_heating_and_cooling() -> None:
    days = synthetic.daily_index("2025-01-01", 365)
    temps = synthetic.temperature_c(days, seed=4, mean_c=14.0, amplitude_c=10.0)
    daily = synthetic.daily_frame(days, 4, intercept_kwh=7.0, heating_kwh_per_degree_day=1.2, heating_balance_c=15.0,
                                  cooling_kwh_per_degree_day=1.0, cooling_balance_c=21.0, noise_kwh=0.7, temperatures_c=temps)
    params = DailyBaselineModel().fit(daily).params
    assert params is not None
    assert params.model_type == "heating_cooling"
    assert abs(params.heating_balance_c - 15.0) <= 1.0
    assert abs(params.cooling_balance_c - 21.0) <= 1.0
    assert params.heating_kwh_per_degree_day == pytest.approx(1.2, rel=0.05)
    assert params.cooling_kwh_per_degree_day == pytest.approx(1.0, rel=0.10)


@pytest.mark.parametrize("seed", range(20, 30))
def test_weather_independent_use_gets_no_real_weather_term(seed: int) -> None:
    # CalTRACK tests each candidate at p < 0.1, so over a grid a spurious tiny term is sometimes kept;
    # what matters is that it explains next to nothing of the year's use.
    days = synthetic.daily_index("2025-01-01", 365)
    daily = synthetic.daily_frame(days, seed, intercept_kwh=9.0, heating_kwh_per_degree_day=0.0, noise_kwh=1.5)
    model = DailyBaselineModel().fit(daily)
    prediction = model.predict(daily)
    weather_share = (prediction["heating_kwh"].sum() + prediction["cooling_kwh"].sum()) / prediction["predicted_kwh"].sum()
    assert weather_share < 0.03
    if model.params is not None and model.params.model_type == "intercept_only":
        assert model.params.intercept_kwh == pytest.approx(daily["energy_kwh"].mean())


def test_negative_slope_is_not_kept() -> None:
    # Use that falls when it is cold (e.g. a holiday home) must not become a negative heating term.
    days = synthetic.daily_index("2025-01-01", 365)
    daily = synthetic.daily_frame(days, 6, intercept_kwh=20.0, heating_kwh_per_degree_day=-0.8, noise_kwh=0.5)
    params = DailyBaselineModel().fit(daily).params
    assert params is not None
    assert params.heating_balance_c is None or params.heating_kwh_per_degree_day > 0
    assert params.heating_kwh_per_degree_day >= 0 and params.cooling_kwh_per_degree_day >= 0


def test_fit_and_predict_leave_the_callers_frame_alone() -> None:
    days = synthetic.daily_index("2025-01-01", 365)
    daily = synthetic.daily_frame(days, 7)
    daily.iloc[10, 0] = np.nan
    before = daily.copy(deep=True)
    model = DailyBaselineModel().fit(daily)
    prediction = model.predict(daily)
    pd.testing.assert_frame_equal(daily, before)
    assert list(daily.columns) == ["energy_kwh", "temperature_c"]
    assert {"predicted_kwh", "base_kwh", "heating_kwh", "cooling_kwh", "observed_kwh", "residual_kwh"} <= set(prediction.columns)
    np.testing.assert_allclose(
        prediction["predicted_kwh"], prediction["base_kwh"] + prediction["heating_kwh"] + prediction["cooling_kwh"])
    np.testing.assert_allclose(
        prediction["residual_kwh"].dropna(), (prediction["observed_kwh"] - prediction["predicted_kwh"]).dropna())


def test_reported_cv_rmse_matches_the_predictions() -> None:
    days = synthetic.daily_index("2025-01-01", 365)
    daily = synthetic.daily_frame(days, 8)
    model = DailyBaselineModel().fit(daily)
    prediction = model.predict(daily)
    assert model.params is not None
    assert model.params.cv_rmse == pytest.approx(
        cv_rmse(prediction["observed_kwh"], prediction["predicted_kwh"], model.params.n_params))
    assert abs(model.params.nmbe) < 1e-9  # least squares with an intercept has no bias on its own data


def test_too_little_data_gives_reasons_not_a_model() -> None:
    days = synthetic.daily_index("2025-01-01", 120)
    model = DailyBaselineModel()
    with pytest.raises(InsufficientDataError) as caught:
        model.fit(synthetic.daily_frame(days, 9))
    codes = {r.code for r in caught.value.reasons}
    assert "period_too_short" in codes
    reason = next(r for r in caught.value.reasons if r.code == "period_too_short")
    assert reason.evidence["span_days"] == 120
    assert reason.message_fr and reason.message_en
    assert model.params is None
    with pytest.raises(NotFittedError):
        model.predict(synthetic.daily_frame(days, 9))


def test_too_little_temperature_gives_reasons_not_a_model() -> None:
    days = synthetic.daily_index("2025-01-01", 365)
    daily = synthetic.daily_frame(days, 10)
    daily.loc[daily.index[100:200], "temperature_c"] = np.nan
    with pytest.raises(InsufficientDataError) as caught:
        DailyBaselineModel().fit(daily)
    codes = {r.code for r in caught.value.reasons}
    assert "low_temperature_coverage" in codes
    assert "low_data_coverage" in codes
    temperature_reason = next(r for r in caught.value.reasons if r.code == "low_temperature_coverage")
    assert temperature_reason.evidence["temperature_fraction"] == pytest.approx(265 / 365)


def test_from_params_predicts_like_the_fitted_model() -> None:
    days = synthetic.daily_index("2025-01-01", 365)
    daily = synthetic.daily_frame(days, 11)
    model = DailyBaselineModel().fit(daily)
    assert model.params is not None
    rebuilt = DailyBaselineModel.from_params(type(model.params).from_dict(model.params.to_dict()))
    pd.testing.assert_frame_equal(rebuilt.predict(daily), model.predict(daily))


def test_custom_grid_is_respected() -> None:
    days = synthetic.daily_index("2025-01-01", 365)
    daily = synthetic.daily_frame(days, 12, heating_balance_c=16.0)
    settings = BaselineSettings(heating_balance_c=(12.0, 13.0), cooling_balance_c=(30.0,))
    params = DailyBaselineModel(settings).fit(daily).params
    assert params is not None and params.heating_balance_c in (12.0, 13.0)


def _two_weeks_of_intervals(step_minutes: int) -> pd.DataFrame:
    return synthetic.interval_frame("2025-03-03", 28, seed=13, step_minutes=step_minutes)


def test_hour_of_week_profile_spreads_each_day_exactly() -> None:
    intervals = _two_weeks_of_intervals(30)
    profile = HourOfWeekProfile().fit(intervals)
    assert profile.shares is not None and profile.shares.shape == (7, 48)
    np.testing.assert_allclose(profile.shares.sum(axis=1), 1.0)
    days = synthetic.daily_index("2025-03-31", 7)
    daily_kwh = pd.Series(np.arange(1.0, 8.0) * 3, index=days)
    index = pd.date_range("2025-03-31", periods=7 * 48, freq="30min", tz=synthetic.TIMEZONE)
    half_hourly = profile.distribute(daily_kwh, index)
    sums = half_hourly["predicted_kwh"].groupby(half_hourly.index.normalize()).sum()
    np.testing.assert_allclose(sums.to_numpy(), daily_kwh.to_numpy())
    hourly = profile.distribute(daily_kwh, index[::2])
    np.testing.assert_allclose(hourly["predicted_kwh"].to_numpy(),
                               half_hourly["predicted_kwh"].to_numpy().reshape(-1, 2).sum(axis=1))


def test_profile_predicts_unseen_weeks_within_guideline_14() -> None:
    history = synthetic.interval_frame("2025-04-07", 56, seed=14, step_minutes=30)
    profile = HourOfWeekProfile().fit(history.iloc[: 28 * 48])
    later = history.iloc[28 * 48:]
    daily_actual = later["energy_kwh"].groupby(later.index.normalize()).sum()
    predicted = profile.distribute(daily_actual, later.index)
    hourly_actual = later["energy_kwh"].to_numpy().reshape(-1, 2).sum(axis=1)
    hourly_predicted = predicted["predicted_kwh"].to_numpy().reshape(-1, 2).sum(axis=1)
    # The profile alone (given each day's total) must carry the intra-day shape: hourly CV(RMSE) ≤ 30 %.
    assert cv_rmse(hourly_actual, hourly_predicted, 0) < 0.30
    flat = np.repeat(daily_actual.to_numpy() / 24, 24)
    assert cv_rmse(hourly_actual, hourly_predicted, 0) < cv_rmse(hourly_actual, flat, 0)


def test_interval_prediction_combines_model_and_profile() -> None:
    days = synthetic.daily_index("2025-01-01", 365)
    model = DailyBaselineModel().fit(synthetic.daily_frame(days, 15))
    profile = HourOfWeekProfile().fit(_two_weeks_of_intervals(60))
    weather = pd.DataFrame({"temperature_c": [2.0, 18.0]}, index=synthetic.daily_index("2026-01-05", 2))
    index = pd.date_range("2026-01-05", periods=48, freq="h", tz=synthetic.TIMEZONE)
    hourly = predict_interval_kwh(model, profile, weather, index)
    daily = model.predict(weather)["predicted_kwh"].to_numpy()
    np.testing.assert_allclose(hourly["predicted_kwh"].to_numpy().reshape(2, 24).sum(axis=1), daily)
    assert daily[0] > daily[1]  # colder day, more heating
