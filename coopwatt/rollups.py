"""Refresh the hourly and daily rollups (reading_hourly, reading_daily, consumption_daily) over a window.

Plain PostgreSQL: the rollups are tables, recomputed here with SQL aggregation.
``reading_hourly``/``reading_daily`` are upserted and never deleted from, because
they must outlive raw readings removed by retention; ``consumption_daily`` is
rebuilt for the window's days (a derivation can remove hours).
TimescaleDB: they are continuous aggregates; ``refresh_continuous_aggregate``
refreshes only buckets that lie wholly inside its window, so the window is
widened to whole hours and whole local days first. That procedure cannot run
inside a transaction, hence the autocommit connection.

Days are local days in ``Settings.timezone`` (23 or 25 hours at DST changes).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import psycopg
from psycopg import pq, sql

from coopwatt.db import StorageMode, connect, storage_mode
from coopwatt.policies import retention_horizon
from coopwatt.retention import hourly_horizon
from coopwatt.settings import Settings

log = logging.getLogger(__name__)

DEFAULT_LOOKBACK = timedelta(days=3)
_HOUR = timedelta(hours=1)
_ONE_US = timedelta(microseconds=1)


def hour_bounds(since: datetime, until: datetime) -> tuple[datetime, datetime]:
    """The whole UTC hours covering [since, until)."""
    start = since.astimezone(UTC).replace(minute=0, second=0, microsecond=0)
    stop = until.astimezone(UTC).replace(minute=0, second=0, microsecond=0)
    return start, stop if stop >= until else stop + _HOUR


def day_bounds(since: datetime, until: datetime, tz: ZoneInfo) -> tuple[datetime, datetime]:
    """The whole local days covering [since, until), as aware datetimes at local midnight."""
    start = since.astimezone(tz).replace(hour=0, minute=0, second=0, microsecond=0, tzinfo=None, fold=0)
    local_stop = until.astimezone(tz)
    stop = local_stop.replace(hour=0, minute=0, second=0, microsecond=0, tzinfo=None, fold=0)
    # Naive wall-clock arithmetic then re-attaching the zone: midnight is never skipped in Europe.
    if stop.replace(tzinfo=tz) < until:
        stop += timedelta(days=1)
    return start.replace(tzinfo=tz), stop.replace(tzinfo=tz)


@contextmanager
def _autocommit(url_or_conn: str | psycopg.Connection) -> Iterator[psycopg.Connection]:
    if isinstance(url_or_conn, str):
        with connect(url_or_conn, autocommit=True) as conn:
            yield conn
        return
    conn = url_or_conn
    if conn.info.transaction_status is not pq.TransactionStatus.IDLE:
        raise ValueError("refresh_rollups needs a connection with no transaction in progress")
    previous = conn.autocommit
    conn.autocommit = True
    try:
        yield conn
    finally:
        conn.autocommit = previous


_READING_ROLLUP = """
INSERT INTO {table} (meter_id, quantity_id, bucket, value_min, value_max, value_avg, value_first, value_last, n)
SELECT meter_id, quantity_id, {bucket} AS bucket,
       min(value), max(value), avg(value),
       (array_agg(value ORDER BY time))[1], (array_agg(value ORDER BY time DESC))[1], count(*)
FROM reading
WHERE time >= %(start)s AND time < %(stop)s
GROUP BY meter_id, quantity_id, bucket
ON CONFLICT (meter_id, quantity_id, bucket) DO UPDATE SET
    value_min = excluded.value_min, value_max = excluded.value_max, value_avg = excluded.value_avg,
    value_first = excluded.value_first, value_last = excluded.value_last, n = excluded.n
