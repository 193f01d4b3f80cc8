"""Replaying a simulation's recorded steps reaches exactly the indices the first run reached."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np

from coopwatt.simulator.residence import make_residences
from coopwatt.simulator.series import Chunk, Simulation
from coopwatt.simulator.timeline import Segment, advance_through, extended, read_segments, write_segments

START = datetime(2026, 1, 10, tzinfo=UTC)


def _last_values(chunks: list[Chunk]) -> dict[tuple[str, int], float]:
    """Each (source, quantity)'s last reported value."""
    values: dict[tuple[str, int], float] = {}
    for chunk in chunks:
        for block in chunk.blocks:
            for row, source in enumerate(block.sources):
                present = np.flatnonzero(block.present[row])
                if present.size:
                    values[(source, int(block.quantity))] = float(block.values[row, present[-1]])
    return values


def test_replayed_steps_give_the_same_indices_and_other_steps_do_not(tmp_path: Path) -> None:
    residences = make_residences(6, 3)
    first = Simulation(residences, START, seed=1)
    segments = [Segment(1800, START + timedelta(hours=6)), Segment(60, START + timedelta(hours=9))]
    advance_through(first, segments, lambda chunk: None)
    write_segments(tmp_path / "timeline.json", segments)
    tail_first = [first.advance(START + timedelta(hours=12), 1800)]

    replay = Simulation(residences, START, seed=1)
    advance_through(replay, read_segments(tmp_path / "timeline.json"), lambda chunk: None)
    assert replay.now == first.now - timedelta(hours=3)
    tail_replay = [replay.advance(START + timedelta(hours=12), 1800)]
    assert _last_values(tail_replay) == _last_values(tail_first)

    # The same hours taken at 30 minutes throughout: the indices differ (which is why a demo replays its steps).
    other = Simulation(residences, START, seed=1)
    tail_other = [other.advance(START + timedelta(hours=12), 1800)]
    assert _last_values(tail_other) != _last_values(tail_first)


def test_extended_merges_same_steps_and_ignores_what_adds_nothing() -> None:
    t = START
    history = [Segment(1800, t + timedelta(hours=1))]
    assert extended(history, 1800, t + timedelta(hours=2)) == [Segment(1800, t + timedelta(hours=2))]
    assert extended(history, 60, t + timedelta(hours=2)) == [*history, Segment(60, t + timedelta(hours=2))]
    assert extended(history, 60, t) == history  # ends before the last segment: no step to add
    assert extended([], 60, t) == [Segment(60, t)]


def test_a_missing_or_broken_timeline_reads_as_none(tmp_path: Path) -> None:
    assert read_segments(tmp_path / "absent.json") == []
    (tmp_path / "broken.json").write_text('{"segments": [{"step_s": "x"}]}')
    assert read_segments(tmp_path / "broken.json") == []


def test_the_recorder_writes_taken_segments_then_live_steps(tmp_path: Path) -> None:
    from coopwatt.simulator.timeline import Recorder

    path = tmp_path / "timeline.json"
    recorder = Recorder(path, [Segment(1800, START + timedelta(hours=6))], 60)
    recorder.record(START + timedelta(hours=7))
    assert read_segments(path) == [Segment(1800, START + timedelta(hours=6)), Segment(60, START + timedelta(hours=7))]
    recorder.record(START + timedelta(hours=8), at_most_every_s=3600)  # just written: skipped
    assert read_segments(path)[-1].until == START + timedelta(hours=7)
    recorder.record(START + timedelta(hours=8))
    assert read_segments(path)[-1] == Segment(60, START + timedelta(hours=8))
