"""Reads one chunk of meters' recent data from the rollups and raw readings into frames for the detectors."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta

import numpy as np
import pandas as pd
import psycopg

from analytics.base_load import OpenRise
from coopwatt.consent import Collection, meter_collections
from coopwatt.quantities import Quantity

DAY_S = 86_400


@dataclass(frozen=True)
class MeterInfo:
    """A meter and where it sits in the registry."""

    meter_id: int
    kind: str
    dwelling_id: int | None
    building_id: int | None
    reporting_period_s: int | None
    heating_type: str | None
    dwellings_served: int = 1  # a building meter (heat plant, common parts) serves its building's dwellings
    residence_id: int | None = None


def list_meters(conn: psycopg.Connection) -> list[MeterInfo]:
    """All installed meters, ordered by id (chunks are slices of this list)."""
    rows = conn.execute(
        """SELECT m.id, m.kind, m.dwelling_id, COALESCE(m.building_id, d.building_id), m.reporting_period_s,
                  d.heating_type,
                  CASE WHEN m.dwelling_id IS NULL
                       THEN GREATEST((SELECT count(*) FROM dwelling b WHERE b.building_id = m.building_id), 1)
                       ELSE 1 END,
                  b.residence_id
             FROM meter m LEFT JOIN dwelling d ON d.id = m.dwelling_id
                  LEFT JOIN building b ON b.id = COALESCE(m.building_id, d.building_id)
            WHERE m.removed_at IS NULL ORDER BY m.id"""
    ).fetchall()
    # What consent lets a meter store sets what it is judged on: nothing collected, nothing to judge; daily
    # values only, one index a day, so a day without one is its usual period, not a silence.
    collections = meter_collections(conn)
    meters = []
    for row in rows:
        meter = MeterInfo(*row)
        collection = collections.get(meter.meter_id, Collection.FULL)
        if collection is Collection.NONE:
            continue
        if collection is Collection.DAILY:
            meter = replace(meter, reporting_period_s=max(meter.reporting_period_s or 0, DAY_S))
        meters.append(meter)
    return meters


def hourly_frames(conn: psycopg.Connection, meter_ids: list[int], since: datetime, tz: str) -> dict[int, pd.DataFrame]:
    """Per meter: hourly ``energy_kwh``, ``volume_m3`` and ``estimated`` (1.0: spread over a gap) by local hour start."""
    rows = conn.execute(
        """SELECT meter_id, extract(epoch FROM hour)::float8, energy_kwh, volume_m3, estimated::int::float8
             FROM consumption_hourly WHERE meter_id = ANY(%s) AND hour >= %s ORDER BY meter_id, hour""",
        (meter_ids, since),
    ).fetchall()
    return _split(rows, ["energy_kwh", "volume_m3", "estimated"], tz)


def outdoor_hourly(conn: psycopg.Connection, residence_ids: list[int], since: datetime, tz: str) -> dict[int, pd.Series]:
    """Per residence: mean outdoor °C per hour since ``since``, indexed by local hour start."""
    rows = conn.execute(
        """SELECT residence_id, extract(epoch FROM date_trunc('hour', time))::float8, avg(temperature_c)
             FROM outdoor_temperature WHERE residence_id = ANY(%s) AND time >= %s
            GROUP BY 1, 2 ORDER BY 1, 2""",
        (residence_ids, since),
    ).fetchall()
    return {rid: frame["temperature_c"] for rid, frame in _split(rows, ["temperature_c"], tz).items()}


def index_frames(conn: psycopg.Connection, meter_ids: list[int], since: datetime, tz: str,
                 until: datetime | None = None) -> dict[int, pd.DataFrame]:
    """Per meter: its main counter (total energy, or volume for gas/water) as ``index_value`` by reading time.

    Only one register per meter: peak/off-peak registers advance in turn, and mixing them reads as resets.
    Readings from ``since`` up to ``until`` (exclusive; None: up to now).
    """
    # The upper bound only when asked: a plain "time >= since" keeps the chunk look-up the benchmarks measured.
    upper = "" if until is None else "AND r.time < %(until)s"
    rows = conn.execute(
        f"""SELECT r.meter_id, extract(epoch FROM r.time)::float8, r.value FROM reading r JOIN meter m ON m.id = r.meter_id
            WHERE r.meter_id = ANY(%(ids)s) AND r.time >= %(since)s {upper}
              AND r.quantity_id = CASE WHEN m.kind IN ('gas', 'water') THEN %(volume)s ELSE %(energy)s END
            ORDER BY r.meter_id, r.time""",
        {"ids": meter_ids, "since": since, "until": until,
         "volume": int(Quantity.VOLUME_INDEX_M3), "energy": int(Quantity.ENERGY_INDEX_KWH)},
    ).fetchall()
    return _split(rows, ["index_value"], tz)


def reading_times(conn: psycopg.Connection, meter_ids: list[int], since: datetime, tz: str) -> dict[int, pd.DatetimeIndex]:
    """Per meter: distinct reading times since ``since`` (any quantity) for meter_silent."""
    # No DISTINCT in SQL: _split sorts and de-duplicates anyway. On TimescaleDB the planner made it a partial
    # hash aggregate per parallel worker under a final one, and PostgreSQL 15's hash table, fed the workers'
    # groups in their hash order, sometimes grew until iterating it took minutes (a year of 6 homes: 345 s
    # instead of 1 s; docs/benchmarks.md, Analytics, "The anomaly run on TimescaleDB").
    rows = conn.execute(
        "SELECT meter_id, extract(epoch FROM time)::float8 FROM reading WHERE meter_id = ANY(%s) AND time >= %s",
        (meter_ids, since),
    ).fetchall()
    frames = _split([(m, t, 0.0) for m, t in rows], ["_"], tz)
    return {m: f.index for m, f in frames.items()}


def _split(rows: list[tuple], columns: list[str], tz: str) -> dict[int, pd.DataFrame]:
    """Group (meter_id, epoch seconds, values...) rows into one frame per meter, times in local time.

    Times travel as epoch seconds: turning thousands of datetime objects into a pandas index
    cost more than the query itself. Sorted and de-duplicated once for all meters, then sliced:
    per-meter pandas calls cost more than the data when each meter has few rows (incremental runs).
    """
    if not rows:
        return {}
    frame = pd.DataFrame(rows, columns=["meter_id", "time", *columns])
    meter_ids = frame["meter_id"].to_numpy(dtype=np.int64)
    # Round to the microsecond the database stores, so float noise never splits equal times.
    micros = np.round(frame["time"].to_numpy(dtype=float) * 1e6).astype("int64")
    order = np.lexsort((micros, meter_ids))  # stable: of equal times, the first row given is kept
    meter_ids, micros = meter_ids[order], micros[order]
    values = frame[columns].to_numpy(dtype=float)[order]
    keep = np.ones(len(order), dtype=bool)
    keep[1:] = (meter_ids[1:] != meter_ids[:-1]) | (micros[1:] != micros[:-1])
    meter_ids, micros, values = meter_ids[keep], micros[keep], values[keep]
    times = pd.to_datetime(micros, unit="us", utc=True).tz_convert(tz)
    starts = np.flatnonzero(np.r_[True, meter_ids[1:] != meter_ids[:-1]])
    ends = np.r_[starts[1:], len(meter_ids)]
    return {int(meter_ids[a]): pd.DataFrame(values[a:b], index=times[a:b], columns=columns)
            for a, b in zip(starts.tolist(), ends.tolist(), strict=True)}


def open_base_load_rises(conn: psycopg.Connection, meter_ids: list[int], tz: str) -> dict[int, OpenRise]:
    """Open base-load-rise alerts of these meters, with the level each rose from (alerts whose evidence has it)."""
    rows = conn.execute(
        """SELECT meter_id, started_at, (evidence->>'reference_w')::float8, (evidence->>'rise_w')::float8
             FROM alert WHERE kind = 'base_load_rise' AND status = 'open' AND meter_id = ANY(%s)""",
        (meter_ids,),
    ).fetchall()
    return {meter_id: OpenRise(pd.Timestamp(started).tz_convert(tz), reference, rise)
            for meter_id, started, reference, rise in rows
            if reference is not None and rise is not None and np.isfinite(reference) and rise > 0}


def lookback(now: datetime, days: float) -> datetime:
    """The start of a look-back window."""
    return now - timedelta(days=days)
