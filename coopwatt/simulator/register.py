"""Write a simulated cooperative into the database: its residences and meters, and (for benchmarks) its history.

Registration is idempotent: running it again updates the same rows. The history
goes straight in through the ingester's own COPY path (``ingest.store``), which is
how analytics tests and benchmarks get a year of data without going through MQTT.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime

from zoneinfo import ZoneInfo

import numpy as np
import psycopg

from coopwatt.consent import FLOWS, meter_collections, record_first_decisions
from coopwatt.consent import Collection as ConsentCollection
from coopwatt.quantities import Quantity
from coopwatt.simulator.faults import Fault
from coopwatt.simulator.residence import Dwelling, Residence
from coopwatt.simulator.series import GAS_KWH_PER_M3, Chunk, iter_chunks
from ingest.consent_gate import gate_import_rows
from coopwatt.tariffs import DEFAULT_OFFPEAK_HOURS, SupplyContract
from ingest.store import ReadingRow, TemperatureRow, store_readings, store_temperatures

DEFAULT_REPORTING_PERIOD_S = 1800


@dataclass(frozen=True)
class Registered:
    """Database ids of what was registered."""

    residence_ids: dict[str, int]  # residence code → id
    dwelling_ids: dict[tuple[str, str], int]  # (residence code, dwelling code) → id
    meter_ids: dict[str, int]  # meter source → id


def register_residences(conn: psycopg.Connection, residences: Sequence[Residence], *, installed_at: datetime,
                        reporting_period_s: int = DEFAULT_REPORTING_PERIOD_S,
                        refused: Mapping[tuple[str, str], Collection[str]] | None = None) -> Registered:
    """Create or update residences, buildings, dwellings and meters; return their ids. Does not commit.

    Each simulated household consents online to every data flow but those ``refused`` ((residence code,
    dwelling code) → flows), recorded once: registering again keeps what was decided since.
    """
    residence_ids = dict(conn.execute(
        "INSERT INTO residence (code, name, district, city, postcode)"
        " SELECT * FROM unnest(%s::text[], %s::text[], %s::text[], %s::text[], %s::text[])"
        " ON CONFLICT (code) DO UPDATE SET name = excluded.name, district = excluded.district,"
        " city = excluded.city, postcode = excluded.postcode RETURNING code, id",
        ([r.code for r in residences], [r.name for r in residences], [r.district for r in residences],
         [r.city for r in residences], [r.postcode for r in residences]),
    ).fetchall())
    buildings = [(r.code, b) for r in residences for b in r.buildings]
    building_rows = conn.execute(
        "INSERT INTO building (residence_id, code, name, construction_year)"
        " SELECT * FROM unnest(%s::int[], %s::text[], %s::text[], %s::int[])"
        " ON CONFLICT (residence_id, code) DO UPDATE SET name = excluded.name,"
        " construction_year = excluded.construction_year RETURNING residence_id, code, id",
        ([residence_ids[rc] for rc, _ in buildings], [b.code for _, b in buildings],
         [b.name for _, b in buildings], [b.construction_year for _, b in buildings]),
    ).fetchall()
    code_of_residence = {rid: code for code, rid in residence_ids.items()}
    building_ids = {(code_of_residence[rid], code): bid for rid, code, bid in building_rows}
    dwellings = [d for r in residences for d in r.dwellings]
    dwelling_rows = conn.execute(
        "INSERT INTO dwelling (building_id, code, floor_area_m2, heating_type, energy_label, occupants)"
        " SELECT * FROM unnest(%s::int[], %s::text[], %s::real[], %s::text[], %s::text[], %s::smallint[])"
        " ON CONFLICT (building_id, code) DO UPDATE SET floor_area_m2 = excluded.floor_area_m2,"
        " heating_type = excluded.heating_type, energy_label = excluded.energy_label,"
        " occupants = excluded.occupants RETURNING building_id, code, id",
        ([building_ids[(d.residence_code, d.building_code)] for d in dwellings], [d.code for d in dwellings],
         [d.floor_area_m2 for d in dwellings], [d.heating_type for d in dwellings],
         [d.energy_label for d in dwellings], [d.occupants for d in dwellings]),
    ).fetchall()
    residence_of_building = {bid: rc for (rc, _), bid in building_ids.items()}
    dwelling_ids = {(residence_of_building[bid], code): did for bid, code, did in dwelling_rows}
    refused = refused or {}
    record_first_decisions(conn, {did: {flow: flow not in refused.get(key, ()) for flow in FLOWS}
                                  for key, did in dwelling_ids.items()}, recorded_by="household",
                           # Decided when the meters came, before the history they let the cooperative collect.
                           decided_at=installed_at)
    _register_contracts(conn, dwellings, dwelling_ids, installed_at.date())
    meters = [m for r in residences for m in r.meters]
    meter_rows = conn.execute(
        "INSERT INTO meter (dwelling_id, building_id, kind, mode, source, format, installed_at, reporting_period_s)"
        " SELECT d, b, k, 'index', s, f, %s, %s"
        " FROM unnest(%s::int[], %s::int[], %s::text[], %s::text[], %s::text[]) AS t(d, b, k, s, f)"
        " ON CONFLICT (source) DO UPDATE SET dwelling_id = excluded.dwelling_id,"
        " building_id = excluded.building_id, kind = excluded.kind, mode = excluded.mode,"
        " format = excluded.format, reporting_period_s = excluded.reporting_period_s,"
        # Never move an installation date later than readings already stored.
        " installed_at = least(meter.installed_at, excluded.installed_at)"
        " RETURNING source, id",
        (installed_at, reporting_period_s,
         [dwelling_ids[(m.residence_code, m.dwelling_code)] if m.dwelling_code else None for m in meters],
         [None if m.dwelling_code else building_ids[(m.residence_code, m.building_code)] for m in meters],
         [m.kind for m in meters], [m.source for m in meters], [m.format for m in meters]),
    ).fetchall()
    return Registered(residence_ids=residence_ids, dwelling_ids=dwelling_ids, meter_ids=dict(meter_rows))


def contract_of(dwelling: Dwelling, since: date) -> SupplyContract:
    """The simulated household's supply contract: heures creuses 22–6 when its water heater runs at night."""
    kva = 9 if dwelling.heating_type == "electric" else 6  # electric heating needs the larger power
    if dwelling.offpeak_tariff:
        return SupplyContract(since, "hphc", kva, DEFAULT_OFFPEAK_HOURS)
    return SupplyContract(since, "base", kva)


