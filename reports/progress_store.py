"""The collective progress read from the store and written back (table collective_progress, migration 0016).

One pass per residence: the energy (electricity, gas, heat) of its homes on the days measured on
both sides of this season and the baseline season, the outdoor temperature of both, and each
home's baseline slope; reports.progress decides what may be published.
"""

from __future__ import annotations

import logging
import math
from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import psycopg

from coopwatt.settings import Settings
from dashboard.figures import year_on_year
from reports.progress import GroupProgress, HomeSeason, baseline_start, collective_progress, heating_season

log = logging.getLogger(__name__)

ENERGY_KINDS = ("electricity", "gas", "heat")
# A home counts when each of its energy kinds was measured on both sides on this share of the season's days.
MIN_COMPARABLE_DAY_FRACTION = 0.8
# Degree-days need most compared days to have temperatures on both sides.
MIN_WEATHER_DAY_FRACTION = 0.8
DEFAULT_BALANCE_POINT_C = 18.0

_DAYS = """
WITH days AS (
    SELECT m.dwelling_id, d.building_id, m.kind, (cd.day AT TIME ZONE %(tz)s)::date AS day,
           sum(CASE m.kind WHEN 'gas' THEN coalesce(cd.energy_kwh, cd.volume_m3 * %(coef)s)
                           ELSE cd.energy_kwh END) AS kwh,
           bool_and(cd.hours >= 22 AND cd.estimated_hours = 0 AND cd.suspect_hours = 0) AS complete,
           count(*) AS meters, min(cd.day) AS day_start
    FROM consumption_daily_all cd
    JOIN meter m ON m.id = cd.meter_id
    JOIN dwelling d ON d.id = m.dwelling_id
    -- The meters as a list, not a join: only a constant filter reaches inside the view's UNION
    -- (a join made it read every meter's days, the whole cooperative's, for each residence).
    WHERE cd.meter_id = ANY(%(meters)s)
      AND ((cd.day >= %(this_start)s AND cd.day < %(this_end)s) OR (cd.day >= %(base_start)s AND cd.day < %(base_end)s))
    GROUP BY 1, 2, 3, 4)
SELECT dwelling_id, building_id, kind, day, kwh FROM days
WHERE complete AND kwh IS NOT NULL
  -- every meter of the kind in service that day reported it (a dead second meter is no saving)
  AND meters = (SELECT count(*) FROM meter m WHERE m.dwelling_id = days.dwelling_id AND m.kind = days.kind
                  AND m.installed_at < day_start + interval '1 day' AND (m.removed_at IS NULL OR m.removed_at > day_start))
"""

_TEMPERATURES = """
SELECT (time AT TIME ZONE %(tz)s)::date, avg(temperature_c) FROM outdoor_temperature
WHERE residence_id = %(residence)s
  AND ((time >= %(this_start)s AND time < %(this_end)s) OR (time >= %(base_start)s AND time < %(base_end)s))
GROUP BY 1
"""


@dataclass(frozen=True)
class Season:
    """This season's local days [start, end) and the baseline season's first day."""

    start: date
    end: date
    baseline_start: date

    @property
    def shift_days(self) -> int:
        """Days between a day of this season and the same day of the baseline season."""
        return (self.start - self.baseline_start).days

    @property
    def days(self) -> int:
        """Length of the compared window."""
        return (self.end - self.start).days


def season_for(today: date, settings: Settings) -> Season:
    """This heating season (so far) and its baseline, from the settings."""
    start, end = heating_season(today, settings.progress_season_start_month, settings.progress_season_end_month)
    return Season(start, end, baseline_start(start, settings.progress_baseline_season))


def _midnight(day: date, tz: ZoneInfo) -> datetime:
    return datetime.combine(day, datetime.min.time(), tzinfo=tz)


def _home_kind(days: dict[date, float], temperature_c: dict[date, float], season: Season,
               slope: float | None, balance_c: float) -> tuple[float, float] | None:
    """(this season, baseline normalised) for one home and kind, or None when not comparable."""
    shift = timedelta(days=season.shift_days)
    paired = [day for day in days if season.start <= day < season.end and day - shift in days]
    if len(paired) < math.ceil(MIN_COMPARABLE_DAY_FRACTION * season.days) or not paired:
        return None
    this_kwh = sum(days[day] for day in paired)
    last_kwh = sum(days[day - shift] for day in paired)
    weather = [day for day in paired if day in temperature_c and day - shift in temperature_c]
    if slope is None or len(weather) < MIN_WEATHER_DAY_FRACTION * len(paired):
        return None
    dd_this = sum(max(balance_c - temperature_c[day], 0.0) for day in weather)
    dd_last = sum(max(balance_c - temperature_c[day - shift], 0.0) for day in weather)
    result = year_on_year(this_kwh, last_kwh, degree_days_this=dd_this, degree_days_last=dd_last,
                          heating_kwh_per_degree_day=slope)
    if result is None or result.last_year_normalised is None or not result.weather_normalised:
        return None
    return this_kwh, result.last_year_normalised


