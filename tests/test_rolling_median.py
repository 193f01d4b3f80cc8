"""The spike detector's rolling medians give exactly pandas' floats (the detector's findings depend on them)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from analytics.rolling_median import centred_rolling_median, centred_rolling_median_at


def _values(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    """Rounded readings (many ties), some unknown (NaN), a few infinite (pandas reads those as unknown)."""
    values = np.round(rng.gamma(1.5, 0.2, shape), 2)
    values[rng.random(shape) < 0.1] = np.nan
    values[rng.random(shape) < 0.005] = np.inf
    values[rng.random(shape) < 0.005] = -np.inf
    return values


@pytest.mark.parametrize(("window", "min_periods"), [(7, 4), (3, 2), (8, 3), (168, 24), (1, 1)])
def test_columns_match_pandas_exactly(window: int, min_periods: int) -> None:
    rng = np.random.default_rng(window)
    grid = _values(rng, (200, 5))
    grid[:120, 0] = np.nan  # a column unknown at its start: windows below min_periods
    expected = pd.DataFrame(grid).rolling(window, center=True, min_periods=min_periods).median().to_numpy()
    got = centred_rolling_median(grid, window, min_periods)
    assert got.shape == expected.shape
    np.testing.assert_array_equal(got, expected)  # NaN where pandas has NaN, the same floats elsewhere
    assert np.isnan(got).any() and np.isfinite(got).any()


@pytest.mark.parametrize("length", [0, 5, 1000])
def test_positions_match_pandas_exactly(length: int) -> None:
    rng = np.random.default_rng(length)
    values = _values(rng, (length,))
    expected = pd.Series(values).rolling(168, center=True, min_periods=24).median().to_numpy()
    positions = np.sort(rng.choice(length, size=min(length, 60), replace=False)) if length else np.zeros(0, int)
    got = centred_rolling_median_at(values, 168, 24, positions)
    np.testing.assert_array_equal(got, expected[positions])
    np.testing.assert_array_equal(centred_rolling_median(values, 168, 24), expected)
