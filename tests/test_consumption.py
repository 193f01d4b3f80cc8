"""Hourly consumption from indices and interval values: resets, gaps, order, duplicates, increments."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from ingest.consumption import hourly_from_index, hourly_from_intervals, recompute_window

T0 = datetime(2026, 1, 5, 0, 0, tzinfo=UTC)
MAX_RATE = 1000.0  # per hour: loose enough that generated data never looks implausible


@st.composite
def index_series(draw: st.DrawFn, resets: bool = False) -> tuple[list[datetime], list[float]]:
    """A meter's readings: increasing times (seconds to hours apart), a non-decreasing index."""
    n = draw(st.integers(min_value=2, max_value=40))
    steps_s = draw(st.lists(st.integers(min_value=1, max_value=6 * 3600), min_size=n - 1, max_size=n - 1))
    rates = draw(st.lists(st.floats(min_value=0, max_value=50), min_size=n - 1, max_size=n - 1))  # per hour
    uses = [rate * step / 3600 for rate, step in zip(rates, steps_s, strict=True)]
    start = draw(st.floats(min_value=0, max_value=1e5, allow_nan=False))
    offset_s = draw(st.integers(min_value=0, max_value=3599))
    times = [T0 + timedelta(seconds=offset_s + int(s)) for s in np.concatenate(([0], np.cumsum(steps_s)))]
    values = [float(v) for v in start + np.concatenate(([0.0], np.cumsum(uses)))]
    if resets:
        # The counter restarts from zero somewhere, at a plausible rate.
        at = draw(st.integers(min_value=1, max_value=n - 1))
        restart = draw(st.floats(0, 1)) * uses[at - 1]
        values = values[:at] + [v - values[at] + restart for v in values[at:]]
    return times, values


def _same(a: pd.DataFrame, b: pd.DataFrame) -> None:
    assert list(a["hour"]) == list(b["hour"])
    np.testing.assert_allclose(a["amount"].to_numpy(), b["amount"].to_numpy(), rtol=1e-9, atol=1e-9)
    assert list(a["estimated"]) == list(b["estimated"])


@settings(max_examples=150, deadline=None)
@given(index_series(resets=True), st.randoms(use_true_random=False), st.data())
def test_order_and_duplicates_do_not_matter(series: tuple[list[datetime], list[float]], rnd, data: st.DataObject) -> None:
    times, values = series
    clean = hourly_from_index(times, values, max_rate_per_h=MAX_RATE)
    dup = data.draw(st.lists(st.integers(0, len(times) - 1), max_size=10))
    messy = list(zip(times, values, strict=True)) + [(times[i], values[i]) for i in dup]
    rnd.shuffle(messy)
    result = hourly_from_index([t for t, _ in messy], [v for _, v in messy], max_rate_per_h=MAX_RATE)
    _same(clean.hourly, result.hourly)
    assert clean.events.equals(result.events)


@settings(max_examples=150, deadline=None)
@given(index_series(resets=True))
def test_never_negative(series: tuple[list[datetime], list[float]]) -> None:
    hourly = hourly_from_index(*series, max_rate_per_h=MAX_RATE).hourly
    assert (hourly["amount"] >= 0).all()


@settings(max_examples=150, deadline=None)
@given(index_series())
def test_without_resets_total_is_last_minus_first(series: tuple[list[datetime], list[float]]) -> None:
    times, values = series
    derived = hourly_from_index(times, values, max_rate_per_h=MAX_RATE)
    assert derived.events.empty
    assert np.isclose(derived.hourly["amount"].sum(), values[-1] - values[0], rtol=1e-9, atol=1e-9)


@settings(max_examples=150, deadline=None)
@given(index_series(resets=True))
def test_spreading_conserves_each_counted_difference(series: tuple[list[datetime], list[float]]) -> None:
    """The hourly total is the sum of believed differences, resets counted from zero."""
    times, values = series
    derived = hourly_from_index(times, values, max_rate_per_h=MAX_RATE)
    steps = np.diff(values)
    expected = np.where(steps < -1e-3, values[1:], np.maximum(steps, 0)).sum()
    assert np.isclose(derived.hourly["amount"].sum(), expected, rtol=1e-9, atol=1e-9)


