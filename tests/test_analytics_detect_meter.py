"""The job's per-meter step (detect_meter) on frames as the job loads them: pure, no database."""

from __future__ import annotations

import numpy as np
import pandas as pd

from analytics.anomalies import AnomalyKind, AnomalyThresholds
from analytics.job.load import MeterInfo
from analytics.job.run import detect_meter

TZ = "Europe/Paris"
WATER = MeterInfo(meter_id=5, kind="water", dwelling_id=2, building_id=1, reporting_period_s=60, heating_type="gas")


def _leaking_water(last_reading: pd.Timestamp) -> tuple[pd.DataFrame, pd.DataFrame, pd.DatetimeIndex]:
    """A leak of 15 L/h for three days, read every minute to the litre, up to ``last_reading``.

    The hour holding the last reading has had a minute of it: not yet a litre, so it reads as no flow.
    """
    times = pd.date_range(last_reading - pd.Timedelta(days=3), last_reading, freq="min", tz=TZ)
    litres = np.floor((np.arange(len(times)) + 1) * 15.0 / 60.0)  # a litre shows every 4 minutes, at :00, :04…
    index = pd.DataFrame({"index_value": 1234.0 + litres / 1000.0}, index=times)
    # Each difference belongs to the hour its interval ends in (a reading at 14:00 closes 13:00–14:00).
    per_hour = index["index_value"].diff().iloc[1:].groupby((times[1:] - pd.Timedelta(1, "us")).floor("h")).sum()
    hourly = pd.DataFrame({"volume_m3": per_hour.to_numpy(), "energy_kwh": np.nan,
                           "estimated": 0.0}, index=per_hour.index)
    assert hourly["volume_m3"].iloc[-1] == 0.0 and (hourly["volume_m3"].iloc[1:-1] > 0).all()
    return hourly, index, times


def test_the_hour_still_filling_does_not_end_a_leak() -> None:
    """An incremental run a minute past the hour: the leak goes on, where a zero partial hour would end it."""
    last = pd.Timestamp("2026-12-04 14:01", tz=TZ)
    hourly, index, times = _leaking_water(last)
    found, checked = detect_meter(WATER, hourly, index, times, last + pd.Timedelta(minutes=1), AnomalyThresholds())
    leaks = [a for a in found if a.kind == AnomalyKind.WATER_LEAK]
    assert "water_leak" in checked
    assert len(leaks) == 1 and leaks[0].ongoing, leaks
