"""Weather terms against the simulator's truth: false terms, missed heating and night-to-night flips, per selection rule.

Usage: python bench/baseline_terms.py [--dwellings 200] [--seeds 7 8] [--quick]

The simulator (``coopwatt.simulator``) knows which homes heat with electricity: only their electricity follows
the weather; the others' is base load, appliances and hot water (no weather in it). For two simulated years per
seed this fits every home's electricity over the last 365 days before several nights and counts

* false weather terms: a heating or cooling term in a home that does not heat with electricity;
* missed heating: no heating term in a home that does;
* flips: the model type changing between two nights two days apart (for 8 pairs of nights per home).

Rules compared: ``in-sample`` (cv_folds = 0: the lowest residual variance among terms significant at p < 0.1,
what the model did before) and ``out-of-sample`` (the default: cross-validated, a term must lower the
out-of-sample RMSE by ``min_cv_improvement``), the latter with and without yesterday's model type
(``stability_margin``). Figures go to docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from analytics.baseline import BaselineSettings, DailyBaselineModel  # noqa: E402
from analytics.errors import InsufficientDataError  # noqa: E402
from coopwatt.simulator.daily import daily_electricity  # noqa: E402

ELECTRIC = {"electric", "heat_pump"}


def fit(energy: pd.Series, temperature: pd.Series, end: pd.Timestamp, settings: BaselineSettings,
        previous: str | None = None) -> str | None:
    """Model type fitted on the 365 days before ``end`` (None: not qualified)."""
    window = slice(end - pd.Timedelta(days=365), end - pd.Timedelta(days=1))
    frame = pd.DataFrame({"energy_kwh": energy.loc[window], "temperature_c": temperature.loc[window]})
    try:
        params = DailyBaselineModel(settings).fit(frame, previous).params
    except InsufficientDataError:
        return None
    return None if params is None else params.model_type


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dwellings", type=int, default=200)
    parser.add_argument("--seeds", type=int, nargs="+", default=[7, 8])
    parser.add_argument("--nights", type=int, default=8, help="pairs of nights two days apart per home")
    parser.add_argument("--quick", action="store_true", help="tiny scale, seconds: checks the script still runs")
    args = parser.parse_args()
    if args.quick:
        args.dwellings, args.seeds, args.nights = 12, [7], 1
    default = BaselineSettings()
    rules = {"in-sample": replace(default, cv_folds=0), "out-of-sample": default}
    # The term margin swept (first night only): what min_cv_improvement trades between false and missed terms.
    rules |= {f"out-of-sample, margin {m:.0%}": replace(default, min_cv_improvement=m) for m in (0.0, 0.01, 0.05)}
    counts = {rule: {"false": 0, "missed": 0, "flips": 0, "flips_stable": 0} for rule in rules}
    homes_total = {"electric": 0, "other": 0}
    pairs = 0
    start = datetime(2025, 1, 1, tzinfo=UTC)
    for seed in args.seeds:
        homes, energy, temperature = daily_electricity(args.dwellings, seed, start, 730)
        first_end = energy.index[0] + pd.Timedelta(days=366)
        ends = [first_end + pd.Timedelta(days=int(d)) for d in np.linspace(0, 300, args.nights)]
        for column, home in enumerate(homes):
            electric = home.heating_type in ELECTRIC
            homes_total["electric" if electric else "other"] += 1
            e, t = energy[column], temperature[column]
            for rule, settings in rules.items():
                kind = fit(e, t, ends[0], settings)
                if kind is None:
                    continue
                weather = kind != "intercept_only"
                counts[rule]["false"] += weather and not electric
                counts[rule]["missed"] += electric and "heating" not in kind
                if rule not in ("in-sample", "out-of-sample"):
                    continue
                for end in ends:
                    night = fit(e, t, end, settings)
                    two_days_later = fit(e, t, end + pd.Timedelta(days=2), settings)
                    counts[rule]["flips"] += night != two_days_later
                    if rule == "out-of-sample":
                        kept = fit(e, t, end + pd.Timedelta(days=2), settings, previous=night)
                        counts[rule]["flips_stable"] += night != kept
            pairs += len(ends)
        print(f"seed {seed} done", flush=True)
    print(f"{len(args.seeds)} seeds × {args.dwellings} homes: {homes_total['electric']} heat with electricity, "
          f"{homes_total['other']} do not; {pairs} pairs of nights two days apart")
    print("| rule | false weather terms (homes without electric heating) | missed heating (electric homes) "
          "| flips between nights 2 days apart | … keeping yesterday's type |")
    print("| --- | --- | --- | --- | --- |")
    for rule, c in counts.items():
        flips = f"{c['flips']}/{pairs}" if rule in ("in-sample", "out-of-sample") else "—"
        stable = f"{c['flips_stable']}/{pairs}" if rule == "out-of-sample" else "—"
        print(f"| {rule} | {c['false']}/{homes_total['other']} | {c['missed']}/{homes_total['electric']} "
              f"| {flips} | {stable} |")


if __name__ == "__main__":
    main()
