"""Each anomaly detector fires on its fault with the right kind and start, and stays silent on clean data."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest

from analytics import synthetic
from analytics.anomalies import (
    AnomalyKind,
    AnomalyThresholds,
    detect_above_baseline,
    detect_counter_reset,
    detect_frozen_index,
    detect_meter_silent,
    detect_spikes,
    detect_water_leak,
    interval_energy,
    interval_volumes,
)
from analytics.base_load import detect_base_load_rise, night_base_load_w, unheated_base_load_w
from analytics.baseline import DailyBaselineModel

TZ = synthetic.TIMEZONE
METER, DWELLING = 17, 4


def _ts(text: str) -> pd.Timestamp:
    return pd.Timestamp(text, tz=TZ)


# above_baseline ---------------------------------------------------------------------------------

def _daily_with_prediction(seed: int) -> tuple[pd.DataFrame, float]:
    year = synthetic.daily_frame(synthetic.daily_index("2025-01-01", 365), seed)
    model = DailyBaselineModel().fit(year)
    assert model.params is not None
    following = synthetic.daily_frame(synthetic.daily_index("2026-01-01", 120), seed + 50)
    prediction = model.predict(following)
    frame = pd.DataFrame({"energy_kwh": following["energy_kwh"], "predicted_kwh": prediction["predicted_kwh"]})
    return frame, model.params.rmse_kwh


def test_above_baseline_silent_on_clean_data() -> None:
    frame, rmse = _daily_with_prediction(1)
    assert detect_above_baseline(frame, rmse, METER, DWELLING) == []


def test_above_baseline_fires_on_a_run_of_high_days() -> None:
    frame, rmse = _daily_with_prediction(2)
    before = frame.copy(deep=True)
    faulty = frame.copy()
    faulty.iloc[40:50, 0] = faulty.iloc[40:50, 0] * 2.2
    found = detect_above_baseline(faulty, rmse, METER, DWELLING)
    assert len(found) == 1
    anomaly = found[0]
    assert anomaly.kind == AnomalyKind.ABOVE_BASELINE
    assert anomaly.start == frame.index[40]
    assert anomaly.end == frame.index[49] + pd.Timedelta(days=1)
    assert (anomaly.meter_id, anomaly.dwelling_id, anomaly.ongoing) == (METER, DWELLING, False)
    assert anomaly.evidence["days"] == 10 and anomaly.evidence["ratio"] > 1.5
    pd.testing.assert_frame_equal(frame, before)


# base_load_rise ---------------------------------------------------------------------------------

def test_base_load_silent_on_clean_data() -> None:
    intervals = synthetic.interval_frame("2025-04-07", 90, seed=3)
    assert detect_base_load_rise(intervals, METER, DWELLING) == []
    assert night_base_load_w(intervals).median() == pytest.approx(150, rel=0.1)


def test_base_load_rise_fires_from_the_first_night() -> None:
    intervals = synthetic.interval_frame("2025-04-07", 90, seed=4)
    fault_start = _ts("2025-05-20 01:00")
    faulty = intervals.copy()
    after = faulty.index >= fault_start
    faulty.loc[after, "energy_kwh"] += 0.300 * 0.5  # a 300 W always-on appliance, per 30 minutes
    found = detect_base_load_rise(faulty, METER, DWELLING)
    assert len(found) == 1
    anomaly = found[0]
    assert anomaly.kind == AnomalyKind.BASE_LOAD_RISE
    assert abs(anomaly.start - fault_start) <= pd.Timedelta(minutes=30)
    assert anomaly.ongoing
    assert anomaly.evidence["rise_w"] == pytest.approx(300, rel=0.1)


def _household_with_a_rise(rise_start: pd.Timestamp) -> pd.DataFrame:
    """30-minute energy: 100 W base, household use by day, +300 W from ``rise_start``; that day's use dips at 14:00."""
    periods = pd.date_range("2025-04-01", "2025-05-24", freq="30min", inclusive="left", tz=TZ)
    hour = periods.hour.to_numpy() + periods.minute.to_numpy() / 60.0
    use_w = np.select([(hour >= 7) & (hour < 8.5), (hour >= 18) & (hour < 21), (hour >= 8.5) & (hour < 23)],
                      [500.0, 600.0, 200.0], 0.0)
    # That afternoon: lunch until 13:30, then little (a phone charging), and nothing but the base load at 14:00.
    for text, watts in [("13:00", 250.0), ("13:30", 20.0), ("14:00", 0.0)]:
        use_w[periods.get_loc(pd.Timestamp(f"{rise_start.date()} {text}", tz=TZ))] = watts
    power_w = 100.0 + use_w + np.where(periods >= rise_start, 300.0, 0.0)
    return pd.DataFrame({"energy_kwh": power_w * 0.5 / 1000.0}, index=periods)


