"""The job that keeps ``consumption_hourly`` up to date from the meters listed in ``consumption_pending``.

For each pending meter, in a transaction of its own:

1. pick the quantity its consumption comes from (an index or interval values;
   energy for electricity and heat, volume for water and gas, energy for a gas
   meter that only reports kWh);
2. ask the database where to start (the same two questions as
   :func:`ingest.consumption.recompute_window`) and read that meter's readings
   from there on, and only those;
3. compute hourly consumption in pandas and replace every hour from the first
   affected one onwards (delete, then COPY), so running twice changes nothing
   and a late reading corrects the hours it touches;
4. delete the pending row only if it is unchanged.

Why REPEATABLE READ: the ingester updates the pending row in the same
transaction as the readings (``ingest.store``). A batch that commits while we
work either lowers ``from_time`` or rewrites it with the same value; either way
our final ``DELETE`` of a row changed after our snapshot fails with a
serialization error, the meter's transaction is rolled back and the meter stays
pending for the next run. The ingester is never blocked by this job.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd
import psycopg
from psycopg import errors, pq

from coopwatt.policies import retention_horizon
from coopwatt.quantities import Quantity
from coopwatt.settings import Settings
from ingest.consumption import Derived, floor_hour, hourly_from_index, hourly_from_intervals

log = logging.getLogger(__name__)

# pg_try_advisory_xact_lock(class, meter_id): keeps two derivation jobs off the same meter.
_LOCK_CLASS = 0x636F_6E73  # "cons"
_HOUR = timedelta(hours=1)
_ONE_US = timedelta(microseconds=1)

# (index quantity, interval quantity) per kind of measure.
_ENERGY = (Quantity.ENERGY_INDEX_KWH, Quantity.ENERGY_KWH)
_VOLUME = (Quantity.VOLUME_INDEX_M3, Quantity.VOLUME_M3)


@dataclass(frozen=True)
class MeterEvent:
    """A counter reset or an implausible jump found while deriving (for the 'counter reset' anomaly)."""

    meter_id: int
    time: datetime
    before: float
    after: float
    kind: str  # "reset" or "jump"
    counted: bool  # True when the new index was counted from zero


@dataclass
class DeriveStats:
    """What one run of :func:`derive_pending` did."""

    meters: int = 0
    readings: int = 0
    hours_written: int = 0
    deferred: int = 0  # still pending: updated meanwhile, or another job held the meter
    events: list[MeterEvent] = field(default_factory=list)
    since: datetime | None = None  # first hour rewritten (for the rollup refresh)
    until: datetime | None = None  # end of the last hour rewritten or removed

    def add(self, other: DeriveStats) -> None:
        """Count another meter's (committed) work in this run's totals."""
        self.readings += other.readings
        self.hours_written += other.hours_written
        self.events.extend(other.events)
        if other.since is not None:
            self.since = other.since if self.since is None else min(self.since, other.since)
        if other.until is not None:
            self.until = other.until if self.until is None else max(self.until, other.until)


def _quantities_present(conn: psycopg.Connection, meter_id: int, candidates: tuple[Quantity, ...]) -> list[Quantity]:
    # One index probe per quantity on the (meter_id, quantity_id, time) key.
    return [
        q for q in candidates
        if conn.execute(
            "SELECT EXISTS (SELECT 1 FROM reading WHERE meter_id = %s AND quantity_id = %s)", (meter_id, int(q))
        ).fetchone()[0]  # type: ignore[index]
    ]


def choose_quantity(conn: psycopg.Connection, meter_id: int, kind: str, mode: str) -> Quantity | None:
    """The quantity a meter's consumption is derived from, or None when it has none."""
    families = [_VOLUME, _ENERGY] if kind in ("gas", "water") else [_ENERGY]
    for index_q, interval_q in families:
        ordered = (index_q, interval_q) if mode == "index" else (interval_q, index_q)
        present = _quantities_present(conn, meter_id, ordered)
        if present:
            return present[0]
    return None


def _window(conn: psycopg.Connection, meter_id: int, quantity: Quantity, from_time: datetime) -> tuple[datetime, datetime]:
    """(read readings with time >= this, rewrite hours >= this): recompute_window asked of the database."""
    if not quantity.cumulative:
        emit = floor_hour(from_time - _ONE_US)
        return emit + _ONE_US, emit
    row = conn.execute(
        "SELECT max(time) FROM reading WHERE meter_id = %s AND quantity_id = %s AND time < %s",
        (meter_id, int(quantity), from_time),
    ).fetchone()
    emit = floor_hour(row[0] if row and row[0] is not None else from_time)
    row = conn.execute(
        "SELECT max(time) FROM reading WHERE meter_id = %s AND quantity_id = %s AND time <= %s",
        (meter_id, int(quantity), emit),
    ).fetchone()
    return (row[0] if row and row[0] is not None else emit), emit


