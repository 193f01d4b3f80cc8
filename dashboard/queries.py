"""Read-only SQL for the views: one dwelling's details and its consumption from the daily rollup.

Long periods are never read from raw readings: consumption comes from
``consumption_daily_all`` (one row per meter and local day: the hourly rollup,
completed by the daily figures of utility exports; migration 0010). The CSV exports' SQL
is in dashboard/export_queries.py, the alerts' in dashboard/alert_queries.py, the staff views'
(rankings, buildings, meters) in dashboard/staff_queries.py.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

import psycopg

from analytics.verdict import Standing
from coopwatt.tariffs import SupplyContract

KINDS = ("electricity", "gas", "water", "heat")
# Reads of consumption_daily_all filter on `cd.meter_id = ANY(ARRAY(SELECT id FROM meter …))`: the view is a
# UNION (over a continuous aggregate under TimescaleDB) that a join to meter cannot reach into, so a join
# alone read every meter's days of the cooperative (2–5 s at 10,000 dwellings); a list computed once
# before the scan is a filter the planner takes inside the view, down to the (meter, day) index.
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
    suspect_days: int = 0  # days with hours a frozen index, a counter reset or a spike made unbelievable


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
    """A dwelling's consumption of one kind per period, oldest first, from consumption_daily_all."""
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
               count(DISTINCT cd.day) FILTER (WHERE cd.estimated_hours > 0) AS estimated_days,
               count(DISTINCT cd.day) FILTER (WHERE cd.suspect_hours > 0) AS suspect_days
        FROM consumption_daily_all cd JOIN meter m ON m.id = cd.meter_id
        WHERE cd.meter_id = ANY(ARRAY(SELECT id FROM meter WHERE dwelling_id = %(dwelling)s AND kind = %(kind)s))
          AND m.dwelling_id = %(dwelling)s AND m.kind = %(kind)s
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
    return [PeriodUse(row[0], float(row[1]), int(row[2]), int(row[3]), int(row[4])) for row in rows]


def open_erasure_request(conn: psycopg.Connection, account_id: int) -> datetime | None:
    """When the account's open erasure request was made, if it has one."""
    row = conn.execute(
        "SELECT requested_at FROM erasure_request WHERE account_id = %s AND status = 'open'", (account_id,),
    ).fetchone()
    return row[0] if row else None


# --- Analytics results (migration 0003), written by `coopwatt analytics`, read here. ---

@dataclass(frozen=True)
class Comparison:
    """A dwelling's latest comparison group for one kind, and its own figures in it."""

    group_key: str
    energy_kind: str
    period_start: date
    period_end: date
    description: dict[str, object]
    member_count: int
    published: bool
    withheld_reason: str | None
    average_kwh_per_m2: float | None
    efficient_kwh_per_m2: float | None
    own_kwh_per_m2: float


def latest_comparison(conn: psycopg.Connection, dwelling_id: int, kind: str, *, min_group_size: int) -> Comparison | None:
    """The dwelling's most recent comparison for a kind, or None; a group below k (`min_group_size`) is unpublished."""
    row = conn.execute(
        """
        SELECT g.group_key, g.energy_kind, g.period_start, g.period_end, g.description, g.member_count, g.published,
               g.withheld_reason, g.average_kwh_per_m2, g.efficient_kwh_per_m2, m.energy_kwh_per_m2,
               g.efficient_home_count
        FROM comparison_member m
        JOIN comparison_group g USING (group_key, energy_kind, period_start, period_end)
        WHERE m.dwelling_id = %s AND m.energy_kind = %s
        ORDER BY m.period_end DESC LIMIT 1
        """,
        (dwelling_id, kind),
    ).fetchone()
    if row is None:
        return None
    member_count = int(row[5])
    published = bool(row[6]) and member_count >= min_group_size
    # Below k nothing of the group leaves the database, even if a column were filled by mistake
    # or the group was published under a smaller k.
    return Comparison(row[0], row[1], row[2], row[3], dict(row[4] or {}), member_count, published, row[7],
                      row[8] if published else None,
                      row[9] if published and efficient_level_safe(member_count, row[11], min_group_size) else None,
                      float(row[10]))


def efficient_level_safe(member_count: int, efficient_home_count: int | None, min_group_size: int) -> bool:
    """Whether an efficient level rests on at least k homes, with at least k others in the group.

    Groups published before that rule (frozen for their period) may rest on fewer; the level
    is then not shown: two of its three homes could otherwise work out the third's use.
    """
    return (efficient_home_count is not None and efficient_home_count >= min_group_size
            and member_count - efficient_home_count >= min_group_size)


