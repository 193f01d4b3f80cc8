"""The year test's recall bars, derived: dating recall per fault kind over held-out seeds, with its confidence bound.

Usage: python bench/recall_bars.py [--seeds 101 102 103 104 105 106] [--dwellings 60] [--per-kind 10]
                                   [--confidence 0.95] [--admin-url URL] [--write tests/data/recall_bars.json]

Runs tests/test_analytics_year.py's configuration (a simulated year of ``--dwellings`` homes, ``--per-kind`` faults
of each kind) on seeds that no detector was tuned on (the test's 5 and 21, the tuning seeds 31-36 and 41-43 of
docs/benchmarks.md are excluded), each year through the same path as the test (tests/year_job_support.py: readings
stored, derived and rolled up, nightly baselines, one full anomaly run of the job with every detector, above-baseline
included) in a scratch database of its own on the server at ``--admin-url`` (TEST_PG_ADMIN_URL; a TimescaleDB
server gives the TimescaleDB mode), dropped afterwards. It counts, from the stored alerts, per kind the faults dated
within one reporting period, and prints the one-sided Clopper-Pearson lower bound of that probability at
``--confidence``, and the bar it gives for ``--per-kind`` faults: floor(per_kind × lower bound). False alarms
likewise: the alerts on fault-free meters over all held-out meter-years give a one-sided upper bound of the
per-meter-year rate, and the bar for the test's fault-free year (seed 21) is the count that a year of its meters
exceeds with probability under 1 − confidence at that rate; likewise for the meters without a fault in its year with
faults (seed 5). ``--write`` puts the bars, the counts behind them and how they were
derived (seeds, path, storage mode, command, commit) in the JSON file tests/test_analytics_year.py reads its bars
from. ``--quick``: one seed of 8 homes over 120 days (proves the script runs; its bars mean nothing).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit

import pandas as pd
import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from coopwatt.db import storage_mode  # noqa: E402
from coopwatt.migrations import migrate  # noqa: E402
from coopwatt.settings import load_settings  # noqa: E402
from coopwatt.simulator.faults import Fault, plan_faults  # noqa: E402
from coopwatt.simulator.residence import make_residences  # noqa: E402
from tests.analytics_year_support import STEP_S, match_faults  # noqa: E402
from tests.year_job_support import YearRun, run_year  # noqa: E402

START = datetime(2025, 1, 1, tzinfo=UTC)
END = datetime(2026, 1, 1, tzinfo=UTC)
PERIOD = pd.Timedelta(seconds=STEP_S)
TUNED_ON = {5, 21, 31, 32, 33, 34, 35, 36, 41, 42, 43}
TEST_FAULT_FREE_SEED, TEST_FAULTS_SEED = 21, 5  # tests/test_analytics_year.py's two years
ADMIN_URL = os.environ.get("TEST_PG_ADMIN_URL", "postgresql://postgres@127.0.0.1:5432/postgres")


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


@contextmanager
def scratch_database(admin_url: str) -> Iterator[str]:
    """A migrated database of its own on the admin URL's server, dropped afterwards."""
    name = f"coopwatt_bench_bars_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    url = urlsplit(admin_url)._replace(path="/" + name).geturl()
    try:
        migrate(url)
        yield url
    finally:
        with psycopg.connect(admin_url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def judged_year(admin_url: str, seed: int, dwellings: int, per_kind: int,
                end: datetime) -> tuple[YearRun, list[Fault], str]:
    """One held-out year through the job's path: what it stored, the faults injected, the storage mode."""
    residences = make_residences(dwellings, seed=seed)
    faults = plan_faults(residences, START, end, seed, per_kind=per_kind)
    with scratch_database(admin_url) as url:
        with psycopg.connect(url) as conn:
            mode = str(storage_mode(conn))
        year = run_year(load_settings({}, database_url=url), residences, START, end, seed=seed, faults=faults)
    return year, faults, mode


def test_meter_counts(dwellings: int, per_kind: int, end: datetime) -> tuple[int, int]:
    """Meters of the test's fault-free year, and meters without a fault in its year with faults."""
    fault_free = sum(len(r.meters) for r in make_residences(dwellings, seed=TEST_FAULT_FREE_SEED))
    residences = make_residences(dwellings, seed=TEST_FAULTS_SEED)
    faulty = {f.meter_source for f in plan_faults(residences, START, end, TEST_FAULTS_SEED, per_kind=per_kind)}
    return fault_free, sum(1 for r in residences for m in r.meters if m.source not in faulty)


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
    parser.add_argument("--admin-url", default=ADMIN_URL, help="server for the scratch databases (TEST_PG_ADMIN_URL)")
    parser.add_argument("--quick", action="store_true", help="tiny scale, seconds: checks the script still runs")
    parser.add_argument("--write", type=Path, help="JSON file for the year test's bars (tests/data/recall_bars.json)")
    args = parser.parse_args()
    end = END
    if args.quick:
        # One held-out seed of a few homes over a third of a year: proves the script runs; its bars mean nothing.
        args.seeds, args.dwellings, args.per_kind, end = [101], 8, 1, START + timedelta(days=120)
    if TUNED_ON & set(args.seeds):
        parser.error(f"seeds {sorted(TUNED_ON & set(args.seeds))} were used for tuning or by the test")
    measured_at = _commit()  # at the start: the code that ran
    within: Counter[str] = Counter()
    total: Counter[str] = Counter()
    false_alarms: Counter[str] = Counter()
    clean_meters = 0
    modes = set()
    started = time.perf_counter()
    for seed in args.seeds:
        year, faults, mode = judged_year(args.admin_url, seed, args.dwellings, args.per_kind, end)
        modes.add(mode)
        matches, alarms = match_faults(year.alarms, faults)
        false_alarms.update(a.kind for a in alarms)
        faulty = {f.meter_source for f in faults}
        clean_meters += sum(1 for source in year.meters if source not in faulty)
        for m in matches:
            kind = m.fault.kind
            truth = pd.Timestamp(m.fault.start) - (PERIOD if kind == "spike" else pd.Timedelta(0))
            total[kind] += 1
            within[kind] += m.anomaly is not None and abs(m.anomaly.start - truth) <= PERIOD
        print(f"seed {seed} ({mode}, {year.readings} readings, seconds {year.seconds}): "
              + ", ".join(f"{k} {within[k]}/{total[k]}" for k in sorted(total))
              + f"; false alarms so far {dict(false_alarms)}", flush=True)
    print(f"{time.perf_counter() - started:.0f} s, load average {os.getloadavg()[0]:.1f}")
    false_alarm_count = sum(false_alarms.values())
    print(f"{len(args.seeds)} held-out years (seeds {args.seeds}) of {args.dwellings} homes, {args.per_kind} faults "
          f"of each kind, through the job ({', '.join(sorted(modes))}); false alarms on fault-free meters: "
          f"{false_alarm_count} in {clean_meters} meter-years {dict(false_alarms)}")
    bars = {}
    for kind in sorted(total):
        lower = clopper_pearson_lower(within[kind], total[kind], args.confidence)
        bar = math.floor(args.per_kind * lower)
        bars[kind] = {"dated_within_one_period": within[kind], "faults": total[kind], "lower_bound": round(lower, 4),
                      "bar": bar}
        print(f"{kind:>16}: dated within one period {within[kind]}/{total[kind]}, {args.confidence:.0%} lower bound "
              f"{lower:.3f}, bar for {args.per_kind}: {bar}")
    rate = clopper_pearson_upper(false_alarm_count, clean_meters, args.confidence)
    test_meters, fault_year_clean = test_meter_counts(args.dwellings, args.per_kind, end)
    alarm_bar = false_alarm_bar(rate, test_meters, args.confidence)
    fault_year_bar = false_alarm_bar(rate, fault_year_clean, args.confidence)
    print(f"false alarms: {false_alarm_count}/{clean_meters} meter-years, {args.confidence:.0%} upper bound {rate:.4f} per "
          f"meter-year, bar for a year of {test_meters} meters: at most {alarm_bar}; for the {fault_year_clean} "
          f"meters without a fault in the test's year with faults: at most {fault_year_bar}")
    if args.write:
        document = {
            "how": ("bench/recall_bars.py: per fault kind, the one-sided Clopper-Pearson lower bound (at 'confidence') "
                    "of the probability that a fault is dated within one reporting period, over held-out seeds no "
                    "detector was tuned on, each year put through the job's path (tests/year_job_support.py) and "
                    "judged on the alerts it stored; the bar for 'per_kind' faults is floor(per_kind x bound). False "
                    "alarms (alerts on meters without a fault, above-baseline included): the one-sided upper bound "
                    "of the rate per fault-free meter-year; the bar is the count a year of 'test_meters' meters (the "
                    "test's fault-free year) exceeds with probability under 1 - confidence at that rate, and "
                    "'fault_year_bar' the same for the meters without a fault in the test's year with faults."),
            "path": "job", "storage": sorted(modes),
            "command": "python " + " ".join(["bench/recall_bars.py", *sys.argv[1:]]),
            "commit": measured_at, "date": datetime.now(UTC).strftime("%Y-%m-%d"),
            "confidence": args.confidence, "seeds": args.seeds, "dwellings": args.dwellings,
            "per_kind": args.per_kind, "within_one_period": bars,
            "false_alarms": {"alarms": false_alarm_count, "by_kind": dict(false_alarms), "meter_years": clean_meters, "upper_bound_per_meter_year":
                             round(rate, 6), "test_meters": test_meters, "bar": alarm_bar,
                             "fault_year_clean_meters": fault_year_clean, "fault_year_bar": fault_year_bar},
        }
        args.write.write_text(json.dumps(document, indent=2) + "\n")
        print(f"bars written to {args.write}")


if __name__ == "__main__":
    main()
