"""Local calendar fields from one conversion are pandas' own, across DST changes, in every unit and zone."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from analytics.local_clock import LocalClock, local_midnights


@pytest.mark.parametrize("unit", ["s", "ms", "us", "ns"])
@pytest.mark.parametrize("tz", ["Europe/Paris", "America/Sao_Paulo", "UTC", None])
def test_fields_are_pandas_fields(unit: str, tz: str | None) -> None:
    # Two years of 30-minute steps, both DST changes of each year, and a date before 1970 (negative integers).
    index = pd.date_range("2024-01-01", "2025-12-31 23:30", freq="30min", tz=tz, unit=unit)
    index = index.append(pd.DatetimeIndex(["1969-12-31 23:15"], dtype=f"M8[{unit}]").tz_localize(tz))
    clock = LocalClock.of(index)
    np.testing.assert_array_equal(clock.hour, index.hour)
    np.testing.assert_array_equal(clock.minute % 60, index.minute)
    np.testing.assert_array_equal(clock.day_of_week, index.day_of_week)
    naive = index.tz_localize(None) if tz is not None else index
    np.testing.assert_array_equal(clock.day, naive.normalize().to_numpy().astype("datetime64[D]").astype(np.int64))


def test_midnights_are_normalize() -> None:
    index = pd.date_range("2025-03-28", "2025-11-02", freq="h", tz="Europe/Paris", name="hour")
    days = np.unique(LocalClock.of(index).day)
    expected = index.normalize().unique()
    pd.testing.assert_index_equal(local_midnights(days, index).rename("hour"), expected, exact=True)
