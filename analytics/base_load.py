"""Night-time base load (always-on use) and its rises: the ``base_load_rise`` detector.

Split from :mod:`analytics.anomalies` (same contract, same :class:`~analytics.anomalies.Anomaly` records):
the night base load per night, the unheated-hours base load of electrically heated homes, the episode
search and the dating of a rise back to the last interval that proves the load was not yet on.
"""

from __future__ import annotations

from dataclasses import dataclass
from statistics import median

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from analytics.anomalies import Anomaly, AnomalyKind, AnomalyThresholds, Severity, _step
from analytics.frames import require_columns, require_datetime_index
from analytics.local_clock import LocalClock, local_midnights


def night_base_load_w(intervals: pd.DataFrame, thresholds: AnomalyThresholds = AnomalyThresholds()) -> pd.Series:
    """Minimum night-time power (W) per night, after taking off the baseline's weather share if given."""
    require_columns(intervals, ("energy_kwh",), "interval")
    index = require_datetime_index(intervals, "interval")
    step_h = _step(index, pd.Timedelta(hours=1)) / pd.Timedelta(hours=1)
    energy = intervals["energy_kwh"].to_numpy(dtype=float)
    if "weather_kwh" in intervals.columns:
        energy = energy - np.nan_to_num(intervals["weather_kwh"].to_numpy(dtype=float))
    clock = LocalClock.of(index)
    hours = clock.hour
    night = (hours >= thresholds.night_start_hour) & (hours < thresholds.night_end_hour) & np.isfinite(energy)
    power_w = energy[night] * 1000.0 / step_h
    day = clock.day[night]
    if len(day) == 0:
        return pd.Series(power_w, index=index[night].normalize(), name="base_load_w")
    # The index is sorted, so each night's intervals are consecutive: its minimum by np.minimum.reduceat, dated
    # by its local midnight as DatetimeIndex.normalize() gives it (one localisation per night, not per interval).
    first = np.flatnonzero(np.concatenate(([True], day[1:] != day[:-1])))
    nights = local_midnights(day[first], index).rename(index.name)
    return pd.Series(np.minimum.reduceat(power_w, first), index=nights, name="base_load_w")


@dataclass(frozen=True)
class _JudgedWindows:
    """The base load judged per night (or unheated day), when each window opened and closed, and the limits."""

    base_w: NDArray[np.float64]
    opens: pd.DatetimeIndex
    closes: pd.DatetimeIndex
    min_rise_ratio: float
    min_rise_w: float
    min_count: int
    count_name: str  # evidence key: "nights" or "unheated_days"
    # Dating threshold: the reference plus half the rise (nights), or the lowest power of any hour over the
    # reference windows plus half the rise (unheated days, whose reference holds daytime household use).
    date_from_floor: bool = False
    # The usual level a window is judged against: this quantile of the reference windows (0.5: their median).
    reference_quantile: float = 0.5


def _night_windows(intervals: pd.DataFrame, t: AnomalyThresholds) -> _JudgedWindows:
    base = night_base_load_w(intervals, t)
    nights = base.index
    return _JudgedWindows(base.to_numpy(), nights + pd.Timedelta(hours=t.night_start_hour),
                          nights + pd.Timedelta(hours=t.night_end_hour), t.base_load_min_rise_ratio,
                          t.base_load_min_rise_w, t.base_load_min_nights, "nights")


def unheated_base_load_w(intervals: pd.DataFrame, outdoor_c: pd.Series,
                         thresholds: AnomalyThresholds = AnomalyThresholds()) -> pd.DataFrame:
    """Lowest power (W) per local day over the intervals warm enough that no home heats, off-peak hours excepted.

    For electrically heated homes, whose nights are heated for half the year; off-peak hours are left out as
    water heaters run then. ``outdoor_c``: outdoor °C by time
    (any step; each interval takes the latest value at or before its start). Columns ``base_load_w``, ``opens``
    (the first such interval's start) and ``closes`` (the last one's end); days with fewer than
    ``unheated_day_min_hours`` such hours are left out.
    """
    require_columns(intervals, ("energy_kwh",), "interval")
    index = require_datetime_index(intervals, "interval")
    step = _step(index, pd.Timedelta(hours=1))
    step_h = step / pd.Timedelta(hours=1)
    energy = intervals["energy_kwh"].to_numpy(dtype=float)
    unheated = _unheated(index, outdoor_c, thresholds) & np.isfinite(energy)
    times = index[unheated]
    frame = pd.DataFrame({"power_w": energy[unheated] * 1000.0 / step_h, "time": times}, index=times.normalize())
    days = frame.groupby(level=0).agg(base_load_w=("power_w", "min"), opens=("time", "min"),
                                      closes=("time", "max"), count=("power_w", "size"))
    days = days[days["count"] * step_h >= thresholds.unheated_day_min_hours]
    days["closes"] = days["closes"] + step
    return days.drop(columns="count")


