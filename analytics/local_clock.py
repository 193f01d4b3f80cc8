"""Local calendar fields of a time index (day, minute of the day, hour, weekday) from one time-zone conversion.

pandas converts a tz-aware index from UTC afresh for every field it is asked (``hour``, ``minute``,
``day_of_week``, ``normalize()``), and ``normalize()`` then localises each midnight back, resolving DST per
element: on a year of hours, that was most of what the per-dwelling detectors and the hour-of-week profile did
besides their own work. Here the index is converted once to wall-clock nanoseconds and every field follows by
integer division: the same integers pandas gives (day numbers and minutes are floored, as pandas floors them).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from analytics.frames import NS_PER_UNIT

NS_PER_MINUTE = 60 * 1_000_000_000
NS_PER_DAY = 1440 * NS_PER_MINUTE
_THURSDAY = 3  # 1970-01-01, day 0, was a Thursday (Monday = 0, as pandas counts)


@dataclass(frozen=True)
class LocalClock:
    """Each timestamp's local calendar day (days since 1970-01-01) and minute of that day (0–1439)."""

    day: NDArray[np.int64]
    minute: NDArray[np.int64]

    @classmethod
    def of(cls, index: pd.DatetimeIndex) -> LocalClock:
        """The local wall clock of a DatetimeIndex (a naive one is read as local already)."""
        naive = index.tz_localize(None) if index.tz is not None else index
        day, rest = np.divmod(naive.asi8 * NS_PER_UNIT[naive.unit], NS_PER_DAY)
        return cls(day, rest // NS_PER_MINUTE)

    @property
    def hour(self) -> NDArray[np.int64]:
        """Local hour of the day (0–23), as ``DatetimeIndex.hour``."""
        return self.minute // 60

    @property
    def day_of_week(self) -> NDArray[np.int64]:
        """Local weekday, Monday 0 to Sunday 6, as ``DatetimeIndex.day_of_week``."""
        return (self.day + _THURSDAY) % 7


def local_midnights(days: NDArray[np.int64], like: pd.DatetimeIndex) -> pd.DatetimeIndex:
    """Local midnight of each day number in ``like``'s time zone and unit, as ``like.normalize()`` dates them."""
    naive = pd.DatetimeIndex((np.asarray(days, dtype=np.int64) * NS_PER_DAY).view("M8[ns]")).as_unit(like.unit)
    return naive.tz_localize(like.tz) if like.tz is not None else naive
