"""Standby (always-on) figures against the simulator's truth, month by month: the night minimum vs coopwatt's rule.

Simulated dwellings (``coopwatt.simulator``, a year of 30-minute readings turned into hours as ``ingest.derive``
does) each have a true standby (``Dwelling.base_load_w``). For the eight weeks before the 1st of each month —
the window the nightly run reads — each home's standby is measured two ways:

* baseline, the rule before: the median over the window's nights of the lowest hour between 01:00 and 05:00
  (``night_base_load_w``), whatever heats the home;
* coopwatt now (``analytics.standby.measure_standby``): the same for homes whose electricity does not heat;
  for those it heats (registry, or a heating term in the home's daily model fitted on the year), the unheated
  hours only (outdoor °C at or above the balance point, off-peak hours left out), or no figure at all.

Printed per month and heating: how many homes got a figure, the median error against the truth (W), and how
many figures are impossible (the standby alone, × 8,760 h, more than the home used over the year). Then the
ratio of the two rules' median absolute errors over all electrically heated home-months.

Run:  uv run python bench/standby_truth.py --dwellings 300
      --quick: 12 dwellings (seconds; checks the script runs)
"""

from __future__ import annotations

import argparse
import os
import sys
from collections import defaultdict
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from analytics.base_load import night_base_load_w  # noqa: E402
from analytics.baseline import DailyBaselineModel  # noqa: E402
from analytics.errors import InsufficientDataError  # noqa: E402
from analytics.job.run import ELECTRIC_HEATING  # noqa: E402
from analytics.standby import heated_below_c, measure_standby  # noqa: E402
from bench.analytics_nightly import TZ, hourly_series  # noqa: E402
from coopwatt.quantities import Quantity  # noqa: E402
from coopwatt.simulator.residence import make_residences  # noqa: E402
from coopwatt.simulator.series import iter_chunks  # noqa: E402

START = datetime(2025, 1, 1, tzinfo=UTC)
END = datetime(2026, 1, 1, tzinfo=UTC)
WINDOW = pd.Timedelta(days=56)  # analytics.job.nightly.HOURLY_DAYS
MONTHS = pd.date_range("2025-03-01", "2026-01-01", freq="MS", tz=TZ)  # windows inside the simulated year


def _homes(dwellings: int, seed: int):
    """Per dwelling: (dwelling, hourly electricity, residence's outdoor °C by time)."""
    residences = make_residences(dwellings, seed=seed)
    meters = {m.source: m for r in residences for m in r.meters if m.dwelling_code is not None}
    by_code = {(r.code, d.code): d for r in residences for d in r.dwellings}
    temps: dict[str, pd.Series] = {}
    for chunk in iter_chunks(residences, START, END, seed=seed, dwellings_per_chunk=50):
        block = chunk.block(Quantity.TEMPERATURE_C)
        for row, code in enumerate(block.sources if block is not None else ()):
            present = block.present[row]
            temps[code] = pd.Series(block.values[row][present], index=chunk.times[present].tz_convert(TZ))
        energy = chunk.block(Quantity.ENERGY_INDEX_KWH)
        done: set[tuple[str, str]] = set()
        for row, source in enumerate(energy.sources):
            meter = meters.get(source)
            if meter is None or meter.kind != "electricity":
                continue
            key = (meter.residence_code, meter.dwelling_code)
            if key in done:
                continue
            done.add(key)
            present = energy.present[row]
            yield by_code[key], hourly_series(chunk.times[present], energy.values[row][present], 36.0), temps[key[0]]