"""


Window = tuple[datetime, datetime]


def _kept_by_retention(hours: Window, days: Window, horizon: datetime | None, tz: ZoneInfo) -> tuple[Window, Window]:
    """The reading-rollup windows cut to the whole hours and local days whose raw readings retention has kept.

    Recomputing a bucket whose readings retention deleted (all or some) would replace it with what is left: an hour
    or a day of the raw curve's rollup lost, on TimescaleDB as on plain PostgreSQL.
    """
    if horizon is None:
        return hours, days
    first_hour = hour_bounds(horizon - _ONE_US, horizon)[1]
    first_day = day_bounds(horizon - _ONE_US, horizon, tz)[1]
    return (max(hours[0], first_hour), hours[1]), (max(days[0], first_day), days[1])


def _refresh_plain(conn: psycopg.Connection, tz_name: str, days: Window, reading_hours: Window,
                   reading_days: Window) -> None:
    hourly_bucket = sql.SQL("date_bin('1 hour', time, TIMESTAMPTZ '2000-01-01 00:00+00')")
    daily_bucket = sql.SQL("date_trunc('day', time, %(tz)s)")
    with conn.transaction():
        if reading_hours[0] < reading_hours[1]:
            conn.execute(sql.SQL(_READING_ROLLUP).format(table=sql.Identifier("reading_hourly"), bucket=hourly_bucket),
                         {"start": reading_hours[0], "stop": reading_hours[1]})
        if reading_days[0] < reading_days[1]:
            conn.execute(sql.SQL(_READING_ROLLUP).format(table=sql.Identifier("reading_daily"), bucket=daily_bucket),
                         {"start": reading_days[0], "stop": reading_days[1], "tz": tz_name})
        conn.execute("DELETE FROM consumption_daily WHERE day >= %s AND day < %s", days)
        conn.execute(
            "INSERT INTO consumption_daily (meter_id, day, energy_kwh, volume_m3, estimated_hours, hours)"
            " SELECT meter_id, date_trunc('day', hour, %(tz)s) AS day, sum(energy_kwh), sum(volume_m3),"
            "        count(*) FILTER (WHERE estimated), count(*)"
            " FROM consumption_hourly WHERE hour >= %(start)s AND hour < %(stop)s"
            " GROUP BY meter_id, day",
            {"tz": tz_name, "start": days[0], "stop": days[1]},
        )


def _refresh_timescale(conn: psycopg.Connection, days: Window, reading_hours: Window, reading_days: Window) -> None:
    # Literals, not parameters: CALL is a utility statement and its arguments are bound client-side.
    for view, (start, stop) in (("reading_hourly", reading_hours), ("reading_daily", reading_days),
                                ("consumption_daily", days)):
        if start >= stop:
            continue
        conn.execute(sql.SQL("CALL refresh_continuous_aggregate({}, {}, {})").format(
            sql.Literal(view), sql.Literal(start.astimezone(UTC)), sql.Literal(stop.astimezone(UTC))))


def refresh_rollups(url_or_conn: str | psycopg.Connection, settings: Settings,
                    since: datetime | None = None, until: datetime | None = None) -> StorageMode:
    """Recompute the rollups for [since, until), widened to whole hours and local days; return the mode used.

    Defaults: the last three days up to one hour from now. A connection passed in
    must be idle; it is switched to autocommit for the call and back afterwards.
    """
    now = datetime.now(UTC)
    since = since or now - DEFAULT_LOOKBACK
    until = until or now + _HOUR
    if since.tzinfo is None or until.tzinfo is None:
        raise ValueError("since and until must be timezone-aware")
    if until <= since:
        raise ValueError(f"empty window: {since.isoformat()} .. {until.isoformat()}")
    hours = hour_bounds(since, until)
    days = day_bounds(since, until, settings.tz)
    with _autocommit(url_or_conn) as conn:
        mode = storage_mode(conn)
        if mode is None:
            raise RuntimeError("the database is not migrated yet (run `coopwatt migrate`)")
        reading_hours, reading_days = _kept_by_retention(hours, days, retention_horizon(conn), settings.tz)
        # Days whose hours retention deleted keep the totals they had (COOPWATT_RETENTION_HOURLY_DAYS).
        days = _kept_by_retention(hours, days, hourly_horizon(conn), settings.tz)[1]
        if mode is StorageMode.TIMESCALEDB:
            _refresh_timescale(conn, days, reading_hours, reading_days)
        else:
            _refresh_plain(conn, settings.timezone, days, reading_hours, reading_days)
    log.info("rollups refreshed (%s): hours %s..%s, days %s..%s", mode, hours[0].isoformat(), hours[1].isoformat(),
             days[0].isoformat(), days[1].isoformat())
    return mode