def test_base_load_rise_is_dated_back_to_the_last_low_period() -> None:
    """Daytime use hides an always-on load from the nights; the last period below base + half the rise bounds it."""
    rise_start = _ts("2025-05-14 14:30")  # a Wednesday
    per_period = _household_with_a_rise(rise_start)
    hourly = per_period.resample("h").sum()
    readings = synthetic.index_readings(per_period)

    found = detect_base_load_rise(hourly, METER, DWELLING, periods=interval_energy(readings))
    assert len(found) == 1
    assert found[0].start == rise_start
    assert found[0].evidence["rise_w"] == pytest.approx(300.0) and found[0].evidence["reference_w"] == pytest.approx(100.0)

    # Hourly energy alone: the hour 13:00-14:00 (235 W) is the last below 250 W, so the rise is dated to its end.
    hourly_only = detect_base_load_rise(hourly, METER, DWELLING)
    assert len(hourly_only) == 1
    assert hourly_only[0].start == _ts("2025-05-14 14:00")
    assert rise_start - pd.Timedelta(hours=1) <= hourly_only[0].start <= rise_start
    assert hourly_only[0].end == found[0].end and hourly_only[0].evidence == found[0].evidence

    # Periods that do not reach back to the last low one leave the hourly dating.
    recent = interval_energy(readings[readings.index >= _ts("2025-05-14 15:00")])
    assert detect_base_load_rise(hourly, METER, DWELLING, periods=recent)[0].start == hourly_only[0].start


def test_interval_energy_matches_the_counter() -> None:
    per_period = _household_with_a_rise(_ts("2025-05-14 14:30"))
    readings = synthetic.index_readings(per_period)
    energy = interval_energy(readings)
    assert list(energy.columns) == ["energy_kwh"]
    np.testing.assert_allclose(energy["energy_kwh"].to_numpy(), per_period["energy_kwh"].to_numpy()[1:], atol=1e-9)


def _electrically_heated(rise_start: pd.Timestamp | None, mean_c: float = 14.0, heats_below_c: float = 16.0,
                         busy_day_w: float = 0.0) -> tuple[pd.DataFrame, pd.Series]:
    """Hourly use of an electrically heated home in autumn, and the outdoor °C (warm afternoons, cold nights).

    Night heating follows the cold with a large day-to-day spread (a thermostat, doors opened), the always-on
    load is 100 W, household use 6:00–22:00 (``busy_day_w`` more all day every other day, someone at home)
    and +250 W from ``rise_start``.
    """
    hours = pd.date_range("2025-08-15", "2025-10-25", freq="h", inclusive="left", tz=TZ)
    rng = np.random.default_rng(7)
    day = (hours.normalize() - hours[0].normalize()).days.to_numpy()
    outdoor_c = mean_c - 0.05 * day + 7.0 * np.cos((hours.hour.to_numpy() - 15) / 24 * 2 * np.pi)
    spread = rng.lognormal(0.0, 0.35, day.max() + 1)[day]
    heating_w = 120.0 * np.maximum(heats_below_c - outdoor_c, 0.0) * spread
    use_w = np.where((hours.hour >= 6) & (hours.hour < 22), 60.0 + 200.0 * rng.random(len(hours)), 0.0)
    busy = day % 2 == 0
    use_w = use_w + np.where(busy & (use_w > 0), busy_day_w, 0.0)
    power_w = 100.0 + heating_w + use_w
    if rise_start is not None:
        power_w += np.where(hours >= rise_start, 250.0, 0.0)
    return pd.DataFrame({"energy_kwh": power_w / 1000.0}, index=hours), pd.Series(outdoor_c, index=hours)


def test_unheated_base_load_is_the_lowest_warm_daytime_hour() -> None:
    hourly, outdoor_c = _electrically_heated(None)
    days = unheated_base_load_w(hourly, outdoor_c)
    warm = (outdoor_c >= 18.0) & (hourly.index.hour >= 6) & (hourly.index.hour < 22)
    power_w = hourly["energy_kwh"] * 1000.0
    expected = power_w[warm].groupby(power_w[warm].index.normalize()).agg(["min", "size"])
    expected = expected[expected["size"] >= 4]
    assert list(days.index) == list(expected.index) and len(days) > 20
    np.testing.assert_allclose(days["base_load_w"].to_numpy(), expected["min"].to_numpy())
    assert (days["opens"].dt.hour >= 6).all() and (days["closes"] <= days.index + pd.Timedelta(hours=22)).all()
    # Colder weeks later in the autumn have no warm hour left: those days are not judged at all.
    assert days.index[-1] < hourly.index[-1].normalize() - pd.Timedelta(days=7)


