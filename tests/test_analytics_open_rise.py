"""An alerted base-load rise stays open while the load is on, even once the look-back holds nothing else."""

from __future__ import annotations

import numpy as np
import pandas as pd

from analytics.anomalies import AnomalyKind
from analytics.base_load import OpenRise, detect_base_load_rise, hold_open_rise

TZ = "Europe/Paris"
RISE_START = pd.Timestamp("2025-03-11 02:00", tz=TZ)


def _hourly(off_from: pd.Timestamp | None = None) -> pd.DataFrame:
    """100 W always on, household use 7:00–23:00, +200 W from RISE_START (until ``off_from``)."""
    hours = pd.date_range("2025-03-01", "2025-06-10", freq="h", inclusive="left", tz=TZ)
    rng = np.random.default_rng(3)
    day = (hours.hour >= 7) & (hours.hour < 23)
    power_w = 100.0 + rng.uniform(0.0, 15.0, len(hours)) + np.where(day, rng.uniform(50.0, 600.0, len(hours)), 0.0)
    on = hours >= RISE_START
    if off_from is not None:
        on &= hours < off_from
    power_w += np.where(on, 200.0, 0.0)
    return pd.DataFrame({"energy_kwh": power_w / 1000.0}, index=hours)


def _lookback(hourly: pd.DataFrame, days: int = 42) -> pd.DataFrame:
    return hourly[hourly.index >= hourly.index[-1] - pd.Timedelta(days=days)]


def test_a_rise_that_stays_on_is_held_open_once_it_is_the_usual_level() -> None:
    hourly = _hourly()
    found = detect_base_load_rise(hourly, 1, 2)
    assert [a.ongoing for a in found] == [True]  # over all of it, the rise shows and goes on
    alerted = OpenRise(found[0].start, found[0].evidence["reference_w"], found[0].evidence["rise_w"])
    # Seen through the job's 42-day look-back three months later, every night is raised: nothing stands out.
    recent = _lookback(hourly)
    assert not any(a.ongoing for a in detect_base_load_rise(recent, 1, 2))
    held = hold_open_rise(recent, 1, 2, alerted)
    assert held is not None and held.ongoing and held.kind == AnomalyKind.BASE_LOAD_RISE
    assert held.start == alerted.start
    assert abs(held.evidence["rise_w"] - 200.0) < 30.0 and held.evidence["reference_w"] == alerted.reference_w


def test_a_rise_whose_load_went_off_clears() -> None:
    hourly = _hourly(off_from=pd.Timestamp("2025-06-05 12:00", tz=TZ))
    alerted = OpenRise(RISE_START, 110.0, 200.0)
    assert hold_open_rise(_lookback(hourly), 1, 2, alerted) is None
    # Two quiet nights are not yet enough to say (three nights judge a rise): still on.
    hourly = _hourly(off_from=pd.Timestamp("2025-06-08 12:00", tz=TZ))
    assert hold_open_rise(_lookback(hourly), 1, 2, alerted) is not None


def test_an_electrically_heated_home_without_a_warm_day_keeps_its_alert_as_last_seen() -> None:
    hourly = _hourly()
    cold = pd.Series(5.0, index=hourly.index)  # no hour warm enough to judge: nothing says the load went
    alerted = OpenRise(RISE_START, 110.0, 200.0)
    held = hold_open_rise(_lookback(hourly), 1, 2, alerted, outdoor_c=cold)
    assert held is not None and held.ongoing
    assert (held.evidence["reference_w"], held.evidence["rise_w"], held.evidence["not_judged"]) == (110.0, 200.0, 1.0)
    assert "unheated_days" not in held.evidence  # the alert says it was not judged, not "seen over 0 days"
    warm = pd.Series(22.0, index=hourly.index)  # warm afternoons: judged, and the load is still on
    judged = hold_open_rise(_lookback(hourly), 1, 2, alerted, outdoor_c=warm)
    assert judged is not None and judged.evidence["unheated_days"] == 7.0
