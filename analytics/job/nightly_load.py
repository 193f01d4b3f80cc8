"""Reads for the nightly run: the registry and contracts, daily use and temperatures from the rollups, hourly use.

Aggregation happens in SQL (sums per dwelling, kind and local day; mean temperature per
residence and local day); what comes back is small enough for one chunk of dwellings.
Daily use reads ``consumption_daily_all``: the hourly rollup, completed by the daily figures of
utility exports, so a household with only daily data gets baselines and comparisons too.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd
import psycopg

from analytics.offpeak import HourOfDayUse
from coopwatt.tariffs import SupplyContract

ENERGY_KINDS = ("electricity", "gas", "heat")
# A day counts only when every meter of the kind reported for most of it (23 hours on the spring DST day).
MIN_HOURS_PER_DAY = 22


@dataclass(frozen=True)
class DwellingInfo:
    """A dwelling, where it is and what it has: what the nightly steps need to know about it."""

    dwelling_id: int
    building_id: int
    residence_id: int
    district: str | None
    floor_area_m2: float | None
    heating_type: str | None
    meters: dict[str, int]  # energy kind → number of installed meters


def list_dwellings(conn: psycopg.Connection) -> list[DwellingInfo]:
    """Every dwelling with at least one installed meter, ordered by id (chunks are slices of it)."""
    rows = conn.execute(
        """SELECT d.id, d.building_id, b.residence_id, r.district, d.floor_area_m2, d.heating_type,
                  jsonb_object_agg(m.kind, m.n)
             FROM dwelling d JOIN building b ON b.id = d.building_id JOIN residence r ON r.id = b.residence_id
             JOIN (SELECT dwelling_id, kind, count(*) AS n FROM meter
                    WHERE removed_at IS NULL AND dwelling_id IS NOT NULL GROUP BY 1, 2) m ON m.dwelling_id = d.id
            GROUP BY d.id, b.residence_id, r.district ORDER BY d.id"""
    ).fetchall()
    return [DwellingInfo(r[0], r[1], r[2], r[3], None if r[4] is None else float(r[4]), r[5],
                         {k: int(v) for k, v in r[6].items()}) for r in rows]


def local_midnight(day: date, tz: str) -> datetime:
    """The instant a local day starts."""
    return datetime.combine(day, time(0), tzinfo=ZoneInfo(tz))


def daily_use(conn: psycopg.Connection, dwellings: list[DwellingInfo], start: date, end: date,
              tz: str, gas_kwh_per_m3: float, *, measured_only: bool = False) -> dict[tuple[int, str], pd.Series]:
    """Per (dwelling, energy kind): kWh per local day over [start, end); NaN where a meter missed the day.

    A day with suspect hours (a frozen index, a counter reset, a spike: analytics.job.suspect) is NaN
    too, so it enters no baseline, comparison or ranking. With ``measured_only`` a day with estimated
    hours (a spread gap, a utility's estimate) is NaN as well: the hardship signal flags on measurements only.

    The meters a day must have are those of the kind that reported at all in the window: one that never
    reported (not connected yet) must not blank every day of the dwelling.
    """
    if measured_only:
        return daily_use_and_measured(conn, dwellings, start, end, tz, gas_kwh_per_m3, start)[1]
    return daily_use_and_measured(conn, dwellings, start, end, tz, gas_kwh_per_m3, None)[0]


def daily_use_and_measured(
    conn: psycopg.Connection, dwellings: list[DwellingInfo], start: date, end: date, tz: str, gas_kwh_per_m3: float,
    measured_start: date | None,
) -> tuple[dict[tuple[int, str], pd.Series], dict[tuple[int, str], pd.Series]]:
    """``daily_use`` over [start, end) and, in the same read, ``daily_use(measured_only=True)`` over [measured_start, end).

    The nightly run needs both (baselines on two years, the hardship signal on its last 455 measured days):
    one read of each chunk's days instead of two. The measured series are exactly what a read of their own
    window gives: their meters are those that reported in that window, their sums only its rows.
    """
    measured_from = local_midnight(measured_start if measured_start is not None else end, tz)
    rows = conn.execute(
        """WITH d AS (
               SELECT m.dwelling_id, m.kind, cd.meter_id, cd.day, cd.hours, cd.suspect_hours, cd.estimated_hours,
                      cd.day >= %(measured_from)s AS recent,
                      CASE WHEN m.kind = 'gas' THEN coalesce(cd.energy_kwh, cd.volume_m3 * %(coef)s)
                           ELSE cd.energy_kwh END AS kwh
                 FROM consumption_daily_all cd JOIN meter m ON m.id = cd.meter_id
                WHERE cd.meter_id = ANY(%(meters)s) AND cd.day >= %(start)s AND cd.day < %(end)s),
           n AS (SELECT dwelling_id, kind, count(DISTINCT meter_id) AS meters,
                        count(DISTINCT meter_id) FILTER (WHERE recent) AS recent_meters FROM d GROUP BY 1, 2)
           SELECT d.dwelling_id, d.kind, (d.day AT TIME ZONE %(tz)s)::date, sum(d.kwh),
                  count(*) FILTER (WHERE d.hours >= %(min_hours)s AND d.kwh IS NOT NULL
                                    AND d.suspect_hours = 0) >= n.meters,
                  count(*) FILTER (WHERE recent) > 0, sum(d.kwh) FILTER (WHERE recent),
                  count(*) FILTER (WHERE recent AND d.hours >= %(min_hours)s AND d.kwh IS NOT NULL
                                   AND d.suspect_hours = 0 AND d.estimated_hours = 0) >= n.recent_meters
             FROM d JOIN n USING (dwelling_id, kind)
            GROUP BY 1, 2, 3, n.meters, n.recent_meters""",
        {"tz": tz, "coef": gas_kwh_per_m3, "meters": _meter_ids(conn, [d.dwelling_id for d in dwellings], ENERGY_KINDS),
         "start": local_midnight(start, tz), "end": local_midnight(end, tz), "min_hours": MIN_HOURS_PER_DAY,
         "measured_from": measured_from},
    ).fetchall()
    whole = _series_by_key([r[:5] for r in rows], start, end)
    if measured_start is None:
        return whole, {}
    recent = [(r[0], r[1], r[2], r[6], r[7]) for r in rows if r[5]]
    return whole, _series_by_key(recent, measured_start, end)


def _meter_ids(conn: psycopg.Connection, dwelling_ids: list[int], kinds: tuple[str, ...]) -> list[int]:
    """The installed meters of these kinds in these dwellings.

    Passed to the rollup reads as a list of ids, not as a join condition: the planner then reads
    only the chunk's rows (by the rollups' meter-first keys) instead of scanning the whole table
    for every chunk, which grew as dwellings² over a night.
    """
    return [m for (m,) in conn.execute(
        "SELECT id FROM meter WHERE dwelling_id = ANY(%s) AND kind = ANY(%s) AND removed_at IS NULL",
        (dwelling_ids, list(kinds))).fetchall()]


def _series_by_key(rows: list[tuple], start: date, end: date) -> dict[tuple[int, str], pd.Series]:
    """(dwelling, kind, day, kWh, complete) rows → one daily series per (dwelling, kind), NaN where incomplete."""
    days = pd.date_range(pd.Timestamp(start), pd.Timestamp(end), freq="D", inclusive="left")
    if not rows:
        return {}
    frame = pd.DataFrame(rows, columns=["dwelling_id", "kind", "day", "kwh", "complete"])
    frame["kwh"] = frame["kwh"].astype(float).where(frame["complete"].astype(bool))
    frame["day"] = pd.to_datetime(frame["day"])  # once for all: per group it dominated the read
    out = {}
    for (dwelling_id, kind), group in frame.groupby(["dwelling_id", "kind"], sort=False):
        series = pd.Series(group["kwh"].to_numpy(), index=pd.DatetimeIndex(group["day"]))
        out[(int(dwelling_id), str(kind))] = series.reindex(days)
    return out


def daily_temperatures(conn: psycopg.Connection, residence_ids: list[int], start: date, end: date,
                       tz: str) -> dict[int, pd.Series]:
    """Per residence: mean outdoor °C per local day over [start, end) (days with fewer than 12 hours are NaN)."""
    rows = conn.execute(
        """SELECT residence_id, (time AT TIME ZONE %(tz)s)::date, avg(temperature_c),
                  count(DISTINCT date_trunc('hour', time))
             FROM outdoor_temperature
            WHERE residence_id = ANY(%(ids)s) AND time >= %(start)s AND time < %(end)s
            GROUP BY 1, 2""",
        {"tz": tz, "ids": residence_ids, "start": local_midnight(start, tz), "end": local_midnight(end, tz)},
    ).fetchall()
    days = pd.date_range(pd.Timestamp(start), pd.Timestamp(end), freq="D", inclusive="left")
    out = {rid: pd.Series(np.nan, index=days) for rid in residence_ids}
    if rows:
        frame = pd.DataFrame(rows, columns=["residence_id", "day", "mean_c", "hours"])
        frame = frame[frame["hours"] >= 12]
        for rid, group in frame.groupby("residence_id"):
            series = pd.Series(group["mean_c"].astype(float).to_numpy(), index=pd.DatetimeIndex(pd.to_datetime(group["day"])))
            out[int(rid)] = series.reindex(days)
    return out


def hourly_electricity(conn: psycopg.Connection, dwelling_ids: list[int], since: datetime,
                       until: datetime, tz: str) -> dict[int, pd.DataFrame]:
    """Per dwelling: hourly electricity ``energy_kwh`` (all its meters summed), local-time index."""
    single, multiple = _electricity_meters(conn, dwelling_ids)
    # One meter: its rows are the dwelling's hours as they are (no grouping, which spilled to disk).
    rows = conn.execute(
        """SELECT m.dwelling_id, ch.hour, ch.energy_kwh
             FROM consumption_hourly ch JOIN meter m ON m.id = ch.meter_id
            WHERE ch.meter_id = ANY(%(single)s) AND ch.hour >= %(since)s AND ch.hour < %(until)s
              AND ch.energy_kwh IS NOT NULL
              AND NOT EXISTS (SELECT 1 FROM consumption_suspect s WHERE s.meter_id = ch.meter_id AND s.hour = ch.hour)
           UNION ALL
           SELECT m.dwelling_id, ch.hour, sum(ch.energy_kwh)
             FROM consumption_hourly ch JOIN meter m ON m.id = ch.meter_id
             LEFT JOIN consumption_suspect s ON s.meter_id = ch.meter_id AND s.hour = ch.hour
            WHERE ch.meter_id = ANY(%(multiple)s) AND ch.hour >= %(since)s AND ch.hour < %(until)s
            GROUP BY 1, 2 HAVING sum(ch.energy_kwh) IS NOT NULL AND bool_and(s.hour IS NULL)""",
        {"single": single, "multiple": multiple, "since": since, "until": until},
    ).fetchall()
    if not rows:
        return {}
    frame = pd.DataFrame(rows, columns=["dwelling_id", "hour", "energy_kwh"])
    frame["hour"] = pd.to_datetime(frame["hour"], utc=True).dt.tz_convert(tz)
    out = {}
    for dwelling_id, group in frame.groupby("dwelling_id", sort=False):
        hourly = group.drop(columns="dwelling_id").set_index("hour").sort_index().astype(float)
        hourly.index.name = None
        out[int(dwelling_id)] = hourly
    return out


def stored_model_types(conn: psycopg.Connection, dwelling_ids: list[int]) -> dict[tuple[int, str], str]:
    """The model type of each (dwelling, energy kind)'s stored baseline: last night's terms, kept unless beaten."""
    rows = conn.execute(
        "SELECT dwelling_id, energy_kind, params->>'model_type' FROM baseline"
        " WHERE dwelling_id = ANY(%s) AND qualified AND params IS NOT NULL",
        (dwelling_ids,),
    ).fetchall()
    return {(int(d), str(k)): str(t) for d, k, t in rows if t}


def open_leaks(conn: psycopg.Connection) -> list[tuple[int, int, datetime, dict[str, object]]]:
    """Open water-leak alerts: (dwelling, meter, start, evidence), for the leak-repair suggestion."""
    return [tuple(row) for row in conn.execute(  # type: ignore[misc]
        "SELECT dwelling_id, meter_id, started_at, evidence FROM alert"
        " WHERE kind = 'water_leak' AND status = 'open' AND dwelling_id IS NOT NULL"
    ).fetchall()]


def published_members(conn: psycopg.Connection, kind: str, period: tuple[date, date]) -> dict[str, frozenset[int]]:
    """Members of every group already published for this kind and period (its figures are frozen)."""
    rows = conn.execute(
        """SELECT g.group_key, array_agg(m.dwelling_id)
             FROM comparison_group g JOIN comparison_member m USING (group_key, energy_kind, period_start, period_end)
            WHERE g.published AND g.energy_kind = %s AND g.period_start = %s AND g.period_end = %s
            GROUP BY g.group_key""",
        (kind, period[0], period[1]),
    ).fetchall()
    return {key: frozenset(members) for key, members in rows}


@dataclass(frozen=True)
class Intervention:
    """A renovation or other change whose savings are measured."""

    intervention_id: int
    day: date
    building_id: int | None
    dwelling_id: int | None
    residence_id: int


def interventions(conn: psycopg.Connection) -> list[Intervention]:
    """Every recorded intervention with the residence whose weather applies."""
    rows = conn.execute(
        """SELECT i.id, i.day, i.building_id, i.dwelling_id, b.residence_id
             FROM intervention i LEFT JOIN dwelling d ON d.id = i.dwelling_id
             JOIN building b ON b.id = coalesce(i.building_id, d.building_id) ORDER BY i.id"""
    ).fetchall()
    return [Intervention(*row) for row in rows]


def intervention_daily_use(conn: psycopg.Connection, item: Intervention, start: date, end: date, tz: str,
                           gas_kwh_per_m3: float) -> dict[str, pd.Series]:
    """Per energy kind: the building's (all its meters, its dwellings' too) or the dwelling's kWh per local day."""
    scope = ("m.dwelling_id = %(dwelling)s" if item.dwelling_id is not None else
             "(m.building_id = %(building)s OR m.dwelling_id IN (SELECT id FROM dwelling WHERE building_id = %(building)s))")
    rows = conn.execute(
        f"""WITH d AS (
                SELECT m.kind, cd.meter_id, cd.day, cd.hours, cd.suspect_hours,
                       CASE WHEN m.kind = 'gas' THEN coalesce(cd.energy_kwh, cd.volume_m3 * %(coef)s)
                            ELSE cd.energy_kwh END AS kwh
                  FROM consumption_daily_all cd JOIN meter m ON m.id = cd.meter_id
                 -- the meters as a list, which reaches inside the view (a join read every meter's days)
                 WHERE cd.meter_id = ANY(ARRAY(SELECT m.id FROM meter m
                                               WHERE m.removed_at IS NULL AND {scope} AND m.kind = ANY(%(kinds)s)))
                   AND m.removed_at IS NULL AND {scope} AND m.kind = ANY(%(kinds)s)
                   AND cd.day >= %(start)s AND cd.day < %(end)s),
            n AS (SELECT kind, count(DISTINCT meter_id) AS meters FROM d GROUP BY 1)
            SELECT 0, d.kind, (d.day AT TIME ZONE %(tz)s)::date, sum(d.kwh),
                   count(*) FILTER (WHERE d.hours >= %(min_hours)s AND d.kwh IS NOT NULL
                                    AND d.suspect_hours = 0) >= n.meters
              FROM d JOIN n USING (kind)
             GROUP BY 2, 3, n.meters""",  # noqa: S608 — scope is one of two constant fragments
        {"tz": tz, "coef": gas_kwh_per_m3, "dwelling": item.dwelling_id, "building": item.building_id,
         "kinds": list(ENERGY_KINDS), "start": local_midnight(start, tz), "end": local_midnight(end, tz),
         "min_hours": MIN_HOURS_PER_DAY},
    ).fetchall()
    return {kind: series for (_, kind), series in _series_by_key(rows, start, end).items()}