def test_base_load_rise_in_an_electrically_heated_home_is_judged_on_unheated_hours() -> None:
    rise_start = _ts("2025-09-03 10:00")
    hourly, outdoor_c = _electrically_heated(rise_start)
    found = detect_base_load_rise(hourly, METER, DWELLING, outdoor_c=outdoor_c)
    assert len(found) == 1
    rise = found[0]
    assert rise.evidence["rise_w"] == pytest.approx(250.0, rel=0.3) and rise.evidence["unheated_days"] >= 6
    # Never after the rise began (only unheated hours can prove it was not yet on), and within a day of it.
    assert rise_start - pd.Timedelta(days=1) <= rise.start <= rise_start
    # The same home without a rise raises nothing, where judging its heated nights would.
    quiet, _ = _electrically_heated(None)
    assert detect_base_load_rise(quiet, METER, DWELLING, outdoor_c=outdoor_c) == []
    assert detect_base_load_rise(quiet, METER, DWELLING) != []


def test_an_electric_homes_busy_days_do_not_hide_a_rise() -> None:
    """Days at home lift a day's lowest hour: judged against the usual days' median, the rise would not show."""
    rise_start = _ts("2025-09-03 10:00")
    hourly, outdoor_c = _electrically_heated(rise_start, busy_day_w=150.0)
    found = detect_base_load_rise(hourly, METER, DWELLING, outdoor_c=outdoor_c)
    # Never after it began; the busy day and heated night before it hide the hour it did.
    assert len(found) == 1 and rise_start - pd.Timedelta(days=2) <= found[0].start <= rise_start
    # Level and reference are the same quantile of their days: the rise reported is the load added.
    assert found[0].evidence["rise_w"] == pytest.approx(250.0, rel=0.3)
    against_median = dataclasses.replace(AnomalyThresholds(), unheated_reference_quantile=0.5)
    assert detect_base_load_rise(hourly, METER, DWELLING, against_median, outdoor_c=outdoor_c) == []
    quiet, _ = _electrically_heated(None, busy_day_w=150.0)
    assert detect_base_load_rise(quiet, METER, DWELLING, outdoor_c=outdoor_c) == []


def test_an_electric_homes_rise_is_dated_by_any_quiet_hour_before_it() -> None:
    """Cool, unheated summer nights are not judged (below the unheated limit) but still prove the load was off."""
    rise_start = _ts("2025-08-28 03:00")  # a night at 12–13 °C, not heated (this home heats below 10 °C)
    hourly, outdoor_c = _electrically_heated(rise_start, mean_c=19.0, heats_below_c=10.0)
    assert outdoor_c[rise_start - pd.Timedelta(hours=1)] < 18.0
    found = detect_base_load_rise(hourly, METER, DWELLING, outdoor_c=outdoor_c)
    assert len(found) == 1 and found[0].evidence["unheated_days"] >= 6
    # The hour before the rise drew the always-on 100 W: the start is its end, not the last warm afternoon.
    assert found[0].start == rise_start


def test_base_load_takes_off_the_weather_share() -> None:
    # A cold snap runs electric heating all night: with the baseline's weather share given, that is no base-load rise.
    intervals = synthetic.interval_frame("2025-04-07", 60, seed=5)
    cold = (intervals.index >= _ts("2025-05-10")) & (intervals.index < _ts("2025-05-17"))
    heated = intervals.copy()
    heated["weather_kwh"] = np.where(cold, 0.8, 0.0)
    heated["energy_kwh"] = heated["energy_kwh"] + heated["weather_kwh"]
    assert detect_base_load_rise(heated, METER, DWELLING) == []
    assert len(detect_base_load_rise(heated.drop(columns=["weather_kwh"]), METER, DWELLING)) == 1


# water_leak -------------------------------------------------------------------------------------

def test_water_leak_silent_on_clean_data() -> None:
    assert detect_water_leak(synthetic.water_hourly("2025-03-03", 60, seed=6), METER, DWELLING) == []