def _unheated(index: pd.DatetimeIndex, outdoor_c: pd.Series, t: AnomalyThresholds) -> NDArray[np.bool_]:
    """Which intervals start at an hour no home heats (outdoor °C at or above the limit) outside off-peak hours."""
    outdoor = pd.Series(outdoor_c).sort_index()
    outdoor = outdoor[~outdoor.index.duplicated()]
    # The temperature reported last before the interval began, if recent: a stale value says nothing.
    celsius = outdoor.reindex(index, method="ffill", tolerance=pd.Timedelta(hours=3)).to_numpy(dtype=float)
    with np.errstate(invalid="ignore"):
        return ~np.isin(index.hour.to_numpy(), t.unheated_excluded_hours) & (celsius >= t.unheated_outdoor_c)


def _unheated_windows(intervals: pd.DataFrame, outdoor_c: pd.Series, t: AnomalyThresholds) -> _JudgedWindows:
    days = unheated_base_load_w(intervals, outdoor_c, t)
    return _JudgedWindows(days["base_load_w"].to_numpy(dtype=float), pd.DatetimeIndex(days["opens"]),
                          pd.DatetimeIndex(days["closes"]), t.unheated_min_rise_ratio, t.unheated_min_rise_w,
                          t.unheated_min_days, "unheated_days", date_from_floor=True,
                          reference_quantile=t.unheated_reference_quantile)


def _judged_windows(intervals: pd.DataFrame, t: AnomalyThresholds, outdoor_c: pd.Series | None) -> _JudgedWindows:
    """Nights, or an electrically heated home's unheated days when its outdoor °C is given."""
    return _night_windows(intervals, t) if outdoor_c is None else _unheated_windows(intervals, outdoor_c, t)


def detect_base_load_rise(
    intervals: pd.DataFrame, meter_id: int, dwelling_id: int | None,
    thresholds: AnomalyThresholds = AnomalyThresholds(), periods: pd.DataFrame | None = None,
    outdoor_c: pd.Series | None = None,
) -> list[Anomaly]:
    """Night-time base load (always-on use) rising well above its usual level for several nights.

    Pass at least ``base_load_reference_nights`` + a week of history: the first seven nights only build the
    reference. An episode is found by the nights it shows in, then dated back from its first night to the end
    of the last interval whose power was below the reference plus half the rise (:func:`_rise_onset`): an
    always-on load raises every interval after it began, so it cannot have been on during that low interval.
    ``periods`` (optional, from :func:`interval_energy`): energy per reporting period, judged as given (no
    weather share taken off), used to date the start to one period when they reach back to the last low one;
    otherwise the start is dated to the interval of ``intervals``.
    ``outdoor_c`` (for an electrically heated home): judge the unheated daytime hours of each day instead of
    the nights (:func:`unheated_base_load_w`), with the stricter ``unheated_*`` limits, and date the start from
    the lowest interval over the reference days plus half the rise (:func:`_floor_w`), any hour, heated or not.
    """
    windows = _judged_windows(intervals, thresholds, outdoor_c)
    values = windows.base_w
    power = _power_w(intervals)
    power_step = _step(power.index, pd.Timedelta(hours=1))  # once: every episode dates on the same index
    period_power = _power_w(periods) if periods is not None else None
    found: list[Anomaly] = []
    reference_pool: list[float] = []
    run_start: int | None = None
    run_reference = 0.0
    # Sequential on purpose: flagged nights must not leak into the reference they are judged against.
    for i, value in enumerate(values):
        recent = reference_pool[-thresholds.base_load_reference_nights:]
        reference = _quantile(recent, windows.reference_quantile) if len(recent) >= 7 else None
        high = (
            reference is not None
            and value > reference * windows.min_rise_ratio
            and value - reference > windows.min_rise_w
        )
        if high:
            if run_start is None:
                run_start, run_reference = i, reference  # type: ignore[assignment]
            continue
        if run_start is not None:
            found += _base_load_episode(windows, run_start, i - 1, run_reference, False, meter_id, dwelling_id,
                                        thresholds, power, power_step, period_power)
            run_start = None
        reference_pool.append(float(value))
    if run_start is not None:
        found += _base_load_episode(windows, run_start, len(values) - 1, run_reference, True, meter_id,
                                    dwelling_id, thresholds, power, power_step, period_power)
    return found


