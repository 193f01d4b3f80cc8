"""One household's full file for an access request (GDPR art. 15): everything coopwatt keeps about one dwelling.

A zip holds ``household.json`` (registry, accounts, consents and their history, analytics results,
alerts and the notifications sent about them, the staff access log, follow-ups and erasure requests)
and the readings as CSV: raw readings, hourly and daily consumption. The JSON form carries the same
with the readings inline. Staff e-mail addresses and password hashes are not the household's data
and stay out.
"""

from __future__ import annotations

import csv
import io
import json
import zipfile
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import psycopg

from coopwatt.errors import CoopwattError

CONTRACT_NOTE = "coopwatt stores no contract: the membership contract is kept by the cooperative itself"
NOTIFICATION_NOTE = "sent to the building's alert recipients (their addresses are staff data, not included)"

# Sections of household.json: one query each, rows as JSON objects (columns chosen, no staff identifiers).
_SECTIONS: dict[str, str] = {
    "meters": "SELECT row_to_json(m) FROM (SELECT id, source, kind, mode FROM meter WHERE dwelling_id = %(d)s"
              " ORDER BY id) m",
    "accounts": "SELECT row_to_json(a) FROM (SELECT username, role, language, created_at, last_login_at"
                " FROM account WHERE dwelling_id = %(d)s ORDER BY id) a",
    "consent_history": "SELECT row_to_json(c) FROM (SELECT flow, granted, decided_at, recorded_by, paper_form,"
                       " text_version, recorded_at, withdrawn_at, withdrawn_by, withdrawal_choice,"
                       " granted AND withdrawn_at IS NULL AS in_force FROM consent WHERE dwelling_id = %(d)s"
                       " ORDER BY decided_at, id) c",
    "baselines": "SELECT row_to_json(b) FROM baseline b WHERE dwelling_id = %(d)s ORDER BY energy_kind",
    "suggestions": "SELECT row_to_json(s) FROM suggestion s WHERE dwelling_id = %(d)s",
    "high_consumer_ranking": "SELECT row_to_json(h) FROM high_consumer h WHERE dwelling_id = %(d)s",
    "comparisons": "SELECT row_to_json(c) FROM comparison_member c WHERE dwelling_id = %(d)s"
                   " ORDER BY period_end, energy_kind",
    "typical_day_groups": "SELECT row_to_json(p) FROM peer_day_member p WHERE dwelling_id = %(d)s"
                          " ORDER BY period_end, energy_kind",
    "interventions": "SELECT row_to_json(i) FROM intervention i WHERE dwelling_id = %(d)s ORDER BY day",
    "alerts": "SELECT row_to_json(a) FROM alert a WHERE dwelling_id = %(d)s ORDER BY started_at, id",
    "alert_actions": "SELECT row_to_json(x) FROM (SELECT x.alert_id, x.action, x.comment, x.acted_at"
                     " FROM alert_action x JOIN alert a ON a.id = x.alert_id WHERE a.dwelling_id = %(d)s"
                     " ORDER BY x.acted_at) x",
    "notifications": "SELECT row_to_json(n) FROM (SELECT n.alert_id, n.event, n.channel, n.created_at, n.sent_at,"
                     " n.gave_up_at FROM alert_notification n JOIN alert a ON a.id = n.alert_id"
                     " WHERE a.dwelling_id = %(d)s ORDER BY n.created_at) n",
    "access_log": "SELECT row_to_json(l) FROM (SELECT accessed_at, username, role, what, detail FROM access_log"
                  " WHERE dwelling_id = %(d)s ORDER BY accessed_at, id) l",
    "follow_ups": "SELECT row_to_json(f) FROM (SELECT status, note, created_at, updated_at FROM follow_up"
                  " WHERE dwelling_id = %(d)s ORDER BY created_at) f",
    "erasure_requests": "SELECT row_to_json(e) FROM (SELECT requested_at, status, handled_at, admin_note"
                        " FROM erasure_request WHERE dwelling_id = %(d)s ORDER BY requested_at) e",
}