def test_water_leak_fires_on_continuous_flow() -> None:
    water = synthetic.water_hourly("2025-03-03", 30, seed=7)
    leak_start = _ts("2025-03-12 02:00")
    faulty = water.copy()
    faulty.loc[faulty.index >= leak_start, "volume_m3"] += 0.003  # a running toilet, 3 L/h
    found = detect_water_leak(faulty, METER, DWELLING)
    assert len(found) == 1
    anomaly = found[0]
    assert anomaly.kind == AnomalyKind.WATER_LEAK
    assert abs(anomaly.start - leak_start) <= pd.Timedelta(hours=1)
    assert anomaly.ongoing
    assert anomaly.evidence["min_flow_l_per_h"] == pytest.approx(3.0, rel=0.01)


def test_water_leak_start_is_dated_to_one_reporting_period() -> None:
    """The household's own use just before a leak joins the hourly run; per-period volumes date the leak itself."""
    periods = pd.date_range("2025-03-10", periods=5 * 48, freq="30min", tz=TZ)
    litres = np.zeros(len(periods))
    # Household draws in every hour from 11:00 until the leak (no dry hour), with dry half-hours between.
    for text, amount in [("11:00", 12), ("12:30", 8), ("13:00", 20), ("13:30", 6)]:
        litres[periods.get_loc(_ts(f"2025-03-12 {text}"))] = amount
    leak_start = _ts("2025-03-12 14:30")
    litres[periods >= leak_start] += 4.0  # 8 L/h
    per_period = pd.DataFrame({"volume_m3": litres / 1000.0}, index=periods)
    hourly = per_period.resample("h").sum()
    readings = synthetic.index_readings(per_period, "volume_m3", start_index=512.0)

    hourly_only = detect_water_leak(hourly, METER, DWELLING)
    assert len(hourly_only) == 1 and hourly_only[0].start == _ts("2025-03-12 11:00")  # the household's use

    found = detect_water_leak(hourly, METER, DWELLING, periods=interval_volumes(readings))
    assert len(found) == 1
    assert found[0].start == leak_start
    assert found[0].end == hourly_only[0].end and found[0].evidence == hourly_only[0].evidence


def test_water_leak_is_dated_past_household_use_below_its_rate() -> None:
    """Use that never stops before a leak is told apart where a period held less than the leak's own rate."""
    periods = pd.date_range("2025-03-10", periods=5 * 48, freq="30min", tz=TZ)
    litres = np.zeros(len(periods))
    # From 12:00 the household draws water in every period until the leak starts, so no period before it is dry;
    # one of them (14:00, 6 L) held less than the leak adds to every period after it began (10 L).
    for text, amount in [("12:00", 20), ("12:30", 15), ("13:00", 30), ("13:30", 25), ("14:00", 6)]:
        litres[periods.get_loc(_ts(f"2025-03-12 {text}"))] = amount
    leak_start = _ts("2025-03-12 14:30")
    litres[periods >= leak_start] += 10.0  # 20 L/h
    litres[periods.get_loc(_ts("2025-03-12 15:00"))] += 8.0  # and the household's own use on top of it
    per_period = pd.DataFrame({"volume_m3": litres / 1000.0}, index=periods)
    hourly = per_period.resample("h").sum()
    readings = synthetic.index_readings(per_period, "volume_m3", start_index=87.0)

    found = detect_water_leak(hourly, METER, DWELLING, periods=interval_volumes(readings))
    assert len(found) == 1
    assert found[0].start == leak_start
    # Without the periods, the hourly run starts with the household's use.
    assert detect_water_leak(hourly, METER, DWELLING)[0].start == _ts("2025-03-12 12:00")


def test_interval_volumes_leave_silences_and_resets_unknown() -> None:
    times = pd.DatetimeIndex([_ts("2025-03-10 00:00") + pd.Timedelta(minutes=30 * k) for k in (0, 1, 2, 6, 7, 8)])
    readings = pd.DataFrame({"index_value": [10.0, 10.002, 10.002, 10.010, 0.001, 0.004]}, index=times)
    volumes = interval_volumes(readings)
    assert list(volumes.index) == list(times[:-1])
    expected = [0.002, 0.0, np.nan, np.nan, 0.003]
    np.testing.assert_allclose(volumes["volume_m3"].to_numpy(), expected, atol=1e-9)


