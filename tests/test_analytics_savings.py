"""Weather-normalised savings after an intervention, with an ASHRAE Guideline 14 band."""

from __future__ import annotations

import pandas as pd
import pytest

from analytics import synthetic
from analytics.errors import InsufficientDataError
from analytics.savings import SavingsSettings, estimate_savings


def _two_years(seed: int, cut_fraction: float) -> tuple[pd.DataFrame, pd.Timestamp]:
    days = synthetic.daily_index("2024-01-01", 731)
    daily = synthetic.daily_frame(days, seed, intercept_kwh=7.0, heating_kwh_per_degree_day=1.4, noise_kwh=1.0)
    intervention = days[366]
    after = daily.index >= intervention
    daily.loc[after, "energy_kwh"] = daily.loc[after, "energy_kwh"] * (1 - cut_fraction)
    return daily, intervention


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_a_ten_percent_cut_is_found_within_the_band(seed: int) -> None:
    daily, intervention = _two_years(seed, 0.10)
    before = daily.copy(deep=True)
    # A fixed seed turns a 90 % band into a coin that lands outside one time in ten; this test asks the
    # 99 % band, and the calibration of the default 90 % band is checked over many dwellings below.
    result = estimate_savings(daily, intervention, SavingsSettings(confidence=0.99))
    pd.testing.assert_frame_equal(daily, before)
    assert result.band_fraction > 0
    assert result.band_fraction < 0.03  # a year of daily data pins savings down to a few per cent
    assert abs(result.avoided_fraction - 0.10) <= result.band_fraction
    assert result.low_kwh < result.avoided_kwh < result.high_kwh
    assert result.reporting_days == 365
    assert result.avoided_kwh == pytest.approx(result.baseline_kwh - result.observed_kwh)
    assert result.confidence == 0.99


def test_the_band_holds_the_truth_about_as_often_as_it_claims() -> None:
    hits = 0
    trials = 100
    for seed in range(100, 100 + trials):
        daily, intervention = _two_years(seed, 0.10)
        result = estimate_savings(daily, intervention)
        hits += abs(result.avoided_fraction - 0.10) <= result.band_fraction
    # Nominal 90 %: with 100 trials, fewer than 83 hits would mean the band is too narrow.
    assert hits >= 83


def test_no_change_gives_a_band_around_zero() -> None:
    daily, intervention = _two_years(4, 0.0)
    result = estimate_savings(daily, intervention)
    assert result.low_kwh <= 0.0 <= result.high_kwh


def test_a_wider_confidence_gives_a_wider_band() -> None:
    daily, intervention = _two_years(5, 0.10)
    narrow = estimate_savings(daily, intervention, SavingsSettings(confidence=0.68))
    wide = estimate_savings(daily, intervention, SavingsSettings(confidence=0.95))
    assert wide.band_kwh > narrow.band_kwh
    assert wide.avoided_kwh == pytest.approx(narrow.avoided_kwh)


def test_too_short_a_baseline_gives_reasons() -> None:
    daily, _ = _two_years(6, 0.10)
    with pytest.raises(InsufficientDataError) as caught:
        estimate_savings(daily, daily.index[100])
    assert "period_too_short" in {r.code for r in caught.value.reasons}


def test_too_short_a_reporting_period_gives_reasons() -> None:
    daily, _ = _two_years(7, 0.10)
    with pytest.raises(InsufficientDataError) as caught:
        estimate_savings(daily, daily.index[-10])
    assert [r.code for r in caught.value.reasons] == ["reporting_period_too_short"]
    assert caught.value.reasons[0].evidence["reporting_days"] == 10
