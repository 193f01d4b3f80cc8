"""Recall and false alarms of the under-heating signal on synthetic homes with ground truth, on held-out seeds.

Usage: python bench/hardship_recall.py [--seeds 10] [--dwellings 200] [--quick]   (--quick: 1 seed of 60 homes)

Each seed draws two winters of daily use for electrically heated homes (analytics.synthetic.hardship_cohort):
typical homes, well-insulated low users (stable), homes whose recent data is half missing (estimated or
suspect days) and, in one home out of ten, under-heating from a day before the compared window (thermostat
cut to 20–40 %, or heating off on cold days). The thresholds (coopwatt.settings hardship_*) were set on
seeds 1–2; the seeds measured here start at 101. Prints found/true per kind and false alarms per kind.
"""

from __future__ import annotations

import argparse
import math
from collections import Counter
from datetime import date

import numpy as np
import pandas as pd

from analytics.hardship import UNDER_HEATING, flag_hardship, heating_figures, settings_from
from analytics.synthetic import hardship_cohort
from coopwatt.settings import Settings

TODAY = date(2026, 3, 1)
FIRST_SEED = 101


def wilson_lower(found: int, total: int, z: float = 1.96) -> float:
    """95 % lower bound of a proportion (Wilson score)."""
    if total == 0:
        return float("nan")
    p = found / total
    centre = p + z * z / (2 * total)
    margin = z * math.sqrt(p * (1 - p) / total + z * z / (4 * total * total))
    return (centre - margin) / (1 + z * z / total)


def run_seed(seed: int, dwellings: int, settings: Settings) -> tuple[Counter[str], Counter[str]]:
    """(homes per kind, homes flagged per kind) for one seed."""
    hs = settings_from(settings)
    cohort = hardship_cohort(seed, dwellings, TODAY.isoformat(), window_days=hs.window_days)
    rows = [{"dwelling_id": h["dwelling_id"], "residence_id": h["residence_id"], "district": h["district"],
             "floor_area_m2": h["floor_area_m2"], "heating_type": h["heating_type"],
             "figures": heating_figures(h["daily"], TODAY, hs), "yearly_cost_eur": np.nan} for h in cohort]
    flagged = {f.dwelling_id for f in flag_hardship(pd.DataFrame(rows), hs) if f.signal == UNDER_HEATING}
    totals, hits = Counter(), Counter()
    for home in cohort:
        totals[home["kind"]] += 1
        hits[home["kind"]] += home["dwelling_id"] in flagged
    return totals, hits


def main() -> None:
    """Run the seeds and print recall and false alarms."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--dwellings", type=int, default=200)
    parser.add_argument("--quick", action="store_true", help="1 seed of 60 homes")
    args = parser.parse_args()
    seeds, dwellings = (1, 60) if args.quick else (args.seeds, args.dwellings)
    settings = Settings()
    totals, hits = Counter(), Counter()
    for seed in range(FIRST_SEED, FIRST_SEED + seeds):
        t, h = run_seed(seed, dwellings, settings)
        totals.update(t)
        hits.update(h)
    true_kinds, other_kinds = ("thermostat_lowered", "off_in_cold"), ("typical", "insulated_low", "gappy")
    found, truth = sum(hits[k] for k in true_kinds), sum(totals[k] for k in true_kinds)
    alarms, others = sum(hits[k] for k in other_kinds), sum(totals[k] for k in other_kinds)
    print(f"{seeds} seed(s) × {dwellings} homes, thresholds peer ≤ {settings.hardship_peer_ratio_max}, "
          f"own ≤ {settings.hardship_own_ratio_max}")
    print(f"under-heating homes found: {found}/{truth} (95% lower bound {wilson_lower(found, truth):.3f}); "
          + ", ".join(f"{k} {hits[k]}/{totals[k]}" for k in true_kinds))
    print(f"false alarms: {alarms}/{others}; " + ", ".join(f"{k} {hits[k]}/{totals[k]}" for k in other_kinds))


if __name__ == "__main__":
    main()