def test_water_flow_shorter_than_a_day_is_not_a_leak() -> None:
    water = synthetic.water_hourly("2025-03-03", 10, seed=8)
    faulty = water.copy()
    window = (faulty.index >= _ts("2025-03-05 02:00")) & (faulty.index < _ts("2025-03-05 20:00"))
    faulty.loc[window, "volume_m3"] += 0.003
    assert detect_water_leak(faulty, METER, DWELLING) == []


# meter_silent -----------------------------------------------------------------------------------

def _reading_times(days: int = 3) -> pd.DatetimeIndex:
    return pd.date_range("2025-06-01", periods=days * 144, freq="10min", tz=TZ)


def test_meter_silent_quiet_on_regular_readings() -> None:
    times = _reading_times()
    assert detect_meter_silent(times, times[-1] + pd.Timedelta(minutes=5), METER, DWELLING) == []


def test_meter_silent_fires_on_a_past_gap_and_an_ongoing_one() -> None:
    times = _reading_times()
    silence_start = _ts("2025-06-02 08:05")
    kept = times[(times < silence_start) | (times >= silence_start + pd.Timedelta(hours=5))]
    found = detect_meter_silent(kept, kept[-1] + pd.Timedelta(minutes=3), METER, DWELLING)
    assert [a.kind for a in found] == [AnomalyKind.METER_SILENT]
    assert abs(found[0].start - silence_start) <= pd.Timedelta(minutes=10)
    assert not found[0].ongoing
    assert found[0].evidence["usual_period_minutes"] == pytest.approx(10)
    ongoing = detect_meter_silent(times, times[-1] + pd.Timedelta(hours=4), METER, DWELLING)
    assert len(ongoing) == 1 and ongoing[0].ongoing and ongoing[0].start == times[-1]


# frozen_index and counter_reset -----------------------------------------------------------------

def _index_readings() -> pd.DataFrame:
    return synthetic.index_readings(synthetic.interval_frame("2025-04-07", 10, seed=9))


def test_index_detectors_silent_on_clean_data() -> None:
    readings = _index_readings()
    assert detect_frozen_index(readings, METER, DWELLING) == []
    assert detect_counter_reset(readings, METER, DWELLING) == []


def test_frozen_index_fires_from_the_freeze() -> None:
    readings = _index_readings()
    freeze = _ts("2025-04-10 12:00")
    faulty = readings.copy()
    frozen = faulty.index >= freeze
    faulty.loc[frozen, "index_value"] = faulty.loc[frozen, "index_value"].iloc[0]
    found = detect_frozen_index(faulty, METER, DWELLING)
    assert len(found) == 1
    assert found[0].kind == AnomalyKind.FROZEN_INDEX
    assert abs(found[0].start - freeze) <= pd.Timedelta(minutes=30)
    assert found[0].ongoing
    assert found[0].evidence["index_value"] == faulty.loc[frozen, "index_value"].iloc[0]


def test_a_zero_index_is_not_frozen() -> None:
    times = pd.date_range("2025-04-07", periods=200, freq="30min", tz=TZ)
    assert detect_frozen_index(pd.DataFrame({"index_value": 0.0}, index=times), METER, DWELLING) == []


def test_counter_reset_fires_at_the_drop() -> None:
    readings = _index_readings()
    reset = _ts("2025-04-12 07:30")
    faulty = readings.copy()
    after = faulty.index >= reset
    faulty.loc[after, "index_value"] = faulty.loc[after, "index_value"] - faulty.loc[after, "index_value"].iloc[0]
    found = detect_counter_reset(faulty, METER, DWELLING)
    assert len(found) == 1
    assert found[0].kind == AnomalyKind.COUNTER_RESET
    assert found[0].start == reset
    assert found[0].evidence["new_index"] == 0.0
    assert found[0].evidence["drop"] > 12000


# spike ------------------------------------------------------------------------------------------

def test_spike_silent_on_clean_data() -> None:
    assert detect_spikes(synthetic.interval_frame("2025-04-07", 60, seed=10), METER, DWELLING) == []


def test_spike_fires_on_one_interval() -> None:
    intervals = synthetic.interval_frame("2025-04-07", 60, seed=11)
    at = _ts("2025-05-01 15:30")
    faulty = intervals.copy()
    faulty.loc[at, "energy_kwh"] = 5.0  # 10 kW for half an hour
    found = detect_spikes(faulty, METER, DWELLING)
    assert len(found) == 1
    assert found[0].kind == AnomalyKind.SPIKE
    assert found[0].start == at
    assert found[0].end == at + pd.Timedelta(minutes=30)
    assert found[0].evidence["peak_kwh"] == 5.0
