"""Writing what the utility exports hold: daily figures into ``consumption_day``, meters found by their number.

Thin I/O around the pure parsers (``ingest.enedis``, ``ingest.enedis_measures``,
``ingest.utility_daily``); used by ``ingest.importer``. Nothing here commits.

A day already stored is replaced by a later file's different figure (the later
export is the corrected one), except that an estimated figure never replaces a
measured one. Importing the same file twice changes nothing.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from zoneinfo import ZoneInfo

import psycopg

from ingest.csv_cells import local_midnight
from ingest.daily import DayFigure
from ingest.plain_csv import BadRow


@dataclass(frozen=True)
class DayCounts:
    """What storing daily figures did."""

    stored: int = 0
    corrected: int = 0
    unchanged: int = 0


def store_days(conn: psycopg.Connection, meter_id_of: dict[str, int] | int, figures: Iterable[DayFigure],
               tz: ZoneInfo, origin: str) -> DayCounts:
    """Upsert daily figures (``meter_id_of``: one meter id, or PRM → id for files naming a meter per row)."""
    rows = []
    for f in figures:
        meter_id = meter_id_of if isinstance(meter_id_of, int) else meter_id_of[f.meter or ""]
        rows.append((meter_id, local_midnight(f.day, tz), f.energy_kwh, f.volume_m3, f.estimated, origin))
    if not rows:
        return DayCounts()
    inserted = corrected = 0
    with conn.cursor() as cur:
        cur.executemany(
            "INSERT INTO consumption_day (meter_id, day, energy_kwh, volume_m3, estimated, origin)"
            " VALUES (%s, %s, %s, %s, %s, %s)"
            " ON CONFLICT (meter_id, day) DO UPDATE SET energy_kwh = excluded.energy_kwh,"
            "   volume_m3 = excluded.volume_m3, estimated = excluded.estimated, origin = excluded.origin,"
            "   imported_at = now()"
            " WHERE (consumption_day.estimated OR NOT excluded.estimated)"
            "   AND (consumption_day.energy_kwh, consumption_day.volume_m3, consumption_day.estimated)"
            "       IS DISTINCT FROM (excluded.energy_kwh, excluded.volume_m3, excluded.estimated)"
            " RETURNING (xmax = 0)",  # true for a new day, false for a corrected one; nothing when kept
            rows, returning=True,
        )
        while True:
            for (is_new,) in cur.fetchall():
                inserted += bool(is_new)
                corrected += not is_new
            if not cur.nextset():
                break
    return DayCounts(inserted, corrected, len(rows) - inserted - corrected)


def meters_by_source(conn: psycopg.Connection, sources: Iterable[str]) -> dict[str, tuple[int, str]]:
    """source → (meter id, kind) for the registered ones among ``sources``."""
    return {source: (meter_id, kind) for source, meter_id, kind in conn.execute(
        "SELECT source, id, kind FROM meter WHERE source = ANY(%s)", (sorted(set(sources)),)).fetchall()}


def unknown_meter_rows(lines: list[str], items: Iterable[tuple[int, str]], known: dict[str, tuple[int, str]],
                       kind: str) -> tuple[set[int], list[BadRow]]:
    """Lines whose meter (by PRM) is not registered or not of ``kind``, as bad rows naming it."""
    rejected: set[int] = set()
    bad: list[BadRow] = []
    for line, source in items:
        found = known.get(source)
        if found is not None and found[1] == kind:
            continue
        if not source:
            reason = "the row names no meter (no PRM column): pass --meter SOURCE"
        elif found is None:
            reason = f"no meter has source {source!r} (register it)"
        else:
            reason = f"meter {source!r} is a {found[1]} meter, this file measures {kind}"
        rejected.add(line)
        bad.append(BadRow(line, lines[line - 1] if 0 < line <= len(lines) else "", reason))
    return rejected, bad