@settings(max_examples=150, deadline=None)
@given(index_series(resets=True), st.data())
def test_two_overlapping_chunks_give_the_full_result(series: tuple[list[datetime], list[float]], data: st.DataObject) -> None:
    times, values = series
    full = hourly_from_index(times, values, max_rate_per_h=MAX_RATE).hourly
    cut = data.draw(st.integers(1, len(times) - 1))
    overlap = data.draw(st.integers(0, cut))
    # First the early part arrives and is derived; then the rest arrives (re-sending some old readings).
    first = hourly_from_index(times[:cut], values[:cut], max_rate_per_h=MAX_RATE).hourly
    new_from = times[cut - overlap]
    read_from, emit_from = recompute_window(times, new_from, cumulative=True)
    keep = [i for i, t in enumerate(times) if t >= read_from]
    second = hourly_from_index([times[i] for i in keep], [values[i] for i in keep], max_rate_per_h=MAX_RATE).hourly
    merged = pd.concat([first[first["hour"] < emit_from], second[second["hour"] >= emit_from]], ignore_index=True)
    _same(full, merged)


def test_gap_is_spread_and_marked_estimated() -> None:
    times = [T0, T0 + timedelta(minutes=30), T0 + timedelta(hours=6, minutes=30), T0 + timedelta(hours=7)]
    hourly = hourly_from_index(times, [10.0, 11.0, 17.0, 18.0], max_rate_per_h=100, max_gap_s=7200).hourly
    assert list(hourly["hour"]) == [T0 + timedelta(hours=h) for h in range(7)]
    # 6 kWh over 6 h: 0.5 in hour 0 (plus the 1 measured), 1 per hour in hours 1–5, 0.5 in hour 6 (plus 1).
    np.testing.assert_allclose(hourly["amount"], [1.5, 1, 1, 1, 1, 1, 1.5])
    assert hourly["estimated"].all()


def test_implausible_reset_contributes_nothing_and_is_reported() -> None:
    times = [T0 + timedelta(minutes=10 * i) for i in range(4)]
    # The index drops to 50: counting 50 kWh from zero in 10 minutes is not believable at 12 kWh/h.
    result = hourly_from_index(times, [100.0, 100.5, 50.0, 50.2], max_rate_per_h=12)
    np.testing.assert_allclose(result.hourly["amount"], [0.5 + 0.2])
    assert result.hourly["estimated"].all()
    events = result.events
    assert list(events["kind"]) == ["reset"] and not events["counted"].iloc[0]
    assert (events["before"].iloc[0], events["after"].iloc[0]) == (100.5, 50.0)
    # A replaced meter starting at 5000 kWh is an implausible rise: unknown interval, reported as a jump.
    jumped = hourly_from_index(times, [100.0, 100.5, 5000.0, 5000.2], max_rate_per_h=12)
    assert list(jumped.events["kind"]) == ["jump"]
    np.testing.assert_allclose(jumped.hourly["amount"], [0.7])


def test_plausible_reset_counts_from_zero() -> None:
    times = [T0 + timedelta(minutes=20 * i) for i in range(3)]
    result = hourly_from_index(times, [500.0, 501.0, 0.4], max_rate_per_h=12)
    np.testing.assert_allclose(result.hourly["amount"], [1.4])
    assert list(result.events["counted"]) == [True]


def test_intervals_go_to_the_hour_they_end_in() -> None:
    times = [T0 + timedelta(minutes=30), T0 + timedelta(hours=1), T0 + timedelta(hours=1, minutes=30)]
    hourly = hourly_from_intervals(times + [times[0]], [0.2, 0.3, 0.4, 0.2]).hourly
    assert list(hourly["hour"]) == [T0, T0 + timedelta(hours=1)]
    np.testing.assert_allclose(hourly["amount"], [0.5, 0.4])
    read_from, emit_from = recompute_window(times, times[1], cumulative=False)
    assert emit_from == T0 and read_from > T0
