"""Anomaly detectors: pure functions over one meter's frames, each returning :class:`Anomaly` records.

Contract
--------
Every detector takes the meter's frame(s), ``meter_id``, ``dwelling_id`` (None
for a building meter) and :class:`AnomalyThresholds`, and returns a list of
anomalies found in the data given — past episodes (``ongoing=False``) and the
one still running at the end of the data (``ongoing=True``). The scheduler
keeps one open alert per kind and meter and resolves it when a later run no
longer reports it ongoing. Frames (never modified):

* *daily with prediction*: DatetimeIndex of local days, ``energy_kwh`` and
  ``predicted_kwh`` (from ``DailyBaselineModel.predict``) — for ``above_baseline``;
* *interval frame*: tz-aware DatetimeIndex of interval starts (local time),
  regular step (30 or 60 min), ``energy_kwh`` per interval and optionally
  ``weather_kwh`` (the baseline's heating+cooling share of the interval, taken
  off before judging night base load) — for ``base_load_rise`` (in
  :mod:`analytics.base_load`) and ``spike``;
* *hourly volume frame*: DatetimeIndex of hour starts, ``volume_m3`` per hour —
  for ``water_leak``;
* *index readings*: DatetimeIndex of reading times, ``index_value`` (the
  counter in its canonical unit: kWh or m³) — for ``frozen_index`` and
  ``counter_reset``;
* reading times (DatetimeIndex) and ``now`` — for ``meter_silent``.

Evidence values are plain numbers whose names carry their unit.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from analytics.frames import require_columns, require_datetime_index, typical_step
from analytics.local_clock import LocalClock
from analytics.rolling_median import centred_rolling_median, centred_rolling_median_at


class AnomalyKind(StrEnum):
    """What went wrong; the values are stored in the database."""

    ABOVE_BASELINE = "above_baseline"
    BASE_LOAD_RISE = "base_load_rise"
    WATER_LEAK = "water_leak"
    METER_SILENT = "meter_silent"
    FROZEN_INDEX = "frozen_index"
    COUNTER_RESET = "counter_reset"
    SPIKE = "spike"


class Severity(StrEnum):
    """How urgently a manager should look."""

    INFO = "info"
    WARNING = "warning"
    CRITICAL = "critical"


@dataclass(frozen=True)
class Anomaly:
    """One anomaly episode on one meter, with the numbers behind it."""

    kind: AnomalyKind
    severity: Severity
    meter_id: int
    dwelling_id: int | None
    start: pd.Timestamp
    end: pd.Timestamp
    ongoing: bool
    evidence: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class AnomalyThresholds:
    """Detector thresholds with sensible defaults (mapped to settings by the job)."""

    # above_baseline: excess over the prediction must beat both limits for several days running.
    above_baseline_rmse_multiple: float = 3.0
    above_baseline_min_ratio: float = 1.5  # observed / predicted
    above_baseline_min_days: int = 2
    above_baseline_critical_ratio: float = 2.5
    # base_load_rise: night-time minimum power against the usual nights.
    night_start_hour: int = 1
    night_end_hour: int = 5  # exclusive
    base_load_reference_nights: int = 28
    base_load_min_rise_ratio: float = 1.3
    base_load_min_rise_w: float = 50.0
    base_load_min_nights: int = 3
    base_load_critical_rise_w: float = 500.0
    # ... in an electrically heated home, judged on the hours it cannot be heating: daytime (outside the off-peak
    # hours when water heaters run) at an outdoor temperature no home heats at. Day-to-day use varies more than
    # the night's, hence the stricter limits.
    unheated_outdoor_c: float = 18.0
    unheated_excluded_hours: tuple[int, ...] = (22, 23, 0, 1, 2, 3, 4, 5)  # local off-peak hours
    unheated_day_min_hours: float = 4.0  # fewer unheated hours in a day: that day is not judged
    unheated_min_rise_ratio: float = 1.5
    unheated_min_rise_w: float = 100.0
    # 7 days against the 35th percentile of the usual days: 42 of 46 simulated rises found and no false
    # base-load alarm in 435 fault-free home-years; 6 days against their median: 40 and 1 (docs/benchmarks.md).
    unheated_min_days: int = 7
    # Household daytime use only adds to the always-on load, so a day's lowest unheated hour is judged against
    # a low quantile of the usual days, nearer the always-on load than their median.
    unheated_reference_quantile: float = 0.35
    # water_leak: no zero-flow hour within this many hours.
    leak_min_hours: int = 24
    leak_zero_flow_m3: float = 0.0  # an hour at or below this counts as "no flow"
    leak_critical_l_per_h: float = 5.0
    # meter_silent: silence of several usual periods, and at least this long.
    silent_period_multiple: float = 6.0
    silent_min_hours: float = 1.0
    silent_critical_hours: float = 24.0
    # frozen_index: a non-zero index that keeps being reported unchanged.
    frozen_min_hours: float = 24.0
    frozen_min_readings: int = 3
    # counter_reset: a drop larger than both tolerances (rounding, re-sent readings).
    reset_min_drop_abs: float = 0.01
    reset_min_drop_rel: float = 1e-6
    # spike: far above the local (weekly) level in robust units and as a ratio.
    spike_window_days: float = 7.0
    spike_robust_z: float = 10.0
    spike_min_ratio: float = 4.0
    spike_min_scale_kwh: float = 0.005  # floor for the robust scale: flat series would flag everything
    # ... and as a ratio to the intervals around it (two each side): a glitch stands alone, while a shifted
    # routine (a weekend's late showers, a cold morning's heating) is high for hours on end.
    spike_min_neighbour_ratio: float = 2.0


def _runs(mask: NDArray[np.bool_]) -> list[tuple[int, int]]:
    """(first, last) positions of each run of True values."""
    if len(mask) == 0:
        return []
    padded = np.concatenate(([False], mask, [False])).astype(np.int8)
    edges = np.diff(padded)
    starts = np.flatnonzero(edges == 1)
    ends = np.flatnonzero(edges == -1) - 1
    return list(zip(starts.tolist(), ends.tolist(), strict=True))


def _step(index: pd.DatetimeIndex, default: pd.Timedelta) -> pd.Timedelta:
    """Typical spacing of a time index."""
    step = typical_step(index)
    return default if step is None else step


def _regular(frame: pd.DataFrame, column: str, frame_name: str) -> tuple[pd.DatetimeIndex, NDArray[np.float64], pd.Timedelta]:
    """The column on a complete regular grid (missing intervals become NaN)."""
    require_columns(frame, (column,), frame_name)
    index = require_datetime_index(frame, frame_name)
    step = _step(index, pd.Timedelta(hours=1))
    if len(index) == 0:
        return index, np.zeros(0), step
    grid = pd.date_range(index[0], index[-1], freq=step)
    values = frame[column].reindex(grid).to_numpy(dtype=float)
    return grid, values, step


def detect_above_baseline(
    daily: pd.DataFrame, rmse_kwh: float, meter_id: int, dwelling_id: int | None,
    thresholds: AnomalyThresholds = AnomalyThresholds(),
) -> list[Anomaly]:
    """Days running well above the weather-normalised baseline (residuals beyond k·RMSE and a ratio)."""
    require_columns(daily, ("energy_kwh", "predicted_kwh"), "daily")
    index = require_datetime_index(daily, "daily")
    observed = daily["energy_kwh"].to_numpy(dtype=float)
    predicted = daily["predicted_kwh"].to_numpy(dtype=float)
    excess = observed - predicted
    with np.errstate(invalid="ignore"):
        flagged = (
            (excess > thresholds.above_baseline_rmse_multiple * rmse_kwh)
            & (observed > thresholds.above_baseline_min_ratio * np.maximum(predicted, 0.0))
        )
    found = []
    last_known = int(np.flatnonzero(np.isfinite(observed))[-1]) if np.isfinite(observed).any() else -1
    for first, last in _runs(flagged):
        days = last - first + 1
        if days < thresholds.above_baseline_min_days:
            continue
        ratio = float(observed[first:last + 1].sum() / max(predicted[first:last + 1].sum(), 1e-9))
        severity = Severity.CRITICAL if ratio >= thresholds.above_baseline_critical_ratio else Severity.WARNING
        found.append(Anomaly(
            AnomalyKind.ABOVE_BASELINE, severity, meter_id, dwelling_id,
            start=index[first], end=index[last] + pd.Timedelta(days=1), ongoing=last == last_known,
            evidence={
                "days": float(days),
                "excess_kwh": float(excess[first:last + 1].sum()),
                "observed_kwh": float(observed[first:last + 1].sum()),
                "predicted_kwh": float(predicted[first:last + 1].sum()),
                "ratio": ratio,
                "rmse_kwh": float(rmse_kwh),
            },
        ))
    return found


def _interval_amounts(readings: pd.DataFrame, column: str) -> pd.DataFrame:
    """Counter increase per reporting period, indexed by the period's start; silences and resets unknown (NaN)."""
    require_columns(readings, ("index_value",), "index readings")
    index = require_datetime_index(readings, "index readings")
    values = readings["index_value"].to_numpy(dtype=float)
    if len(values) < 2:
        return pd.DataFrame({column: np.zeros(0)}, index=index[:0])
    spacing = np.diff(index.asi8)
    usual = np.median(spacing)
    amount = np.diff(values)
    amount[(amount < 0) | (spacing > 1.5 * usual)] = np.nan
    return pd.DataFrame({column: amount}, index=index[:-1])


