"""Rollups in both storage modes: hourly and local-daily aggregates of readings and of derived consumption.

Plain PostgreSQL computes them in coopwatt.rollups; TimescaleDB keeps them as continuous
aggregates refreshed over the same windows. The results must be the same.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import psycopg
import pytest

from coopwatt.db import StorageMode
from coopwatt.quantities import Quantity
from coopwatt.rollups import day_bounds, hour_bounds, refresh_rollups
from coopwatt.settings import load_settings
from ingest.store import store_readings
from tests.factories import consent_to_all

PARIS = ZoneInfo("Europe/Paris")
# Sunday 25 October 2026: Paris falls back, so that local day has 25 hours.
FALL_BACK_DAY = datetime(2026, 10, 25, tzinfo=PARIS)


def _meter(conn: psycopg.Connection) -> int:
    conn.execute("INSERT INTO residence (code, name) VALUES ('R', 'R')")
    conn.execute("INSERT INTO building (residence_id, code) SELECT id, 'B' FROM residence")
    dwelling = conn.execute("INSERT INTO dwelling (building_id, code, floor_area_m2, heating_type)"
                            " SELECT id, 'D', 60, 'gas' FROM building RETURNING id").fetchone()[0]
    consent_to_all(conn, dwelling)
    return conn.execute("INSERT INTO meter (dwelling_id, kind, mode, source) SELECT id, 'electricity', 'index', 'x'"
                        " FROM dwelling RETURNING id").fetchone()[0]


def test_day_and_hour_bounds_follow_local_days() -> None:
    since = datetime(2026, 10, 25, 1, 30, tzinfo=UTC)  # 02:30 CET on the fall-back day
    until = datetime(2026, 10, 25, 23, 0, tzinfo=UTC)  # midnight CET: already the next local day
    start, stop = day_bounds(since, until, PARIS)
    assert start == FALL_BACK_DAY
    assert stop == datetime(2026, 10, 26, tzinfo=PARIS)
    assert stop.astimezone(UTC) - start.astimezone(UTC) == timedelta(hours=25)
    assert hour_bounds(since, until + timedelta(minutes=1)) == (
        datetime(2026, 10, 25, 1, tzinfo=UTC), datetime(2026, 10, 26, 0, tzinfo=UTC))


def test_reading_rollups_over_a_fall_back_day(migrated_db_url: str, storage_mode_name: str) -> None:
    settings = load_settings({}, database_url=migrated_db_url, timezone="Europe/Paris")
    start = FALL_BACK_DAY.astimezone(UTC)
    times = [start + timedelta(minutes=10 * i) for i in range(25 * 6)]  # the whole 25-hour day, every 10 min
    with psycopg.connect(migrated_db_url) as conn:
        meter = _meter(conn)
        # Stored in reverse order: first/last must come from time, not from insertion order.
        store_readings(conn, [(meter, int(Quantity.POWER_W), t, float(i)) for i, t in reversed(list(enumerate(times)))])
        conn.commit()
        mode = refresh_rollups(conn, settings, since=start, until=start + timedelta(hours=25))
        assert mode is StorageMode(storage_mode_name)
        refresh_rollups(conn, settings, since=start, until=start + timedelta(hours=25))  # twice: same result
        hourly = conn.execute(
            "SELECT bucket, value_min, value_max, value_avg, value_first, value_last, n FROM reading_hourly"
            " WHERE meter_id = %s ORDER BY bucket", (meter,)).fetchall()
        daily = conn.execute(
            "SELECT bucket, value_min, value_max, value_first, value_last, n FROM reading_daily WHERE meter_id = %s",
            (meter,)).fetchall()
    assert len(hourly) == 25
    for h, (bucket, vmin, vmax, vavg, first, last, n) in enumerate(hourly):
        assert bucket == start + timedelta(hours=h)
        assert (vmin, first, vmax, last, n) == (6 * h, 6 * h, 6 * h + 5, 6 * h + 5, 6)
        assert vavg == pytest.approx(6 * h + 2.5)
    assert daily == [(FALL_BACK_DAY, 0.0, 149.0, 0.0, 149.0, 150)]


def test_consumption_daily_drops_days_whose_hours_are_gone(migrated_db_url: str) -> None:
    settings = load_settings({}, database_url=migrated_db_url, timezone="Europe/Paris")
    start = FALL_BACK_DAY.astimezone(UTC)
    with psycopg.connect(migrated_db_url) as conn:
        meter = _meter(conn)
        conn.execute(
            "INSERT INTO consumption_hourly (meter_id, hour, energy_kwh, estimated)"
            " SELECT %s, %s + make_interval(hours => h), 0.5, h < 3 FROM generate_series(0, 26) h", (meter, start))
        conn.commit()
        refresh_rollups(conn, settings, since=start, until=start + timedelta(hours=27))
        days = conn.execute("SELECT day, energy_kwh, hours, estimated_hours FROM consumption_daily ORDER BY day").fetchall()
        assert days == [(FALL_BACK_DAY, 12.5, 25, 3), (datetime(2026, 10, 26, tzinfo=PARIS), 1.0, 2, 0)]
        conn.execute("DELETE FROM consumption_hourly WHERE hour >= %s", (start + timedelta(hours=25),))
        conn.commit()
        refresh_rollups(conn, settings, since=start + timedelta(hours=25), until=start + timedelta(hours=27))
        days_after = conn.execute("SELECT day FROM consumption_daily").fetchall()
    assert days_after == [(FALL_BACK_DAY,)]


def test_refresh_refuses_a_connection_inside_a_transaction(migrated_db_url: str) -> None:
    settings = load_settings({}, database_url=migrated_db_url)
    with psycopg.connect(migrated_db_url) as conn:
        conn.execute("SELECT 1")
        with pytest.raises(ValueError, match="transaction"):
            refresh_rollups(conn, settings)
