"""The seeder's rows as PostgreSQL binary COPY, built column-wise in numpy (no Python object per row).

Split from bench/rollup_seed.py: what one chunk of simulated buildings becomes — consumption_hourly through
``ingest.derive``'s own computation, consumption_daily summed from those hours in memory, the last days'
raw readings, the outdoor temperatures.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import numpy as np
import pandas as pd
import psycopg

from coopwatt.quantities import Quantity
from coopwatt.settings import Settings
from coopwatt.simulator.residence import Meter
from coopwatt.simulator.series import Chunk
from ingest.derive import _compute as derive_hourly  # the derivation job's pure step

_PG_EPOCH_US = 946_684_800_000_000  # 2000-01-01 UTC in µs since 1970: binary timestamptz counts from there
_COPY_HEADER = b"PGCOPY\n\xff\r\n\x00" + bytes(8)  # signature, flags, header extension length
_COPY_TRAILER = b"\xff\xff"
# Consumption comes from the energy index for electricity and heat, the volume index for water and gas
# (ingest.derive.choose_quantity's first choice for index meters).
_SOURCE_QUANTITY = {"electricity": Quantity.ENERGY_INDEX_KWH, "heat": Quantity.ENERGY_INDEX_KWH,
                    "water": Quantity.VOLUME_INDEX_M3, "gas": Quantity.VOLUME_INDEX_M3}


def binary_rows(columns: Sequence[tuple[str, np.ndarray | None]], n: int) -> bytes:
    """n rows in COPY's binary format, built column-wise: (numpy big-endian type, values, or None for NULL)."""
    fields: list[tuple[str, str]] = [("count", ">i2")]
    for i, (kind, values) in enumerate(columns):
        fields.append((f"len{i}", ">i4"))
        if values is not None:
            fields.append((f"val{i}", kind))
    out = np.empty(n, dtype=np.dtype(fields))  # packed: exactly the wire layout
    out["count"] = len(columns)
    for i, (kind, values) in enumerate(columns):
        if values is None:
            out[f"len{i}"] = -1
        else:
            out[f"len{i}"] = np.dtype(kind).itemsize
            out[f"val{i}"] = values
    return out.tobytes()


def _pg_micros(ns: np.ndarray) -> np.ndarray:
    """UTC nanoseconds since 1970 as binary timestamptz (µs since 2000)."""
    return ns // 1000 - _PG_EPOCH_US


def copy_binary(conn: psycopg.Connection, statement: str, parts: Sequence[bytes]) -> None:
    """COPY … FROM STDIN (FORMAT BINARY) of rows built by :func:`binary_rows`, in the open transaction."""
    with conn.cursor() as cur, cur.copy(statement) as copy:
        copy.write(_COPY_HEADER)
        for part in parts:
            copy.write(part)
        copy.write(_COPY_TRAILER)


def hourly_parts(chunk: Chunk, meters: dict[str, Meter], meter_ids: dict[str, int],
                 settings: Settings) -> tuple[list[bytes], int, list[bytes], int]:
    """The chunk's consumption_hourly and consumption_daily rows as binary COPY parts, with their row counts."""
    parts: list[bytes] = []
    daily_parts: list[bytes] = []
    rows = daily_rows = 0
    midnights_ns = local_midnights_ns(chunk.times, settings.timezone)
    for quantity in (Quantity.ENERGY_INDEX_KWH, Quantity.VOLUME_INDEX_M3):
        block = chunk.block(quantity)
        if block is None:
            continue
        for row, source in enumerate(block.sources):
            meter = meters[source]
            if _SOURCE_QUANTITY[meter.kind] is not quantity:
                continue
            present = block.present[row]
            times = chunk.times[present]
            hourly = derive_hourly(settings, quantity, times, block.values[row][present]).hourly
            n = len(hourly)
            if n == 0:
                continue
            amounts = hourly["amount"].to_numpy(dtype=np.float64)
            # As ingest.derive._write_hours: volume meters keep m³, gas also in kWh; energy meters kWh only.
            if quantity is Quantity.VOLUME_INDEX_M3:
                energy = amounts * settings.gas_kwh_per_m3 if meter.kind == "gas" else None
                volume: np.ndarray | None = amounts
            else:
                energy, volume = amounts, None
            hours_ns = pd.DatetimeIndex(hourly["hour"]).as_unit("ns").asi8
            estimated = hourly["estimated"].to_numpy(dtype=np.uint8)
            parts.append(binary_rows([
                (">i4", np.full(n, meter_ids[source], dtype=np.int32)), (">i8", _pg_micros(hours_ns)),
                (">f8", energy), (">f8", volume), ("u1", estimated),
            ], n))
            rows += n
            day_part, days = daily_part(meter_ids[source], hours_ns, energy, volume, estimated, midnights_ns)
            daily_parts.append(day_part)
            daily_rows += days
    return parts, rows, daily_parts, daily_rows