@dataclass(frozen=True)
class BaselineRow:
    """A dwelling's fitted baseline for one kind (or why it could not be fitted)."""

    energy_kind: str
    qualified: bool
    reasons: list[dict[str, object]]
    base_kwh_per_day: float | None
    heating_kwh_per_degree_day: float | None
    heating_balance_point_c: float | None
    normalised_kwh_per_year: float | None
    cv_rmse: float | None
    nmbe: float | None = None
    cv_folds: int = 0  # > 0: cv_rmse and nmbe measured on held-out days (cross-validation); 0: in sample


def baselines(conn: psycopg.Connection, dwelling_id: int) -> dict[str, BaselineRow]:
    """The dwelling's baselines by energy kind."""
    rows = conn.execute(
        """
        SELECT energy_kind, qualified, reasons, base_kwh_per_day, heating_kwh_per_degree_day,
               heating_balance_point_c, normalised_kwh_per_year, cv_rmse, nmbe,
               COALESCE((params->>'cv_folds')::int, 0)
        FROM baseline WHERE dwelling_id = %s
        """,
        (dwelling_id,),
    ).fetchall()
    return {row[0]: BaselineRow(row[0], row[1], list(row[2] or []), *row[3:]) for row in rows}


@dataclass(frozen=True)
class SuggestionRow:
    """A savings suggestion with its value per year."""

    kind: str
    energy_kwh_per_year: float
    cost_eur_per_year: float
    evidence: dict[str, object]


def daily_data_only(conn: psycopg.Connection, dwelling_id: int, kind: str = "electricity", weeks: int = 8) -> bool:
    """True when a dwelling's use of a kind comes from daily utility figures with no hours in their last weeks."""
    row = conn.execute(
        """
        WITH latest AS (
            SELECT max(x.day) AS day FROM consumption_day x JOIN meter m ON m.id = x.meter_id
            WHERE m.dwelling_id = %(dwelling)s AND m.kind = %(kind)s AND m.removed_at IS NULL)
        SELECT latest.day IS NOT NULL AND NOT EXISTS (
            SELECT 1 FROM consumption_hourly ch JOIN meter m ON m.id = ch.meter_id
            WHERE m.dwelling_id = %(dwelling)s AND m.kind = %(kind)s AND m.removed_at IS NULL
              AND ch.hour >= latest.day - make_interval(weeks => %(weeks)s))
        FROM latest
        """,
        {"dwelling": dwelling_id, "kind": kind, "weeks": weeks},
    ).fetchone()
    return bool(row and row[0])


def suggestions(conn: psycopg.Connection, dwelling_id: int) -> list[SuggestionRow]:
    """A dwelling's suggestions, most valuable first."""
    rows = conn.execute(
        "SELECT kind, energy_kwh_per_year, cost_eur_per_year, evidence FROM suggestion WHERE dwelling_id = %s"
        " ORDER BY cost_eur_per_year DESC, kind", (dwelling_id,),
    ).fetchall()
    return [SuggestionRow(row[0], float(row[1]), float(row[2]), dict(row[3] or {})) for row in rows]


@dataclass(frozen=True)
class PairedUse:
    """A window's use against the same local days a year earlier, on the days complete on both sides only."""

    this_period: float
    last_year: float
    days: tuple[date, ...]  # this window's days kept; each is compared with the day `shift_days` earlier
    window_days: int