def _compute(settings: Settings, quantity: Quantity, times: pd.DatetimeIndex, values: np.ndarray) -> Derived:
    if not quantity.cumulative:
        return hourly_from_intervals(times, values)
    max_rate = (settings.ingest_max_flow_m3_per_h if quantity is Quantity.VOLUME_INDEX_M3
                else settings.ingest_max_power_w / 1000.0)
    return hourly_from_index(times, values, max_rate_per_h=max_rate, max_gap_s=settings.consumption_max_gap_s)


def _protected_until(conn: psycopg.Connection, meter_id: int, quantity: Quantity, horizon: datetime) -> datetime:
    """The first hour that can be derived again from readings retention has kept (hours before it stay as they are).

    Interval values: the first whole hour after the horizon. Indices: an hour needs readings on both of its edges,
    so the first hour from the meter's first kept reading; with no reading kept, nothing can be derived again.
    """
    first_hour = floor_hour(horizon - _ONE_US) + _HOUR
    if not quantity.cumulative:
        return first_hour
    row = conn.execute(
        "SELECT min(time) FROM reading WHERE meter_id = %s AND quantity_id = %s AND time >= %s",
        (meter_id, int(quantity), horizon),
    ).fetchone()
    if not row or row[0] is None:
        return datetime.max.replace(tzinfo=UTC)
    return max(first_hour, floor_hour(row[0] - _ONE_US) + _HOUR)


def _derive_meter(conn: psycopg.Connection, settings: Settings, meter_id: int, kind: str, mode: str,
                  stats: DeriveStats, horizon: datetime | None = None) -> bool:
    """Derive one meter inside the current transaction; False when it must wait for a later run."""
    conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
    locked = conn.execute("SELECT pg_try_advisory_xact_lock(%s, %s)", (_LOCK_CLASS, meter_id)).fetchone()
    if not locked or not locked[0]:
        return False
    row = conn.execute("SELECT from_time FROM consumption_pending WHERE meter_id = %s", (meter_id,)).fetchone()
    if row is None:
        return True  # another job finished it
    from_time: datetime = row[0]
    quantity = choose_quantity(conn, meter_id, kind, mode)
    if quantity is not None:
        read_from, emit_from = _window(conn, meter_id, quantity, from_time)
        if horizon is not None and emit_from < horizon:
            # A reading older than what retention keeps (a late message, an old file imported): rewriting from it
            # would replace the consumption of hours whose raw readings are gone with what little is left.
            emit_from = max(emit_from, _protected_until(conn, meter_id, quantity, horizon))
        # Microseconds since the epoch, not datetimes: no Python datetime per reading. date_part's float8
        # seconds hold microseconds exactly for dates this century (< 2^53 µs), and the cast rounds.
        with conn.cursor(binary=True) as cur:
            cur.execute(
                "SELECT (date_part('epoch', time) * 1000000)::int8, value FROM reading"
                " WHERE meter_id = %s AND quantity_id = %s AND time >= %s ORDER BY time",
                (meter_id, int(quantity), read_from),
            )
            rows = cur.fetchall()
        micros = np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))
        values = np.fromiter((r[1] for r in rows), dtype=np.float64, count=len(rows))
        times = pd.to_datetime(micros, unit="us", utc=True)
        derived = _compute(settings, quantity, times, values)
        hourly = derived.hourly[derived.hourly["hour"] >= emit_from]
        removed = conn.execute(
            "WITH gone AS (DELETE FROM consumption_hourly WHERE meter_id = %s AND hour >= %s RETURNING hour)"
            " SELECT max(hour) FROM gone",
            (meter_id, emit_from),
        ).fetchone()
        _write_hours(conn, settings, meter_id, kind, quantity, hourly)
        if not quantity.cumulative:
            _mark_estimated_hours(conn, meter_id, quantity, emit_from)
        stats.readings += len(values)
        stats.hours_written += len(hourly)
        last = [h for h in (removed[0] if removed else None,
                            hourly["hour"].iloc[-1].to_pydatetime() if len(hourly) else None) if h is not None]
        if last:
            stats.since, stats.until = emit_from, max(last) + _HOUR
        for ev in derived.events.itertuples(index=False):
            if ev.time.to_pydatetime() > emit_from:
                stats.events.append(MeterEvent(meter_id, ev.time.to_pydatetime(), float(ev.before), float(ev.after),
                                               str(ev.kind), bool(ev.counted)))
    # Raises SerializationFailure if the ingester touched the row after our snapshot.
    conn.execute("DELETE FROM consumption_pending WHERE meter_id = %s AND from_time = %s", (meter_id, from_time))
    return True


