"""How close the water-leak detector dates simulated leaks: on the meter's own periods vs on hourly sums alone.

Usage: python bench/leak_dating.py [--seeds 3] [--dwellings 300] [--quick]   (--quick: 1 seed of 40 homes)

Each seed simulates a year of 30-minute readings for ``--dwellings`` homes with one leak in every sixth of
them (``plan_faults``), derives hourly volumes as the ingester does, and runs ``detect_water_leak`` on each
leaking meter twice: with its per-period volumes (what the job does) and on hourly sums only (the baseline).
Prints, for both, how many leaks are found and dated within one reporting period, and the worst errors.
"""

from __future__ import annotations

import argparse
from datetime import UTC, datetime

import numpy as np
import pandas as pd

from analytics.anomalies import AnomalyKind, detect_water_leak, interval_volumes
from coopwatt.quantities import Quantity
from coopwatt.settings import Settings
from coopwatt.simulator.faults import FAULT_KINDS, plan_faults
from coopwatt.simulator.residence import make_residences
from coopwatt.simulator.series import iter_chunks
from ingest.consumption import hourly_from_index

START = datetime(2025, 1, 1, tzinfo=UTC)
END = datetime(2026, 1, 1, tzinfo=UTC)
STEP_S = 1800


def leak_errors(seed: int, dwellings: int, settings: Settings) -> list[tuple[float | None, float | None]]:
    """(error on periods, error on hourly sums) in hours for every simulated leak; None where it was missed."""
    residences = make_residences(dwellings, seed=seed)
    faults = plan_faults(residences, START, END, seed, per_kind=dwellings // len(FAULT_KINDS))
    leaks = {f.meter_source: f for f in faults if f.kind == "water_leak"}
    out = []
    for chunk in iter_chunks(residences, START, END, seed=seed, faults=faults, step_s=STEP_S, dwellings_per_chunk=100):
        block = chunk.block(Quantity.VOLUME_INDEX_M3)
        if block is None:
            continue
        for row, source in enumerate(block.sources):
            if source not in leaks:
                continue
            present = block.present[row]
            times, values = chunk.times[present], block.values[row][present]
            derived = hourly_from_index(times, values, max_rate_per_h=settings.ingest_max_flow_m3_per_h,
                                        max_gap_s=settings.consumption_max_gap_s).hourly
            tz = settings.timezone
            hourly = pd.DataFrame({"volume_m3": derived["amount"].to_numpy(dtype=float)},
                                  index=pd.DatetimeIndex(derived["hour"]).tz_convert(tz)).dropna()
            index = pd.DataFrame({"index_value": values.astype(float)}, index=times.tz_convert(tz))
            truth = pd.Timestamp(leaks[source].start)
            errors = []
            for periods in (interval_volumes(index), None):
                found = [a for a in detect_water_leak(hourly, 0, 0, periods=periods) if a.kind == AnomalyKind.WATER_LEAK]
                best = min(found, key=lambda a: abs(a.start - truth)) if found else None
                errors.append(None if best is None else (best.start - truth) / pd.Timedelta(hours=1))
            out.append((errors[0], errors[1]))
    return out


def summary(name: str, errors: list[float | None], period_h: float) -> str:
    """One line: found, within one period, never late, worst early."""
    found = np.array([e for e in errors if e is not None])
    within = int(np.sum(np.abs(found) <= period_h))
    return (f"{name:>14}: found {len(found)}/{len(errors)}, within one period {within} ({within / len(errors):.0%}),"
            f" late by more than a period {int(np.sum(found > period_h))}, worst early {found.min():+.1f} h")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--dwellings", type=int, default=300)
    parser.add_argument("--quick", action="store_true", help="tiny scale, seconds: checks the script still runs")
    args = parser.parse_args()
    if args.quick:
        args.seeds, args.dwellings = 1, 40
    settings = Settings()
    pairs = [pair for seed in range(1, args.seeds + 1) for pair in leak_errors(seed, args.dwellings, settings)]
    period_h = STEP_S / 3600
    print(summary("per period", [p for p, _ in pairs], period_h))
    print(summary("hourly only", [h for _, h in pairs], period_h))


if __name__ == "__main__":
    main()
