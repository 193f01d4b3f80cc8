"""Why base-load rises are not judged in electrically heated homes: how much their night load moves by itself.

Usage: python bench/electric_night_load.py [--dwellings 60] [--seed 21]

Simulates a fault-free year of 30-minute readings and, for each electrically heated home, takes each
night's lowest 30-minute power between 01:00 and 05:00 (what ``night_base_load_w`` judges). Prints, per
month, the median night level and the median change from one night to the next, beside the homes' true
always-on load: a rise must stand out from that change for several nights to be told from the heating.
"""

from __future__ import annotations

import argparse
from datetime import UTC, datetime

import numpy as np
import pandas as pd

from coopwatt.quantities import Quantity
from coopwatt.simulator.residence import make_residences
from coopwatt.simulator.series import iter_chunks

START = datetime(2025, 1, 1, tzinfo=UTC)
END = datetime(2026, 1, 1, tzinfo=UTC)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dwellings", type=int, default=60)
    parser.add_argument("--seed", type=int, default=21)
    args = parser.parse_args()
    residences = make_residences(args.dwellings, seed=args.seed)
    dwellings = {(d.residence_code, d.code): d for r in residences for d in r.dwellings}
    meters = {m.source: m for r in residences for m in r.meters}
    rows = []
    for chunk in iter_chunks(residences, START, END, seed=args.seed, step_s=1800, dwellings_per_chunk=100):
        block = chunk.block(Quantity.ENERGY_INDEX_KWH)
        for row, source in enumerate(block.sources):
            meter = meters[source]
            dwelling = dwellings.get((meter.residence_code, meter.dwelling_code))
            if meter.kind != "electricity" or dwelling is None or dwelling.heating_type != "electric":
                continue
            present = block.present[row]
            times = chunk.times[present].tz_convert("Europe/Paris")
            power_w = pd.Series(np.diff(block.values[row][present]) * 2000.0, index=times[:-1])
            night = power_w[(power_w.index.hour >= 1) & (power_w.index.hour < 5)]
            lowest = night.groupby(night.index.normalize()).min()
            for month, nights in lowest.groupby(lowest.index.month):
                rows.append((month, nights.median(), nights.diff().abs().median(), dwelling.base_load_w))
    table = pd.DataFrame(rows, columns=["month", "night_level_w", "night_to_night_change_w", "always_on_w"])
    print(f"{table.groupby('month').size().iloc[0]} electrically heated homes; medians over homes:")
    print(table.groupby("month").median().round(0).to_string())


if __name__ == "__main__":
    main()
