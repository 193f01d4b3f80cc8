"""The simulator writes its residence and history into the real PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import psycopg

from coopwatt.quantities import Quantity
from coopwatt.simulator.encode import iter_messages
from coopwatt.simulator.faults import plan_faults
from coopwatt.simulator.register import backfill_to_db, register_residences
from coopwatt.simulator.residence import make_residences
from coopwatt.simulator.series import Simulation, iter_chunks
from ingest.registry import Registry

START = datetime(2025, 1, 6, tzinfo=UTC)
END = START + timedelta(days=4)


def _counts(conn: psycopg.Connection) -> dict[str, int]:
    return {table: conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
            for table in ("residence", "building", "dwelling", "meter")}


def test_register_is_idempotent_and_matches_what_the_encoders_emit(migrated_db_url):
    residences = make_residences(70, 4, per_residence=40)
    with psycopg.connect(migrated_db_url) as conn:
        first = register_residences(conn, residences, installed_at=START - timedelta(days=1))
        conn.commit()
        counts = _counts(conn)
        again = register_residences(conn, residences, installed_at=START - timedelta(days=1))
        conn.commit()
        assert _counts(conn) == counts
        assert again == first
        assert counts == {"residence": 2, "building": sum(len(r.buildings) for r in residences),
                          "dwelling": 70, "meter": sum(len(r.meters) for r in residences)}
        # Building-level heat meters hang on their building, the others on a dwelling.
        rows = conn.execute("SELECT kind, dwelling_id IS NULL, building_id IS NULL, reporting_period_s, installed_at"
                            " FROM meter").fetchall()
        assert {(kind, no_dwelling, no_building) for kind, no_dwelling, no_building, _, _ in rows} <= {
            ("electricity", False, True), ("water", False, True), ("gas", False, True), ("heat", True, False)}
        assert all(period == 1800 and installed < START for *_, period, installed in rows)
        # Each simulated household has its supply contract, heures creuses when its water heater runs at night.
        contracts = dict(conn.execute("SELECT d.code || '@' || r.code, c.option FROM supply_contract c"
                                      " JOIN dwelling d ON d.id = c.dwelling_id JOIN building b ON b.id = d.building_id"
                                      " JOIN residence r ON r.id = b.residence_id").fetchall())
        assert contracts == {f"{d.code}@{d.residence_code}": "hphc" if d.offpeak_tariff else "base"
                             for r in residences for d in r.dwellings}
        registry = Registry()
        registry.load(conn)
    # Every source the simulator's messages carry is a registered meter or residence.
    sim = Simulation(residences, START, seed=4)
    chunk = sim.advance(START + timedelta(hours=2), 1800)
    meters = [m for r in residences for m in r.meters]
    sources = {r.source for timed in (False, True)
               for message in iter_messages(chunk, meters, timed=timed, tz=ZoneInfo("Europe/Paris"))
               for r in message.expected}
    temperature_sources = {s for s in sources if s.startswith("residence:")}
    assert {s.removeprefix("residence:") for s in temperature_sources} == set(registry.residences)
    assert sources - temperature_sources == set(registry.meters)


def test_backfill_to_db_stores_every_reading_once(migrated_db_url):
    residences = make_residences(40, 8, per_residence=25)
    faults = plan_faults(residences, START, END, 8)
    expected_readings = expected_temperatures = 0
    for chunk in iter_chunks(residences, START, END, seed=8, faults=faults, dwellings_per_chunk=10):
        expected_readings += chunk.reading_count
        expected_temperatures += chunk.block(Quantity.TEMPERATURE_C).values.size if chunk.block(
            Quantity.TEMPERATURE_C) else 0
    assert expected_readings > 40 * 4 * 48 * 2
    with psycopg.connect(migrated_db_url) as conn:
        registered = register_residences(conn, residences, installed_at=START - timedelta(days=1))
        conn.commit()
        result = backfill_to_db(conn, residences, registered, START, END, seed=8, faults=faults,
                                dwellings_per_chunk=10)
        assert result.chunks > 2
        assert (result.readings, result.temperatures) == (expected_readings, expected_temperatures)
        stored = conn.execute("SELECT count(*), min(time), max(time) FROM reading").fetchone()
        assert stored == (expected_readings, START + timedelta(minutes=30), END)
        assert conn.execute("SELECT count(*) FROM outdoor_temperature").fetchone()[0] == 2 * 4 * 48
        # Every meter has history and a pending consumption derivation.
        assert conn.execute("SELECT count(DISTINCT meter_id) FROM reading").fetchone()[0] == len(registered.meter_ids)
        assert conn.execute("SELECT count(*) FROM consumption_pending").fetchone()[0] == len(registered.meter_ids)
        # The silent meter really has a hole where the ground truth says.
        silent = next(f for f in faults if f.kind == "meter_silent")
        inside = conn.execute("SELECT count(*) FROM reading WHERE meter_id = %s AND time >= %s AND time < %s",
                              (registered.meter_ids[silent.meter_source], silent.start,
                               silent.end or END)).fetchone()[0]
        assert inside == 0
        # Running it again stores nothing new.
        again = backfill_to_db(conn, residences, registered, START, END, seed=8, faults=faults)
        assert (again.readings, again.temperatures) == (0, 0)