def local_midnights_ns(times: pd.DatetimeIndex, timezone: str) -> np.ndarray:
    """UTC nanoseconds of every local midnight from the day of ``times[0]`` to the day after ``times[-1]``."""
    if not len(times):
        return np.zeros(0, dtype=np.int64)
    local = times.tz_convert(timezone)
    first, last = local[0].normalize(), local[-1].normalize() + pd.Timedelta(days=1)
    # Calendar days, not 24-hour steps: 23 or 25 hours at the DST changes, as date_trunc('day', hour, tz).
    return pd.date_range(first.tz_localize(None), last.tz_localize(None), freq="D").tz_localize(
        timezone).as_unit("ns").asi8


def _sequential_sums(values: np.ndarray, group: np.ndarray, position: np.ndarray, groups: int) -> np.ndarray:
    """Per-group sums added one value after the other in order, as PostgreSQL's sum(float8) adds its rows.

    numpy's reductions sum pairwise, which can differ in the last bit; a (group × position) grid added
    column by column keeps the order (padding adds +0.0, which changes no sum).
    """
    grid = np.zeros((groups, int(position.max()) + 1))
    grid[group, position] = values
    total = grid[:, 0].copy()
    for column in range(1, grid.shape[1]):
        total += grid[:, column]
    return total


def daily_part(meter_id: int, hours_ns: np.ndarray, energy: np.ndarray | None, volume: np.ndarray | None,
               estimated: np.ndarray, midnights_ns: np.ndarray) -> tuple[bytes, int]:
    """One meter's consumption_daily rows from its hourly rows (sorted by hour), as binary COPY, and their count.

    The same figures as coopwatt.rollups' daily INSERT … SELECT (sum per local day, estimated and all
    hours counted), computed from the chunk in memory: read back from consumption_hourly, the chunk's rows
    became a sequential scan of the whole table once it held tens of millions of rows (issue 18).
    """
    day = np.searchsorted(midnights_ns, hours_ns, side="right") - 1
    starts = np.flatnonzero(np.diff(day, prepend=day[0] - 1))  # hours sorted: each day's hours are contiguous
    group = np.repeat(np.arange(len(starts)), np.diff(np.append(starts, len(day))))
    position = np.arange(len(day)) - starts[group]
    n = len(starts)
    hours = np.diff(np.append(starts, len(day))).astype(np.int64)
    return binary_rows([
        (">i4", np.full(n, meter_id, dtype=np.int32)), (">i8", _pg_micros(midnights_ns[day[starts]])),
        (">f8", None if energy is None else _sequential_sums(energy, group, position, n)),
        (">f8", None if volume is None else _sequential_sums(volume, group, position, n)),
        (">i8", np.add.reduceat(estimated.astype(np.int64), starts)), (">i8", hours),
    ], n), n


def temperature_part(chunk: Chunk, residence_ids: dict[str, int]) -> tuple[bytes, int]:
    """The chunk's outdoor temperatures (every reading time, as ``register.temperature_rows``)."""
    block = chunk.block(Quantity.TEMPERATURE_C)
    if block is None or not len(chunk.times):
        return b"", 0
    n_t = len(chunk.times)
    micros = _pg_micros(np.asarray(chunk.times.as_unit("ns").asi8))
    ids = np.repeat(np.array([residence_ids[c] for c in block.sources], dtype=np.int32), n_t)
    n = ids.size
    return binary_rows([(">i4", ids), (">i8", np.tile(micros, len(block.sources))),
                        (">f4", block.values.reshape(-1))], n), n


def raw_part(chunk: Chunk, meter_ids: dict[str, int], since: datetime) -> tuple[bytes, int]:
    """The chunk's meter readings after `since` (temperature excluded) for ``reading``."""
    keep = np.asarray(chunk.times >= since)
    micros = _pg_micros(np.asarray(chunk.times.as_unit("ns").asi8))[keep]
    ids, quantities, times, values = [], [], [], []
    for block in chunk.blocks:
        if block.quantity == Quantity.TEMPERATURE_C:
            continue
        rows, cols = np.nonzero(block.present[:, keep])
        source_ids = np.array([meter_ids[s] for s in block.sources], dtype=np.int32)
        ids.append(source_ids[rows])
        quantities.append(np.full(rows.size, int(block.quantity), dtype=np.int16))
        times.append(micros[cols])
        values.append(block.values[:, keep][rows, cols])
    if not ids:
        return b"", 0
    n = sum(a.size for a in ids)
    return binary_rows([(">i4", np.concatenate(ids)), (">i2", np.concatenate(quantities)),
                        (">i8", np.concatenate(times)), (">f8", np.concatenate(values))], n), n
