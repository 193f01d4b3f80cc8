"""The nightly analytics run over the database: N dwellings × one year of 30-minute data, as `coopwatt analytics` runs it.

Data: `bench/rollup_seed.py` (the simulator's year loaded as rollups; seeded once, then reused).
Measured: `analytics.job.nightly.run_nightly` — reading consumption_daily, outdoor_temperature and
eight weeks of consumption_hourly in chunks of dwellings, fitting every baseline (this year and
last), comparisons for 12 months, rankings, suggestions, savings, and writing every result table —
run in a child process so its peak RSS is its own (the seeding is not counted). The analytics
tables are emptied first so every run does the same work (published comparisons are otherwise
frozen and skipped).

Baseline in the same run: the same dwelling step read one dwelling at a time (one round trip per
dwelling for its days and hours, as a straightforward job would do) on a sample of dwellings,
against the chunked read on the same sample; the ratio is printed.

Targets (issue 3): 10,000 dwellings ≤ 10 minutes and ≤ 2 GiB on this 2-core machine.
With --anomalies, one anomaly run over every meter is timed too (it runs every 15 minutes).

Run:  uv run python bench/analytics_nightly_db.py --dwellings 10000 [--name coopwatt_bench_1000_mine]
      --quick: a throwaway seed of 20 dwellings, a sample of 5 (seconds), dropped after.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import resource
import sys
import time
from datetime import datetime, timedelta
from pathlib import Path

import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.rollup_seed import ADMIN_URL as SEED_ADMIN_URL  # noqa: E402
from bench.rollup_seed import SeedInfo, ensure_seeded, quick_seed  # noqa: E402
from coopwatt.settings import load_settings  # noqa: E402

ADMIN_URL = os.environ.get("COOPWATT_BENCH_ADMIN_URL", SEED_ADMIN_URL)  # the seeder reads TEST_PG_ADMIN_URL
TARGET_S = 600.0
TARGET_BYTES = 2 * 1024**3
RESULT_TABLES = ("baseline", "comparison_group", "high_consumer", "peer_day_profile", "suggestion", "savings_result",
                 "analytics_run")


def _nightly_child(url: str, now: datetime, chunk: int, out: multiprocessing.Queue) -> None:
    """Run one nightly run and report its summary and timings (in a child: its own peak RSS)."""
    from analytics.job.nightly import run_nightly

    settings = load_settings({}, database_url=url, analytics_chunk_dwellings=chunk)
    started = time.perf_counter()
    summary = run_nightly(url, settings, now=now)
    out.put({"seconds": time.perf_counter() - started, "status": summary.status,
             "dwellings": summary.dwellings_processed, "failures": summary.failures, **summary.detail()})


def _anomaly_child(url: str, now: datetime, out: multiprocessing.Queue) -> None:
    """One incremental anomaly run over every meter, after the nightly run stored the baselines."""
    from analytics.job.run import run_anomalies

    settings = load_settings({}, database_url=url)
    started = time.perf_counter()
    summary = run_anomalies(url, settings, now=now)
    out.put({"seconds": time.perf_counter() - started, "meters": summary.meters_processed,
             "failures": summary.failures, "anomalies": dict(summary.anomalies_by_kind)})


def _sample_child(url: str, now: datetime, sample: int, out: multiprocessing.Queue) -> None:
    """Time the per-dwelling step on the same sample, chunked and one dwelling at a time."""
    import pandas as pd

    from analytics.job import nightly
    from analytics.job import nightly_load as load

    settings = load_settings({}, database_url=url)
    today = pd.Timestamp(now).tz_convert(settings.timezone).date()
    first = today - timedelta(days=730)
    with psycopg.connect(url) as conn:
        dwellings = load.list_dwellings(conn)[:sample]
        temps = load.daily_temperatures(conn, sorted({d.residence_id for d in dwellings}), first, today,
                                        settings.timezone)
        normals = {rid: nightly._normal_year(s) for rid, s in temps.items()}
        periods = nightly.adviser_periods(today, settings.progress_season_start_month,
                                          settings.progress_season_end_month)
        timings = {}
        for label, size in (("chunked", sample), ("one_by_one", 1)):
            summary, acc = nightly.NightlySummary(run_id=0), nightly.Accumulator()
            started = time.perf_counter()
            for offset in range(0, len(dwellings), size):
                nightly._analyse_chunk(conn, dwellings[offset:offset + size], today, first, temps, normals,
                                       settings, summary, acc, periods)
            timings[label] = time.perf_counter() - started
        # The sample rewrites its dwellings' baselines with the same values the full run stored.
    out.put({"sample": len(dwellings), **timings})


def _in_child(target, *args) -> tuple[dict, int]:
    """Run target in a fresh process; its result and the children's peak RSS so far (bytes)."""
    ctx = multiprocessing.get_context("spawn")
    queue = ctx.Queue()
    process = ctx.Process(target=target, args=(*args, queue))
    process.start()
    result = queue.get()
    process.join()
    # A maximum over every child waited for so far: exact for the first child, an upper bound after.
    return result, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024


