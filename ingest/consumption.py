"""Hourly consumption from one meter's readings: pure numpy/pandas, no database.

Two kinds of input:

* a cumulative index (``ENERGY_INDEX_KWH``, ``VOLUME_INDEX_M3``): consumption
  is the difference of consecutive indices, spread over the hours each
  difference spans, in proportion to time;
* interval values (``ENERGY_KWH``, ``VOLUME_M3``): each value covers an
  interval ending at its time, so it is summed into the hour holding
  ``time - 1 µs`` (a value stamped 10:00 belongs to 09:00–10:00).

Rules for an index (each interval between two consecutive readings is judged
on its own, so the result for an hour depends only on the readings around it;
that is what makes incremental derivation give the same result as a full one):

1. Readings are sorted by time; duplicate times keep the smallest value
   (any fixed choice would do: it makes the result independent of input order).
2. A decrease no larger than ``noise`` (meter rounding) counts as zero use.
3. A larger decrease is a counter reset or a meter replacement. The new meter is
   assumed to count from 0, so the interval's use is the new index itself,
   *if* that is plausible: at most ``max_rate_per_h`` times the interval's
   length in hours. Otherwise the interval is unknown and contributes nothing.
   Either way a ``reset`` event (time, before, after, counted) is reported.
4. An increase above ``max_rate_per_h`` × hours is not believed either (a
   replacement by a meter with a higher index, a corrupt value): the interval is
   unknown, contributes nothing, and a ``jump`` event is reported.
5. A difference is spread over the hours it spans proportionally to time, so a
   gap is never lumped into one hour. An hour that receives part of an interval
   longer than ``max_gap_s``, or that touches an unknown interval, is marked
   ``estimated``.
6. Only hours that receive part of at least one believed interval get a row.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import numpy as np
import pandas as pd

NS_PER_HOUR = 3_600_000_000_000
NS_PER_US = 1_000
DEFAULT_MAX_GAP_S = 7200.0
DEFAULT_NOISE = 1e-3  # 1 Wh or 1 litre: below what any meter we read resolves

HOURLY_COLUMNS = ("hour", "amount", "estimated")
EVENT_COLUMNS = ("time", "before", "after", "kind", "counted")


@dataclass(frozen=True)
class Derived:
    """Hourly consumption (hour, amount, estimated) and the resets and jumps found on the way."""

    hourly: pd.DataFrame
    events: pd.DataFrame


def _as_ns(times: Any) -> np.ndarray:
    """Times (datetimes, Timestamps, datetime64, a Series or an index) as int64 UTC nanoseconds."""
    index = pd.DatetimeIndex(pd.to_datetime(times, utc=True))
    return np.asarray(index.as_unit("ns").asi8, dtype=np.int64)


def _clean(times: Any, values: Any) -> tuple[np.ndarray, np.ndarray]:
    """Sorted, one value per time, non-finite values dropped."""
    t = _as_ns(times)
    v = np.asarray(values, dtype=np.float64)
    if t.shape != v.shape:
        raise ValueError(f"times and values differ in length ({t.size} and {v.size})")
    finite = np.isfinite(v)
    t, v = t[finite], v[finite]
    order = np.lexsort((v, t))  # by time, then value: the smallest value of a duplicated time comes first
    t, v = t[order], v[order]
    keep = np.ones(t.size, dtype=bool)
    keep[1:] = t[1:] != t[:-1]
    return t[keep], v[keep]


def _hours_frame(hours_ns: np.ndarray, amount: np.ndarray, estimated: np.ndarray) -> pd.DataFrame:
    return pd.DataFrame({
        "hour": pd.to_datetime(hours_ns, unit="ns", utc=True),
        "amount": amount.astype(np.float64),
        "estimated": estimated.astype(bool),
    })


def _empty_hourly() -> pd.DataFrame:
    return _hours_frame(np.empty(0, np.int64), np.empty(0), np.empty(0, bool))


def _empty_events() -> pd.DataFrame:
    return pd.DataFrame({
        "time": pd.to_datetime(np.empty(0, np.int64), unit="ns", utc=True),
        "before": np.empty(0), "after": np.empty(0),
        "kind": pd.Series([], dtype=object), "counted": np.empty(0, bool),
    })


def hourly_from_index(
    times: Any,
    values: Any,
    *,
    max_rate_per_h: float,
    max_gap_s: float = DEFAULT_MAX_GAP_S,
    noise: float = DEFAULT_NOISE,
) -> Derived:
    """Hourly consumption from a cumulative index (see the module docstring for the rules)."""
    if max_rate_per_h <= 0 or max_gap_s <= 0 or noise < 0:
        raise ValueError("max_rate_per_h and max_gap_s must be positive, noise non-negative")
    t, v = _clean(times, values)
    if t.size < 2:
        return Derived(_empty_hourly(), _empty_events())

    dt = np.diff(t)  # > 0 after de-duplication
    dv = np.diff(v)
    after = v[1:]
    reset = dv < -noise
    amount = np.where(reset, after, np.maximum(dv, 0.0))
    plausible_max = max_rate_per_h * dt / NS_PER_HOUR
    believed = (amount >= 0) & (amount <= plausible_max)
    jump = ~reset & ~believed
    long_gap = dt > max_gap_s * 1e9

    # Spread: the believed use accumulated at each reading, interpolated linearly
    # at every hour boundary; an hour's use is the difference between its two ends.
    used = np.concatenate(([0.0], np.cumsum(np.where(believed, amount, 0.0))))
    first_hour = t[0] // NS_PER_HOUR
    last_hour = (t[-1] - 1) // NS_PER_HOUR
    boundaries = np.arange(first_hour, last_hour + 2, dtype=np.int64) * NS_PER_HOUR
    # Seconds relative to the first reading keep float64 exact enough (sub-microsecond for decades).
    x = (t - t[0]) / 1e9
    xb = np.clip(boundaries - t[0], 0, t[-1] - t[0]) / 1e9
    per_hour = np.diff(np.interp(xb, x, used))

    # Which hours each interval touches, counted with difference arrays (no loop per reading).
    n_hours = boundaries.size - 1
    h0 = t[:-1] // NS_PER_HOUR - first_hour
    h1 = (t[1:] - 1) // NS_PER_HOUR - first_hour

    def touched(mask: np.ndarray) -> np.ndarray:
        starts = np.bincount(h0[mask], minlength=n_hours + 1)
        stops = np.bincount(h1[mask] + 1, minlength=n_hours + 1)
        return np.cumsum(starts - stops)[:n_hours] > 0

    has_data = touched(believed)
    estimated = touched((believed & long_gap) | ~believed)
    hours_ns = boundaries[:-1]
    hourly = _hours_frame(hours_ns[has_data], np.maximum(per_hour[has_data], 0.0), estimated[has_data])

    flagged = reset | jump
    events = pd.DataFrame({
        "time": pd.to_datetime(t[1:][flagged], unit="ns", utc=True),
        "before": v[:-1][flagged],
        "after": after[flagged],
        "kind": np.where(reset[flagged], "reset", "jump").astype(object),
        "counted": believed[flagged],
    }) if flagged.any() else _empty_events()
    return Derived(hourly, events)


def hourly_from_intervals(times: Any, values: Any) -> Derived:
    """Hourly sums of interval values, each counted in the hour holding (time − 1 µs)."""
    t, v = _clean(times, values)
    if t.size == 0:
        return Derived(_empty_hourly(), _empty_events())
    hour = (t - NS_PER_US) // NS_PER_HOUR
    hours, position = np.unique(hour, return_inverse=True)
    sums = np.bincount(position, weights=v, minlength=hours.size)
    return Derived(_hours_frame(hours * NS_PER_HOUR, sums, np.zeros(hours.size, bool)), _empty_events())


def floor_hour(moment: datetime) -> datetime:
    """The UTC hour holding a moment."""
    ns = int(pd.Timestamp(moment).as_unit("ns").value)
    return datetime.fromtimestamp(ns // NS_PER_HOUR * 3600, tz=UTC)


def recompute_window(times: Sequence[datetime] | Any, from_time: datetime, *, cumulative: bool) -> tuple[datetime, datetime]:
    """Where an incremental derivation must start reading, and the first hour it rewrites.

    ``times`` are the meter's stored reading times; ``from_time`` is the earliest
    new one. For an index the interval ending at the new reading starts at the
    reading before it (``p``), so hours from ``floor_hour(p)`` change; to
    recompute them wholly we read from the last reading at or before that hour.
    For interval values only the hour holding (from_time − 1 µs) onwards changes.
    Read readings with ``time >= read_from``; keep hours ``>= emit_from``.
    ``ingest.derive`` asks the same two questions of the database in SQL.
    """
    t = np.sort(_as_ns(times))
    start_ns = int(pd.Timestamp(from_time).as_unit("ns").value)
    if not cumulative:
        emit_ns = (start_ns - NS_PER_US) // NS_PER_HOUR * NS_PER_HOUR
        # A value stamped exactly at emit_from belongs to the hour before: skip it.
        return _from_ns(emit_ns + NS_PER_US), _from_ns(emit_ns)
    before = t[t < start_ns]
    anchor = int(before[-1]) if before.size else start_ns
    emit_ns = anchor // NS_PER_HOUR * NS_PER_HOUR
    at_or_before = t[t <= emit_ns]
    read_ns = int(at_or_before[-1]) if at_or_before.size else emit_ns
    return _from_ns(read_ns), _from_ns(emit_ns)


def _from_ns(ns: int) -> datetime:
    return pd.Timestamp(ns, unit="ns", tz=UTC).to_pydatetime()
