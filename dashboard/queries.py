"""Read-only SQL for the views: one dwelling's details and its consumption from the daily rollup.

Long periods are never read from raw readings: consumption comes from
``consumption_daily_all`` (one row per meter and local day: the hourly rollup,
completed by the daily figures of utility exports; migration 0010). The CSV exports' SQL
is in dashboard/export_queries.py.
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

SEVERITY_ORDER = {"critical": 0, "warning": 1, "info": 2}


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
class AlertRow:
    """An anomaly alert as a view shows it."""

    id: int
    kind: str
    severity: str
    meter_source: str
    meter_kind: str
    dwelling_code: str | None
    building_name: str | None
    started_at: datetime
    detected_at: datetime
    acknowledged_at: datetime | None
    evidence: dict[str, object]
    ended_at: datetime | None = None
    resolved_at: datetime | None = None
    # When this alert is the return of one a manager marked resolved: when that one was resolved.
    reopens_resolved_at: datetime | None = None


_ALERT_SELECT = """
    SELECT a.id, a.kind, a.severity, m.source, m.kind, d.code, coalesce(b.name, b.code),
           a.started_at, a.detected_at, a.acknowledged_at, a.evidence, a.ended_at, a.resolved_at,
           (SELECT p.resolved_at FROM alert p WHERE p.id = a.reopens_alert_id)
    FROM alert a JOIN meter m ON m.id = a.meter_id
    LEFT JOIN dwelling d ON d.id = a.dwelling_id
    LEFT JOIN building b ON b.id = coalesce(a.building_id, d.building_id)
"""


def _row(row: tuple[object, ...]) -> AlertRow:
    return AlertRow(*row[:10], dict(row[10] or {}), *row[11:14])  # type: ignore[arg-type]


def resolved_alerts_of_buildings(conn: psycopg.Connection, building_ids: list[int], limit: int = 20) -> list[AlertRow]:
    """The latest resolved alerts of these buildings, most recently resolved first, at most `limit`."""
    return [_row(row) for row in conn.execute(
        _ALERT_SELECT + " WHERE a.status = 'resolved' AND coalesce(a.building_id, d.building_id) = ANY(%s)"
        " ORDER BY a.resolved_at DESC NULLS LAST, a.id DESC LIMIT %s", (building_ids, limit),
    ).fetchall()]


@dataclass(frozen=True)
class AlertActionRow:
    """Who did what to an alert, and when."""

    username: str | None  # None once the account is deleted
    action: str
    comment: str
    acted_at: datetime


def alert_actions(conn: psycopg.Connection, alert_ids: list[int]) -> dict[int, list[AlertActionRow]]:
    """The recorded actions (acknowledge, resolve, comment) of these alerts, oldest first."""
    out: dict[int, list[AlertActionRow]] = {}
    for row in conn.execute(
        "SELECT x.alert_id, acc.username, x.action, x.comment, x.acted_at FROM alert_action x"
        " LEFT JOIN account acc ON acc.id = x.account_id WHERE x.alert_id = ANY(%s) ORDER BY x.acted_at, x.id",
        (alert_ids,),
    ).fetchall():
        out.setdefault(int(row[0]), []).append(AlertActionRow(row[1], row[2], row[3], row[4]))
    return out


def _alerts(rows: list[tuple[object, ...]]) -> list[AlertRow]:
    alerts = [_row(row) for row in rows]
    # Most severe first, then newest.
    return sorted(alerts, key=lambda a: (SEVERITY_ORDER.get(a.severity, 9), -a.detected_at.timestamp()))


def open_alerts_of_dwelling(conn: psycopg.Connection, dwelling_id: int) -> list[AlertRow]:
    """A dwelling's open alerts, most severe and newest first."""
    return _alerts(conn.execute(_ALERT_SELECT + " WHERE a.dwelling_id = %s AND a.status = 'open'",
                                (dwelling_id,)).fetchall())


def open_alerts_of_buildings(conn: psycopg.Connection, building_ids: list[int]) -> list[AlertRow]:
    """Open alerts of these buildings (the alert's building or its dwelling's), most severe and newest first."""
    return _alerts(conn.execute(
        _ALERT_SELECT + " WHERE a.status = 'open' AND coalesce(a.building_id, d.building_id) = ANY(%s)",
        (building_ids,),
    ).fetchall())


def alert_building(conn: psycopg.Connection, alert_id: int) -> int | None:
    """The building an alert belongs to (its own or its dwelling's), or None."""
    row = conn.execute(
        "SELECT coalesce(a.building_id, d.building_id) FROM alert a LEFT JOIN dwelling d ON d.id = a.dwelling_id"
        " WHERE a.id = %s", (alert_id,),
    ).fetchone()
    return None if row is None else row[0]


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


def open_alerts_of_dwellings(conn: psycopg.Connection, dwelling_ids: list[int]) -> dict[int, list[AlertRow]]:
    """Open alerts per dwelling, most severe and newest first (the ranking's "why" column)."""
    rows = conn.execute(_ALERT_SELECT.replace("SELECT a.id,", "SELECT a.dwelling_id, a.id,", 1)
                        + " WHERE a.dwelling_id = ANY(%s) AND a.status = 'open'", (dwelling_ids,)).fetchall()
    out: dict[int, list[tuple[object, ...]]] = {}
    for row in rows:
        out.setdefault(int(row[0]), []).append(row[1:])  # type: ignore[call-overload]
    return {dwelling_id: _alerts(found) for dwelling_id, found in out.items()}


def supply_contract(conn: psycopg.Connection, dwelling_id: int, day: date) -> SupplyContract | None:
    """The dwelling's electricity contract in force on ``day`` (migration 0015), if the registry has it."""
    row = conn.execute(
        "SELECT valid_from, option, subscribed_kva, offpeak_hours FROM supply_contract"
        " WHERE dwelling_id = %s AND valid_from <= %s ORDER BY valid_from DESC LIMIT 1", (dwelling_id, day),
    ).fetchone()
    if row is None:
        return None
    return SupplyContract(row[0], row[1], int(row[2]), tuple(row[3]) if row[3] else None)
