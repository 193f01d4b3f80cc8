"""The year test's recall bars, derived: dating recall per fault kind over held-out seeds, with its confidence bound.

Usage: python bench/recall_bars.py [--seeds 101 102 103 104 105 106] [--dwellings 60] [--per-kind 10]
                                   [--confidence 0.95] [--write tests/data/recall_bars.json]

Runs tests/test_analytics_year.py's configuration (a simulated year of ``--dwellings`` homes, ``--per-kind`` faults
of each kind) on seeds that no detector was tuned on (the test's 5 and 21, the tuning seeds 31-36 and 41-43 of
docs/benchmarks.md are excluded), counts per kind the faults dated within one reporting period, and prints the
one-sided Clopper-Pearson lower bound of that probability at ``--confidence``, and the bar it gives for
``--per-kind`` faults: floor(per_kind × lower bound). False alarms likewise: the alarms on fault-free meters
over all held-out meter-years give a one-sided upper bound of the per-meter-year rate, and the bar for the test's
fault-free year is the count that a year of its meters exceeds with probability under 1 − confidence at that
rate. ``--write`` puts the bars, the counts behind them and how they were derived (seeds, command, commit) in
the JSON file tests/test_analytics_year.py reads its bars from.
"""

from __future__ import annotations

import argparse
import json
import math
import subprocess
import sys
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd

from analytics.job.run import thresholds_from
from coopwatt.settings import Settings
from coopwatt.simulator.faults import plan_faults
from coopwatt.simulator.residence import make_residences
from tests.analytics_year_support import STEP_S, detect_simulated, match_faults

START = datetime(2025, 1, 1, tzinfo=UTC)
END = datetime(2026, 1, 1, tzinfo=UTC)
PERIOD = pd.Timedelta(seconds=STEP_S)
TUNED_ON = {5, 21, 31, 32, 33, 34, 35, 36, 41, 42, 43}


def binomial_tail_at_least(successes: int, trials: int, p: float) -> float:
    """P(X >= successes) for X ~ Binomial(trials, p)."""
    return sum(math.comb(trials, k) * p ** k * (1 - p) ** (trials - k) for k in range(successes, trials + 1))


def clopper_pearson_lower(successes: int, trials: int, confidence: float) -> float:
    """One-sided exact lower bound of a binomial probability: the p at which P(X >= successes) = 1 - confidence."""
    if successes == 0:
        return 0.0
    alpha = 1.0 - confidence
    low, high = 0.0, 1.0
    for _ in range(60):  # bisection: the tail grows with p
        mid = (low + high) / 2
        if binomial_tail_at_least(successes, trials, mid) < alpha:
            low = mid
        else:
            high = mid
    return low


def clopper_pearson_upper(successes: int, trials: int, confidence: float) -> float:
    """One-sided exact upper bound of a binomial probability: the p at which P(X <= successes) = 1 - confidence."""
    if successes >= trials:
        return 1.0
    return 1.0 - clopper_pearson_lower(trials - successes, trials, confidence)


def false_alarm_bar(rate: float, meters: int, confidence: float) -> int:
    """The fewest alarms k such that a year of ``meters`` meters at ``rate`` per meter-year exceeds k with P < 1 − conf."""
    k = 0
    while binomial_tail_at_least(k + 1, meters, rate) >= 1.0 - confidence:
        k += 1
    return k


