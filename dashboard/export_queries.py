"""The SQL behind the CSV exports: raw readings and daily use of a dwelling's (or a building's own) meters over a range.

Streamed with server-side cursors; each row carries what says whether it can be believed
(estimated by a utility or spread over a gap, suspect after a frozen index, a reset or a spike).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import NamedTuple

import psycopg

# Whose meters an export covers: a dwelling's, or a building's own (collective) meters, never its dwellings'.
_METERS_OF = {
    "dwelling": "m.dwelling_id = %(owner)s",
    "building": "m.building_id = %(owner)s AND m.dwelling_id IS NULL",
}
_ROWS_PER_FETCH = 5000


class ReadingRow(NamedTuple):
    """One raw reading and whether it was estimated (by the utility) or falls in a suspect hour."""

    meter: str
    kind: str
    quantity: str
    unit: str
    time: datetime
    value: float
    estimated: bool
    suspect: bool


class DailyRow(NamedTuple):
    """One meter's use over one local day, with how many of its hours were read, estimated and suspect."""

    meter: str
    kind: str
    day: object  # datetime.date
    energy_kwh: float | None
    volume_m3: float | None
    hours: int
    estimated_hours: int
    suspect_hours: int


def iter_readings(conn: psycopg.Connection, owner_id: int, owner: str, since: datetime,
                  until: datetime) -> Iterator[ReadingRow]:
    """Raw readings in [since, until) per meter, quantity and time."""
    with conn.cursor(name="export_readings") as cursor:
        cursor.itersize = _ROWS_PER_FETCH
        cursor.execute(
            """
            SELECT m.source, m.kind, q.name, q.unit, r.time, r.value,
                   EXISTS (SELECT 1 FROM reading_estimated e
                            WHERE e.meter_id = r.meter_id AND e.quantity_id = r.quantity_id AND e.time = r.time),
                   EXISTS (SELECT 1 FROM consumption_suspect s
                            WHERE s.meter_id = r.meter_id AND s.hour = date_trunc('hour', r.time))
            FROM reading r JOIN meter m ON m.id = r.meter_id JOIN quantity q ON q.id = r.quantity_id
            WHERE """ + _METERS_OF[owner] + """ AND r.time >= %(since)s AND r.time < %(until)s
            ORDER BY m.source, q.name, r.time
            """,
            {"owner": owner_id, "since": since, "until": until},
        )
        for row in cursor:
            yield ReadingRow(*row)


def iter_daily(conn: psycopg.Connection, owner_id: int, owner: str, since: datetime, until: datetime, *,
               timezone: str) -> Iterator[DailyRow]:
    """Daily use per meter over the local days starting in [since, until), oldest first."""
    with conn.cursor(name="export_daily") as cursor:
        cursor.itersize = _ROWS_PER_FETCH
        cursor.execute(
            """
            SELECT m.source, m.kind, (cd.day AT TIME ZONE %(tz)s)::date, cd.energy_kwh, cd.volume_m3,
                   cd.hours, cd.estimated_hours, cd.suspect_hours
            FROM consumption_daily_all cd JOIN meter m ON m.id = cd.meter_id
            -- the meters as a list, which reaches inside the view (see dashboard/queries.py)
            WHERE cd.meter_id = ANY(ARRAY(SELECT m.id FROM meter m WHERE """ + _METERS_OF[owner] + """))
              AND cd.day >= %(since)s AND cd.day < %(until)s
            ORDER BY m.source, cd.day
            """,
            {"owner": owner_id, "since": since, "until": until, "tz": timezone},
        )
        for row in cursor:
            yield DailyRow(*row)
