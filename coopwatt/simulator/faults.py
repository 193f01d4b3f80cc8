"""Injected faults and the ground truth analytics is tested against.

A fault changes either what physically flows (a leak, a base-load jump, a spike)
or what a meter reports (a silent meter, a counter reset, a frozen index). Times
follow the readings: an interval fault affects the readings at times t with
``start < t <= end`` (the intervals that end inside it); a reporting fault
affects the readings at ``start <= t < end``; instant faults (reset, spike)
happen at the reading at ``start`` (and ``end == start``).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np

from coopwatt.simulator.residence import Residence

FAULT_KINDS = ("water_leak", "meter_silent", "base_load_jump", "counter_reset", "frozen_index", "spike")
# Which meter each kind of fault is injected on.
FAULT_METER_KIND = {
    "water_leak": "water", "meter_silent": "electricity", "base_load_jump": "electricity",
    "counter_reset": "electricity", "frozen_index": "electricity", "spike": "electricity",
}


@dataclass(frozen=True)
class Fault:
    """One injected fault on one meter."""

    kind: str
    meter_source: str
    dwelling_code: str | None
    residence_code: str
    start: datetime
    end: datetime | None  # None: still going at the end of the simulation
    parameters: dict[str, float | str] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict (ISO times in UTC)."""
        out = asdict(self)
        out["start"] = self.start.astimezone(UTC).isoformat()
        out["end"] = self.end.astimezone(UTC).isoformat() if self.end is not None else None
        return out

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Fault:
        """The inverse of :meth:`to_json`."""
        return cls(kind=data["kind"], meter_source=data["meter_source"], dwelling_code=data["dwelling_code"],
                   residence_code=data["residence_code"], start=datetime.fromisoformat(data["start"]),
                   end=datetime.fromisoformat(data["end"]) if data["end"] else None,
                   parameters=dict(data["parameters"]))