def interval_volumes(readings: pd.DataFrame) -> pd.DataFrame:
    """Volume per reporting period from index readings, indexed by the period's start (``volume_m3``).

    A period longer than the usual spacing (a silence) or with a falling index (a reset) is unknown (NaN).
    """
    return _interval_amounts(readings, "volume_m3")


def interval_energy(readings: pd.DataFrame) -> pd.DataFrame:
    """Energy per reporting period from index readings (kWh), indexed by the period's start (``energy_kwh``).

    A period longer than the usual spacing (a silence) or with a falling index (a reset) is unknown (NaN).
    """
    return _interval_amounts(readings, "energy_kwh")


def _resolution(amounts: NDArray[np.float64]) -> float:
    """The coarsest decimal step (1 mL to 10 L, or 10 Wh) every finite amount is a multiple of: the counter's resolution."""
    finite = amounts[np.isfinite(amounts)]
    for step in (1e-2, 1e-3, 1e-4, 1e-5, 1e-6):
        units = finite / step
        if np.allclose(units, np.round(units), rtol=0.0, atol=1e-6):
            return step
    return 0.0


def _leak_onset(periods: pd.DataFrame, hour_start: pd.Timestamp, run_end: pd.Timestamp,
                zero_flow_m3: float) -> pd.Timestamp:
    """Where the leak in an hourly run began, to one reporting period (the run's first hour without the periods).

    A leak adds its own flow to every period after it began, so every period since then held at least the leak's
    rate: the smallest period of the run's settled part (its second half; the household's use before the leak can
    only be in the first). A period below that, by more than the meter's resolution (its smallest increase, since
    rounding moves each period by up to one step), proves the leak was not yet running; the end of the last one
    before the settled part is the earliest start the data allow. Hourly sums locate a run to the hour, and its
    first hours are often the household's own use just before the leak; per-period volumes tell that use apart
    unless it never fell below the leak's rate.
    """
    times = periods.index
    if len(times) == 0 or times[0] >= hour_start:
        return hour_start  # the periods do not reach back to the dry hour before the run
    volume = periods["volume_m3"].to_numpy(dtype=float)
    settled_from = hour_start + (run_end - hour_start) / 2
    settled = volume[(times >= settled_from) & (times < run_end)]
    if not np.isfinite(settled).any():
        return hour_start
    leak_m3 = float(np.nanmin(settled))
    with np.errstate(invalid="ignore"):
        below = (volume <= zero_flow_m3) | (volume < leak_m3 - _resolution(volume))  # NaN (unknown) proves nothing
    low = np.flatnonzero((times >= hour_start - pd.Timedelta(hours=1)) & (times < settled_from) & below)
    if len(low) == 0:
        return hour_start
    last = int(low[-1])
    step = _step(times, pd.Timedelta(hours=1))
    after = times[last + 1] if last + 1 < len(times) and times[last + 1] - times[last] <= 1.5 * step \
        else times[last] + step
    return max(hour_start, after)


