"""Storage benchmark: disk per reading in the `reading` table, as the ingester writes it, in both storage modes.

A month of one-minute energy indexes from 100 meters (4.3 million readings) arriving
time-first (every meter, minute after minute, as from a live residence), written with the
ingester's COPY path, then VACUUM ANALYZE. Each meter's index rises by a random, Wh-rounded
step each minute (a seeded generator), not a straight line that any codec would flatten.
Baseline in the same run: the bytes of the native JSON messages that carried them.
On TimescaleDB the script also compresses every chunk (`compress_chunk`, what the
compression policy does) and reports the size after, and the ratio to plain PostgreSQL.

Run:  uv run python bench/storage_bench.py [--meters 100] [--days 30] [--modes postgresql,timescaledb]
      --quick: 10 meters × 500 minutes, and only the modes whose server answers (seconds; proves the
      script runs, its figures mean little)
Servers: BENCH_PG_ADMIN_URL (default the machine's 127.0.0.1:5432) for plain PostgreSQL and
BENCH_TSDB_ADMIN_URL (default 127.0.0.1:5433, deploy/timescaledb/dev-server.sh) for TimescaleDB.
"""

from __future__ import annotations

import argparse
import os
import sys
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit

import numpy as np
import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from coopwatt.db import StorageMode  # noqa: E402
from coopwatt.migrations import migrate  # noqa: E402
from ingest.store import store_readings  # noqa: E402
from tests.factories import make_meters, native_payload  # noqa: E402

MINUTES_PER_YEAR = 525_600
ADMIN_URLS = {
    "postgresql": os.environ.get("BENCH_PG_ADMIN_URL", "postgresql://postgres@127.0.0.1:5432/postgres"),
    "timescaledb": os.environ.get("BENCH_TSDB_ADMIN_URL", "postgresql://postgres@127.0.0.1:5433/postgres"),
}


@dataclass(frozen=True)
class Sizes:
    """What one mode's run measured."""

    mode: str
    readings: int
    total_bytes: int
    heap_bytes: int | None
    compressed_bytes: int | None


def minute_indexes(meters: int, minutes: int, seed: int = 7) -> np.ndarray:
    """Energy indexes (kWh, Wh resolution) of `meters` meters over `minutes` minutes, shape (minutes, meters)."""
    rng = np.random.default_rng(seed)
    steps_wh = rng.gamma(shape=0.6, scale=12.0, size=(minutes, meters)).round()  # ~7 Wh a minute, ~0.4 kW mean
    start = rng.uniform(1_000.0, 30_000.0, size=meters).round(3)
    return start + np.cumsum(steps_wh, axis=0) / 1000.0


def _answers(admin_url: str) -> bool:
    """Whether a server answers at this URL (quick mode leaves out a mode whose server is not running)."""
    try:
        with psycopg.connect(admin_url, connect_timeout=3):
            return True
    except psycopg.OperationalError:
        return False


def measure(mode: str, admin_url: str, meters: int, minutes: int) -> Sizes:
    """Load the readings into a fresh database of this mode and measure the reading table."""
    name = "cw_bench_" + uuid.uuid4().hex[:8]
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    url = urlsplit(admin_url)._replace(path="/" + name).geturl()
    try:
        got, _ = migrate(url, storage=mode)  # type: ignore[arg-type]
        assert got is StorageMode(mode)
        ids = list(make_meters(url, [f"size{i}" for i in range(meters)]).values())
        index = minute_indexes(meters, minutes)
        start = datetime(2026, 1, 1, tzinfo=UTC)
        with psycopg.connect(url) as conn:
            for first in range(0, minutes, 500):
                rows = [(meter, 1, start + timedelta(minutes=m), float(index[m, k]))
                        for m in range(first, min(first + 500, minutes)) for k, meter in enumerate(ids)]
                store_readings(conn, rows)
                conn.commit()
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute("VACUUM ANALYZE reading")
            n = conn.execute("SELECT count(*) FROM reading").fetchone()[0]
            if mode == "timescaledb":
                total = conn.execute("SELECT hypertable_size('reading')").fetchone()[0]
                conn.execute("SELECT compress_chunk(c, if_not_compressed => true) FROM show_chunks('reading') c")
                compressed = conn.execute("SELECT hypertable_size('reading')").fetchone()[0]
                return Sizes(mode, n, total, None, compressed)
            total, heap = conn.execute(
                "SELECT pg_total_relation_size('reading'), pg_relation_size('reading')").fetchone()
            return Sizes(mode, n, total, heap, None)
    finally:
        with psycopg.connect(admin_url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--meters", type=int, default=100)
    parser.add_argument("--days", type=float, default=30)
    parser.add_argument("--modes", default="postgresql,timescaledb")
    parser.add_argument("--quick", action="store_true", help="tiny scale, seconds: checks the script still runs")
    args = parser.parse_args()
    modes = args.modes.split(",")
    if args.quick:
        args.meters, args.days = 10, 500 / 1440
        modes = [mode for mode in modes if _answers(ADMIN_URLS[mode])]
    minutes = int(args.days * 1440)
    json_bytes = len(native_payload(datetime(2026, 1, 1, tzinfo=UTC), 12345.678)) + len("coopwatt/size00/reading")
    results = [measure(mode, ADMIN_URLS[mode], args.meters, minutes) for mode in modes]
    print(f"{args.meters} meters x {minutes:,} minutes; the JSON message carrying one reading: {json_bytes} bytes")
    print("| mode | readings | bytes/reading | heap | compressed bytes/reading | one meter, 1/min, one year |")
    print("| --- | --- | --- | --- | --- | --- |")
    for r in results:
        stored = r.compressed_bytes if r.compressed_bytes is not None else r.total_bytes
        print(f"| {r.mode} | {r.readings:,} | {r.total_bytes / r.readings:.1f} | "
              f"{'' if r.heap_bytes is None else f'{r.heap_bytes / r.readings:.1f}'} | "
              f"{'' if r.compressed_bytes is None else f'{r.compressed_bytes / r.readings:.2f}'} | "
              f"{stored * MINUTES_PER_YEAR / r.readings / 1e6:.2f} MB |")
    for r in results:
        stored = r.compressed_bytes if r.compressed_bytes is not None else r.total_bytes
        print(f"{r.mode}: baseline, the JSON message carrying one reading "
              f"(stored/JSON = {stored / r.readings / json_bytes:.2f})")
    by_mode = {r.mode: r for r in results}
    tsdb = by_mode.get("timescaledb")
    if tsdb is not None and tsdb.compressed_bytes:
        print(f"TimescaleDB compression: {tsdb.total_bytes / tsdb.compressed_bytes:.1f}x its own uncompressed size")
        if "postgresql" in by_mode:
            plain = by_mode["postgresql"]
            print(f"TimescaleDB compressed vs plain PostgreSQL: "
                  f"{(plain.total_bytes / plain.readings) / (tsdb.compressed_bytes / tsdb.readings):.1f}x smaller"
                  " (target >= 10x)")


if __name__ == "__main__":
    main()
