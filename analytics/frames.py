"""Checks that frames handed to the analytics core follow their contracts.

Each analytics module documents the frames it takes (index, column names with
units). These helpers turn a broken contract into a :class:`FrameContractError`
naming the frame and the column, instead of a KeyError deep inside numpy.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import pandas as pd

from analytics.errors import FrameContractError

NS_PER_UNIT = {"s": 1_000_000_000, "ms": 1_000_000, "us": 1_000, "ns": 1}  # a DatetimeIndex's unit in ns


def require_columns(frame: pd.DataFrame, columns: Iterable[str], frame_name: str) -> None:
    """Raise FrameContractError when ``frame`` lacks any of ``columns``."""
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise FrameContractError(f"{frame_name} frame lacks column(s) {missing}; has {list(frame.columns)}")


def require_datetime_index(frame: pd.DataFrame | pd.Series, frame_name: str) -> pd.DatetimeIndex:
    """Return the frame's DatetimeIndex, or raise FrameContractError if it has none or it is unsorted."""
    index = frame.index
    if not isinstance(index, pd.DatetimeIndex):
        raise FrameContractError(f"{frame_name} frame must have a DatetimeIndex, not {type(index).__name__}")
    if not index.is_monotonic_increasing:
        raise FrameContractError(f"{frame_name} frame index must be sorted by time")
    if index.has_duplicates:
        raise FrameContractError(f"{frame_name} frame index has duplicate timestamps")
    return index


def typical_step(index: pd.DatetimeIndex) -> pd.Timedelta | None:
    """Median spacing of a time index (None with fewer than two timestamps)."""
    if len(index) < 2:
        return None
    # Integer nanoseconds: a tz-aware index's to_numpy() would build one Timestamp object per row (and
    # as_unit("ns") a new index each call): the index's own integers, scaled exactly.
    nanoseconds = np.diff(index.asi8) * NS_PER_UNIT[index.unit]
    shortest, longest = nanoseconds.min(), nanoseconds.max()
    # A regular index (the usual case) has its one spacing as median: the same float np.median returns.
    median = float(shortest) if shortest == longest else np.median(nanoseconds)
    return pd.Timedelta(int(median), unit="ns")