def load_homes(conn: psycopg.Connection, residence_id: int, season: Season, settings: Settings) -> list[HomeSeason]:
    """The residence's homes whose every energy kind is comparable and weather-normalisable this season."""
    tz = ZoneInfo(settings.timezone)
    window = {"tz": settings.timezone, "residence": residence_id,
              "this_start": _midnight(season.start, tz), "this_end": _midnight(season.end, tz),
              "base_start": _midnight(season.start - timedelta(days=season.shift_days), tz),
              "base_end": _midnight(season.end - timedelta(days=season.shift_days), tz)}
    by_home: dict[tuple[int, str], dict[date, float]] = defaultdict(dict)
    building_of: dict[int, int] = {}
    meters = [row[0] for row in conn.execute(
        "SELECT m.id FROM meter m JOIN dwelling d ON d.id = m.dwelling_id JOIN building b ON b.id = d.building_id"
        " WHERE b.residence_id = %s AND m.kind = ANY(%s)", (residence_id, list(ENERGY_KINDS)))]
    for dwelling_id, building_id, kind, day, kwh in conn.execute(
            _DAYS, window | {"coef": settings.gas_kwh_per_m3, "meters": meters}):
        by_home[(dwelling_id, kind)][day] = float(kwh)
        building_of[dwelling_id] = building_id
    temperature_c = {row[0]: float(row[1]) for row in conn.execute(_TEMPERATURES, window)}
    # A kind whose qualified baseline kept no heating term does not follow the weather: slope 0.
    slopes = {(row[0], row[1]): (float(row[2] or 0.0), float(row[3] if row[3] is not None else DEFAULT_BALANCE_POINT_C))
              for row in conn.execute(
                  "SELECT b.dwelling_id, b.energy_kind, b.heating_kwh_per_degree_day, b.heating_balance_point_c"
                  " FROM baseline b WHERE b.qualified AND b.dwelling_id = ANY(%s)", (list(building_of),))}
    kinds_of = conn.execute(
        "SELECT m.dwelling_id, array_agg(DISTINCT m.kind) FROM meter m WHERE m.dwelling_id = ANY(%s)"
        " AND m.kind = ANY(%s) AND m.removed_at IS NULL GROUP BY 1", (list(building_of), list(ENERGY_KINDS))).fetchall()
    homes = []
    for dwelling_id, kinds in kinds_of:
        totals = []
        for kind in kinds:
            slope, balance_c = slopes.get((dwelling_id, kind), (None, DEFAULT_BALANCE_POINT_C))
            totals.append(_home_kind(by_home.get((dwelling_id, kind), {}), temperature_c, season, slope, balance_c))
        if totals and all(total is not None for total in totals):
            homes.append(HomeSeason(dwelling_id, building_of[dwelling_id], sum(t[0] for t in totals if t),
                                    sum(t[1] for t in totals if t)))
    return homes


def write_progress(conn: psycopg.Connection, season: Season, groups: list[GroupProgress]) -> None:
    """Replace the season's rows of these groups' residence (no commit)."""
    if not groups:
        return
    conn.execute("DELETE FROM collective_progress WHERE residence_id = %s AND season_start = %s",
                 (groups[0].residence_id, season.start))
    for group in groups:
        conn.execute(
            "INSERT INTO collective_progress (residence_id, building_id, season_start, baseline_start, period_end,"
            " published, withheld_reason, home_count, change_fraction, improved_fraction, goal_fraction)"
            " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
            (group.residence_id, group.building_id, season.start, season.baseline_start, season.end, group.published,
             group.withheld_reason, group.home_count, group.change_fraction, group.improved_fraction,
             group.goal_fraction))


def refresh_progress(conn: psycopg.Connection, settings: Settings, today: date) -> int:
    """Compute and store every residence's progress for the season containing ``today``; return residences done."""
    season = season_for(today, settings)
    residences = [row[0] for row in conn.execute("SELECT id FROM residence ORDER BY id")]
    for residence_id in residences:
        with conn.transaction():
            homes = load_homes(conn, residence_id, season, settings)
            groups = collective_progress(residence_id, homes, k=settings.comparison_min_group_size,
                                         goal_fraction=settings.progress_goal_fraction)
            write_progress(conn, season, groups)
    log.info("collective progress: %d residence(s), season from %s to %s", len(residences), season.start, season.end)
    return len(residences)


@dataclass(frozen=True)
class ProgressRow:
    """A stored group's progress as pages and letters show it (only published groups carry figures)."""

    residence_id: int
    residence_name: str
    building_id: int | None
    building_name: str | None
    season_start: date
    baseline_start: date
    period_end: date
    published: bool
    change_fraction: float | None
    improved_fraction: float | None
    goal_fraction: float


def progress_of_residence(conn: psycopg.Connection, residence_id: int, *, min_group_size: int) -> list[ProgressRow]:
    """The residence's latest season: its own row first, then its buildings'; figures only for published groups."""
    rows = conn.execute(
        """
        SELECT p.residence_id, r.name, p.building_id, coalesce(b.name, b.code), p.season_start, p.baseline_start,
               p.period_end, p.published, p.home_count, p.change_fraction, p.improved_fraction, p.goal_fraction
        FROM collective_progress p JOIN residence r ON r.id = p.residence_id
        LEFT JOIN building b ON b.id = p.building_id
        WHERE p.residence_id = %s
          AND p.season_start = (SELECT max(season_start) FROM collective_progress WHERE residence_id = %s)
        ORDER BY p.building_id NULLS FIRST, b.code
        """, (residence_id, residence_id)).fetchall()
    result = []
    for row in rows:
        # A group stored under a smaller k is withheld once k has grown.
        published = bool(row[7]) and row[8] is not None and row[8] >= min_group_size
        result.append(ProgressRow(row[0], row[1], row[2], row[3], row[4], row[5], row[6], published,
                                  row[9] if published else None, row[10] if published else None, float(row[11])))
    return result


def residence_of_dwelling(conn: psycopg.Connection, dwelling_id: int) -> int | None:
    """The residence a dwelling belongs to."""
    row = conn.execute("SELECT b.residence_id FROM dwelling d JOIN building b ON b.id = d.building_id WHERE d.id = %s",
                       (dwelling_id,)).fetchone()
    return None if row is None else int(row[0])
