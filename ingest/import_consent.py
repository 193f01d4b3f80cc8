"""Imports follow consent: what a file may store of each meter, and the dead letters of what it may not.

Thin I/O around ``ingest.consent_gate``; used by ``ingest.importer``. The consents are read once per file
(one query). A meter whose household gave no consent to its flow stores nothing: one dead letter per
meter and file says how many rows and why, never a value. A meter allowed daily values only keeps one
index a day, and its load curve (Enedis) becomes daily totals in ``consumption_day``. Nothing here commits.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import psycopg

from coopwatt.consent import Collection, meter_collections
from ingest.consent_gate import ImportGate, gate_import_rows, local_day, refusal_reason
from ingest.daily import DayFigure
from ingest.store import ReadingRow, store_dead_letters


@dataclass
class FileConsent:
    """The consents that apply to one file's meters."""

    collections: dict[int, Collection]
    sources: dict[int, tuple[str, str]]  # meter id → (source, kind)

    def of(self, meter_id: int) -> Collection:
        """What the meter may store."""
        return self.collections.get(meter_id, Collection.FULL)


def file_consent(conn: psycopg.Connection, meter_ids: Iterable[int]) -> FileConsent:
    """Read the consents of the meters a file names (two queries, whatever the file's size)."""
    ids = sorted(set(meter_ids))
    sources = {mid: (source, kind) for mid, source, kind in conn.execute(
        "SELECT id, source, kind FROM meter WHERE id = ANY(%s)", (ids,)).fetchall()}
    return FileConsent(meter_collections(conn, ids), sources)


def gate_rows(conn: psycopg.Connection, path: Path, rows: list[ReadingRow], consent: FileConsent,
              tz: ZoneInfo) -> ImportGate:
    """The rows the file may store; the refused ones are counted in dead letters (without values)."""
    gate = gate_import_rows(rows, consent.collections, tz)
    refuse(conn, path, gate.refused, consent)
    return gate


def refuse(conn: psycopg.Connection, path: Path, refused: dict[int, int], consent: FileConsent) -> None:
    """One dead letter per meter whose rows were not stored for want of consent (none twice for one file)."""
    if not refused:
        return
    known = {r[0] for r in conn.execute(
        "SELECT reason FROM dead_letter WHERE source = 'import' AND topic = %s AND payload IS NULL", (path.name,))}
    now = datetime.now(UTC)
    letters = []
    for meter_id, count in sorted(refused.items()):
        source, kind = consent.sources[meter_id]
        reason = f"{count} row(s) " + refusal_reason(source, kind)
        if reason not in known:
            letters.append(("import", path.name, None, reason, now))
    store_dead_letters(conn, letters)


def daily_totals(intervals: Iterable[tuple[datetime, float, float | None]], tz: ZoneInfo) -> list[DayFigure]:
    """Interval energies (end time, kWh, step in minutes or None) summed per local day of their start.

    A day whose steps do not cover all its hours (23 or 25 at DST changes), or whose steps are unknown, is
    marked estimated: its total is what was measured, not a whole day's.
    """
    energy: dict[date, float] = defaultdict(float)
    covered_min: dict[date, float] = defaultdict(float)
    unknown: set[date] = set()
    for end, kwh, step_min in intervals:
        start = end - timedelta(minutes=step_min) if step_min else end - timedelta(microseconds=1)
        day = local_day(start, tz)
        energy[day] += kwh
        if step_min:
            covered_min[day] += step_min
        else:
            unknown.add(day)
    figures = []
    for day in sorted(energy):
        following = day + timedelta(days=1)
        # In UTC: two datetimes sharing a tzinfo subtract as wall-clock times, which hides a DST change.
        length_min = (datetime(following.year, following.month, following.day, tzinfo=tz).astimezone(UTC)
                      - datetime(day.year, day.month, day.day, tzinfo=tz).astimezone(UTC)).total_seconds() / 60
        complete = day not in unknown and abs(covered_min[day] - length_min) < 1e-6
        figures.append(DayFigure(line=0, day=day, energy_kwh=energy[day], estimated=not complete))
    return figures