def detect_water_leak(
    hourly: pd.DataFrame, meter_id: int, dwelling_id: int | None,
    thresholds: AnomalyThresholds = AnomalyThresholds(), periods: pd.DataFrame | None = None,
) -> list[Anomaly]:
    """Continuous water flow: no zero-flow hour for at least ``leak_min_hours`` hours.

    ``periods`` (optional, from :func:`interval_volumes`): volume per reporting period, used to date the
    start of the flow to one period when it covers the hour before the run.
    """
    grid, volume, step = _regular(hourly, "volume_m3", "hourly volume")
    with np.errstate(invalid="ignore"):
        flowing = volume > thresholds.leak_zero_flow_m3  # NaN (missing) breaks a run: no claim without data
    step_h = step / pd.Timedelta(hours=1)
    found = []
    for first, last in _runs(flowing):
        hours = (last - first + 1) * step_h
        if hours < thresholds.leak_min_hours:
            continue
        run = volume[first:last + 1]
        floor_l_per_h = float(run.min() * 1000.0 / step_h)
        severity = Severity.CRITICAL if floor_l_per_h >= thresholds.leak_critical_l_per_h else Severity.WARNING
        start = grid[first]
        if periods is not None:
            start = _leak_onset(periods, start, grid[last] + step, thresholds.leak_zero_flow_m3)
        found.append(Anomaly(
            AnomalyKind.WATER_LEAK, severity, meter_id, dwelling_id,
            start=start, end=grid[last] + step, ongoing=last == len(volume) - 1,
            evidence={
                "hours": float(hours),
                "volume_m3": float(run.sum()),
                "min_flow_l_per_h": floor_l_per_h,
                "mean_flow_l_per_h": float(run.mean() * 1000.0 / step_h),
                "leak_m3_per_year": floor_l_per_h * 8.76,
            },
        ))
    return found


