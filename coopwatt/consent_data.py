"""What a withdrawal does to data already stored: delete the flow's data, or reduce a load curve to daily values.

The household chooses (``coopwatt.consent.WithdrawalChoice``): ``delete`` removes every reading, hour and
day of the flow's meters; ``aggregate`` (load curve only) keeps each local day's total in ``consumption_day``
(origin ``load-curve``) and one index a day, and removes everything finer; ``keep`` leaves what was
collected (collection stops all the same). Published aggregates (comparison groups, rankings) are not
recomputed: they are frozen once shown (k-anonymity), and the household leaves future groups.

The rollups are tables in plain PostgreSQL and continuous aggregates in TimescaleDB; there the rows are
deleted from the aggregate's materialisation hypertable, as a refresh would otherwise recompute them
only for the windows it is asked about.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import psycopg
from psycopg import sql

from coopwatt.consent import (ELECTRICITY_DAILY, GAS, HEATING, LOAD_CURVE, WATER, ConsentError,
                              WithdrawalChoice)
from coopwatt.db import StorageMode, storage_mode
from coopwatt.quantities import Quantity

log = logging.getLogger(__name__)

_KIND_OF_FLOW = {LOAD_CURVE: "electricity", ELECTRICITY_DAILY: "electricity", GAS: "gas", WATER: "water",
                 HEATING: "heat"}
# Per-meter tables written from readings, finest first (the rollups are handled apart).
_METER_TABLES = ("reading", "reading_estimated", "consumption_suspect", "consumption_hourly", "consumption_pending",
                 "consumption_day")
_ROLLUPS = ("reading_hourly", "reading_daily", "consumption_daily")
_CUMULATIVE = [int(q) for q in Quantity if q.cumulative]


@dataclass
class WithdrawalResult:
    """Rows removed per table, and days kept as daily totals."""

    deleted: dict[str, int] = field(default_factory=dict)
    days_kept: int = 0


def rollup_table(conn: psycopg.Connection, view: str) -> sql.Composable:
    """The table holding a rollup's rows: itself (plain PostgreSQL) or its materialisation hypertable."""
    if storage_mode(conn) is StorageMode.TIMESCALEDB:
        row = conn.execute(
            "SELECT materialization_hypertable_schema, materialization_hypertable_name"
            " FROM timescaledb_information.continuous_aggregates WHERE view_name = %s", (view,)).fetchone()
        if row is not None:
            return sql.Identifier(row[0], row[1])
    return sql.Identifier(view)


def _meters(conn: psycopg.Connection, dwelling_id: int, flow: str) -> list[int]:
    return [r[0] for r in conn.execute("SELECT id FROM meter WHERE dwelling_id = %s AND kind = %s ORDER BY id",
                                       (dwelling_id, _KIND_OF_FLOW[flow]))]


def _delete(conn: psycopg.Connection, table: sql.Composable, meters: list[int], where: str = "") -> int:
    cur = conn.execute(sql.SQL("DELETE FROM {} WHERE meter_id = ANY(%s)" + where).format(table), (meters,))
    return max(cur.rowcount, 0)


def delete_flow_data(conn: psycopg.Connection, meters: list[int]) -> WithdrawalResult:
    """Every stored value of these meters, raw to daily, deleted (the meters stay registered). Does not commit."""
    result = WithdrawalResult()
    for name in _METER_TABLES:
        result.deleted[name] = _delete(conn, sql.Identifier(name), meters)
    for view in _ROLLUPS:
        result.deleted[view] = _delete(conn, rollup_table(conn, view), meters)
    return result


def reduce_to_daily(conn: psycopg.Connection, meters: list[int], timezone: str) -> WithdrawalResult:
    """Keep each local day's total and one index a day; delete the finer values. Does not commit."""
    result = WithdrawalResult()
    # A day a utility export gave stays the utility's figure; a day covered partly by hours is estimated.
    cur = conn.execute(
        sql.SQL("INSERT INTO consumption_day (meter_id, day, energy_kwh, volume_m3, estimated, origin)"
                " SELECT meter_id, day, energy_kwh, volume_m3, estimated_hours > 0 OR hours < 23, 'load-curve'"
                " FROM consumption_daily WHERE meter_id = ANY(%s) AND (energy_kwh IS NOT NULL OR volume_m3 IS NOT NULL)"
                " ON CONFLICT (meter_id, day) DO NOTHING"),
        (meters,))
    result.days_kept = max(cur.rowcount, 0)
    result.deleted["reading"] = max(conn.execute(
        "DELETE FROM reading r WHERE r.meter_id = ANY(%(m)s) AND (r.quantity_id <> ALL(%(c)s) OR r.time > ("
        " SELECT min(x.time) FROM reading x WHERE x.meter_id = r.meter_id AND x.quantity_id = r.quantity_id"
        "   AND x.time >= date_trunc('day', r.time, %(tz)s) AND x.time < r.time))",
        {"m": meters, "c": _CUMULATIVE, "tz": timezone}).rowcount, 0)
    for name in ("reading_estimated", "consumption_suspect", "consumption_hourly", "consumption_pending"):
        result.deleted[name] = _delete(conn, sql.Identifier(name), meters)
    for view in ("reading_hourly", "consumption_daily"):
        result.deleted[view] = _delete(conn, rollup_table(conn, view), meters)
    return result


def apply_withdrawal(conn: psycopg.Connection, dwelling_id: int, flow: str, choice: WithdrawalChoice,
                     timezone: str) -> WithdrawalResult:
    """Do to the stored data of one dwelling's flow what the household chose. Does not commit."""
    if choice == "keep" or flow not in _KIND_OF_FLOW:
        return WithdrawalResult()
    meters = _meters(conn, dwelling_id, flow)
    if not meters:
        return WithdrawalResult()
    if choice == "aggregate":
        if flow != LOAD_CURVE:
            raise ConsentError("only a load curve can be reduced to daily values")
        result = reduce_to_daily(conn, meters, timezone)
    else:
        result = delete_flow_data(conn, meters)
    log.info("consent withdrawn: dwelling %d, %s, %s: %s", dwelling_id, flow, choice,
             {k: v for k, v in result.deleted.items() if v})
    return result
