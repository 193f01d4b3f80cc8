"""The consumption job on the real PostgreSQL: resets, gaps, late readings, idempotence, gas in kWh."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta

import psycopg
import pytest

from coopwatt.quantities import Quantity
from coopwatt.rollups import refresh_rollups
from coopwatt.settings import Settings, load_settings
from ingest.derive import DeriveStats, derive_and_refresh, derive_pending
from ingest.store import store_readings
from tests.factories import consent_to_all

# Sunday 29 March 2026: Paris springs forward, so that local day has 23 hours.
DAY_START = datetime(2026, 3, 28, 23, 0, tzinfo=UTC)  # local midnight, 29 March
STEP = timedelta(minutes=15)


def _settings(url: str) -> Settings:
    return load_settings({}, database_url=url, timezone="Europe/Paris", gas_kwh_per_m3=10.5, consumption_max_gap_s=7200)


def _meter(conn: psycopg.Connection, source: str, kind: str = "electricity", mode: str = "index") -> int:
    conn.execute("INSERT INTO residence (code, name) VALUES ('R', 'R') ON CONFLICT DO NOTHING")
    conn.execute("INSERT INTO building (residence_id, code) SELECT id, 'B' FROM residence ON CONFLICT DO NOTHING")
    dwelling = conn.execute(
        "INSERT INTO dwelling (building_id, code, floor_area_m2, heating_type) SELECT id, %s, 60, 'gas' FROM building"
        " RETURNING id", (source,)).fetchone()[0]
    consent_to_all(conn, dwelling)
    return conn.execute("INSERT INTO meter (dwelling_id, kind, mode, source) VALUES (%s, %s, %s, %s) RETURNING id",
                        (dwelling, kind, mode, source)).fetchone()[0]


def _true_index(t: datetime) -> float:
    """A household using 1 kWh per hour, except 3 kWh between 05:00 and 06:00 UTC and nothing 06:00–07:00."""
    hours = (t - DAY_START) / timedelta(hours=1)
    index = 1000.0 + hours
    five, six, seven = (DAY_START + timedelta(hours=h) for h in (6, 7, 8))
    if t > five:
        index += 2 * min((t - five) / timedelta(hours=1), 1.0)
    if t > six:
        index -= min((t - six) / timedelta(hours=1), 1.0)
    return index


def _day_readings(meter: int, *, skip: set[int] = frozenset()) -> list[tuple[int, int, datetime, float]]:
    """A day of 15-minute readings: a 3-hour gap, a counter reset at 15:00 UTC, optional missing steps."""
    rows = []
    reset_at = DAY_START + timedelta(hours=16)
    for i in range(int(timedelta(hours=23) / STEP) + 1):
        t = DAY_START + i * STEP
        if i in skip or DAY_START + timedelta(hours=11) < t < DAY_START + timedelta(hours=14):
            continue
        value = _true_index(t) if t < reset_at else _true_index(t) - _true_index(reset_at - STEP)
        rows.append((meter, int(Quantity.ENERGY_INDEX_KWH), t, value))
    return rows


def _hourly(conn: psycopg.Connection, meter: int) -> list[tuple[datetime, float, bool]]:
    return [(h, round(e, 9), est) for h, e, est in conn.execute(
        "SELECT hour, energy_kwh, estimated FROM consumption_hourly WHERE meter_id = %s ORDER BY hour", (meter,))]


def test_index_with_reset_gap_and_late_readings(migrated_db_url: str) -> None:
    settings = _settings(migrated_db_url)
    # Readings 05:15–07:00 UTC (local 07:15–09:00) arrive late, after a first derivation.
    late = set(range(25, 33))
    with psycopg.connect(migrated_db_url) as conn:
        incremental, whole = _meter(conn, "inc"), _meter(conn, "whole")
        store_readings(conn, _day_readings(incremental, skip=late))
        store_readings(conn, _day_readings(whole))
        conn.commit()
        first = derive_pending(conn, settings)
        assert first.meters == 2 and first.deferred == 0
        before = _hourly(conn, incremental)
        by_hour = {h: (e, est) for h, e, est in before}
        # Without the late readings, 05:00–07:15 UTC is one step: spread evenly and marked estimated.
        spread = [by_hour[DAY_START + timedelta(hours=h)] for h in (6, 7)]
        assert spread[0] == spread[1] and spread[0][1]

        all_rows = _day_readings(incremental)
        store_readings(conn, [r for r in all_rows if r[2] in {DAY_START + i * STEP for i in late}])
        conn.commit()
        second = derive_pending(conn, settings)
        assert second.meters == 1
        after = _hourly(conn, incremental)
        # The late readings correct the hours they touch: now identical to the meter that had them all at once.
        assert after == [(h, e, est) for h, e, est in _hourly(conn, whole)]
        assert after != before

        hours = {h: (e, est) for h, e, est in after}
        expected_use = {h: round(_true_index(DAY_START + timedelta(hours=h + 1)) - _true_index(DAY_START + timedelta(hours=h)), 9)
                        for h in range(23)}
        for h in range(23):
            energy, estimated = hours[DAY_START + timedelta(hours=h)]
            assert energy == pytest.approx(expected_use[h], abs=1e-9), h
            # The 3-hour gap (11:00–14:00 UTC readings missing) is spread and estimated; nothing else is.
            assert estimated == (11 <= h < 14), h
        # The counter reset is reported, counted from zero, and never turns into negative use.
        assert [(e.meter_id, e.kind, e.counted) for e in first.events] == [(incremental, "reset", True), (whole, "reset", True)]
        assert all(e >= 0 for _, e, _ in after)

        conn.commit()
        refresh_rollups(conn, settings, since=first.since, until=first.until)
        daily = conn.execute(
            "SELECT day, energy_kwh, hours, estimated_hours FROM consumption_daily WHERE meter_id = %s", (incremental,)
        ).fetchall()
    assert len(daily) == 1
    day, energy, n_hours, n_estimated = daily[0]
    assert day == DAY_START
    assert n_hours == 23 and n_estimated == 3  # the spring-forward day is 23 hours long
    assert energy == pytest.approx(sum(expected_use.values()))


def test_running_twice_changes_nothing(migrated_db_url: str) -> None:
    settings = _settings(migrated_db_url)
    with psycopg.connect(migrated_db_url) as conn:
        meter = _meter(conn, "m")
        rows = _day_readings(meter)
        store_readings(conn, rows)
        conn.commit()
        derive_pending(conn, settings)
        once = _hourly(conn, meter)
        conn.commit()
        assert derive_pending(conn, settings).meters == 0  # nothing pending any more
        # Re-importing the same readings stores nothing, so nothing is pending and the table stays as it was.
        assert store_readings(conn, rows) == 0
        conn.commit()
        assert conn.execute("SELECT count(*) FROM consumption_pending").fetchone()[0] == 0
        conn.commit()
        assert derive_pending(conn, settings).meters == 0
        assert _hourly(conn, meter) == once
        conn.commit()
        # A derivation forced from the start (as after a late reading) gives the same table again.
        conn.execute("INSERT INTO consumption_pending (meter_id, from_time) VALUES (%s, %s)", (meter, rows[0][2]))
        conn.commit()
        assert derive_pending(conn, settings).meters == 1
        assert _hourly(conn, meter) == once
        assert conn.execute("SELECT count(*) FROM consumption_pending").fetchone()[0] == 0


def test_gas_gets_kwh_and_water_only_m3(migrated_db_url: str) -> None:
    settings = _settings(migrated_db_url)
    with psycopg.connect(migrated_db_url) as conn:
        gas, water = _meter(conn, "gas", "gas"), _meter(conn, "water", "water")
        times = [DAY_START + i * STEP for i in range(9)]
        store_readings(conn, [(gas, int(Quantity.VOLUME_INDEX_M3), t, 100 + 0.1 * i) for i, t in enumerate(times)])
        store_readings(conn, [(water, int(Quantity.VOLUME_INDEX_M3), t, 50 + 0.01 * i) for i, t in enumerate(times)])
        conn.commit()
        derive_pending(conn, settings)
        gas_rows = conn.execute("SELECT volume_m3, energy_kwh FROM consumption_hourly WHERE meter_id = %s ORDER BY hour",
                                (gas,)).fetchall()
        water_rows = conn.execute("SELECT volume_m3, energy_kwh FROM consumption_hourly WHERE meter_id = %s", (water,)).fetchall()
    assert [round(v, 9) for v, _ in gas_rows] == [0.4, 0.4]
    assert [round(e, 9) for _, e in gas_rows] == [round(0.4 * settings.gas_kwh_per_m3, 9)] * 2
    assert all(e is None and v == pytest.approx(0.04) for v, e in water_rows)


def test_interval_meter_sums_into_the_hour_each_value_ends_in(migrated_db_url: str) -> None:
    settings = _settings(migrated_db_url)
    with psycopg.connect(migrated_db_url) as conn:
        meter = _meter(conn, "curve", mode="interval")
        # 30-minute energy values stamped at the END of their interval.
        store_readings(conn, [(meter, int(Quantity.ENERGY_KWH), DAY_START + timedelta(minutes=30 * i), 0.1 * i)
                              for i in range(1, 5)])
        conn.commit()
        derive_pending(conn, settings)
        # A late value for 23:00–23:30 the evening before.
        store_readings(conn, [(meter, int(Quantity.ENERGY_KWH), DAY_START, 0.05)])
        conn.commit()
        derive_pending(conn, settings)
        rows = [(h, round(e, 9)) for h, e in conn.execute(
            "SELECT hour, energy_kwh FROM consumption_hourly WHERE meter_id = %s ORDER BY hour", (meter,))]
    assert rows == [(DAY_START - timedelta(hours=1), 0.05), (DAY_START, 0.3), (DAY_START + timedelta(hours=1), 0.7)]


def test_max_meters_leaves_the_rest_pending(migrated_db_url: str) -> None:
    settings = _settings(migrated_db_url)
    with psycopg.connect(migrated_db_url) as conn:
        meters = [_meter(conn, f"m{i}") for i in range(3)]
        for meter in meters:
            store_readings(conn, [(meter, int(Quantity.ENERGY_INDEX_KWH), DAY_START + i * STEP, float(i)) for i in range(5)])
        conn.commit()
        assert derive_pending(conn, settings, max_meters=2).meters == 2
        assert conn.execute("SELECT count(*) FROM consumption_pending").fetchone()[0] == 1
        conn.commit()
        assert derive_pending(conn, settings).meters == 1


def test_readings_committed_during_a_derivation_are_not_lost(migrated_db_url: str) -> None:
    """The ingester rewrites the pending row while the job works: the job defers, nothing is lost."""
    settings = _settings(migrated_db_url)
    with psycopg.connect(migrated_db_url) as setup:
        meter = _meter(setup, "busy")
        rows = [(meter, int(Quantity.ENERGY_INDEX_KWH), DAY_START + i * STEP, float(i)) for i in range(8)]
        store_readings(setup, rows[:6])
        setup.commit()
    job = psycopg.connect(migrated_db_url, application_name="derive-under-test")
    ingester = psycopg.connect(migrated_db_url)
    try:
        # Later readings: from_time stays the same, but the pending row gets a new version (uncommitted yet).
        store_readings(ingester, rows[6:])
        result: list[object] = []
        worker = threading.Thread(target=lambda: result.append(derive_pending(job, settings)))
        worker.start()
        # Wait until the job is blocked on the pending row the ingester holds, then let the ingester commit.
        with psycopg.connect(migrated_db_url, autocommit=True) as watch:
            for _ in range(600):
                waiting = watch.execute(
                    "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'derive-under-test'"
                    " AND wait_event_type = 'Lock'").fetchone()[0]
                if waiting or not worker.is_alive():
                    break
                time.sleep(0.05)
        assert waiting, "the job never reached the pending row"
        ingester.commit()
        worker.join(timeout=60)
        stats = result[0]
        assert isinstance(stats, DeriveStats) and (stats.meters, stats.deferred) == (0, 1)
        # The meter is still pending; the next run sees all eight readings.
        assert derive_pending(job, settings).meters == 1
        total = job.execute("SELECT sum(energy_kwh) FROM consumption_hourly WHERE meter_id = %s", (meter,)).fetchone()[0]
        assert total == pytest.approx(7.0)
    finally:
        job.close()
        ingester.close()


def test_scheduled_job_derives_and_refreshes_the_changed_days(migrated_db_url: str) -> None:
    settings = _settings(migrated_db_url)
    with psycopg.connect(migrated_db_url) as conn:
        meter = _meter(conn, "sched")
        rows = _day_readings(meter)
        store_readings(conn, rows)
        conn.commit()
    stats = derive_and_refresh(migrated_db_url, settings)
    with psycopg.connect(migrated_db_url) as conn:
        daily = conn.execute("SELECT day, hours FROM consumption_daily WHERE meter_id = %s", (meter,)).fetchall()
        n_hourly = conn.execute("SELECT count(*) FROM reading_hourly WHERE meter_id = %s", (meter,)).fetchone()[0]
    assert stats.meters == 1 and stats.since == DAY_START
    assert daily == [(DAY_START, 23)]
    assert n_hourly == len({t.replace(minute=0) for _, _, t, _ in rows})  # one bucket per hour holding readings
