"""Small builders for test data: a residence with meters, native coopwatt payloads."""

from __future__ import annotations

import json
from datetime import datetime, timedelta

import psycopg

from coopwatt.consent import FLOWS, record_decisions


def make_meters(url: str, sources: list[str], *, kind: str = "electricity", mode: str = "index",
                residence_code: str = "R1") -> dict[str, int]:
    """Create one residence, one building, a dwelling per source and its meter; return source → meter id."""
    with psycopg.connect(url) as conn:
        residence = conn.execute(
            "INSERT INTO residence (code, name) VALUES (%s, %s) ON CONFLICT (code) DO UPDATE SET name = excluded.name"
            " RETURNING id", (residence_code, "Résidence " + residence_code)).fetchone()[0]
        building = conn.execute(
            "INSERT INTO building (residence_id, code) VALUES (%s, 'A')"
            " ON CONFLICT (residence_id, code) DO UPDATE SET code = excluded.code RETURNING id",
            (residence,)).fetchone()[0]
        ids = {}
        for source in sources:
            dwelling = conn.execute(
                "INSERT INTO dwelling (building_id, code, floor_area_m2, heating_type) VALUES (%s, %s, 60, 'electric')"
                " RETURNING id", (building, "D-" + source)).fetchone()[0]
            consent_to_all(conn, dwelling)
            ids[source] = conn.execute(
                "INSERT INTO meter (dwelling_id, kind, mode, source, installed_at, reporting_period_s)"
                " VALUES (%s, %s, %s, %s, '2020-01-01', 60) RETURNING id",
                (dwelling, kind, mode, source)).fetchone()[0]
    return ids


def consent_to_all(conn: psycopg.Connection, dwelling_id: int, *, refused: tuple[str, ...] = ()) -> None:
    """The household consents online to every data flow but ``refused`` (the product's path; does not commit)."""
    record_decisions(conn, dwelling_id, {flow: flow not in refused for flow in FLOWS}, recorded_by="household")


def native_payload(time: datetime, index_kwh: float) -> bytes:
    """A native coopwatt message carrying one energy index."""
    return json.dumps({
        "time": time.isoformat(),
        "readings": [{"quantity": "energy_index", "value": index_kwh, "unit": "kWh"}],
    }).encode()


def index_stream(sources: list[str], start: datetime, count_per_source: int, *,
                 prefix: str = "") -> list[tuple[str, bytes, str, datetime]]:
    """Interleaved minute readings for several devices: (topic, payload, source, time)."""
    head = f"{prefix}/" if prefix else ""
    out = []
    for i in range(count_per_source):
        time = start + timedelta(minutes=i)
        for n, source in enumerate(sources):
            out.append((f"{head}coopwatt/{source}/reading", native_payload(time, 1000.0 * n + 0.01 * i), source, time))
    return out
