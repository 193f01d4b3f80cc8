"""Seed a benchmark database: N simulated dwellings × one year of 30-minute data, loaded as rollups.

Raw readings for 10,000 dwellings would be ~350M rows; the analytics job and the dashboard
read the rollups, so this fills, chunk of whole buildings by chunk (memory stays bounded):

- the registry (residence, building, dwelling, meter): ``register_residences`` on
  ``make_residences(n, seed)``;
- ``outdoor_temperature``: the simulator's temperature block, as ``register.temperature_rows``;
- ``consumption_hourly``: each meter's 30-minute index readings turned into hours by the very
  computation ``ingest.derive`` runs (energy for electricity and heat; volume for water and gas,
  gas also in kWh through ``Settings.gas_kwh_per_m3``);
- ``consumption_daily``: plain PostgreSQL — per chunk, the refresh's sums per local day
  (``coopwatt.rollups``) computed from the chunk's hourly rows in memory and copied in, never read
  back from the growing table; TimescaleDB — one ``refresh_rollups`` over the whole period at the end;
- the last ``RAW_DAYS`` days of raw ``reading`` rows (what the anomaly job reads), then
  ``refresh_rollups`` over those days, so ``reading_hourly``/``reading_daily`` hold them too.

Everything goes in with binary COPY built column-wise in numpy (no Python object per row;
``bench/seed_rows.py``).
One transaction per chunk, which also records progress: an interrupted seed resumes where it
stopped. The database records a fingerprint (dwellings, seed, period, settings that shape the
data, seeder version, schema version at seeding): when it matches, nothing is seeded again;
``--reseed`` drops and rebuilds the database. Later migrations are applied in place, as in
production, without reseeding.

Default period: the year ending at local midnight on the 1st of the current month (Europe/Paris),
e.g. 2025-11-01 → 2026-11-01 during November 2026, so "last 12 months" views have data and the
fingerprint stays the same for a month.

Run:  uv run python bench/rollup_seed.py --dwellings 10000 [--reseed]
      --quick: 60 dwellings over 8 weeks in chunks of 10 into a throwaway database (seconds), dropped after.
It prints the time of each chunk and the last chunks' time against the first ones' (≤ 1.5: the load stays
linear as the tables grow).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

import psycopg
from psycopg import sql

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from coopwatt.db import StorageMode, storage_mode  # noqa: E402
from coopwatt.migrations import migrate, schema_version  # noqa: E402
from coopwatt.rollups import refresh_rollups  # noqa: E402
from coopwatt.settings import Settings, load_settings  # noqa: E402
from coopwatt.simulator.register import Registered, register_residences  # noqa: E402
from coopwatt.simulator.residence import Meter, make_residences  # noqa: E402
from coopwatt.simulator.series import Chunk, Simulation, building_groups  # noqa: E402
from bench.seed_rows import copy_binary, hourly_parts, raw_part, temperature_part  # noqa: E402

ADMIN_URL = os.environ.get("TEST_PG_ADMIN_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
SEEDER_VERSION = 1  # bump when what is written changes
DEFAULT_SEED = 7
STEP_S = 1800
RAW_DAYS = 3
PER_CHUNK = 50


@dataclass(frozen=True)
class SeedInfo:
    """A seeded database and what it holds."""

    url: str
    dwellings: int
    meters: int
    hourly_rows: int
    daily_rows: int
    raw_rows: int
    seconds: float  # time the seeding took (when it was done, possibly by an earlier call)
    seeded_now: bool  # False when the fingerprint matched and nothing was written
    start: datetime
    end: datetime
    chunk_seconds: tuple[float, ...] = ()  # each chunk's load time, when seeded now
    chunk_rows: tuple[int, ...] = ()  # each chunk's hourly rows (chunks are whole buildings: sizes differ)


def chunk_time_ratio(seconds: Sequence[float], rows: Sequence[int], edge: int = 3) -> float:
    """Time per hourly row of the last ``edge`` chunks over the first ``edge`` chunks' (1: linear; NaN: too few)."""
    edge = min(edge, len(seconds) // 2)
    if edge == 0:
        return float("nan")
    return float((sum(seconds[-edge:]) / sum(rows[-edge:])) / (sum(seconds[:edge]) / sum(rows[:edge])))


def default_period(timezone: str = "Europe/Paris", today: date | None = None) -> tuple[datetime, datetime]:
    """One year ending at local midnight on the 1st of the current month."""
    tz = ZoneInfo(timezone)
    today = today or datetime.now(tz).date()
    end = datetime(today.year, today.month, 1, tzinfo=tz)
    return end.replace(year=end.year - 1), end


def database_url(admin_url: str, name: str) -> str:
    """The admin URL pointed at another database of the same server."""
    return urlsplit(admin_url)._replace(path="/" + name).geturl()



_STATE_TABLE = (
    "CREATE TABLE IF NOT EXISTS bench_seed ("
    " id integer PRIMARY KEY CHECK (id = 1), fingerprint text NOT NULL, schema_version integer,"
    " chunks_done integer NOT NULL, chunks integer NOT NULL, complete boolean NOT NULL,"
    " hourly_rows bigint NOT NULL, daily_rows bigint NOT NULL, raw_rows bigint NOT NULL, deferred_indexes text[],"
    " seconds double precision NOT NULL, updated_at timestamptz NOT NULL DEFAULT now())"
)


def fingerprint(dwellings: int, seed: int, start: datetime, end: datetime, settings: Settings,
                per_chunk: int) -> str:
    """What the seeded data depends on, as canonical JSON."""
    return json.dumps({
        "dwellings": dwellings, "seed": seed, "start": start.astimezone(UTC).isoformat(),
        "end": end.astimezone(UTC).isoformat(), "step_s": STEP_S, "raw_days": RAW_DAYS, "per_chunk": per_chunk,
        "timezone": settings.timezone, "gas_kwh_per_m3": settings.gas_kwh_per_m3,
        "max_power_w": settings.ingest_max_power_w, "max_flow_m3_per_h": settings.ingest_max_flow_m3_per_h,
        "max_gap_s": settings.consumption_max_gap_s, "seeder": SEEDER_VERSION,
    }, sort_keys=True)


def _state(conn: psycopg.Connection) -> tuple | None:
    exists = conn.execute("SELECT to_regclass('bench_seed') IS NOT NULL").fetchone()
    if not exists or not exists[0]:
        return None
    return conn.execute("SELECT fingerprint, chunks_done, complete, hourly_rows, daily_rows, raw_rows, seconds"
                        " FROM bench_seed WHERE id = 1").fetchone()


def _recreate(admin_url: str, name: str) -> None:
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))


