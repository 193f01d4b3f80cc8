"""A withdrawal deletes a flow's data, or reduces a load curve to daily values, as the household chose."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import psycopg

from coopwatt import consent
from coopwatt.consent_data import apply_withdrawal
from coopwatt.quantities import Quantity
from coopwatt.settings import Settings
from ingest.derive import derive_and_refresh
from ingest.store import store_readings
from tests.factories import make_meters

INDEX = int(Quantity.ENERGY_INDEX_KWH)
VOLUME = int(Quantity.VOLUME_INDEX_M3)
POWER = int(Quantity.POWER_W)


def _history(meter: int, quantity: int, start: datetime, days: int) -> list[tuple[int, int, datetime, float]]:
    """A rising index every 15 minutes for whole days: 0.25 per quarter hour, 24 a day."""
    return [(meter, quantity, start + i * timedelta(minutes=15), 100.0 + 0.25 * i) for i in range(days * 96 + 1)]


def _counts(conn: psycopg.Connection, meter: int) -> dict[str, int]:
    tables = ("reading", "consumption_hourly", "consumption_daily", "reading_hourly", "consumption_day")
    return {t: conn.execute(f"SELECT count(*) FROM {t} WHERE meter_id = %s", (meter,)).fetchone()[0] for t in tables}


def _withdraw(url: str, settings: Settings, meter: int, flow: str, choice: consent.WithdrawalChoice) -> None:
    with psycopg.connect(url) as conn:
        dwelling = conn.execute("SELECT dwelling_id FROM meter WHERE id = %s", (meter,)).fetchone()[0]
        consent.withdraw(conn, dwelling, flow, by="household", choice=choice)
        apply_withdrawal(conn, dwelling, flow, choice, settings.timezone)
        conn.commit()


def test_load_curve_reduced_to_daily_values_and_water_deleted(settings: Settings) -> None:
    url = settings.database_url
    assert url is not None
    ids = make_meters(url, ["elec", "other"])
    water = make_meters(url, ["tap"], kind="water")["tap"]
    start = (datetime.now(UTC) - timedelta(days=5)).astimezone(settings.tz).replace(
        hour=0, minute=0, second=0, microsecond=0).astimezone(UTC)  # local midnight, five days ago
    rows = _history(ids["elec"], INDEX, start, 3) + _history(ids["other"], INDEX, start, 3)
    rows += [(ids["elec"], POWER, t, 500.0) for _, _, t, _ in rows[:50]]
    rows += _history(water, VOLUME, start, 3)
    with psycopg.connect(url) as conn:
        store_readings(conn, rows)
        conn.commit()
    derive_and_refresh(url, settings)
    with psycopg.connect(url) as conn:
        days_before = conn.execute(
            "SELECT day, energy_kwh FROM consumption_daily WHERE meter_id = %s AND hours = 24 ORDER BY day",
            (ids["elec"],)).fetchall()
        other_before = _counts(conn, ids["other"])
    assert [round(kwh, 6) for _, kwh in days_before] == [24.0, 24.0, 24.0]

    _withdraw(url, settings, ids["elec"], consent.LOAD_CURVE, "aggregate")
    _withdraw(url, settings, water, consent.WATER, "delete")

    with psycopg.connect(url) as conn:
        after = _counts(conn, ids["elec"])
        days_after = conn.execute(
            "SELECT day, energy_kwh, from_hourly FROM consumption_daily_all WHERE meter_id = %s ORDER BY day",
            (ids["elec"],)).fetchall()
        kept = conn.execute("SELECT time, quantity_id FROM reading WHERE meter_id = %s ORDER BY time",
                            (ids["elec"],)).fetchall()
        assert _counts(conn, water) == dict.fromkeys(after, 0)  # deleted, raw to daily
        assert _counts(conn, ids["other"]) == other_before  # a neighbour's data untouched
        in_force = consent.consents_in_force(
            conn, conn.execute("SELECT dwelling_id FROM meter WHERE id = %s", (ids["elec"],)).fetchone()[0])
    # Daily totals kept as they were, nothing finer: no hour, no power, one index a local day.
    whole_days = {day for day, _ in days_before}
    assert [(d, round(kwh, 6), hourly) for d, kwh, hourly in days_after if d in whole_days] == [
        (d, 24.0, False) for d, _ in days_before]
    assert after["consumption_hourly"] == after["reading_hourly"] == after["consumption_daily"] == 0
    assert kept == [(start + timedelta(days=d), INDEX) for d in range(4)]
    assert consent.LOAD_CURVE not in in_force and consent.ELECTRICITY_DAILY in in_force
