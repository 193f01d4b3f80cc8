"""Retention per data kind (coopwatt.retention): hourly values, daily values and resolved alerts go exactly at
their cutoff, in both storage modes, and a day whose hours are gone keeps its total through later refreshes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import psycopg
import pytest

from analytics.job.run import run_maintenance
from coopwatt.consent_data import rollup_table
from coopwatt.quantities import Quantity
from coopwatt.retention import delete_expired
from coopwatt.rollups import refresh_rollups
from coopwatt.settings import Settings
from ingest.daily import DayFigure
from ingest.import_daily import store_days
from ingest.store import store_readings
from tests.factories import make_meters

NOW = datetime(2026, 2, 28, 23, tzinfo=UTC)  # local midnight in Paris, as every cutoff below (no DST between)
HOURLY_CUTOFF = NOW - timedelta(days=20)
DAILY_CUTOFF = NOW - timedelta(days=40)
ALERTS_CUTOFF = NOW - timedelta(days=30)
INDEX = int(Quantity.ENERGY_INDEX_KWH)


def _settings(settings: Settings) -> Settings:
    return settings.model_copy(update={"retention_days": 10, "retention_hourly_days": 20,
                                       "retention_daily_days": 40, "retention_alerts_days": 30})


def _times(conn: psycopg.Connection, table: str, column: str, meter: int) -> set[datetime]:
    return {r[0] for r in conn.execute(f"SELECT {column} FROM {table} WHERE meter_id = %s", (meter,))}


def test_each_kind_goes_exactly_at_its_cutoff(settings: Settings) -> None:
    url = settings.database_url
    assert url is not None
    short = _settings(settings)
    meter = make_meters(url, ["m1"])["m1"]
    other = make_meters(url, ["m2"], kind="water")["m2"]
    hours = [HOURLY_CUTOFF + timedelta(hours=h) for h in (-2, -1, 0, 1)]
    days = [DAILY_CUTOFF + timedelta(days=d) for d in (-2, -1, 0, 1)]
    with psycopg.connect(url) as conn:
        # Hourly consumption around both cutoffs; the rollup makes whole days of it (24 hours each).
        conn.cursor().executemany(
            "INSERT INTO consumption_hourly (meter_id, hour, energy_kwh) VALUES (%s, %s, 1.0)",
            [(meter, day + timedelta(hours=h)) for day in days for h in range(24)] + [(meter, h) for h in hours])
        store_readings(conn, [(meter, INDEX, h + timedelta(minutes=m), 100.0 + i) for i, h in enumerate(hours)
                              for m in (0, 30)] + [(meter, INDEX, d + timedelta(hours=6), 50.0) for d in days])
        store_days(conn, other, [DayFigure(0, d.astimezone(short.tz).date(), volume_m3=0.5) for d in days],
                   short.tz, "water")
        alerts = [conn.execute(
            "INSERT INTO alert (kind, severity, meter_id, started_at, ended_at, status, resolved_at)"
            " VALUES ('spike', 'info', %s, %s, %s, %s, %s) RETURNING id",
            (meter, at - timedelta(days=1), at, status, at if status == "resolved" else None)).fetchone()[0]
            for at, status in ((ALERTS_CUTOFF - timedelta(microseconds=1), "resolved"),
                               (ALERTS_CUTOFF, "resolved"), (ALERTS_CUTOFF - timedelta(days=9), "open"))]
        conn.execute("INSERT INTO alert_action (alert_id, account_id, action) VALUES (%s, NULL, 'acknowledge'),"
                     " (%s, NULL, 'acknowledge')", (alerts[0], alerts[1]))
        conn.commit()
    refresh_rollups(url, short, days[0] - timedelta(days=1), NOW)
    with psycopg.connect(url) as conn:
        deleted = delete_expired(conn, short, now=NOW)
        assert _times(conn, "consumption_hourly", "hour", meter) == {h for h in hours if h >= HOURLY_CUTOFF}
        assert {h for h in _times(conn, "reading_hourly", "bucket", meter) if h >= days[-1] + timedelta(days=1)} == {
            h for h in hours if h >= HOURLY_CUTOFF}
        assert not {h for h in _times(conn, "reading_hourly", "bucket", meter) if h < HOURLY_CUTOFF}
        assert _times(conn, "consumption_day", "day", other) == set(days[2:])
        assert {d for d in _times(conn, "consumption_daily", "day", meter) if d <= days[-1]} == set(days[2:])
        assert {d for d in _times(conn, "reading_daily", "bucket", meter) if d <= days[-1]} == set(days[2:])
        assert {r[0] for r in conn.execute("SELECT id FROM alert")} == set(alerts[1:])
        assert [r[0] for r in conn.execute("SELECT alert_id FROM alert_action")] == [alerts[1]]
    assert deleted["alert"] == 1 and deleted["consumption_day"] == 2

    # A refresh over the whole window afterwards leaves the days whose hours are gone as they were.
    refresh_rollups(url, short, days[0] - timedelta(days=1), NOW)
    with psycopg.connect(url) as conn:
        kept = conn.execute(f"SELECT day, energy_kwh, hours FROM {rollup_table(conn, 'consumption_daily').as_string(conn)}"
                            " WHERE meter_id = %s AND day <= %s ORDER BY day", (meter, days[-1])).fetchall()
    assert kept == [(d, 24.0, 24) for d in days[2:]]


def test_coarser_kinds_must_outlive_finer_ones() -> None:
    with pytest.raises(ValueError, match="COOPWATT_RETENTION_HOURLY_DAYS"):
        Settings(retention_days=100, retention_hourly_days=50)
    with pytest.raises(ValueError, match="COOPWATT_RETENTION_DAILY_DAYS"):
        Settings(retention_hourly_days=400, retention_daily_days=300)
    Settings()


def test_maintenance_applies_the_retention_of_each_kind(settings: Settings) -> None:
    url = settings.database_url
    assert url is not None
    meter = make_meters(url, ["m1"], kind="water")["m1"]
    old = (datetime.now(UTC) - timedelta(days=45)).replace(hour=0, minute=0, second=0, microsecond=0)
    with psycopg.connect(url) as conn:
        store_days(conn, meter, [DayFigure(0, (old + timedelta(days=d)).date(), volume_m3=0.5) for d in range(10)],
                   settings.tz, "water")
        conn.commit()
    run_maintenance(url, settings.model_copy(update={"retention_days": 10, "retention_hourly_days": 20,
                                                     "retention_daily_days": 40}))
    with psycopg.connect(url) as conn:
        left = {r[0] for r in conn.execute("SELECT day FROM consumption_day WHERE meter_id = %s", (meter,))}
    cutoff = datetime.now(UTC) - timedelta(days=40)
    assert left and all(d >= cutoff - timedelta(minutes=5) for d in left) and len(left) < 10