def _exists(admin_url: str, name: str) -> bool:
    with psycopg.connect(admin_url) as conn:
        return conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone() is not None


def ensure_seeded(admin_url: str, dwellings: int, *, seed: int = DEFAULT_SEED, start: datetime | None = None,
                  end: datetime | None = None, settings: Settings | None = None, reseed: bool = False,
                  per_chunk: int = PER_CHUNK, name: str | None = None,
                  progress: Callable[[str], None] | None = print) -> SeedInfo:
    """Make database `name` (default coopwatt_bench_<n>) hold the seeded cooperative; seed only what is missing."""
    settings = settings or load_settings()
    if start is None or end is None:
        start, end = default_period(settings.timezone)
    if start.tzinfo is None or end.tzinfo is None or end <= start:
        raise ValueError("start and end must be timezone-aware, start before end")
    name = name or f"coopwatt_bench_{dwellings}"
    url = database_url(admin_url, name)
    say = progress or (lambda _: None)
    wanted = fingerprint(dwellings, seed, start, end, settings, per_chunk)
    lock_key = int.from_bytes(hashlib.sha256(name.encode()).digest()[:8], "big", signed=True)
    with psycopg.connect(admin_url, autocommit=True) as admin:
        # Two benches asking for the same database: the second waits for the first one's seed.
        admin.execute("SELECT pg_advisory_lock(%s)", (lock_key,))
        try:
            exists = _exists(admin_url, name)
            state = None
            if exists and not reseed:
                with psycopg.connect(url) as conn:
                    state = _state(conn)
            if state is None or state[0] != wanted:
                # A database of this name without our record (or with another) is an older or broken seed.
                if exists:
                    say(f"{name}: {'reseed asked' if reseed else 'no or another fingerprint'}: dropping it")
                _recreate(admin_url, name)
                state = None
            migrate(url, timezone=settings.timezone)  # a no-op when up to date; later migrations apply in place
            if state is not None and state[2]:
                _, _, _, hourly, daily, raw, seconds = state
                with psycopg.connect(url) as conn:
                    meters = conn.execute("SELECT count(*) FROM meter").fetchone()[0]
                say(f"{name}: already seeded with this fingerprint ({hourly:,} hourly rows, seeded in {seconds:.0f} s)")
                return SeedInfo(url, dwellings, meters, hourly, daily, raw, seconds, False, start, end)
            return _seed(url, name, dwellings, seed, start, end, settings, per_chunk, wanted, state, say)
        finally:
            admin.execute("SELECT pg_advisory_unlock(%s)", (lock_key,))