def _quantile(values: list[float], q: float) -> float:
    """The q-quantile (linear between order statistics, as numpy's default) of a short list."""
    if q == 0.5:
        return median(values)  # statistics.median: far quicker than numpy on a few dozen floats, once per night
    ordered = sorted(values)
    position = q * (len(ordered) - 1)
    below = int(position)
    above = min(below + 1, len(ordered) - 1)
    return ordered[below] + (ordered[above] - ordered[below]) * (position - below)


@dataclass(frozen=True)
class OpenRise:
    """A base-load rise already alerted: when it began, the usual level it rose from and by how much."""

    start: pd.Timestamp
    reference_w: float
    rise_w: float


def hold_open_rise(
    intervals: pd.DataFrame, meter_id: int, dwelling_id: int | None, open_rise: OpenRise,
    thresholds: AnomalyThresholds = AnomalyThresholds(), outdoor_c: pd.Series | None = None,
) -> Anomaly | None:
    """An alerted rise judged against its own reference: still on (an ongoing anomaly) or cleared (None).

    :func:`detect_base_load_rise` compares each night with the nights before it in the look-back, so a load
    that stays on becomes the usual level after a few weeks and an electrically heated home has no unheated day
    to judge all winter: neither says the load went. Here the last ``min_count`` nights (or unheated days)
    since the rise began are judged against the level it rose from: cleared when they fall below
    reference + rise/2. Fewer such windows in the data: still on, as last seen.
    """
    windows = _judged_windows(intervals, thresholds, outdoor_c)
    since = windows.opens >= open_rise.start
    values, closes = windows.base_w[since], windows.closes[since]
    recent = values[np.isfinite(values)][-windows.min_count:]
    end = closes[-1] if len(closes) else open_rise.start
    if len(recent) >= windows.min_count:
        level = float(np.quantile(recent, windows.reference_quantile))
        if level < open_rise.reference_w + open_rise.rise_w / 2.0:
            return None
        evidence = {windows.count_name: float(len(recent))}
    else:
        level = open_rise.reference_w + open_rise.rise_w
        evidence = {"not_judged": 1.0}
    rise = level - open_rise.reference_w
    severity = Severity.CRITICAL if rise >= thresholds.base_load_critical_rise_w else Severity.WARNING
    evidence |= {"base_load_w": level, "reference_w": open_rise.reference_w, "rise_w": rise,
                 "extra_kwh_per_year": rise * 8.76, "judged_against_alert": 1.0}
    return Anomaly(AnomalyKind.BASE_LOAD_RISE, severity, meter_id, dwelling_id, open_rise.start, end, True, evidence)


