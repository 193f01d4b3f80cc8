"""The nightly step behind similar homes' typical day: each home's hours read in SQL, groups' means stored.

The window is the household card's latest one: the ``WINDOW_DAYS`` local days before
today. A home counts when each hour of the day has at least ``MIN_DAYS_PER_HOUR`` measured hours
(neither estimated nor suspect) in the window, as the card asks to draw its own typical day, and
when its household consents to neighbourhood comparisons.
"""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np
import pandas as pd
import psycopg
from psycopg.types.json import Jsonb

from analytics.comparison import ComparisonSettings
from analytics.job import nightly_load as load
from analytics.job.nightly_store import group_description
from analytics.peer_day import HOURS, MIN_DAYS_PER_HOUR, WINDOW_DAYS, PeerDay, peer_day_profiles
from coopwatt.consent import COMPARISONS, dwellings_consenting

KINDS = ("electricity", "gas", "heat", "water")


def window(today: date) -> tuple[date, date]:
    """The local days [start, end) of tonight's typical days."""
    return today - timedelta(days=WINDOW_DAYS), today


def home_profiles(conn: psycopg.Connection, dwelling_ids: list[int], start: date, end: date, tz: str,
                  gas_kwh_per_m3: float) -> dict[tuple[int, str], list[float]]:
    """(dwelling, kind) → mean use per local hour of the day over measured hours, for homes with every hour covered."""
    rows = conn.execute(
        """
        WITH hours AS (
            SELECT m.dwelling_id, m.kind, ch.hour,
                   sum(CASE m.kind WHEN 'water' THEN ch.volume_m3
                                   WHEN 'gas' THEN coalesce(ch.energy_kwh, ch.volume_m3 * %(coef)s)
                                   ELSE ch.energy_kwh END) AS amount
            FROM consumption_hourly ch JOIN meter m ON m.id = ch.meter_id
            WHERE m.dwelling_id = ANY(%(ids)s) AND ch.hour >= %(since)s AND ch.hour < %(until)s AND NOT ch.estimated
              AND NOT EXISTS (SELECT 1 FROM consumption_suspect s WHERE s.meter_id = ch.meter_id AND s.hour = ch.hour)
            GROUP BY 1, 2, 3)
        SELECT dwelling_id, kind, extract(hour FROM hour AT TIME ZONE %(tz)s)::int, avg(amount), count(amount)
        FROM hours WHERE amount IS NOT NULL GROUP BY 1, 2, 3
        """,
        {"ids": dwelling_ids, "since": load.local_midnight(start, tz), "until": load.local_midnight(end, tz),
         "tz": tz, "coef": gas_kwh_per_m3},
    ).fetchall()
    found: dict[tuple[int, str], list[float]] = {}
    counts: dict[tuple[int, str], int] = {}
    for dwelling_id, kind, hour, mean, days in rows:
        key = (int(dwelling_id), str(kind))
        found.setdefault(key, [float("nan")] * HOURS)[int(hour)] = float(mean)
        counts[key] = counts.get(key, 0) + (int(days) >= MIN_DAYS_PER_HOUR)
    return {key: profile for key, profile in found.items() if counts[key] == HOURS}


def published_members(conn: psycopg.Connection, kind: str, period: tuple[date, date]) -> dict[str, frozenset[int]]:
    """Members of each group already published for this kind and window (its figures are frozen)."""
    rows = conn.execute(
        """SELECT p.group_key, array_agg(m.dwelling_id)
             FROM peer_day_profile p JOIN peer_day_member m USING (group_key, energy_kind, period_start, period_end)
            WHERE p.published AND p.energy_kind = %s AND p.period_start = %s AND p.period_end = %s
            GROUP BY p.group_key""", (kind, *period)).fetchall()
    return {key: frozenset(members) for key, members in rows}