def _seed(url: str, name: str, dwellings: int, seed: int, start: datetime, end: datetime, settings: Settings,
          per_chunk: int, wanted: str, state: tuple | None, say: Callable[[str], None]) -> SeedInfo:
    """Register, then load chunk after chunk from where an earlier run stopped."""
    began = time.perf_counter()
    residences = make_residences(dwellings, seed)
    groups = building_groups(residences, per_chunk)
    meters = {m.source: m for r in residences for m in r.meters}
    first, hourly_rows, daily_rows, raw_rows, earlier_s = (0, 0, 0, 0, 0.0) if state is None else \
        (state[1], state[3], state[4], state[5], state[6])
    raw_since = end - timedelta(days=RAW_DAYS)
    with psycopg.connect(url) as conn:
        conn.execute("SET synchronous_commit = off")  # a bench database: losing the last commits only re-runs a chunk
        # No foreign-key trigger per COPY row: the meter ids come from register_residences in this database.
        # (Needs a superuser, as the admin URL is; elsewhere the checks simply run.)
        if conn.execute("SELECT rolsuper FROM pg_roles WHERE rolname = current_user").fetchone()[0]:
            conn.execute("SET session_replication_role = replica")
        mode = storage_mode(conn)
        registered = register_residences(conn, residences, installed_at=start)
        conn.execute(_STATE_TABLE)
        conn.execute(
            "INSERT INTO bench_seed (id, fingerprint, schema_version, chunks_done, chunks, complete, hourly_rows,"
            " daily_rows, raw_rows, seconds) VALUES (1, %s, %s, 0, %s, false, 0, 0, 0, 0)"
            " ON CONFLICT (id) DO NOTHING", (wanted, schema_version(conn), len(groups)))
        deferred = _defer_indexes(conn)
        conn.commit()
        say(f"{name}: {len(residences)} residences, {dwellings} dwellings, {len(registered.meter_ids)} meters; "
            f"{start.isoformat()} → {end.isoformat()}, {len(groups)} chunks ({mode}), starting at chunk {first}")
        loaded_rows = 0
        chunk_seconds: list[float] = []
        chunk_rows: list[int] = []
        for number in range(first, len(groups)):
            chunk_began = time.perf_counter()
            # iter_chunks' own steps, so a resumed run need not generate the chunks it skips. The clock starts
            # one step early: the first index falls on `start`, so the first hour is whole.
            sim = Simulation(residences, start.astimezone(UTC) - timedelta(seconds=STEP_S), seed=seed,
                             timezone=settings.timezone, gas_kwh_per_m3=settings.gas_kwh_per_m3,
                             buildings=groups[number])
            chunk = sim.advance(end, STEP_S)
            counts = _load_chunk(conn, chunk, meters, registered, settings, raw_since, mode)
            hourly_rows += counts[0]
            daily_rows += counts[1]
            raw_rows += counts[2]
            loaded_rows += counts[0] + counts[1] + counts[2] + counts[3]
            elapsed = time.perf_counter() - began
            conn.execute("UPDATE bench_seed SET chunks_done = %s, hourly_rows = %s, daily_rows = %s, raw_rows = %s,"
                         " seconds = %s, updated_at = now() WHERE id = 1",
                         (number + 1, hourly_rows, daily_rows, raw_rows, earlier_s + elapsed))
            conn.commit()
            chunk_seconds.append(time.perf_counter() - chunk_began)
            chunk_rows.append(counts[0])
            done = number + 1 - first
            eta = elapsed / done * (len(groups) - number - 1)
            say(f"  chunk {number + 1}/{len(groups)}: {chunk_seconds[-1]:.2f} s, {hourly_rows:,} hourly rows so far, "
                f"{loaded_rows / elapsed:,.0f} rows/s, {elapsed:.0f} s elapsed, ~{eta:.0f} s to go")
        finish_began = time.perf_counter()
        if mode is StorageMode.TIMESCALEDB:
            refresh_rollups(conn, settings, since=start, until=end)  # consumption_daily is a continuous aggregate
            daily_rows = conn.execute("SELECT count(*) FROM consumption_daily").fetchone()[0]
        else:
            # reading_hourly/reading_daily over the raw days (consumption_daily's last days are rebuilt identically).
            refresh_rollups(conn, settings, since=raw_since, until=end)
        conn.commit()  # the count above opened a transaction; autocommit can only change outside one
        conn.autocommit = True
        conn.execute("SET maintenance_work_mem = '1GB'")
        for statement in deferred:
            conn.execute(statement)  # type: ignore[arg-type]  (a definition read from pg_indexes)
        conn.execute("UPDATE bench_seed SET deferred_indexes = '{}' WHERE id = 1")
        conn.execute("VACUUM (ANALYZE)")  # what autovacuum would do: visibility map and statistics for the planner
        conn.autocommit = False
        say(f"  rollup refresh and VACUUM ANALYZE: {time.perf_counter() - finish_began:.0f} s")
        seconds = earlier_s + time.perf_counter() - began
        conn.execute("UPDATE bench_seed SET complete = true, daily_rows = %s, seconds = %s, updated_at = now()"
                     " WHERE id = 1", (daily_rows, seconds))
        conn.commit()
        size = conn.execute("SELECT pg_database_size(current_database())").fetchone()[0]
    say(f"{name}: seeded in {seconds:.0f} s — {hourly_rows:,} hourly, {daily_rows:,} daily, {raw_rows:,} raw rows "
        f"({(hourly_rows + daily_rows + raw_rows) / seconds:,.0f} rows/s overall); database {size / 1024**3:.2f} GiB")
    return SeedInfo(url, dwellings, len(registered.meter_ids), hourly_rows, daily_rows, raw_rows, seconds, True,
                    start, end, tuple(chunk_seconds), tuple(chunk_rows))


