"""The steps a simulation advanced by, kept so that a later run can replay them exactly.

A simulated interval's draws depend on its length (a minute of water use is not a thirtieth of
half an hour's), so an index reached by one-minute live steps differs slightly from the same
time reached by thirty-minute history steps. A demo that continues an earlier one replays the
earlier run's segments step for step; otherwise the indices it stores next to the earlier ones
would go down by a few Wh here and there, and read as counter resets.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from coopwatt.simulator.series import Chunk, Simulation

WINDOW = timedelta(days=1)  # one advance per day at most: bounded memory for a year of history


@dataclass(frozen=True)
class Segment:
    """Readings every ``step_s`` seconds from where the previous segment stopped up to ``until``."""

    step_s: int
    until: datetime


def advance_through(simulation: Simulation, segments: Iterable[Segment],
                    on_chunk: Callable[[Chunk], None]) -> None:
    """Advance the simulation through each segment in turn, a day at a time, handing each chunk on."""
    for segment in segments:
        step = timedelta(seconds=segment.step_s)
        while simulation.now + step <= segment.until:
            chunk = simulation.advance(min(simulation.now + WINDOW, segment.until), segment.step_s)
            if not len(chunk.times):
                break
            on_chunk(chunk)


def extended(segments: Sequence[Segment], step_s: int, until: datetime) -> list[Segment]:
    """The segments followed by ``step_s`` steps up to ``until`` (merged into the last one if its step is the same).

    A segment that would end where the last one does, or before, adds no step and is left out.
    """
    if segments and until <= segments[-1].until:
        return list(segments)
    if segments and segments[-1].step_s == step_s:
        return [*segments[:-1], Segment(step_s, max(until, segments[-1].until))]
    return [*segments, Segment(step_s, until)]


def read_segments(path: Path) -> list[Segment]:
    """The segments recorded at ``path``; none if the file is missing or unreadable."""
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
        return [Segment(int(item["step_s"]), datetime.fromisoformat(item["until"]))
                for item in document["segments"]]
    except (OSError, ValueError, KeyError, TypeError):
        return []


def write_segments(path: Path, segments: Sequence[Segment]) -> None:
    """Record the segments at ``path`` (written to a temporary file, then renamed: never half a file)."""
    document = {"segments": [{"step_s": s.step_s, "until": s.until.isoformat()} for s in segments]}
    temporary = path.with_suffix(path.suffix + ".tmp")
    temporary.write_text(json.dumps(document, indent=1), encoding="utf-8")
    temporary.replace(path)


class Recorder:
    """Keeps the segments taken so far written down while the live steps go on."""

    def __init__(self, path: Path, taken: list[Segment], live_step_s: int) -> None:
        self.path = path
        self.taken = taken
        self.live_step_s = live_step_s
        self._written_at = -float("inf")

    def record(self, clock: datetime, *, at_most_every_s: float = 0.0) -> None:
        """Write the segments taken, then live steps up to ``clock`` (written often: a killed run loses a second)."""
        if time.monotonic() - self._written_at < at_most_every_s:
            return
        write_segments(self.path, extended(self.taken, self.live_step_s, clock))
        self._written_at = time.monotonic()
