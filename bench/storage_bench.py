"""Storage benchmark: disk per reading in the `reading` table, as the ingester writes it.

One million readings of 100 meters arriving time-first (every meter, minute after minute,
as from a live residence), written with the ingester's COPY path, then VACUUM ANALYZE.
Baseline in the same run: the bytes of the native JSON messages that carried them.
On TimescaleDB the same script reports the hypertable's size before and after compressing
its chunks (`compress_chunk`), which is the ratio the sizing in docs/operations.md needs.

Run:  uv run python bench/storage_bench.py [--meters 100] [--minutes 10000]
      --quick: 10 meters × 500 minutes (seconds; proves the script runs, its figures mean little)
"""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.ingest_bench import drop_database, fresh_database  # noqa: E402
from coopwatt.db import StorageMode, storage_mode  # noqa: E402
from ingest.store import store_readings  # noqa: E402
from tests.factories import make_meters, native_payload  # noqa: E402

MINUTES_PER_YEAR = 525_600


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--meters", type=int, default=100)
    parser.add_argument("--minutes", type=int, default=10_000)
    parser.add_argument("--quick", action="store_true", help="tiny scale, seconds: checks the script still runs")
    args = parser.parse_args()
    if args.quick:
        args.meters, args.minutes = 10, 500
    url = fresh_database()
    try:
        ids = list(make_meters(url, [f"size{i}" for i in range(args.meters)]).values())
        start = datetime(2026, 1, 1, tzinfo=UTC)
        json_bytes = len(native_payload(start, 12345.678)) + len("coopwatt/size00/reading")
        with psycopg.connect(url) as conn:
            for first in range(0, args.minutes, 500):
                rows = [(meter, 1, start + timedelta(minutes=m), 1000.0 + m * 0.01)
                        for m in range(first, min(first + 500, args.minutes)) for meter in ids]
                store_readings(conn, rows)
                conn.commit()
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute("VACUUM ANALYZE reading")
            mode = storage_mode(conn)
            n = conn.execute("SELECT count(*) FROM reading").fetchone()[0]
            if mode is StorageMode.TIMESCALEDB:
                before = conn.execute("SELECT hypertable_size('reading')").fetchone()[0]
                conn.execute("SELECT compress_chunk(c, if_not_compressed => true) FROM show_chunks('reading') c")
                after = conn.execute("SELECT hypertable_size('reading')").fetchone()[0]
                heap = None
            else:
                before, heap = conn.execute(
                    "SELECT pg_total_relation_size('reading'), pg_relation_size('reading')").fetchone()
                after = None
        per_reading = before / n
        print(f"storage mode: {mode}; {n:,} readings from {args.meters} meters")
        print(f"reading table: {per_reading:.1f} bytes/reading"
              + (f" (heap {heap / n:.1f}, primary-key index {(before - heap) / n:.1f})" if heap else ""))
        print(f"one meter, one reading a minute for a year: {per_reading * MINUTES_PER_YEAR / 1e6:.1f} MB")
        print(f"baseline: the JSON message carrying one reading is {json_bytes} bytes "
              f"(stored/JSON = {per_reading / json_bytes:.2f})")
        if after is not None:
            print(f"after compression: {after / n:.1f} bytes/reading, ratio {before / after:.1f}x")
        else:
            print("compression: not available on plain PostgreSQL (run this on TimescaleDB for the ratio)")
    finally:
        drop_database(url)


if __name__ == "__main__":
    main()
