"""A steady-state incremental anomaly run against a full one, on a small seeded database.

Data: `bench/rollup_seed.py` (default 500 dwellings: the year of rollups and the last 3 days of raw
readings). After a full run at the end of the seeded year (it sets the watermark), half an hour of new
readings arrives (every meter's last half hour repeated, its counters moved on); then, at the same
`now`, an incremental run and a full run (`full=True`) are timed, and an incremental run 15 minutes
later with nothing new. The alerts and the added readings are removed first, so a rerun measures the same.

Run:  uv run python bench/anomaly_incremental.py --dwellings 500
      --quick: a throwaway seed of 20 dwellings (seconds), dropped after.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from datetime import datetime, timedelta
from pathlib import Path

import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from analytics.job.run import RunSummary, run_anomalies  # noqa: E402
from bench.rollup_seed import ADMIN_URL as SEED_ADMIN_URL  # noqa: E402
from bench.rollup_seed import SeedInfo, ensure_seeded, quick_seed  # noqa: E402
from coopwatt.settings import Settings, load_settings  # noqa: E402

ADMIN_URL = os.environ.get("COOPWATT_BENCH_ADMIN_URL", SEED_ADMIN_URL)  # the seeder reads TEST_PG_ADMIN_URL
NEW_DATA = timedelta(minutes=30)


def reset(url: str, end: datetime) -> None:
    """Remove what earlier runs of this bench added: alerts, anomaly runs, readings after the seeded year."""
    with psycopg.connect(url) as conn:
        conn.execute("TRUNCATE alert CASCADE")
        conn.execute("DELETE FROM analytics_run WHERE job = 'anomalies'")
        conn.execute("DELETE FROM reading WHERE time > %s", (end,))


def add_new_readings(url: str, end: datetime) -> int:
    """Every meter's last half hour of readings again, shifted past the end; counters moved on by a little."""
    with psycopg.connect(url) as conn:
        cur = conn.execute(
            """INSERT INTO reading (meter_id, quantity_id, time, value)
               SELECT r.meter_id, r.quantity_id, r.time + %(shift)s,
                      CASE WHEN q.cumulative THEN r.value + 0.05 ELSE r.value END
                 FROM reading r JOIN quantity q ON q.id = r.quantity_id
                WHERE r.time > %(end)s::timestamptz - %(shift)s AND r.time <= %(end)s""",
            {"shift": NEW_DATA, "end": end},
        )
        conn.execute("ANALYZE reading")
        return cur.rowcount


def timed(url: str, settings: Settings, now: datetime, full: bool = False) -> tuple[float, RunSummary]:
    """One anomaly run and its wall time (s)."""
    started = time.perf_counter()
    summary = run_anomalies(url, settings, now=now, full=full)
    return time.perf_counter() - started, summary


def describe(label: str, seconds: float, summary: RunSummary) -> str:
    """One line per run."""
    return (f"{label}: {seconds:.2f} s, {summary.mode} ({'+'.join(summary.detector_groups)}), "
            f"{summary.meters_judged} meters judged, {summary.meters_silence_only} only for silence, "
            f"alerts opened {summary.alerts_opened}, resolved {summary.alerts_resolved}, status {summary.status}")


def run(info: SeedInfo) -> None:
    """Time the runs on the seeded database, print the figures and the ratio."""
    settings = load_settings({}, database_url=info.url)
    end = info.end
    reset(info.url, end)
    load_start = os.getloadavg()[0]
    first = timed(info.url, settings, end)
    added = add_new_readings(info.url, end)
    later = end + NEW_DATA
    incremental = timed(info.url, settings, later)
    full = timed(info.url, settings, later, full=True)
    idle = timed(info.url, settings, later + timedelta(minutes=15))
    print(f"{info.dwellings} dwellings, {info.meters} meters; end of data {end.isoformat()}; "
          f"{added} readings added for the half hour after it; load average {load_start:.2f} → "
          f"{os.getloadavg()[0]:.2f}")
    print(describe("full run at the end (sets the watermark)", *first))
    print(describe("incremental run, half an hour of new readings", *incremental))
    print(describe("full run, same data and now", *full))
    print(describe("incremental run, nothing new", *idle))
    print(f"full / incremental: {full[0] / incremental[0]:.1f}× (new readings), "
          f"{full[0] / idle[0]:.1f}× (nothing new)")


def main() -> None:
    """Parse arguments and run."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dwellings", type=int, default=500, help="seeded database coopwatt_bench_<n>")
    parser.add_argument("--quick", action="store_true", help="a tiny throwaway seed, seconds: checks it still runs")
    args = parser.parse_args()
    if args.quick:
        with quick_seed(ADMIN_URL) as info:
            run(info)
    else:
        run(ensure_seeded(ADMIN_URL, args.dwellings))


if __name__ == "__main__":
    main()