QUICK_DWELLINGS = 20


@contextmanager
def quick_seed(admin_url: str = ADMIN_URL, dwellings: int = QUICK_DWELLINGS, **options) -> Iterator[SeedInfo]:
    """A tiny seeded database of its own for a bench's --quick mode (seconds to seed), dropped afterwards."""
    name = f"coopwatt_bench_quick_{uuid.uuid4().hex[:10]}"
    try:
        yield ensure_seeded(admin_url, dwellings, name=name, **({"progress": None} | options))
    finally:
        with psycopg.connect(admin_url, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


def _defer_indexes(conn: psycopg.Connection) -> list[str]:
    """Drop consumption_hourly's secondary indexes until the load ends; return their definitions (kept across resumes).

    Each COPY row would otherwise insert into a time-first index spread over the whole year
    (measured: more than the COPY itself); building it once at the end is much cheaper.
    """
    row = conn.execute("SELECT deferred_indexes FROM bench_seed WHERE id = 1").fetchone()
    if row and row[0] is not None:
        return list(row[0])
    found = conn.execute(
        "SELECT i.indexname, i.indexdef FROM pg_indexes i"
        " WHERE i.schemaname = current_schema() AND i.tablename = 'consumption_hourly'"
        " AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conname = i.indexname)").fetchall()
    for index_name, _ in found:
        conn.execute(sql.SQL("DROP INDEX {}").format(sql.Identifier(index_name)))
    definitions = [definition for _, definition in found]
    conn.execute("UPDATE bench_seed SET deferred_indexes = %s WHERE id = 1", (definitions,))
    return definitions


def _load_chunk(conn: psycopg.Connection, chunk: Chunk, meters: dict[str, Meter], registered: Registered,
                settings: Settings, raw_since: datetime, mode: StorageMode | None) -> tuple[int, int, int, int]:
    """Write one chunk (hourly, daily, raw readings, temperatures) in the open transaction; return the row counts."""
    parts, hourly, daily_parts, daily = hourly_parts(chunk, meters, registered.meter_ids, settings)
    copy_binary(conn, "COPY consumption_hourly (meter_id, hour, energy_kwh, volume_m3, estimated) FROM STDIN"
          " (FORMAT BINARY)", parts)
    if mode is StorageMode.TIMESCALEDB:
        daily = 0  # consumption_daily is a continuous aggregate, refreshed once at the end
    else:
        copy_binary(conn, "COPY consumption_daily (meter_id, day, energy_kwh, volume_m3, estimated_hours, hours)"
              " FROM STDIN (FORMAT BINARY)", daily_parts)
    raw, n_raw = raw_part(chunk, registered.meter_ids, raw_since)
    # Straight into reading, not through ingest.store: consumption is already derived, so nothing is pending.
    copy_binary(conn, "COPY reading (meter_id, quantity_id, time, value) FROM STDIN (FORMAT BINARY)", [raw])
    temperatures, n_temp = temperature_part(chunk, registered.residence_ids)
    copy_binary(conn, "COPY outdoor_temperature (residence_id, time, temperature_c) FROM STDIN (FORMAT BINARY)",
          [temperatures])
    return hourly, daily, n_raw, n_temp


def _parse_day(value: str, timezone: str) -> datetime:
    day = date.fromisoformat(value)
    return datetime(day.year, day.month, day.day, tzinfo=ZoneInfo(timezone))


def main() -> None:
    """Parse arguments, seed (or find the seed in place) and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dwellings", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    parser.add_argument("--start", help="first local day (YYYY-MM-DD); default: a year before --end")
    parser.add_argument("--end", help="local day the period ends at (exclusive); default: the 1st of this month")
    parser.add_argument("--per-chunk", type=int, default=PER_CHUNK, help="dwellings per chunk (whole buildings)")
    parser.add_argument("--admin-url", default=ADMIN_URL)
    parser.add_argument("--name", help="database name (default coopwatt_bench_<dwellings>)")
    parser.add_argument("--reseed", action="store_true", help="drop the database and seed again")
    parser.add_argument("--quick", action="store_true", help="a tiny throwaway seed, seconds: checks it still runs")
    args = parser.parse_args()
    settings = load_settings()
    start, end = default_period(settings.timezone)
    if args.quick:
        load = os.getloadavg()[0]
        with quick_seed(args.admin_url, 60, start=end - timedelta(weeks=8), end=end, settings=settings,
                        per_chunk=10) as info:
            report(info, load)
        return
    if args.end:
        end = _parse_day(args.end, settings.timezone)
        start = end.replace(year=end.year - 1)
    if args.start:
        start = _parse_day(args.start, settings.timezone)
    load = os.getloadavg()[0]
    info = ensure_seeded(args.admin_url, args.dwellings, seed=args.seed, start=start, end=end, settings=settings,
                         reseed=args.reseed, per_chunk=args.per_chunk, name=args.name)
    report(info, load)


def report(info: SeedInfo, load: float) -> None:
    """Print what the database holds, how long it took, and how the chunk time held as the tables grew."""
    with psycopg.connect(info.url) as conn:
        size = conn.execute("SELECT pg_database_size(current_database())").fetchone()[0]
    print(f"{info.url}: {info.dwellings} dwellings, {info.meters} meters, {info.hourly_rows:,} hourly rows, "
          f"{info.daily_rows:,} daily rows, {info.raw_rows:,} raw rows; seeded in {info.seconds:.0f} s"
          f"{'' if info.seeded_now else ' (earlier; nothing done now)'}; {size / 1024**3:.2f} GiB; "
          f"load average at start {load:.2f}, now {os.getloadavg()[0]:.2f}")
    if info.chunk_seconds:
        print("chunk seconds per million hourly rows: " + " ".join(
            f"{s / max(n, 1) * 1e6:.2f}" for s, n in zip(info.chunk_seconds, info.chunk_rows)))
        print(f"chunk time per row, last 3 / first 3 chunks: "
              f"{chunk_time_ratio(info.chunk_seconds, info.chunk_rows):.2f} (target ≤ 1.5)")


if __name__ == "__main__":
    main()