def _commit() -> str:
    """The commit measured, marked when the worktree had changes."""
    def git(*args: str) -> str:
        return subprocess.run(["git", *args], capture_output=True, text=True, check=False).stdout.strip()
    return git("rev-parse", "--short", "HEAD") + ("+changes" if git("status", "--porcelain", "--untracked-files=no") else "")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[101, 102, 103, 104, 105, 106])
    parser.add_argument("--dwellings", type=int, default=60)
    parser.add_argument("--per-kind", type=int, default=10)
    parser.add_argument("--confidence", type=float, default=0.95)
    parser.add_argument("--quick", action="store_true", help="tiny scale, seconds: checks the script still runs")
    parser.add_argument("--write", type=Path, help="JSON file for the year test's bars (tests/data/recall_bars.json)")
    parser.add_argument("--test-meters", type=int, default=137,
                        help="meters of the test's fault-free year (seed 21, 60 homes) for the false-alarm bar")
    args = parser.parse_args()
    if args.quick:
        # One held-out seed of a few homes: proves the script runs; its bars mean nothing at this size.
        args.seeds, args.dwellings, args.per_kind = [101], 20, 1
    if TUNED_ON & set(args.seeds):
        parser.error(f"seeds {sorted(TUNED_ON & set(args.seeds))} were used for tuning or by the test")
    measured_at = _commit()  # at the start: the code that ran
    settings = Settings()
    within: Counter[str] = Counter()
    total: Counter[str] = Counter()
    false_alarms = 0
    clean_meters = 0
    for seed in args.seeds:
        residences = make_residences(args.dwellings, seed=seed)
        faults = plan_faults(residences, START, END, seed, per_kind=args.per_kind)
        results = list(detect_simulated(residences, START, END, seed=seed, settings=settings,
                                        thresholds=thresholds_from(settings), faults=faults))
        matches, alarms = match_faults(results, faults)
        false_alarms += len(alarms)
        faulty = {f.meter_source for f in faults}
        clean_meters += sum(1 for r in results if r.meter.source not in faulty)
        for m in matches:
            kind = m.fault.kind
            truth = pd.Timestamp(m.fault.start) - (PERIOD if kind == "spike" else pd.Timedelta(0))
            total[kind] += 1
            within[kind] += m.anomaly is not None and abs(m.anomaly.start - truth) <= PERIOD
        print(f"seed {seed}: " + ", ".join(f"{k} {within[k]}/{total[k]}" for k in sorted(total)), flush=True)
    print(f"{len(args.seeds)} held-out years (seeds {args.seeds}) of {args.dwellings} homes, {args.per_kind} faults "
          f"of each kind; false alarms on fault-free meters: {false_alarms} in {clean_meters} meter-years")
    bars = {}
    for kind in sorted(total):
        lower = clopper_pearson_lower(within[kind], total[kind], args.confidence)
        bar = math.floor(args.per_kind * lower)
        bars[kind] = {"dated_within_one_period": within[kind], "faults": total[kind], "lower_bound": round(lower, 4),
                      "bar": bar}
        print(f"{kind:>16}: dated within one period {within[kind]}/{total[kind]}, {args.confidence:.0%} lower bound "
              f"{lower:.3f}, bar for {args.per_kind}: {bar}")
    rate = clopper_pearson_upper(false_alarms, clean_meters, args.confidence)
    alarm_bar = false_alarm_bar(rate, args.test_meters, args.confidence)
    print(f"false alarms: {false_alarms}/{clean_meters} meter-years, {args.confidence:.0%} upper bound {rate:.4f} per "
          f"meter-year, bar for a year of {args.test_meters} meters: at most {alarm_bar}")
    if args.write:
        document = {
            "how": ("bench/recall_bars.py: per fault kind, the one-sided Clopper-Pearson lower bound (at 'confidence') "
                    "of the probability that a fault is dated within one reporting period, over held-out seeds no "
                    "detector was tuned on; the bar for 'per_kind' faults is floor(per_kind x bound). False alarms: "
                    "the one-sided upper bound of the rate per fault-free meter-year; the bar is the count a year of "
                    "'test_meters' meters exceeds with probability under 1 - confidence at that rate."),
            "command": "python " + " ".join(["bench/recall_bars.py", *sys.argv[1:]]),
            "commit": measured_at, "date": datetime.now(UTC).strftime("%Y-%m-%d"),
            "confidence": args.confidence, "seeds": args.seeds, "dwellings": args.dwellings,
            "per_kind": args.per_kind, "within_one_period": bars,
            "false_alarms": {"alarms": false_alarms, "meter_years": clean_meters, "upper_bound_per_meter_year":
                             round(rate, 6), "test_meters": args.test_meters, "bar": alarm_bar},
        }
        args.write.write_text(json.dumps(document, indent=2) + "\n")
        print(f"bars written to {args.write}")


if __name__ == "__main__":
    main()