def _aligned(time: datetime, step_s: int) -> datetime:
    """The reading time at or after `time` on the step grid (UTC epoch multiples)."""
    seconds = time.timestamp()
    return datetime.fromtimestamp(-(-seconds // step_s) * step_s, tz=UTC)


def plan_faults(residences: Sequence[Residence], start: datetime, end: datetime, seed: int, *,
                per_kind: int = 1, step_s: int = 1800) -> list[Fault]:
    """Choose `per_kind` faults of each kind on distinct dwellings, placed inside [start, end]."""
    rng = np.random.default_rng([seed, 0xFA17])
    dwellings = [(r, d) for r in residences for d in r.dwellings]
    wanted = per_kind * len(FAULT_KINDS)
    if wanted > len(dwellings):
        raise ValueError(f"{wanted} faults need at least as many dwellings (got {len(dwellings)})")
    chosen = rng.choice(len(dwellings), size=wanted, replace=False)
    span_s = (end - start).total_seconds()
    faults: list[Fault] = []
    for n, index in enumerate(chosen):
        kind = FAULT_KINDS[n % len(FAULT_KINDS)]
        residence, dwelling = dwellings[int(index)]
        meter = next(m for m in residence.meters
                     if m.dwelling_code == dwelling.code and m.kind == FAULT_METER_KIND[kind])
        # Leave history before the fault (a baseline) and time after it (to see it end).
        at = _aligned(start + timedelta(seconds=float(rng.uniform(0.35, 0.8)) * span_s), step_s)
        hours = float(rng.uniform(0.0, 1.0))
        params: dict[str, float | str]
        stop: datetime | None
        if kind == "water_leak":
            params = {"flow_l_per_h": round(6.0 + 24.0 * hours, 1)}
            stop = None if rng.random() < 0.5 else _aligned(at + timedelta(days=3 + 7 * hours), step_s)
        elif kind == "meter_silent":
            duration = timedelta(hours=6 + 66 * hours)
            params = {"duration_h": round(duration.total_seconds() / 3600, 2)}
            stop = _aligned(at + duration, step_s)
        elif kind == "base_load_jump":
            params = {"extra_w": round(150.0 + 250.0 * hours)}
            stop = None
        elif kind == "counter_reset":
            params = {"index_after_kwh": round(0.5 * hours, 3)}
            stop = at
        elif kind == "frozen_index":
            duration = timedelta(hours=24 + 72 * hours)
            params = {"duration_h": round(duration.total_seconds() / 3600, 2), "resumes": "from_frozen_value"}
            stop = _aligned(at + duration, step_s)
        else:  # spike
            # Well above anything the home draws (a glitch, beyond the subscribed power).
            params = {"extra_w": round(20000.0 + 10000.0 * hours)}
            stop = at
        if stop is not None and stop > end:
            stop = None
        faults.append(Fault(kind=kind, meter_source=meter.source, dwelling_code=dwelling.code,
                            residence_code=residence.code, start=at, end=stop, parameters=params))
    return faults


def write_ground_truth(path: str | Path, faults: Iterable[Fault], residences: Sequence[Residence], *,
                       seed: int, start: datetime, end: datetime) -> Path:
    """Write the faults and every dwelling's true parameters to a JSON file."""
    path = Path(path)
    document = {
        "seed": seed,
        "start": start.astimezone(UTC).isoformat(),
        "end": end.astimezone(UTC).isoformat(),
        "time_convention": "interval faults affect readings with start < t <= end; reporting faults "
                           "(meter_silent, frozen_index) readings with start <= t < end; counter_reset and "
                           "spike the reading at start; end null = still going",
        "faults": [f.to_json() for f in faults],
        "dwellings": [
            {"residence_code": r.code, **{k: v for k, v in asdict(d).items() if k != "residence_code"}}
            for r in residences for d in r.dwellings
        ],
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(document, indent=1, ensure_ascii=False), encoding="utf-8")
    return path


def read_ground_truth(path: str | Path) -> list[Fault]:
    """The faults recorded in a ground-truth file."""
    document = json.loads(Path(path).read_text(encoding="utf-8"))
    return [Fault.from_json(item) for item in document["faults"]]


# --- applying faults to series ------------------------------------------------------------------

def interval_mask(fault: Fault, seconds: np.ndarray) -> np.ndarray:
    """Readings whose interval lies inside a flow fault (start < t <= end)."""
    after = seconds > fault.start.timestamp()
    return after if fault.end is None else after & (seconds <= fault.end.timestamp())


def reporting_mask(fault: Fault, seconds: np.ndarray) -> np.ndarray:
    """Readings a reporting fault changes (start <= t < end)."""
    after = seconds >= fault.start.timestamp()
    return after if fault.end is None else after & (seconds < fault.end.timestamp())


def instant_mask(fault: Fault, seconds: np.ndarray) -> np.ndarray:
    """The reading an instant fault happens at."""
    return seconds == int(fault.start.timestamp())


@dataclass
class IndexFaultState:
    """What a reset or frozen fault remembers from one window of readings to the next."""

    offset: float = 0.0  # subtracted from the true index once the fault has begun / ended
    frozen_value: float | None = None
    last_true_while_frozen: float | None = None
    thawed: bool = False


def apply_index_fault(fault: Fault, state: IndexFaultState, seconds: np.ndarray, true_index: np.ndarray) -> np.ndarray:
    """The index a faulty meter reports, from its true index over one window (state carries on)."""
    reported = true_index - state.offset
    if fault.kind == "counter_reset":
        at = instant_mask(fault, seconds)
        if at.any():
            first = int(np.argmax(at))
            state.offset += reported[first] - float(fault.parameters.get("index_after_kwh", 0.0))
            reported[first:] = true_index[first:] - state.offset
        return reported
    if fault.kind != "frozen_index":
        return reported
    frozen = reporting_mask(fault, seconds)
    if frozen.any():
        first = int(np.argmax(frozen))
        if state.frozen_value is None:
            state.frozen_value = float(reported[first])
        state.last_true_while_frozen = float(reported[np.flatnonzero(frozen)[-1]])
        reported[frozen] = state.frozen_value
    if fault.end is not None and state.frozen_value is not None and state.last_true_while_frozen is not None:
        thawed = seconds >= fault.end.timestamp()
        if thawed.any():
            if not state.thawed:
                # Counts made while frozen are lost: the meter resumes from its frozen value.
                state.offset += state.last_true_while_frozen - state.frozen_value
                state.thawed = True
            reported[thawed] = true_index[thawed] - state.offset
    return reported