def clear_results(url: str) -> None:
    """Empty the analytics result tables so each run does the full work."""
    with psycopg.connect(url) as conn:
        conn.execute("TRUNCATE " + ", ".join(RESULT_TABLES) + " CASCADE")


def run(info: SeedInfo, chunk: int, sample: int, anomalies: bool) -> None:
    """Run the nightly job on the seeded database, print the figures."""
    now = info.end + timedelta(hours=3)  # the night after the seeded year
    load_start = os.getloadavg()[0]
    clear_results(info.url)
    # The full run first, alone in a fresh child, so its peak RSS is not hidden by the sample's.
    result, rss = _in_child(_nightly_child, info.url, now, chunk)
    load_end = os.getloadavg()[0]
    timing, _ = _in_child(_sample_child, info.url, now, sample)
    ratio = timing["one_by_one"] / timing["chunked"]
    scale = 10_000 / max(result["dwellings"], 1)
    print(f"dwellings {result['dwellings']} (seeded {info.dwellings}, {info.meters} meters, {info.hourly_rows:,} "
          f"hourly rows), chunk {chunk}, load average {load_start:.2f} → {load_end:.2f}")
    print(f"nightly run: {result['seconds']:.1f} s, status {result['status']}, failures {result['failures']}, "
          f"peak RSS {rss / 1024**2:.0f} MiB")
    print("  steps (s): " + json.dumps(result["step_seconds"]))
    print(f"  baselines fitted {result['baselines_qualified']}, unqualified {result['baselines_unqualified']}; "
          f"groups published {result['groups_published']}, withheld {result['groups_withheld']}; "
          f"ranked {result['ranked']}, high consumers {result['high_consumers']}; suggestions {result['suggestions']}; "
          f"similar homes' typical days published {result['peer_days_published']}, "
          f"withheld {result['peer_days_withheld']}")
    print(f"vs target 600 s: {result['seconds'] * scale / TARGET_S:.3f}"
          + (" (extrapolated linearly to 10,000)" if result["dwellings"] != 10_000 else "")
          + f"; peak RSS vs 2 GiB: {rss / TARGET_BYTES:.3f}")
    print(f"per-dwelling step on {timing['sample']} dwellings: chunked {timing['chunked']:.1f} s, one by one "
          f"{timing['one_by_one']:.1f} s → chunked reads {ratio:.1f}× faster")
    if anomalies:
        with psycopg.connect(info.url) as conn:
            conn.execute("TRUNCATE alert CASCADE")  # every run starts from no open alert
        found, _ = _in_child(_anomaly_child, info.url, now)
        print(f"anomaly run (every {load_settings({}).analytics_interval_min:g} min in production): "
              f"{found['seconds']:.1f} s for {found['meters']} meters, failures {found['failures']}, "
              f"found {found['anomalies']}; vs its interval: "
              f"{found['seconds'] / (load_settings({}).analytics_interval_min * 60):.3f}")


def main() -> None:
    """Parse arguments and run."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dwellings", type=int, default=10_000)
    parser.add_argument("--chunk", type=int, default=500, help="COOPWATT_ANALYTICS_CHUNK_DWELLINGS")
    parser.add_argument("--sample", type=int, default=200, help="dwellings for the one-by-one baseline")
    parser.add_argument("--anomalies", action="store_true", help="also time one anomaly run over every meter")
    parser.add_argument("--quick", action="store_true", help="a tiny throwaway seed, seconds: checks it still runs")
    parser.add_argument("--name", help="seeded database name (default coopwatt_bench_<dwellings>)")
    args = parser.parse_args()
    if args.quick:
        with quick_seed(ADMIN_URL) as info:
            run(info, chunk=10, sample=5, anomalies=True)
    else:
        run(ensure_seeded(ADMIN_URL, args.dwellings, name=args.name), args.chunk, args.sample, args.anomalies)


if __name__ == "__main__":
    main()