def hour_of_day_electricity(conn: psycopg.Connection, dwelling_ids: list[int], since: datetime,
                            until: datetime, tz: str) -> dict[int, HourOfDayUse]:
    """Per dwelling: measured electricity summed by local hour of the day, with the hours behind each sum.

    Estimated hours (spread over a gap) and suspect ones (frozen index, reset, spike) are left out:
    a gap spread evenly would move night use into the day and the reverse.
    """
    single, multiple = _electricity_meters(conn, dwelling_ids)
    # A dwelling with one meter has one row per hour: its hours are summed by hour of the day in one pass
    # (grouping a year of hours per dwelling first spilled to disk). Several meters: an hour counts once,
    # and only when none of them is estimated or suspect, so those hours are grouped first.
    rows = conn.execute(
        """SELECT m.dwelling_id, extract(hour FROM ch.hour AT TIME ZONE %(tz)s)::int, sum(ch.energy_kwh), count(*)
             FROM consumption_hourly ch JOIN meter m ON m.id = ch.meter_id
            WHERE ch.meter_id = ANY(%(single)s) AND ch.hour >= %(since)s AND ch.hour < %(until)s
              AND ch.energy_kwh IS NOT NULL AND NOT ch.estimated
              AND NOT EXISTS (SELECT 1 FROM consumption_suspect s WHERE s.meter_id = ch.meter_id AND s.hour = ch.hour)
            GROUP BY 1, 2
           UNION ALL
           SELECT dwelling_id, extract(hour FROM hour AT TIME ZONE %(tz)s)::int, sum(kwh), count(*)
             FROM (SELECT m.dwelling_id, ch.hour, sum(ch.energy_kwh) AS kwh
                     FROM consumption_hourly ch JOIN meter m ON m.id = ch.meter_id
                     LEFT JOIN consumption_suspect s ON s.meter_id = ch.meter_id AND s.hour = ch.hour
                    WHERE ch.meter_id = ANY(%(multiple)s) AND ch.hour >= %(since)s AND ch.hour < %(until)s
                    GROUP BY 1, 2
                   HAVING sum(ch.energy_kwh) IS NOT NULL AND bool_and(s.hour IS NULL)
                          AND NOT bool_or(ch.estimated)) hours
            GROUP BY 1, 2""",
        {"tz": tz, "single": single, "multiple": multiple, "since": since, "until": until},
    ).fetchall()
    sums: dict[int, list[float]] = {}
    counts: dict[int, list[int]] = {}
    for dwelling_id, hour, kwh, count in rows:
        sums.setdefault(dwelling_id, [0.0] * 24)[hour] = float(kwh)
        counts.setdefault(dwelling_id, [0] * 24)[hour] = int(count)
    return {d: HourOfDayUse(tuple(sums[d]), tuple(counts[d])) for d in sums}