def overlapping_members(conn: psycopg.Connection, kind: str,
                        period: tuple[date, date]) -> dict[str, list[frozenset[int]]]:
    """Members each group was published with for the other windows that overlap this one (kept for this check)."""
    rows = conn.execute(
        """SELECT p.group_key, p.period_start, array_agg(m.dwelling_id)
             FROM peer_day_profile p JOIN peer_day_member m USING (group_key, energy_kind, period_start, period_end)
            WHERE p.published AND p.energy_kind = %s AND p.period_end > %s
              AND (p.period_start, p.period_end) <> (%s, %s)
            GROUP BY p.group_key, p.period_start, p.period_end""", (kind, period[0], *period)).fetchall()
    found: dict[str, list[frozenset[int]]] = {}
    for key, _, members in rows:
        found.setdefault(key, []).append(frozenset(members))
    return found


def write(conn: psycopg.Connection, kind: str, period: tuple[date, date], days: list[PeerDay],
          frozen: set[str]) -> tuple[int, int]:
    """Store one kind's groups and members for the window, leaving groups already published untouched."""
    days = [d for d in days if d.key not in frozen]
    # Tonight's groups replace their own rows and any withheld group that no longer exists.
    conn.execute("DELETE FROM peer_day_profile WHERE energy_kind = %s AND period_start = %s AND period_end = %s"
                 " AND (group_key = ANY(%s) OR NOT published)", (kind, *period, [d.key for d in days]))
    with conn.cursor() as cur:
        cur.executemany(
            "INSERT INTO peer_day_profile (group_key, energy_kind, period_start, period_end, description,"
            " member_count, published, withheld_reason, mean_by_hour) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)",
            [(d.key, kind, *period, Jsonb(group_description(d.key)), d.member_count, d.published,
              d.withheld_reason, list(d.mean_by_hour) if d.mean_by_hour is not None else None) for d in days])
        cur.executemany(
            "INSERT INTO peer_day_member (group_key, energy_kind, period_start, period_end, dwelling_id)"
            " VALUES (%s, %s, %s, %s, %s)", [(d.key, kind, *period, m) for d in days for m in sorted(d.members)])
    published = sum(d.published for d in days)
    return published, len(days) - published


def run(conn: psycopg.Connection, dwellings: list[load.DwellingInfo], today: date, tz: str, gas_kwh_per_m3: float,
        settings: ComparisonSettings) -> tuple[int, int]:
    """Tonight's typical days of similar homes per kind; earlier windows' rows go once they no longer overlap.

    Returns (published, withheld).
    """
    period = window(today)
    consenting = dwellings_consenting(conn, COMPARISONS)
    homes = [d for d in dwellings if d.dwelling_id in consenting and d.floor_area_m2 and d.floor_area_m2 > 0]
    profiles = home_profiles(conn, [d.dwelling_id for d in homes], *period, tz, gas_kwh_per_m3)
    published = withheld = 0
    for kind in KINDS:
        rows = [{"dwelling_id": d.dwelling_id, "residence_id": d.residence_id, "district": d.district,
                 "floor_area_m2": d.floor_area_m2, "heating_type": d.heating_type,
                 "mean_by_hour": profiles[(d.dwelling_id, kind)]} for d in homes if (d.dwelling_id, kind) in profiles]
        if not rows:
            continue
        frame = pd.DataFrame(rows)
        frame = frame[[bool(np.isfinite(p).all()) for p in frame["mean_by_hour"]]].reset_index(drop=True)
        before = published_members(conn, kind, period)
        days = peer_day_profiles(frame, settings, before, overlapping_members(conn, kind, period))
        shown, held = write(conn, kind, period, days, set(before))
        published += shown
        withheld += held
    # Earlier windows go, but a published one is kept while it overlaps tonight's: a later group must not be
    # published with members that differ from it by fewer than k homes (analytics.peer_day).
    conn.execute("DELETE FROM peer_day_profile WHERE (period_start, period_end) <> (%s, %s)"
                 " AND (NOT published OR period_end <= %s)", (*period, period[0]))
    return published, withheld