def _write_hours(conn: psycopg.Connection, settings: Settings, meter_id: int, kind: str, quantity: Quantity,
                 hourly: pd.DataFrame) -> None:
    if hourly.empty:
        return
    amounts = hourly["amount"].to_numpy(dtype=float)
    if quantity in _VOLUME:
        volume = amounts
        energy = amounts * settings.gas_kwh_per_m3 if kind == "gas" else np.full(len(amounts), np.nan)
    else:
        energy, volume = amounts, np.full(len(amounts), np.nan)
    with conn.cursor() as cur:
        with cur.copy("COPY consumption_hourly (meter_id, hour, energy_kwh, volume_m3, estimated)"
                      " FROM STDIN (FORMAT BINARY)") as copy:
            copy.set_types(["int4", "timestamptz", "float8", "float8", "bool"])
            for hour, e, v, est in zip(hourly["hour"], energy, volume, hourly["estimated"], strict=True):
                copy.write_row((meter_id, hour.to_pydatetime(),
                                None if np.isnan(e) else float(e), None if np.isnan(v) else float(v), bool(est)))


def _mark_estimated_hours(conn: psycopg.Connection, meter_id: int, quantity: Quantity, emit_from: datetime) -> None:
    """Hours holding an interval value the utility marked estimated (reading_estimated) are estimated too."""
    # A value stamped t covers the interval ending at t: it belongs to the hour holding t − 1 µs.
    conn.execute(
        "UPDATE consumption_hourly ch SET estimated = true FROM reading_estimated re"
        " WHERE re.meter_id = %(meter)s AND re.quantity_id = %(quantity)s AND re.time > %(since)s"
        "   AND ch.meter_id = re.meter_id AND NOT ch.estimated"
        "   AND ch.hour = date_bin('1 hour', re.time - interval '1 microsecond', TIMESTAMPTZ '2000-01-01 00:00+00')",
        {"meter": meter_id, "quantity": int(quantity), "since": emit_from},
    )


def derive_pending(conn: psycopg.Connection, settings: Settings, *, max_meters: int | None = None) -> DeriveStats:
    """Bring consumption_hourly up to date for pending meters; commits once per meter."""
    if conn.autocommit or conn.info.transaction_status is not pq.TransactionStatus.IDLE:
        raise ValueError("derive_pending needs an idle connection that is not in autocommit mode")
    horizon = retention_horizon(conn)
    pending = conn.execute(
        "SELECT p.meter_id, m.kind, m.mode FROM consumption_pending p JOIN meter m ON m.id = p.meter_id"
        " ORDER BY p.from_time, p.meter_id LIMIT %s",
        (max_meters,),
    ).fetchall()
    conn.commit()
    stats = DeriveStats()
    for meter_id, kind, mode in pending:
        meter_stats = DeriveStats()
        try:
            with conn.transaction():
                done = _derive_meter(conn, settings, meter_id, kind, mode, meter_stats, horizon)
        except errors.SerializationFailure:
            done = False
        if done:
            stats.meters += 1
            stats.add(meter_stats)
        else:
            stats.deferred += 1
    for event in stats.events:
        log.warning("meter %d: index %s at %s (%.3f → %.3f)%s", event.meter_id, event.kind, event.time.isoformat(),
                    event.before, event.after, ", counted from zero" if event.counted else ", interval left unknown")
    log.info("consumption: %d meter(s) derived, %d reading(s) read, %d hour(s) written, %d deferred",
             stats.meters, stats.readings, stats.hours_written, stats.deferred)
    return stats


def derive_and_refresh(url: str, settings: Settings, *, max_meters: int | None = None) -> DeriveStats:
    """The scheduled job: derive pending meters, then refresh the rollups over what changed (at least 3 days)."""
    from coopwatt.rollups import DEFAULT_LOOKBACK, refresh_rollups

    with psycopg.connect(url, application_name="coopwatt-consumption") as conn:
        stats = derive_pending(conn, settings, max_meters=max_meters)
        now = datetime.now(UTC)
        since = min(stats.since, now - DEFAULT_LOOKBACK) if stats.since else None
        until = max(stats.until, now + _HOUR) if stats.until else None
        refresh_rollups(conn, settings, since=since, until=until)
    return stats
