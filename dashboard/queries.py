"""Read-only SQL for the views: one dwelling's details and its consumption from the daily rollup.

Long periods are never read from raw readings: consumption comes from
``consumption_daily`` (one row per meter and local day). Only the member's own
data export reads raw readings, streamed.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta

import psycopg

KINDS = ("electricity", "gas", "water", "heat")
GRANULARITIES = ("day", "week", "month", "year")
# What a kind is shown in: gas in kWh (converted from m³ when a meter only reports volume).
UNIT_OF_KIND = {"electricity": "kWh", "gas": "kWh", "water": "m³", "heat": "kWh"}
# How far back each granularity looks: enough bars to read, never more than ten years of days.
_PERIODS_SHOWN = {"day": 31, "week": 26, "month": 24, "year": 10}


@dataclass(frozen=True)
class DwellingInfo:
    """What a view says about a dwelling, and which energy kinds it has meters for."""

    id: int
    code: str
    floor_area_m2: float
    heating_type: str
    building_name: str
    residence_name: str
    kinds: tuple[str, ...]


@dataclass(frozen=True)
class PeriodUse:
    """Consumption over one period (day, week, month or year) in the kind's unit."""

    start: date
    amount: float
    days: int
    estimated_days: int


def dwelling_info(conn: psycopg.Connection, dwelling_id: int) -> DwellingInfo | None:
    """A dwelling's details and metered kinds, or None if it does not exist."""
    row = conn.execute(
        """
        SELECT d.id, d.code, d.floor_area_m2, d.heating_type, coalesce(b.name, b.code), r.name,
               coalesce(array(SELECT DISTINCT m.kind FROM meter m WHERE m.dwelling_id = d.id), '{}')
        FROM dwelling d JOIN building b ON b.id = d.building_id JOIN residence r ON r.id = b.residence_id
        WHERE d.id = %s
        """,
        (dwelling_id,),
    ).fetchone()
    if row is None:
        return None
    kinds = tuple(kind for kind in KINDS if kind in row[6])
    return DwellingInfo(row[0], row[1], float(row[2]), row[3], row[4], row[5], kinds)


def first_period_shown(today: date, granularity: str) -> date:
    """The start of the oldest period a granularity shows, counting back from today's period."""
    count = _PERIODS_SHOWN[granularity]
    if granularity == "day":
        return today - timedelta(days=count - 1)
    if granularity == "week":
        return today - timedelta(days=today.weekday()) - timedelta(weeks=count - 1)
    if granularity == "month":
        months = today.year * 12 + today.month - 1 - (count - 1)
        return date(months // 12, months % 12 + 1, 1)
    if granularity == "year":
        return date(today.year - (count - 1), 1, 1)
    raise ValueError(f"unknown granularity {granularity!r}")


def consumption_by_period(
    conn: psycopg.Connection, dwelling_id: int, kind: str, granularity: str, *,
    timezone: str, gas_kwh_per_m3: float, today: date,
) -> list[PeriodUse]:
    """A dwelling's consumption of one kind per period, oldest first, from consumption_daily."""
    if kind not in KINDS or granularity not in GRANULARITIES:
        raise ValueError(f"unknown kind or granularity: {kind!r}, {granularity!r}")
    rows = conn.execute(
        """
        SELECT date_trunc(%(granularity)s, cd.day AT TIME ZONE %(tz)s)::date AS start,
               sum(CASE %(kind)s
                       WHEN 'water' THEN cd.volume_m3
                       WHEN 'gas' THEN coalesce(cd.energy_kwh, cd.volume_m3 * %(coef)s)
                       ELSE cd.energy_kwh END) AS amount,
               count(DISTINCT cd.day) AS days,
               count(DISTINCT cd.day) FILTER (WHERE cd.estimated_hours > 0) AS estimated_days
        FROM consumption_daily cd JOIN meter m ON m.id = cd.meter_id
        WHERE m.dwelling_id = %(dwelling)s AND m.kind = %(kind)s
          AND cd.day >= (%(since)s::timestamp AT TIME ZONE %(tz)s)
        GROUP BY 1
        HAVING sum(CASE %(kind)s
                       WHEN 'water' THEN cd.volume_m3
                       WHEN 'gas' THEN coalesce(cd.energy_kwh, cd.volume_m3 * %(coef)s)
                       ELSE cd.energy_kwh END) IS NOT NULL
        ORDER BY 1
        """,
        {
            "granularity": granularity, "tz": timezone, "kind": kind, "coef": gas_kwh_per_m3,
            "dwelling": dwelling_id, "since": datetime.combine(first_period_shown(today, granularity), datetime.min.time()),
        },
    ).fetchall()
    return [PeriodUse(row[0], float(row[1]), int(row[2]), int(row[3])) for row in rows]


def open_erasure_request(conn: psycopg.Connection, account_id: int) -> datetime | None:
    """When the account's open erasure request was made, if it has one."""
    row = conn.execute(
        "SELECT requested_at FROM erasure_request WHERE account_id = %s AND status = 'open'", (account_id,),
    ).fetchone()
    return row[0] if row else None


READINGS_CSV_HEADER = ("meter", "kind", "quantity", "unit", "time_utc", "value")
DAILY_CSV_HEADER = ("meter", "kind", "day_local", "energy_kwh", "volume_m3", "hours", "estimated_hours")


def iter_readings(conn: psycopg.Connection, dwelling_id: int) -> Iterator[tuple[object, ...]]:
    """Every raw reading of a dwelling's meters, streamed with a server-side cursor."""
    with conn.cursor(name="export_readings") as cursor:
        cursor.itersize = 5000
        cursor.execute(
            """
            SELECT m.source, m.kind, q.name, q.unit, r.time AT TIME ZONE 'UTC', r.value
            FROM reading r JOIN meter m ON m.id = r.meter_id JOIN quantity q ON q.id = r.quantity_id
            WHERE m.dwelling_id = %s
            ORDER BY m.source, q.name, r.time
            """,
            (dwelling_id,),
        )
        yield from cursor


def iter_daily(conn: psycopg.Connection, dwelling_id: int, timezone: str) -> Iterator[tuple[object, ...]]:
    """A dwelling's daily consumption per meter, oldest first."""
    with conn.cursor(name="export_daily") as cursor:
        cursor.itersize = 5000
        cursor.execute(
            """
            SELECT m.source, m.kind, (cd.day AT TIME ZONE %s)::date, cd.energy_kwh, cd.volume_m3,
                   cd.hours, cd.estimated_hours
            FROM consumption_daily cd JOIN meter m ON m.id = cd.meter_id
            WHERE m.dwelling_id = %s
            ORDER BY m.source, cd.day
            """,
            (timezone, dwelling_id),
        )
        yield from cursor
