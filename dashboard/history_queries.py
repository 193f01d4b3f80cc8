"""Read-only SQL for the household's history: use per period over any window, hours of a few days, latest readings.

Periods come from ``consumption_daily_all`` (never raw readings); the day view reads
``consumption_hourly`` for a few days only, with estimated and suspect hours flagged.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import psycopg

from dashboard.queries import KINDS, PeriodUse

# The amount of a kind in its unit: gas in kWh (from m³ when a meter only reports volume), water in m³.
_AMOUNT = """CASE %(kind)s WHEN 'water' THEN {t}.volume_m3
                           WHEN 'gas' THEN coalesce({t}.energy_kwh, {t}.volume_m3 * %(coef)s)
                           ELSE {t}.energy_kwh END"""
# Quantities worth showing as "last readings": instant power first, then the indices.
LATEST_QUANTITIES = ("power_w", "apparent_power_va", "energy_index_kwh", "volume_index_m3")
# Older than this, a reading is not "recent": the panel says when the last one came instead.
RECENT_READINGS_DAYS = 7


def _local_midnight(day: date, tz: ZoneInfo) -> datetime:
    return datetime.combine(day, datetime.min.time(), tz)


def consumption_between(conn: psycopg.Connection, dwelling_id: int, kind: str, granularity: str, first: date,
                        end: date, *, tz: ZoneInfo, gas_kwh_per_m3: float) -> list[PeriodUse]:
    """Use per period over local days [first, end), oldest first; a period cut by the window counts its days inside."""
    if kind not in KINDS or granularity not in ("day", "week", "month", "year"):
        raise ValueError(f"unknown kind or granularity: {kind!r}, {granularity!r}")
    amount = _AMOUNT.format(t="cd")
    rows = conn.execute(
        f"""
        SELECT date_trunc(%(granularity)s, cd.day AT TIME ZONE %(tz)s)::date, sum({amount}),
               count(DISTINCT cd.day), count(DISTINCT cd.day) FILTER (WHERE cd.estimated_hours > 0),
               count(DISTINCT cd.day) FILTER (WHERE cd.suspect_hours > 0)
        FROM consumption_daily_all cd JOIN meter m ON m.id = cd.meter_id
        WHERE cd.meter_id = ANY(ARRAY(SELECT id FROM meter WHERE dwelling_id = %(dwelling)s AND kind = %(kind)s))  -- see dashboard/queries.py
          AND m.dwelling_id = %(dwelling)s AND m.kind = %(kind)s AND cd.day >= %(since)s AND cd.day < %(until)s
        GROUP BY 1 HAVING sum({amount}) IS NOT NULL ORDER BY 1
        """,
        {"granularity": granularity, "tz": tz.key, "kind": kind, "coef": gas_kwh_per_m3, "dwelling": dwelling_id,
         "since": _local_midnight(first, tz), "until": _local_midnight(end, tz)},
    ).fetchall()
    # A period cut by the window starts at the window's first day, so its label and length say what it holds.
    return [PeriodUse(max(row[0], first), float(row[1]), int(row[2]), int(row[3]), int(row[4])) for row in rows]


@dataclass(frozen=True)
class HourUse:
    """Use over one hour (all the kind's meters), and whether any of it was estimated or is suspect."""

    hour: datetime
    amount: float
    estimated: bool
    suspect: bool


def hourly_use(conn: psycopg.Connection, dwelling_id: int, kind: str, first: date, end: date, *, tz: ZoneInfo,
               gas_kwh_per_m3: float) -> list[HourUse]:
    """Hourly use over local days [first, end), oldest first (a week at most is asked for)."""
    if kind not in KINDS:
        raise ValueError(f"unknown kind {kind!r}")
    amount = _AMOUNT.format(t="ch")
    rows = conn.execute(
        f"""
        SELECT ch.hour, sum({amount}), bool_or(ch.estimated),
               bool_or(EXISTS (SELECT 1 FROM consumption_suspect s WHERE s.meter_id = ch.meter_id AND s.hour = ch.hour))
        FROM consumption_hourly ch JOIN meter m ON m.id = ch.meter_id
        WHERE m.dwelling_id = %(dwelling)s AND m.kind = %(kind)s AND ch.hour >= %(since)s AND ch.hour < %(until)s
        GROUP BY 1 HAVING sum({amount}) IS NOT NULL ORDER BY 1
        """,
        {"kind": kind, "coef": gas_kwh_per_m3, "dwelling": dwelling_id, "since": _local_midnight(first, tz),
         "until": _local_midnight(end, tz)},
    ).fetchall()
    return [HourUse(row[0], float(row[1]), bool(row[2]), bool(row[3])) for row in rows]


@dataclass(frozen=True)
class LatestReading:
    """The newest reading of one quantity of one meter."""

    meter: str
    quantity: str
    unit: str
    time: datetime
    value: float


def latest_readings(conn: psycopg.Connection, dwelling_id: int, kind: str, now: datetime) -> list[LatestReading]:
    """Each of the kind's meters' newest power and index readings of the last days (index lookups, no scan)."""
    rows = conn.execute(
        """
        SELECT m.source, q.name, q.unit, r.time, r.value
        FROM meter m CROSS JOIN quantity q
        CROSS JOIN LATERAL (SELECT time, value FROM reading
                             WHERE meter_id = m.id AND quantity_id = q.id AND time > %(since)s AND time <= %(now)s
                             ORDER BY time DESC LIMIT 1) r
        WHERE m.dwelling_id = %(dwelling)s AND m.kind = %(kind)s AND m.removed_at IS NULL
          AND q.name = ANY(%(quantities)s)
        ORDER BY array_position(%(quantities)s, q.name), m.source
        """,
        {"dwelling": dwelling_id, "kind": kind, "quantities": list(LATEST_QUANTITIES), "now": now,
         "since": now - timedelta(days=RECENT_READINGS_DAYS)},
    ).fetchall()
    return [LatestReading(*row) for row in rows]


def last_reading_time(conn: psycopg.Connection, dwelling_id: int, kind: str) -> datetime | None:
    """When the kind's meters last sent anything (from the hourly rollup: cheap on a long history)."""
    row = conn.execute(
        # The meters as a list: reading_hourly is a continuous aggregate under TimescaleDB (see dashboard/queries.py).
        "SELECT max(h.bucket) FROM reading_hourly h"
        " WHERE h.meter_id = ANY(ARRAY(SELECT id FROM meter WHERE dwelling_id = %s AND kind = %s))", (dwelling_id, kind),
    ).fetchone()
    return row[0] if row else None


@dataclass(frozen=True)
class DayUse:
    """One local day's use of a kind, with its estimated and suspect hours."""

    day: date
    amount: float
    estimated_hours: int
    suspect_hours: int


def daily_use(conn: psycopg.Connection, dwelling_id: int, kind: str, first: date, end: date, *, tz: ZoneInfo,
              gas_kwh_per_m3: float) -> list[DayUse]:
    """Use per local day over [first, end), oldest first (the calendar of the year)."""
    amount = _AMOUNT.format(t="cd")
    rows = conn.execute(
        f"""
        SELECT (cd.day AT TIME ZONE %(tz)s)::date, sum({amount}), sum(cd.estimated_hours), sum(cd.suspect_hours)
        FROM consumption_daily_all cd JOIN meter m ON m.id = cd.meter_id
        WHERE cd.meter_id = ANY(ARRAY(SELECT id FROM meter WHERE dwelling_id = %(dwelling)s AND kind = %(kind)s))  -- see dashboard/queries.py
          AND m.dwelling_id = %(dwelling)s AND m.kind = %(kind)s AND cd.day >= %(since)s AND cd.day < %(until)s
        GROUP BY 1 HAVING sum({amount}) IS NOT NULL ORDER BY 1
        """,
        {"tz": tz.key, "kind": kind, "coef": gas_kwh_per_m3, "dwelling": dwelling_id,
         "since": _local_midnight(first, tz), "until": _local_midnight(end, tz)},
    ).fetchall()
    return [DayUse(row[0], float(row[1]), int(row[2]), int(row[3])) for row in rows]


def typical_day(conn: psycopg.Connection, dwelling_id: int, kind: str, first: date, end: date, *, tz: ZoneInfo,
                gas_kwh_per_m3: float) -> list[tuple[int, float, int]]:
    """(local hour of day, mean use, days averaged) over [first, end), measured hours only (no estimated, no suspect)."""
    amount = _AMOUNT.format(t="ch")
    rows = conn.execute(
        f"""
        WITH hours AS (
            SELECT ch.hour, sum({amount}) AS amount
            FROM consumption_hourly ch JOIN meter m ON m.id = ch.meter_id
            WHERE m.dwelling_id = %(dwelling)s AND m.kind = %(kind)s AND ch.hour >= %(since)s AND ch.hour < %(until)s
              AND NOT ch.estimated
              AND NOT EXISTS (SELECT 1 FROM consumption_suspect s WHERE s.meter_id = ch.meter_id AND s.hour = ch.hour)
            GROUP BY 1 HAVING sum({amount}) IS NOT NULL)
        SELECT extract(hour FROM hour AT TIME ZONE %(tz)s)::int, avg(amount), count(*) FROM hours GROUP BY 1 ORDER BY 1
        """,
        {"tz": tz.key, "kind": kind, "coef": gas_kwh_per_m3, "dwelling": dwelling_id,
         "since": _local_midnight(first, tz), "until": _local_midnight(end, tz)},
    ).fetchall()
    return [(int(row[0]), float(row[1]), int(row[2])) for row in rows]