def detect_meter_silent(
    reading_times: pd.DatetimeIndex, now: pd.Timestamp, meter_id: int, dwelling_id: int | None,
    thresholds: AnomalyThresholds = AnomalyThresholds(), usual_period: pd.Timedelta | None = None,
) -> list[Anomaly]:
    """Silences much longer than the meter's usual reporting period (median spacing of its readings)."""
    times = pd.DatetimeIndex(reading_times).sort_values().unique()
    if len(times) == 0:
        return []
    period = usual_period if usual_period is not None else _step(times, pd.Timedelta(0))
    if period <= pd.Timedelta(0):
        return []  # a single reading tells no usual period; the caller may pass one
    limit = max(period * thresholds.silent_period_multiple, pd.Timedelta(hours=thresholds.silent_min_hours))
    ends = list(times[1:]) + [pd.Timestamp(now)]
    found = []
    for position, (start, end) in enumerate(zip(times, ends, strict=True)):
        silence = end - start
        if silence <= limit:
            continue
        ongoing = position == len(times) - 1
        hours = silence / pd.Timedelta(hours=1)
        severity = Severity.CRITICAL if hours >= thresholds.silent_critical_hours else Severity.WARNING
        found.append(Anomaly(
            AnomalyKind.METER_SILENT, severity, meter_id, dwelling_id, start=start, end=end, ongoing=ongoing,
            evidence={"silence_hours": float(hours), "usual_period_minutes": float(period / pd.Timedelta(minutes=1)),
                      "limit_hours": float(limit / pd.Timedelta(hours=1))},
        ))
    return found


def detect_frozen_index(
    readings: pd.DataFrame, meter_id: int, dwelling_id: int | None,
    thresholds: AnomalyThresholds = AnomalyThresholds(),
) -> list[Anomaly]:
    """A non-zero index reported unchanged for at least ``frozen_min_hours`` while readings keep coming."""
    require_columns(readings, ("index_value",), "index readings")
    index = require_datetime_index(readings, "index readings")
    values = readings["index_value"].to_numpy(dtype=float)
    if len(values) < 2:
        return []
    # same[i]: reading i repeats reading i−1; a run of repeats plus the reading before it is one frozen stretch.
    same = np.concatenate(([False], (values[1:] == values[:-1]) & (values[1:] != 0)))
    found = []
    for first, last in _runs(same):
        begin = first - 1
        duration_h = (index[last] - index[begin]) / pd.Timedelta(hours=1)
        count = last - begin + 1
        if duration_h < thresholds.frozen_min_hours or count < thresholds.frozen_min_readings:
            continue
        found.append(Anomaly(
            AnomalyKind.FROZEN_INDEX, Severity.WARNING, meter_id, dwelling_id,
            start=index[begin], end=index[last], ongoing=last == len(values) - 1,
            evidence={"hours": float(duration_h), "readings": float(count), "index_value": float(values[begin])},
        ))
    return found


