"""Centred rolling medians computed as pandas computes them, on whole windows at once or only where needed.

``pandas.DataFrame.rolling(w, center=True, min_periods=m).median()`` keeps a skiplist per column and moves it
one value at a time; the spike detector's short windows over a year's day × slot grid, and its long window over
the year of which it reads only a few positions, spend most of their time there. Here each window is sorted
(NaN last) and its median read off the sorted values with pandas' own rule, so the results are the same floats:
the middle value, or for an even count ``(upper + lower) / 2``; ±inf are unknown (NaN), as pandas makes them;
fewer than ``min_periods`` known values give NaN.
"""

from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view
from numpy.typing import NDArray


def _padded(values: NDArray[np.float64], window: int) -> NDArray[np.float64]:
    """The values with NaN before and after (axis 0) so that window i covers pandas' centred window of row i."""
    # pandas' centred fixed window of row i: [i + 1 + offset - window, i + 1 + offset), clipped to the data.
    offset = (window - 1) // 2
    known = np.where(np.isinf(values), np.nan, values)
    pad = [(window - 1 - offset, offset)] + [(0, 0)] * (values.ndim - 1)
    return np.pad(known, pad, constant_values=np.nan)


def _median_of_windows(windows: NDArray[np.float64], min_periods: int) -> NDArray[np.float64]:
    """Median of each window (last axis) by pandas' rule; NaN where fewer than ``min_periods`` values are known."""
    ordered = np.sort(windows, axis=-1)  # NaN last
    count = windows.shape[-1] - np.isnan(windows).sum(axis=-1)
    middle = count // 2
    upper = np.take_along_axis(ordered, middle[..., None], axis=-1)[..., 0]
    lower = np.take_along_axis(ordered, np.maximum(middle - 1, 0)[..., None], axis=-1)[..., 0]
    median = np.where(count % 2 == 0, (upper + lower) / 2, upper)
    return np.where(count >= max(min_periods, 1), median, np.nan)


def centred_rolling_median(values: NDArray[np.float64], window: int, min_periods: int) -> NDArray[np.float64]:
    """``rolling(window, center=True, min_periods=min_periods).median()`` down axis 0 (each column on its own)."""
    values = np.asarray(values, dtype=float)
    if len(values) == 0:
        return values.copy()
    windows = sliding_window_view(_padded(values, window), window, axis=0)
    return _median_of_windows(windows, min_periods)


def centred_rolling_median_at(values: NDArray[np.float64], window: int, min_periods: int,
                              positions: NDArray[np.intp]) -> NDArray[np.float64]:
    """The same rolling median of a 1-D array, at the given positions only."""
    values = np.asarray(values, dtype=float)
    if len(positions) == 0:
        return np.zeros(0)
    windows = sliding_window_view(_padded(values, window), window)[positions]
    return _median_of_windows(windows, min_periods)