def _heated_below(dwelling, hourly: pd.Series, outdoor_c: pd.Series) -> float | None:
    """The home's heating limit as the nightly sees it (its daily model fitted on the year)."""
    daily_kwh = hourly.groupby(hourly.index.normalize()).sum(min_count=1)
    daily_c = outdoor_c.groupby(outdoor_c.index.normalize()).mean()
    frame = pd.DataFrame({"energy_kwh": daily_kwh, "temperature_c": daily_c.reindex(daily_kwh.index)})
    frame.index = frame.index.tz_localize(None)
    try:
        params = DailyBaselineModel().fit(frame).params
    except InsufficientDataError:
        params = None
    return heated_below_c(dwelling.heating_type in ELECTRIC_HEATING, params)


def run(dwellings: int, seed: int) -> None:
    """Measure every home's standby at the start of every month both ways; print the table and the ratio."""
    load_start = os.getloadavg()[0]
    # (heated, month) → lists of old errors, new errors, counts
    old_err: dict[tuple[bool, str], list[float]] = defaultdict(list)
    new_err: dict[tuple[bool, str], list[float]] = defaultdict(list)
    counts: dict[tuple[bool, str], list[int]] = defaultdict(lambda: [0, 0, 0, 0])  # homes, measured, old/new impossible
    for dwelling, hourly, outdoor_c in _homes(dwellings, seed):
        used_kwh = float(hourly.sum())
        heated_below = _heated_below(dwelling, hourly, outdoor_c)
        heated = heated_below is not None
        frame = pd.DataFrame({"energy_kwh": hourly})
        for month in MONTHS:
            window = frame[(frame.index >= month - WINDOW) & (frame.index < month)]
            if not len(window):
                continue
            key = (heated, month.strftime("%Y-%m"))
            tally = counts[key]
            tally[0] += 1
            nights = night_base_load_w(window)
            old_w = float(np.nanmedian(nights.to_numpy()))
            old_err[key].append(old_w - dwelling.base_load_w)
            tally[2] += old_w * 8.76 > used_kwh
            standby = measure_standby(window, outdoor_c, heated_below)
            if standby is None or standby.power_w is None:
                continue
            tally[1] += 1
            new_err[key].append(standby.power_w - dwelling.base_load_w)
            tally[3] += standby.power_w * 8.76 > used_kwh
    print(f"dwellings {dwellings}, seed {seed}, load average {load_start:.2f} → {os.getloadavg()[0]:.2f}")
    print("| heating by electricity | window ends | homes | measured now | median error before (W) "
          "| median error now (W) | impossible before | impossible now |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- |")
    for key in sorted(counts):
        homes, measured, old_bad, new_bad = counts[key]
        new = f"{np.median(new_err[key]):+.0f}" if new_err[key] else "—"
        print(f"| {'yes' if key[0] else 'no'} | {key[1]} | {homes} | {measured} | {np.median(old_err[key]):+.0f} "
              f"| {new} | {old_bad} | {new_bad} |")
    for heated in (True, False):
        old = np.abs(np.concatenate([old_err[k] for k in counts if k[0] == heated] or [[np.nan]]))
        new = np.abs(np.concatenate([new_err[k] for k in counts if k[0] == heated] or [[np.nan]]))
        bad_old = sum(counts[k][2] for k in counts if k[0] == heated)
        bad_new = sum(counts[k][3] for k in counts if k[0] == heated)
        total = sum(counts[k][0] for k in counts if k[0] == heated)
        measured = sum(counts[k][1] for k in counts if k[0] == heated)
        ratio = np.nanmedian(old) / max(np.nanmedian(new), 1.0) if len(new) else float("nan")
        print(f"{'electric' if heated else 'other'} heating: measured {measured}/{total} home-months; median |error| "
              f"before {np.nanmedian(old):.0f} W, now {np.nanmedian(new):.0f} W (before/now {ratio:.1f}×); "
              f"impossible figures before {bad_old}, now {bad_new}")


def main() -> None:
    """Parse arguments and run."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dwellings", type=int, default=300)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--quick", action="store_true", help="12 dwellings: checks the script still runs")
    args = parser.parse_args()
    run(12 if args.quick else args.dwellings, args.seed)


if __name__ == "__main__":
    main()