def _base_load_episode(
    windows: _JudgedWindows, first: int, last: int, reference_w: float,
    ongoing: bool, meter_id: int, dwelling_id: int | None, t: AnomalyThresholds,
    power: pd.Series, power_step: pd.Timedelta, period_power: pd.Series | None,
) -> list[Anomaly]:
    count = last - first + 1
    if count < windows.min_count:
        return []
    # The same quantile as the reference: household use then weighs alike on both sides of the rise.
    level = float(np.quantile(windows.base_w[first:last + 1], windows.reference_quantile))
    rise = level - reference_w
    severity = Severity.CRITICAL if rise >= t.base_load_critical_rise_w else Severity.WARNING
    first_seen = windows.opens[first]
    floor_w = _floor_w(power, windows.opens[max(0, first - t.base_load_reference_nights)], first_seen) \
        if windows.date_from_floor else None
    low_w = (reference_w if floor_w is None else floor_w) + rise / 2.0
    start = _rise_onset(power, first_seen, low_w, power_step)
    if start is None:
        start = first_seen  # no low interval in the data given (never seen: the reference windows are low)
    elif period_power is not None:
        # The last low period lies inside the last low interval or after it: never look further back than that
        # interval, whatever gaps the periods have.
        interval_start = start - power_step
        by_period = _rise_onset(period_power[period_power.index >= interval_start], first_seen, low_w)
        if by_period is not None:
            start = by_period
    end = windows.closes[last]
    return [Anomaly(
        AnomalyKind.BASE_LOAD_RISE, severity, meter_id, dwelling_id, start, end, ongoing,
        {windows.count_name: float(count), "base_load_w": level, "reference_w": reference_w, "rise_w": rise,
         "extra_kwh_per_year": rise * 8.76},
    )]


def _power_w(frame: pd.DataFrame) -> pd.Series:
    """Mean power (W) of each interval of an interval frame, or of each period of :func:`interval_energy`.

    The baseline's weather share is taken off when given, as for the night base load. An interval lasts until
    the next one starts, or the typical step across a gap and at the end; NaN stays NaN (unknown).
    """
    require_columns(frame, ("energy_kwh",), "interval")
    index = require_datetime_index(frame, "interval")
    energy = frame["energy_kwh"].to_numpy(dtype=float)
    if "weather_kwh" in frame.columns:
        energy = energy - np.nan_to_num(frame["weather_kwh"].to_numpy(dtype=float))
    step_h = _step(index, pd.Timedelta(hours=1)) / pd.Timedelta(hours=1)
    # Integer nanoseconds: a tz-aware index's to_numpy() builds one Timestamp object per row (most of the
    # nightly run's time went there); ns / 3.6e12 rounds to the same float as Timedelta / 1 h.
    hours = np.diff(index.as_unit("ns").asi8) / 3.6e12
    hours = np.append(np.where(hours <= 1.5 * step_h, hours, step_h), step_h)[:len(index)]
    return pd.Series(energy * 1000.0 / hours, index=index)


def _floor_w(power: pd.Series, since: pd.Timestamp, before: pd.Timestamp) -> float | None:
    """Lowest power of any interval from ``since`` to ``before``: at most the base load before a rise began.

    A reference judged on unheated daytime hours holds the household's daytime use; reference + R/2 can then
    lie above an interval after an always-on load of +R W began, and a start dated from it could be late. The
    lowest interval over the reference windows, heated or not, was at or above the base load then, and every
    interval once the load is on is R higher than that base: floor + R/2 separates them.
    """
    window = power[(power.index >= since) & (power.index < before)].to_numpy(dtype=float)
    window = window[np.isfinite(window)]
    return float(window.min()) if len(window) else None


def _rise_onset(power: pd.Series, before: pd.Timestamp, low_w: float,
                step: pd.Timedelta | None = None) -> pd.Timestamp | None:
    """End of the last interval starting before ``before`` whose power was below ``low_w`` (None: none in the data).

    An always-on load of +R W raises every interval after it began by R, so with ``low_w`` = reference + R/2 it
    cannot have been on during a low interval: the end of the last one is the earliest start the data allow.
    Unknown (NaN) intervals prove nothing and are passed over. ``step``: the typical step of ``power``'s
    index, when the caller already has it.
    """
    times = power.index
    # Integer nanoseconds: comparing a tz-aware index with a Timestamp goes through pandas' operator dispatch.
    earlier = times.as_unit("ns").asi8 < pd.Timestamp(before).as_unit("ns").value
    with np.errstate(invalid="ignore"):
        low = np.flatnonzero(earlier & (power.to_numpy() < low_w))
    if len(low) == 0:
        return None
    last = int(low[-1])
    if step is None:
        step = _step(times, pd.Timedelta(hours=1))
    if last + 1 < len(times) and times[last + 1] - times[last] <= 1.5 * step:
        return times[last + 1]
    return times[last] + step
