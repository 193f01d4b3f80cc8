"""The bulk write path shared by the ingester and the importers: COPY, then an idempotent insert.

Every function here works inside the caller's transaction and never commits:
the caller decides when a batch is durable (the ingester acknowledges MQTT
messages only after its commit).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

import psycopg

from coopwatt.quantities import Quantity

ReadingRow = tuple[int, int, datetime, float]  # meter_id, quantity_id, time, value
TemperatureRow = tuple[int, datetime, float]  # residence_id, time, temperature_c
DeadLetterRow = tuple[str, str | None, bytes | None, str, datetime]  # source, topic, payload, reason, received_at

# Quantities whose readings change derived consumption.
_CONSUMPTION_QUANTITIES = tuple(int(q) for q in (
    Quantity.ENERGY_INDEX_KWH, Quantity.ENERGY_KWH, Quantity.VOLUME_INDEX_M3, Quantity.VOLUME_M3,
))


def _ensure_stage(conn: psycopg.Connection) -> None:
    # A temporary table lives as long as the connection; ON COMMIT DELETE ROWS empties it per batch.
    conn.execute(
        "CREATE TEMP TABLE IF NOT EXISTS reading_stage ("
        " meter_id integer, quantity_id smallint, time timestamptz, value double precision)"
        " ON COMMIT DELETE ROWS"
    )


def store_readings(conn: psycopg.Connection, rows: Iterable[ReadingRow]) -> int:
    """Insert readings that are not stored yet; return how many were new. Does not commit."""
    _ensure_stage(conn)
    conn.execute("TRUNCATE reading_stage")
    with conn.cursor() as cur:
        with cur.copy("COPY reading_stage (meter_id, quantity_id, time, value) FROM STDIN (FORMAT BINARY)") as copy:
            copy.set_types(["int4", "int2", "timestamptz", "float8"])
            for row in rows:
                copy.write_row(row)
        # Redelivered or re-imported readings hit the key and are skipped: writes are idempotent. Only the rows
        # actually inserted mark their meter for derivation (a redelivered batch changes no consumption), in the
        # same statement: one round trip.
        cur.execute(
            "WITH new AS ("
            "  INSERT INTO reading (meter_id, quantity_id, time, value)"
            "  SELECT meter_id, quantity_id, time, value FROM reading_stage"
            "  ON CONFLICT (meter_id, quantity_id, time) DO NOTHING"
            "  RETURNING meter_id, quantity_id, time),"
            " pending AS ("
            "  INSERT INTO consumption_pending (meter_id, from_time)"
            "  SELECT meter_id, min(time) FROM new WHERE quantity_id = ANY(%s) GROUP BY meter_id"
            "  ON CONFLICT (meter_id) DO UPDATE"
            "  SET from_time = least(consumption_pending.from_time, excluded.from_time))"
            " SELECT count(*) FROM new",
            (list(_CONSUMPTION_QUANTITIES),),
        )
        inserted = cur.fetchone()[0]
    return inserted


def store_temperatures(conn: psycopg.Connection, rows: Iterable[TemperatureRow]) -> int:
    """Insert outdoor temperatures not stored yet; return how many were new. Does not commit."""
    rows = list(rows)
    if not rows:
        return 0
    with conn.cursor() as cur:
        cur.executemany(
            "INSERT INTO outdoor_temperature (residence_id, time, temperature_c) VALUES (%s, %s, %s)"
            " ON CONFLICT (residence_id, time) DO NOTHING",
            rows,
        )
        return max(cur.rowcount, 0)


def store_dead_letters(conn: psycopg.Connection, rows: Iterable[DeadLetterRow]) -> int:
    """Record what could not be stored, with its reason. Does not commit."""
    count = 0
    with conn.cursor() as cur:
        with cur.copy("COPY dead_letter (source, topic, payload, reason, received_at) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)
                count += 1
    return count


def last_readings(conn: psycopg.Connection, keys: Iterable[tuple[int, int]]) -> dict[tuple[int, int], tuple[datetime, float]]:
    """The latest stored (time, value) of each (meter id, quantity id) that has one: one query for them all."""
    keys = list(keys)
    if not keys:
        return {}
    rows = conn.execute(
        "SELECT k.meter_id, k.quantity_id, last.time, last.value"
        " FROM unnest(%s::integer[], %s::smallint[]) AS k (meter_id, quantity_id)"
        " CROSS JOIN LATERAL (SELECT time, value FROM reading r"
        "   WHERE r.meter_id = k.meter_id AND r.quantity_id = k.quantity_id"
        "   ORDER BY time DESC LIMIT 1) AS last",
        ([meter for meter, _ in keys], [quantity for _, quantity in keys]),
    ).fetchall()
    return {(meter, quantity): (time, value) for meter, quantity, time, value in rows}
