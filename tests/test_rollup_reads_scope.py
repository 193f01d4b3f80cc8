"""A household's, a building's or an export's reads of the daily rollup touch only their own meters' rows.

``consumption_daily_all`` is a UNION view (over a continuous aggregate under TimescaleDB): a join to
``meter`` cannot reach inside it, so a query filtering on ``m.dwelling_id`` read every meter's days of
the cooperative — 2 to 5 s a callback at 10,000 dwellings. Counted here with PostgreSQL's own per-table
statistics of the transaction (rows read by sequential and index scans), not with a clock: each read
must fetch about its own rows, far fewer than the table holds. Sequential scans are discouraged in the
transaction, as on a large table, where the planner would not read a few hundred rows that way.

Plain PostgreSQL only: on a few hundred rows TimescaleDB's chunks are read through their time index
with the meter list as a filter (the planner's fair choice at that size, so its row counts cannot tell
the two queries apart); on the 10,000-dwelling database the same queries go through the (meter, day)
index, 5 s → 3 ms (`EXPLAIN ANALYZE` in docs/benchmarks.md, "Dashboard").
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import psycopg
import pytest

from coopwatt.privacy_export import reading_rows
from dashboard.export_queries import iter_daily
from dashboard.history_queries import consumption_between, daily_use
from dashboard.queries import consumption_by_period, paired_use
from dashboard.staff_queries import building_daily
from tests.dashboard_support import PARIS, Seed, seeded_cooperative

DAYS = 120
GAS = 10.5


def _rollup_rows_read(conn: psycopg.Connection) -> int:
    """Rows of the daily rollup read so far in this transaction (its table, or TimescaleDB's chunks)."""
    row = conn.execute(
        "SELECT coalesce(sum(coalesce(seq_tup_read, 0) + coalesce(idx_tup_fetch, 0)), 0)"
        " FROM pg_stat_xact_user_tables"
        " WHERE relid = 'consumption_daily'::regclass"
        "    OR relid IN (SELECT c.oid FROM pg_class c JOIN pg_inherits i ON i.inhrelid = c.oid"
        "                  WHERE i.inhparent IN (SELECT format('%I.%I', h.materialization_hypertable_schema,"
        "                                                      h.materialization_hypertable_name)::regclass"
        "                                         FROM timescaledb_information.continuous_aggregates h"
        "                                        WHERE h.view_name = 'consumption_daily'))"
        if _timescaledb(conn) else
        "SELECT coalesce(sum(coalesce(seq_tup_read, 0) + coalesce(idx_tup_fetch, 0)), 0)"
        " FROM pg_stat_xact_user_tables WHERE relid = 'consumption_daily'::regclass"
    ).fetchone()
    assert row is not None
    return int(row[0])


def _timescaledb(conn: psycopg.Connection) -> bool:
    row = conn.execute("SELECT to_regclass('timescaledb_information.continuous_aggregates') IS NOT NULL").fetchone()
    return bool(row and row[0])


def _total_rows(url: str) -> int:
    with psycopg.connect(url) as conn:
        row = conn.execute("SELECT count(*) FROM consumption_daily").fetchone()
    assert row is not None
    return int(row[0])


@pytest.fixture
def seeded(migrated_db_url: str) -> tuple[str, Seed]:
    today = datetime.now(PARIS).date()
    seed = seeded_cooperative(migrated_db_url, today=today, days=DAYS)
    with psycopg.connect(migrated_db_url, autocommit=True) as conn:
        conn.execute("ANALYZE")  # as autovacuum would have by then: the planner sees the tables' real sizes
    return migrated_db_url, seed


def _reads(seed: Seed, today: date) -> dict[str, Callable[[psycopg.Connection], Any]]:
    """Each read a page or an export makes of the daily rollup, for dwelling B's electricity (one meter in five)."""
    tz = ZoneInfo("Europe/Paris")
    first, end = today - timedelta(days=60), today
    since, until = datetime.combine(first, datetime.min.time(), tz), datetime.combine(end, datetime.min.time(), tz)
    dwelling = seed.dwelling_b
    return {
        "chart by month": lambda c: consumption_by_period(c, dwelling, "electricity", "month", timezone=tz.key,
                                                          gas_kwh_per_m3=GAS, today=today),
        "year on year": lambda c: paired_use(c, dwelling, "electricity", first, end, shift_days=28, timezone=tz.key,
                                             gas_kwh_per_m3=GAS),
        "window by week": lambda c: consumption_between(c, dwelling, "electricity", "week", first, end, tz=tz,
                                                        gas_kwh_per_m3=GAS),
        "calendar": lambda c: daily_use(c, dwelling, "electricity", first, end, tz=tz, gas_kwh_per_m3=GAS),
        "CSV export": lambda c: list(iter_daily(c, dwelling, "dwelling", since, until, timezone=tz.key)),
        "personal data file": lambda c: list(reading_rows(c, dwelling, "consumption_daily.csv")),
    }


@pytest.mark.storage("postgresql")
def test_each_household_read_fetches_only_its_meters_days(seeded: tuple[str, Seed]) -> None:
    url, seed = seeded
    total = _total_rows(url)
    today = datetime.now(PARIS).date()
    assert total >= 5 * DAYS - 10  # five meters' days: B's electricity is a fifth of them
    for name, read in _reads(seed, today).items():
        with psycopg.connect(url) as conn:
            conn.execute("SET LOCAL enable_seqscan = off")
            conn.execute("SET LOCAL jit = off")
            result = read(conn)
            assert result, f"{name}: no rows (the seed gives dwelling B {DAYS} days)"
            read_rows = _rollup_rows_read(conn)
        # Its own meter's days (at most DAYS), never the whole table's; half of it leaves room for the
        # planner's choices, while the join the view cannot take in read all of it.
        assert 0 < read_rows <= min(DAYS + 10, total // 2), f"{name} read {read_rows} of {total} daily rows"


@pytest.mark.storage("postgresql")
def test_a_building_read_fetches_only_its_meters_days(seeded: tuple[str, Seed]) -> None:
    url, seed = seeded
    total = _total_rows(url)
    since = datetime.now(PARIS).date() - timedelta(days=60)
    with psycopg.connect(url) as conn:
        conn.execute("SET LOCAL enable_seqscan = off")
        days = building_daily(conn, seed.other_building_id, "electricity", since, timezone="Europe/Paris",
                              gas_kwh_per_m3=GAS, balance_point_c=18.0)
        read_rows = _rollup_rows_read(conn)
    assert days  # building B holds dwelling C's electricity meter
    assert 0 < read_rows <= min(DAYS + 10, total // 2), f"the manager's building read {read_rows} of {total} daily rows"