def _electricity_meters(conn: psycopg.Connection, dwelling_ids: list[int]) -> tuple[list[int], list[int]]:
    """The installed electricity meters of these dwellings: those alone in their dwelling, and the others."""
    rows = conn.execute(
        """SELECT id, count(*) OVER (PARTITION BY dwelling_id) FROM meter
            WHERE dwelling_id = ANY(%s) AND kind = 'electricity' AND removed_at IS NULL""",
        (dwelling_ids,),
    ).fetchall()
    return [m for m, n in rows if n == 1], [m for m, n in rows if n > 1]


def supply_contracts(conn: psycopg.Connection, dwelling_ids: list[int]) -> dict[int, tuple[SupplyContract, ...]]:
    """Per dwelling: its dated electricity supply contracts (migration 0015)."""
    rows = conn.execute(
        "SELECT dwelling_id, valid_from, option, subscribed_kva, offpeak_hours FROM supply_contract"
        " WHERE dwelling_id = ANY(%s) ORDER BY dwelling_id, valid_from", (dwelling_ids,)).fetchall()
    out: dict[int, list[SupplyContract]] = {}
    for dwelling_id, valid_from, option, kva, hours in rows:
        out.setdefault(dwelling_id, []).append(
            SupplyContract(valid_from, option, int(kva), tuple(hours) if hours else None))
    return {d: tuple(c) for d, c in out.items()}