def paired_use(conn: psycopg.Connection, dwelling_id: int, kind: str, start: date, end: date, *,
               shift_days: int, timezone: str, gas_kwh_per_m3: float) -> PairedUse:
    """A dwelling's use of a kind over local days [start, end) and over the same days `shift_days` earlier.

    Only days measured on both sides count: every meter of the kind reported at least 22 hours
    and none of them estimated (a gap spread over) or suspect (a frozen index, a reset, a spike).
    A day missing on either side leaves both out, so a silent meter never reads as lower use.
    """
    rows = conn.execute(
        """
        WITH days AS (
            SELECT (cd.day AT TIME ZONE %(tz)s)::date AS day,
                   sum(CASE %(kind)s WHEN 'water' THEN cd.volume_m3
                                     WHEN 'gas' THEN coalesce(cd.energy_kwh, cd.volume_m3 * %(coef)s)
                                     ELSE cd.energy_kwh END) AS amount,
                   bool_and(cd.hours >= 22 AND cd.estimated_hours = 0 AND cd.suspect_hours = 0) AS complete,
                   count(*) AS meters, min(cd.day) AS day_start
            FROM consumption_daily_all cd JOIN meter m ON m.id = cd.meter_id
            WHERE cd.meter_id = ANY(ARRAY(SELECT id FROM meter WHERE dwelling_id = %(dwelling)s AND kind = %(kind)s))
              AND m.dwelling_id = %(dwelling)s AND m.kind = %(kind)s
              AND ((cd.day >= (%(start)s::timestamp AT TIME ZONE %(tz)s)
                    AND cd.day < (%(end)s::timestamp AT TIME ZONE %(tz)s))
                OR (cd.day >= (%(last_start)s::timestamp AT TIME ZONE %(tz)s)
                    AND cd.day < (%(last_end)s::timestamp AT TIME ZONE %(tz)s)))
            GROUP BY 1),
        kept AS (SELECT * FROM days
                 WHERE complete AND amount IS NOT NULL
                   -- every meter of the kind in service that day reported it (a dead second meter is no saving)
                   AND meters = (SELECT count(*) FROM meter m
                                 WHERE m.dwelling_id = %(dwelling)s AND m.kind = %(kind)s
                                   AND m.installed_at < day_start + interval '1 day'
                                   AND (m.removed_at IS NULL OR m.removed_at > day_start)))
        SELECT this.day, this.amount, last.amount
        FROM kept this JOIN kept last ON last.day = this.day - %(shift)s
        WHERE this.day >= %(start_day)s AND this.day < %(end_day)s
        ORDER BY this.day
        """,
        {"kind": kind, "coef": gas_kwh_per_m3, "dwelling": dwelling_id, "tz": timezone, "shift": shift_days,
         "start_day": start, "end_day": end,
         "start": datetime.combine(start, datetime.min.time()), "end": datetime.combine(end, datetime.min.time()),
         "last_start": datetime.combine(start - timedelta(days=shift_days), datetime.min.time()),
         "last_end": datetime.combine(end - timedelta(days=shift_days), datetime.min.time())},
    ).fetchall()
    return PairedUse(sum(float(row[1]) for row in rows), sum(float(row[2]) for row in rows),
                     tuple(row[0] for row in rows), (end - start).days)


def degree_days_by_day(conn: psycopg.Connection, dwelling_id: int, start: date, end: date, *,
                       timezone: str, balance_point_c: float) -> dict[date, float]:
    """Heating degree-days per local day at a dwelling's residence over [start, end), for days with temperatures."""
    rows = conn.execute(
        """
        SELECT (ot.time AT TIME ZONE %(tz)s)::date, greatest(%(base)s - avg(ot.temperature_c), 0)
        FROM outdoor_temperature ot
        WHERE ot.residence_id = (SELECT b.residence_id FROM dwelling d JOIN building b ON b.id = d.building_id
                                 WHERE d.id = %(dwelling)s)
          AND ot.time >= (%(start)s::timestamp AT TIME ZONE %(tz)s)
          AND ot.time < (%(end)s::timestamp AT TIME ZONE %(tz)s)
        GROUP BY 1
        """,
        {"base": balance_point_c, "tz": timezone, "dwelling": dwelling_id,
         "start": datetime.combine(start, datetime.min.time()), "end": datetime.combine(end, datetime.min.time())},
    ).fetchall()
    return {row[0]: float(row[1]) for row in rows}


def standings_of_dwelling(conn: psycopg.Connection, dwelling_id: int) -> list[Standing]:
    """The dwelling's place in the latest ranking of each energy kind (the verdict's input)."""
    rows = conn.execute(
        "SELECT DISTINCT ON (energy_kind) energy_kind, rank, ratio_to_group, jsonb_array_length(reasons)"
        # The last twelve months when ranked (the verdict's year), else the latest period.
        " FROM high_consumer WHERE dwelling_id = %s"
        " ORDER BY energy_kind, period_kind = 'last_12_months' DESC, period_end DESC", (dwelling_id,),
    ).fetchall()
    return [Standing(kind, int(rank), None if ratio is None else float(ratio), int(count))
            for kind, rank, ratio, count in rows]


def supply_contract(conn: psycopg.Connection, dwelling_id: int, day: date) -> SupplyContract | None:
    """The dwelling's electricity contract in force on ``day`` (migration 0015), if the registry has it."""
    row = conn.execute(
        "SELECT valid_from, option, subscribed_kva, offpeak_hours FROM supply_contract"
        " WHERE dwelling_id = %s AND valid_from <= %s ORDER BY valid_from DESC LIMIT 1", (dwelling_id, day),
    ).fetchone()
    if row is None:
        return None
    return SupplyContract(row[0], row[1], int(row[2]), tuple(row[3]) if row[3] else None)