def _register_contracts(conn: psycopg.Connection, dwellings: Sequence[Dwelling],
                        dwelling_ids: dict[tuple[str, str], int], since: date) -> None:
    """Each simulated dwelling's contract from the start of its history (replaced if simulated again)."""
    contracts = [contract_of(d, since) for d in dwellings]
    ids = [dwelling_ids[(d.residence_code, d.code)] for d in dwellings]
    conn.execute("DELETE FROM supply_contract WHERE dwelling_id = ANY(%s)", (ids,))
    conn.execute(
        "INSERT INTO supply_contract (dwelling_id, valid_from, option, subscribed_kva, offpeak_hours)"
        " SELECT d, %s, o, k, CASE WHEN o = 'hphc' THEN %s::smallint[] END"
        " FROM unnest(%s::int[], %s::text[], %s::smallint[]) AS t(d, o, k)",
        (since, list(DEFAULT_OFFPEAK_HOURS), ids, [c.option for c in contracts], [c.subscribed_kva for c in contracts]),
    )


def reading_rows(chunk: Chunk, meter_ids: dict[str, int], *,
                 quantities: Collection[Quantity] | None = None) -> Iterator[ReadingRow]:
    """The chunk's meter readings as (meter id, quantity id, time, value) rows for COPY."""
    times = np.asarray(chunk.times.to_pydatetime(), dtype=object)
    for block in chunk.blocks:
        if block.quantity == Quantity.TEMPERATURE_C or (quantities is not None and block.quantity not in quantities):
            continue
        ids = np.array([meter_ids.get(s, -1) for s in block.sources], dtype=np.int64)
        missing = [s for s, i in zip(block.sources, ids, strict=True) if i < 0]
        if missing:
            raise KeyError(f"meters not registered: {', '.join(missing[:5])}")
        rows, cols = np.nonzero(block.present)
        yield from zip(ids[rows].tolist(), [int(block.quantity)] * rows.size, times[cols].tolist(),
                       block.values[rows, cols].tolist(), strict=True)


def temperature_rows(chunk: Chunk, residence_ids: dict[str, int]) -> Iterator[TemperatureRow]:
    """The chunk's outdoor temperatures as (residence id, time, °C) rows."""
    block = chunk.block(Quantity.TEMPERATURE_C)
    if block is None:
        return
    times = chunk.times.to_pydatetime()
    for row, code in enumerate(block.sources):
        rid = residence_ids[code]
        yield from ((rid, t, v) for t, v in zip(times, block.values[row].tolist(), strict=True))


@dataclass(frozen=True)
class BackfillResult:
    """What a backfill wrote."""

    readings: int
    temperatures: int
    chunks: int


def backfill_to_db(conn: psycopg.Connection, residences: Sequence[Residence], registered: Registered,
                   start: datetime, end: datetime, *, seed: int, faults: Sequence[Fault] = (),
                   step_s: int = 1800, dwellings_per_chunk: int = 40, timezone: str = "Europe/Paris",
                   gas_kwh_per_m3: float = GAS_KWH_PER_M3, quantities: Collection[Quantity] | None = None,
                   on_chunk: Callable[[int, int], None] | None = None) -> BackfillResult:
    """Generate readings after `start` up to `end` and store them, committing after each chunk of buildings."""
    readings = temperatures = chunks = 0
    for chunk in iter_chunks(residences, start, end, seed=seed, faults=faults, step_s=step_s,
                             dwellings_per_chunk=dwellings_per_chunk, timezone=timezone,
                             gas_kwh_per_m3=gas_kwh_per_m3):
        # One transaction per chunk keeps each COPY, and the WAL it writes, bounded.
        readings += store_consented(conn, reading_rows(chunk, registered.meter_ids, quantities=quantities), timezone)
        temperatures += store_temperatures(conn, temperature_rows(chunk, registered.residence_ids))
        conn.commit()
        chunks += 1
        if on_chunk is not None:
            on_chunk(chunks, readings)
    return BackfillResult(readings=readings, temperatures=temperatures, chunks=chunks)


def store_chunk(conn: psycopg.Connection, chunk: Chunk, registered: Registered, timezone: str = "Europe/Paris") -> int:
    """Store one chunk's readings that the households consented to; does not commit."""
    return store_consented(conn, reading_rows(chunk, registered.meter_ids), timezone)


def store_consented(conn: psycopg.Connection, rows: Iterable[ReadingRow], timezone: str) -> int:
    """Store the rows households consented to, as the importers do (``ingest.consent_gate``); does not commit.

    The simulated history is a backfill like an import: a household that refused the load curve gets one
    index a day, one that refused a flow gets none of it.
    """
    collections = {mid: c for mid, c in meter_collections(conn).items() if c is not ConsentCollection.FULL}
    if not collections:
        return store_readings(conn, rows)
    return store_readings(conn, gate_import_rows(rows, collections, ZoneInfo(timezone)).kept)