def detect_counter_reset(
    readings: pd.DataFrame, meter_id: int, dwelling_id: int | None,
    thresholds: AnomalyThresholds = AnomalyThresholds(),
) -> list[Anomaly]:
    """An index that goes backwards (reset, rollover or meter replacement)."""
    require_columns(readings, ("index_value",), "index readings")
    index = require_datetime_index(readings, "index readings")
    values = readings["index_value"].to_numpy(dtype=float)
    if len(values) < 2:
        return []
    previous = values[:-1]
    drop = previous - values[1:]
    tolerance = np.maximum(thresholds.reset_min_drop_abs, thresholds.reset_min_drop_rel * np.abs(previous))
    found = []
    for position in np.flatnonzero(drop > tolerance):
        found.append(Anomaly(
            AnomalyKind.COUNTER_RESET, Severity.INFO, meter_id, dwelling_id,
            start=index[position + 1], end=index[position + 1], ongoing=False,
            evidence={"previous_index": float(previous[position]), "new_index": float(values[position + 1]),
                      "drop": float(drop[position]),
                      "previous_reading_age_hours": float((index[position + 1] - index[position]) / pd.Timedelta(hours=1))},
        ))
    return found


def detect_spikes(
    intervals: pd.DataFrame, meter_id: int, dwelling_id: int | None,
    thresholds: AnomalyThresholds = AnomalyThresholds(),
) -> list[Anomaly]:
    """Intervals far above the usual level of the same time of day in the surrounding week."""
    require_columns(intervals, ("energy_kwh",), "interval")
    index = require_datetime_index(intervals, "interval")
    if len(index) < 3:
        return []
    values = intervals["energy_kwh"].to_numpy(dtype=float)
    step = _step(index, pd.Timedelta(hours=1))
    step_minutes = max(int(step / pd.Timedelta(minutes=1)), 1)
    per_day = max(1440 // step_minutes, 1)
    # Same time of day on neighbouring days is the reference: evening peaks are not spikes.
    clock = LocalClock.of(index)
    day = clock.day - clock.day[0]
    slot = np.minimum(clock.minute // step_minutes, per_day - 1)
    grid = np.full((int(day[-1]) + 1, per_day), np.nan)
    grid[day, slot] = values
    window_days = max(int(round(thresholds.spike_window_days)), 3) | 1
    level_grid = centred_rolling_median(grid, window_days, window_days // 2 + 1)
    level = level_grid[day, slot]
    # The two intervals each side (the interval itself left out), NaN beyond the ends.
    padded = np.concatenate((np.full(2, np.nan), values, np.full(2, np.nan)))
    n = len(values)
    # fmax skips NaN as nanmax does (NaN only where all four are missing: a gap), without its all-NaN warning.
    nearest = np.fmax(np.fmax(padded[0:n], padded[1:n + 1]), np.fmax(padded[3:n + 3], padded[4:n + 4]))
    nearby = np.nan_to_num(nearest, nan=0.0)
    with np.errstate(invalid="ignore"):
        candidate = (
            (values > thresholds.spike_min_ratio * np.maximum(level, thresholds.spike_min_scale_kwh))
            & (values > thresholds.spike_min_neighbour_ratio * np.maximum(nearby, thresholds.spike_min_scale_kwh))
        )
    # The robust spread (the week's median absolute deviation) is read only where the two ratios already hold:
    # the rolling median of a year, for the few intervals that can be spikes.
    at = np.flatnonzero(candidate)
    spread = np.full(n, np.nan)
    spread[at] = centred_rolling_median_at(np.abs(values - level), window_days * per_day, per_day, at) * 1.4826
    scale = np.maximum(np.nan_to_num(spread, nan=0.0), thresholds.spike_min_scale_kwh)
    with np.errstate(invalid="ignore"):
        flagged = candidate & (values > level + thresholds.spike_robust_z * scale)
    found = []
    for first, last in _runs(flagged):
        peak = float(values[first:last + 1].max())
        local = float(np.nanmedian(level[first:last + 1]))
        ratio = peak / max(local, thresholds.spike_min_scale_kwh)
        found.append(Anomaly(
            AnomalyKind.SPIKE, Severity.WARNING if ratio < 10 else Severity.CRITICAL, meter_id, dwelling_id,
            start=index[first], end=index[last] + step, ongoing=False,
            evidence={"peak_kwh": peak, "usual_level_kwh": local, "ratio": ratio,
                      "robust_z": float((peak - local) / scale[first:last + 1].max()),
                      "intervals": float(last - first + 1)},
        ))
    return found
