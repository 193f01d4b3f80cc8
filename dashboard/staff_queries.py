"""Read-only SQL for the staff views: advisers' rankings and drill-downs, managers' buildings and meters.

Scope is the caller's: every function takes the residences or buildings the session may see (dashboard/scope.py).
A household's own queries are in dashboard/queries.py.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

import psycopg

from dashboard.queries import KINDS


@dataclass(frozen=True)
class HighConsumerRow:
    """One ranked high consumer for an adviser."""

    dwelling_id: int
    dwelling_code: str
    building_name: str
    residence_name: str
    heating_type: str
    energy_kind: str
    rank: int
    normalised_kwh_per_m2: float
    group_median_kwh_per_m2: float | None
    ratio_to_group: float | None
    reasons: list[object]
    follow_up_status: str | None


def high_consumers(
    conn: psycopg.Connection, residence_ids: list[int], *, residence_id: int | None = None,
    building_id: int | None = None, heating_type: str | None = None, energy_kind: str | None = None,
    period: tuple[date, date] | None = None, limit: int = 200,
) -> list[HighConsumerRow]:
    """High consumers within these residences (the caller's scope), filtered, best rank first.

    `period` (start, end) keeps one ranking period's rows; without it a dwelling ranked in
    several periods appears once per period.
    """
    rows = conn.execute(
        """
        SELECT h.dwelling_id, d.code, coalesce(b.name, b.code), r.name, d.heating_type, h.energy_kind, h.rank,
               h.normalised_kwh_per_m2, h.group_median_kwh_per_m2, h.ratio_to_group, h.reasons,
               (SELECT f.status FROM follow_up f WHERE f.dwelling_id = d.id ORDER BY f.updated_at DESC LIMIT 1)
        FROM high_consumer h JOIN dwelling d ON d.id = h.dwelling_id
        JOIN building b ON b.id = d.building_id JOIN residence r ON r.id = b.residence_id
        WHERE r.id = ANY(%(scope)s)
          AND (%(residence)s::int IS NULL OR r.id = %(residence)s)
          AND (%(building)s::int IS NULL OR b.id = %(building)s)
          AND (%(heating)s::text IS NULL OR d.heating_type = %(heating)s)
          AND (%(kind)s::text IS NULL OR h.energy_kind = %(kind)s)
          AND (%(period_end)s::date IS NULL OR (h.period_start = %(period_start)s AND h.period_end = %(period_end)s))
        ORDER BY h.rank, h.ratio_to_group DESC NULLS LAST
        LIMIT %(limit)s
        """,
        {"scope": residence_ids, "residence": residence_id, "building": building_id, "heating": heating_type,
         "kind": energy_kind, "period_start": period[0] if period else None,
         "period_end": period[1] if period else None, "limit": limit},
    ).fetchall()
    return [HighConsumerRow(*row[:10], list(row[10] or []), row[11]) for row in rows]  # type: ignore[arg-type]


def ranking_periods(conn: psycopg.Connection, residence_ids: list[int]) -> list[tuple[date, date]]:
    """The ranking periods (start, end) present for dwellings of these residences, latest first."""
    rows = conn.execute(
        """
        SELECT DISTINCT h.period_start, h.period_end
        FROM high_consumer h JOIN dwelling d ON d.id = h.dwelling_id JOIN building b ON b.id = d.building_id
        WHERE b.residence_id = ANY(%s)
        ORDER BY h.period_end DESC, h.period_start DESC
        """,
        (residence_ids,),
    ).fetchall()
    return [(row[0], row[1]) for row in rows]


def residences_and_buildings(conn: psycopg.Connection, residence_ids: list[int]) -> list[tuple[int, str, int, str]]:
    """(residence id, name, building id, name) for every building of these residences."""
    return [tuple(row) for row in conn.execute(  # type: ignore[misc]
        "SELECT r.id, r.name, b.id, coalesce(b.name, b.code) FROM residence r JOIN building b ON b.residence_id = r.id"
        " WHERE r.id = ANY(%s) ORDER BY r.name, b.code", (residence_ids,),
    ).fetchall()]


def hourly_curve(conn: psycopg.Connection, dwelling_id: int, kind: str, since: datetime) -> list[tuple[datetime, float]]:
    """A dwelling's hourly energy (or volume for water) since a time, from consumption_hourly."""
    rows = conn.execute(
        """
        SELECT ch.hour, sum(CASE %(kind)s WHEN 'water' THEN ch.volume_m3 ELSE ch.energy_kwh END)
        FROM consumption_hourly ch JOIN meter m ON m.id = ch.meter_id
        WHERE m.dwelling_id = %(dwelling)s AND m.kind = %(kind)s AND ch.hour >= %(since)s
        GROUP BY 1 HAVING sum(CASE %(kind)s WHEN 'water' THEN ch.volume_m3 ELSE ch.energy_kwh END) IS NOT NULL
        ORDER BY 1
        """,
        {"kind": kind, "dwelling": dwelling_id, "since": since},
    ).fetchall()
    return [(row[0], float(row[1])) for row in rows]


def latest_follow_up(conn: psycopg.Connection, dwelling_id: int) -> tuple[str, str, datetime] | None:
    """The latest follow-up mark of a dwelling: status, note, when."""
    row = conn.execute(
        "SELECT status, note, updated_at FROM follow_up WHERE dwelling_id = %s ORDER BY updated_at DESC, id DESC LIMIT 1",
        (dwelling_id,),
    ).fetchone()
    return None if row is None else (row[0], row[1], row[2])


def anomalies_judged_until(conn: psycopg.Connection) -> datetime | None:
    """The time the latest successful anomaly run judged the data at (None: no run yet)."""
    row = conn.execute(
        """SELECT (detail->>'data_until')::timestamptz FROM analytics_run
            WHERE job = 'anomalies' AND status IN ('ok', 'partial') AND detail ? 'data_until'
            ORDER BY id DESC LIMIT 1""").fetchone()
    return None if row is None else row[0]


def silent_meters(conn: psycopg.Connection, building_ids: list[int], silent_since: datetime) -> list[tuple[str, str, str | None, datetime | None]]:
    """Meters of these buildings with no consumption since a time: source, kind, dwelling code, last hour seen."""
    rows = conn.execute(
        """
        SELECT m.source, m.kind, d.code, (SELECT max(ch.hour) FROM consumption_hourly ch WHERE ch.meter_id = m.id)
        FROM meter m LEFT JOIN dwelling d ON d.id = m.dwelling_id
        WHERE coalesce(m.building_id, d.building_id) = ANY(%s)
        """,
        (building_ids,),
    ).fetchall()
    return sorted([(r[0], r[1], r[2], r[3]) for r in rows if r[3] is None or r[3] < silent_since],
                  key=lambda r: (r[3] is not None, r[3] or silent_since))


def building_kinds(conn: psycopg.Connection, building_id: int) -> list[str]:
    """The energy kinds a building has meters of (its own or its dwellings'), in KINDS order."""
    rows = conn.execute(
        "SELECT DISTINCT m.kind FROM meter m LEFT JOIN dwelling d ON d.id = m.dwelling_id"
        " WHERE coalesce(m.building_id, d.building_id) = %s", (building_id,)).fetchall()
    found = {row[0] for row in rows}
    return [kind for kind in KINDS if kind in found]


def building_daily(conn: psycopg.Connection, building_id: int, kind: str, since: date, *, timezone: str,
                   gas_kwh_per_m3: float, balance_point_c: float) -> list[tuple[date, float, float | None]]:
    """A building's daily use of a kind (all its meters and dwellings' meters) with that day's heating degree-days."""
    rows = conn.execute(
        """
        WITH use AS (
            SELECT (cd.day AT TIME ZONE %(tz)s)::date AS day,
                   sum(CASE %(kind)s WHEN 'water' THEN cd.volume_m3
                                     WHEN 'gas' THEN coalesce(cd.energy_kwh, cd.volume_m3 * %(coef)s)
                                     ELSE cd.energy_kwh END) AS amount
            FROM consumption_daily_all cd JOIN meter m ON m.id = cd.meter_id LEFT JOIN dwelling d ON d.id = m.dwelling_id
            WHERE cd.meter_id = ANY(ARRAY(
                      SELECT bm.id FROM meter bm LEFT JOIN dwelling bd ON bd.id = bm.dwelling_id
                      WHERE coalesce(bm.building_id, bd.building_id) = %(building)s AND bm.kind = %(kind)s))
              AND coalesce(m.building_id, d.building_id) = %(building)s AND m.kind = %(kind)s
              AND cd.day >= (%(since)s::timestamp AT TIME ZONE %(tz)s)
            GROUP BY 1),
        temp AS (
            SELECT (ot.time AT TIME ZONE %(tz)s)::date AS day, avg(ot.temperature_c) AS mean_c
            FROM outdoor_temperature ot
            WHERE ot.residence_id = (SELECT residence_id FROM building WHERE id = %(building)s)
              AND ot.time >= (%(since)s::timestamp AT TIME ZONE %(tz)s)
            GROUP BY 1)
        -- greatest() ignores NULLs: a day without temperatures must stay unknown, not 0 degree-days.
        SELECT use.day, use.amount, CASE WHEN temp.mean_c IS NOT NULL THEN greatest(%(base)s - temp.mean_c, 0) END
        FROM use LEFT JOIN temp USING (day) WHERE use.amount IS NOT NULL ORDER BY use.day
        """,
        {"tz": timezone, "kind": kind, "coef": gas_kwh_per_m3, "building": building_id,
         "since": datetime.combine(since, datetime.min.time()), "base": balance_point_c},
    ).fetchall()
    return [(row[0], float(row[1]), None if row[2] is None else float(row[2])) for row in rows]


@dataclass(frozen=True)
class SavingsRow:
    """The weather-normalised savings measured after an intervention."""

    building_name: str
    day: date
    description: str
    energy_kind: str
    reporting_days: int
    avoided_kwh: float
    avoided_fraction: float
    band_kwh: float
    confidence: float


def savings_of_buildings(conn: psycopg.Connection, building_ids: list[int]) -> list[SavingsRow]:
    """Savings results of interventions on these buildings (or their dwellings), newest intervention first."""
    rows = conn.execute(
        """
        SELECT coalesce(b.name, b.code), i.day, i.description, s.energy_kind, s.reporting_days, s.avoided_kwh,
               s.avoided_fraction, s.band_kwh, s.confidence
        FROM intervention i JOIN savings_result s ON s.intervention_id = i.id
        LEFT JOIN dwelling d ON d.id = i.dwelling_id
        JOIN building b ON b.id = coalesce(i.building_id, d.building_id)
        WHERE b.id = ANY(%s) ORDER BY i.day DESC, s.energy_kind
        """,
        (building_ids,),
    ).fetchall()
    return [SavingsRow(*row) for row in rows]


def buildings_named(conn: psycopg.Connection, building_ids: list[int]) -> list[tuple[int, str]]:
    """(id, name) of these buildings, by code."""
    return [(row[0], row[1]) for row in conn.execute(
        "SELECT id, coalesce(name, code) FROM building WHERE id = ANY(%s) ORDER BY code", (building_ids,)).fetchall()]