# The readings, as CSV files of the zip (or lists in the JSON form): header, then the query.
READINGS: dict[str, tuple[tuple[str, ...], str]] = {
    "readings.csv": (("meter", "kind", "quantity", "unit", "time_utc", "value"),
                     "SELECT m.source, m.kind, q.name, q.unit, r.time, r.value FROM reading r"
                     " JOIN meter m ON m.id = r.meter_id JOIN quantity q ON q.id = r.quantity_id"
                     " WHERE m.dwelling_id = %(d)s ORDER BY m.source, q.name, r.time"),
    "consumption_hourly.csv": (("meter", "kind", "hour_utc", "energy_kwh", "volume_m3", "estimated"),
                               "SELECT m.source, m.kind, c.hour, c.energy_kwh, c.volume_m3, c.estimated"
                               " FROM consumption_hourly c JOIN meter m ON m.id = c.meter_id"
                               " WHERE m.dwelling_id = %(d)s ORDER BY m.source, c.hour"),
    "consumption_daily.csv": (("meter", "kind", "day_start_utc", "energy_kwh", "volume_m3", "hours",
                               "estimated_hours"),
                              "SELECT m.source, m.kind, c.day, c.energy_kwh, c.volume_m3, c.hours, c.estimated_hours"
                              " FROM consumption_daily_all c JOIN meter m ON m.id = c.meter_id"
                              # a list reaches inside the view, a join does not (dashboard/queries.py)
                              " WHERE c.meter_id = ANY(ARRAY(SELECT id FROM meter WHERE dwelling_id = %(d)s))"
                              " ORDER BY m.source, c.day"),
}


class UnknownDwelling(CoopwattError):
    """The dwelling asked for does not exist."""


def _value(value: object) -> object:
    return value.isoformat() if isinstance(value, datetime | date) else value


def household_file(conn: psycopg.Connection, dwelling_id: int, *, now: datetime | None = None) -> dict[str, Any]:
    """Everything but the readings, as one JSON-ready document."""
    registry = conn.execute(
        "SELECT row_to_json(x) FROM (SELECT d.id, d.code, d.floor_area_m2, d.heating_type, d.energy_label,"
        " d.occupants, b.code AS building_code, b.name AS building_name, r.code AS residence_code,"
        " r.name AS residence_name, r.city, r.postcode FROM dwelling d JOIN building b ON b.id = d.building_id"
        " JOIN residence r ON r.id = b.residence_id WHERE d.id = %s) x", (dwelling_id,)).fetchone()
    if registry is None:
        raise UnknownDwelling(f"no dwelling with id {dwelling_id}")
    document: dict[str, Any] = {
        "generated_at": (now or datetime.now(UTC)).isoformat(),
        "dwelling": registry[0],
        "contract": None,
        "contract_note": CONTRACT_NOTE,
    }
    for section, query in _SECTIONS.items():
        document[section] = [row[0] for row in conn.execute(query, {"d": dwelling_id}).fetchall()]
    document["consents_in_force"] = sorted(c["flow"] for c in document["consent_history"] if c["in_force"])
    document["notifications_note"] = NOTIFICATION_NOTE
    return document


def reading_rows(conn: psycopg.Connection, dwelling_id: int, name: str) -> Iterator[list[object]]:
    """The rows of one readings file, streamed with a server-side cursor."""
    _, query = READINGS[name]
    with conn.cursor(name="privacy_" + name.replace(".", "_")) as cursor:
        cursor.itersize = 5000
        cursor.execute(query, {"d": dwelling_id})
        for row in cursor:
            yield [_value(v) for v in row]


def write_zip(conn: psycopg.Connection, dwelling_id: int, path: Path) -> dict[str, int]:
    """Write the household's file as a zip; how many rows each readings file got."""
    counts: dict[str, int] = {}
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        document = household_file(conn, dwelling_id)
        for name, (header, _) in READINGS.items():
            with archive.open(name, "w") as raw, io.TextIOWrapper(raw, encoding="utf-8", newline="") as text:
                writer = csv.writer(text)
                writer.writerow(header)
                counts[name] = 0
                for row in reading_rows(conn, dwelling_id, name):
                    writer.writerow(row)
                    counts[name] += 1
        document["readings_files"] = counts
        archive.writestr("household.json", json.dumps(document, ensure_ascii=False, indent=2, default=str))
    return counts


def write_json(conn: psycopg.Connection, dwelling_id: int, out: io.TextIOBase) -> None:
    """Write the household's file as one JSON document, readings inline (lists of rows under their header)."""
    document = household_file(conn, dwelling_id)
    document["readings"] = {
        name.removesuffix(".csv"): {"columns": list(header), "rows": list(reading_rows(conn, dwelling_id, name))}
        for name, (header, _) in READINGS.items()
    }
    json.dump(document, out, ensure_ascii=False, indent=2, default=str)
    out.write("\n")
