"""``coopwatt registry import``: residences, buildings, dwellings and meters from one CSV file.

One line per meter::

    residence,building,dwelling,floor_area_m2,heating_type,meter_source,meter_kind,meter_mode

and, optionally, the household's consents from its signed paper form (``coopwatt.consent``):
``consent_granted`` and ``consent_refused`` (data flows separated by spaces or ``|``), ``consent_form``
(the form's reference, required with them) and ``consent_date`` (YYYY-MM-DD). They are recorded by the
staff account given with ``--staff``. A dwelling without consents is registered but not collected
until its household decides (online, or on paper: ``coopwatt consent record``).
and, optionally, the dwelling's electricity supply contract (migration 0015)::

    contract_option,subscribed_kva,offpeak_hours,contract_from

``contract_option`` is ``base``, ``hphc`` (heures creuses: ``offpeak_hours`` such as ``22-6`` or
``1-6+12-14``, local hours) or ``tempo``; ``subscribed_kva`` 3 to 36; ``contract_from`` the day
it started (YYYY-MM-DD; empty: the day of the import). A contract of another day is kept beside
the earlier ones: a household's contract history is dated. Empty contract columns change nothing.

A collective meter (building heat, a building's water inlet) leaves ``dwelling``,
``floor_area_m2`` and ``heating_type`` empty. The separator may be ``,`` or ``;`` (then a
decimal comma is accepted). Importing is idempotent: the same file twice changes nothing;
a meter whose source exists already is moved to the dwelling, kind and mode of the file.
Bad lines are reported with their line number and reason; the good ones are imported.
"""

from __future__ import annotations

import argparse
import csv
import io
import sys
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import psycopg

from coopwatt.consent import FLOWS, ConsentError, record_decisions
from coopwatt.device_ids import meter_source_problem
from coopwatt.settings import Settings
from coopwatt.tariffs import OPTIONS, SupplyContract, parse_offpeak_hours

COLUMNS = ("residence", "building", "dwelling", "floor_area_m2", "heating_type",
           "meter_source", "meter_kind", "meter_mode")
HEATING_TYPES = ("electric", "gas", "collective", "heat_pump", "district", "other")
METER_KINDS = ("electricity", "gas", "water", "heat")
METER_MODES = ("index", "interval")
CONSENT_COLUMNS = ("consent_granted", "consent_refused", "consent_form", "consent_date")
CONTRACT_COLUMNS = ("contract_option", "subscribed_kva", "offpeak_hours", "contract_from")


@dataclass(frozen=True)
class RegistryRow:
    """One valid line: a meter and where it belongs."""

    line: int
    residence: str
    building: str
    dwelling: str | None
    floor_area_m2: float | None
    heating_type: str | None
    meter_source: str
    meter_kind: str
    meter_mode: str
    consents: tuple[tuple[str, bool], ...] = ()  # (flow, granted) from the paper form
    consent_form: str | None = None
    consent_date: date | None = None
    contract: SupplyContract | None = None


@dataclass(frozen=True)
class RowError:
    """A line that was not imported, and why."""

    line: int
    reason: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.reason}"


@dataclass
class ImportCounts:
    """What an import created or changed, per kind of record."""

    created: dict[str, int] = field(default_factory=lambda: dict.fromkeys(
        ("residence", "building", "dwelling", "meter", "contract"), 0))
    updated: dict[str, int] = field(default_factory=lambda: dict.fromkeys(("dwelling", "meter", "contract"), 0))
    consents: int = 0  # decisions read from paper forms (those already recorded are not recorded again)

    def summary(self) -> str:
        """One line for people: what was created and updated."""
        created = ", ".join(f"{n} {kind}(s)" for kind, n in self.created.items())
        updated = ", ".join(f"{n} {kind}(s)" for kind, n in self.updated.items())
        return f"created {created}; updated {updated}" + (f"; {self.consents} consent decision(s)"
                                                           if self.consents else "")


def _number(text: str, decimal_comma: bool) -> float:
    return float(text.replace(",", ".") if decimal_comma else text)


def _check_contract(value: dict[str, str], today: date) -> SupplyContract | str | None:
    """The line's supply contract, None when its columns are empty, or what is wrong with them."""
    if not any(value[column] for column in CONTRACT_COLUMNS):
        return None
    option = value["contract_option"]
    if option not in OPTIONS:
        return f"contract_option {option!r} is not one of {', '.join(OPTIONS)}"
    if not value["subscribed_kva"].isdigit() or not 3 <= int(value["subscribed_kva"]) <= 36:
        return f"subscribed_kva {value['subscribed_kva']!r} must be a whole number of kVA from 3 to 36"
    hours = None
    if option == "hphc":
        try:
            hours = parse_offpeak_hours(value["offpeak_hours"])
        except ValueError:
            return f"offpeak_hours {value['offpeak_hours']!r} must be local hours like 22-6 or 1-6+12-14"
    elif value["offpeak_hours"]:
        return f"offpeak_hours belong to an hphc contract, not {option}"
    try:
        start = date.fromisoformat(value["contract_from"]) if value["contract_from"] else today
    except ValueError:
        return f"contract_from {value['contract_from']!r} is not a day like 2025-08-01"
    return SupplyContract(start, option, int(value["subscribed_kva"]), hours)


def _check_row(line: int, record: dict[str, str], decimal_comma: bool, today: date) -> RegistryRow | RowError:
    """Validate one CSV record (pure)."""
    value = {column: (record.get(column) or "").strip() for column in COLUMNS + CONTRACT_COLUMNS}
    for column in ("residence", "building", "meter_source", "meter_kind", "meter_mode"):
        if not value[column]:
            return RowError(line, f"{column} is empty")
    problem = meter_source_problem(value["meter_source"])
    if problem is not None:
        return RowError(line, f"meter_source: {problem}")
    if value["meter_kind"] not in METER_KINDS:
        return RowError(line, f"meter_kind {value['meter_kind']!r} is not one of {', '.join(METER_KINDS)}")
    if value["meter_mode"] not in METER_MODES:
        return RowError(line, f"meter_mode {value['meter_mode']!r} is not one of {', '.join(METER_MODES)}")
    consents = _check_consents(line, {c: (record.get(c) or "").strip() for c in CONSENT_COLUMNS})
    if isinstance(consents, RowError):
        return consents
    if not value["dwelling"]:
        if value["floor_area_m2"] or value["heating_type"] or any(value[c] for c in CONTRACT_COLUMNS):
            return RowError(line, "a collective meter (no dwelling) takes no floor_area_m2, heating_type nor contract")
        if consents[0]:
            return RowError(line, "a collective meter (no dwelling) takes no consent: households consent")
        return RegistryRow(line, value["residence"], value["building"], None, None, None,
                           value["meter_source"], value["meter_kind"], value["meter_mode"])
    try:
        area_m2 = _number(value["floor_area_m2"], decimal_comma)
    except ValueError:
        return RowError(line, f"floor_area_m2 {value['floor_area_m2']!r} is not a number")
    if not area_m2 > 0 or area_m2 > 10_000:
        return RowError(line, f"floor_area_m2 {value['floor_area_m2']!r} must be between 0 and 10000 m²")
    if value["heating_type"] not in HEATING_TYPES:
        return RowError(line, f"heating_type {value['heating_type']!r} is not one of {', '.join(HEATING_TYPES)}")
    contract = _check_contract(value, today)
    if isinstance(contract, str):
        return RowError(line, contract)
    return RegistryRow(line, value["residence"], value["building"], value["dwelling"], area_m2,
                       value["heating_type"], value["meter_source"], value["meter_kind"], value["meter_mode"],
                       *consents, contract)


def _check_consents(line: int, value: dict[str, str]) -> tuple[tuple[tuple[str, bool], ...], str | None,
                                                                  date | None] | RowError:
    """The paper form's decisions of one line (pure)."""
    decisions: dict[str, bool] = {}
    for column, granted in (("consent_granted", True), ("consent_refused", False)):
        for flow in value[column].replace("|", " ").split():
            if flow not in FLOWS:
                return RowError(line, f"{column}: {flow!r} is not one of {', '.join(FLOWS)}")
            if decisions.get(flow, granted) != granted:
                return RowError(line, f"{flow} is both granted and refused")
            decisions[flow] = granted
    if not decisions:
        return (), None, None
    if not value["consent_form"]:
        return RowError(line, "consents need consent_form: the signed paper form's reference")
    try:
        day = date.fromisoformat(value["consent_date"]) if value["consent_date"] else None
    except ValueError:
        return RowError(line, f"consent_date {value['consent_date']!r} is not a date (YYYY-MM-DD)")
    return tuple(decisions.items()), value["consent_form"], day


def parse_registry(text: str, today: date | None = None) -> tuple[list[RegistryRow], list[RowError]]:
    """Valid rows and the errors of the others, with line numbers (pure; no database)."""
    today = today or date.today()
    first_line = text.lstrip("\ufeff").split("\n", 1)[0]
    delimiter = ";" if first_line.count(";") > first_line.count(",") else ","
    reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff")), delimiter=delimiter)
    header = [name.strip() for name in reader.fieldnames or []]
    missing = [column for column in COLUMNS if column not in header]
    if missing:
        return [], [RowError(1, f"missing column(s): {', '.join(missing)} (expected {','.join(COLUMNS)})")]
    reader.fieldnames = header

    rows: list[RegistryRow] = []
    errors: list[RowError] = []
    meters: dict[str, RegistryRow] = {}
    dwellings: dict[tuple[str, str, str], RegistryRow] = {}
    for record in reader:
        line = reader.line_num
        if not any((v or "").strip() for v in record.values() if isinstance(v, str)):
            continue
        checked = _check_row(line, record, delimiter == ";", today)
        if isinstance(checked, RowError):
            errors.append(checked)
            continue
        earlier = meters.get(checked.meter_source)
        if earlier is not None:
            errors.append(RowError(line, f"meter_source {checked.meter_source!r} already on line {earlier.line}"))
            continue
        if checked.dwelling is not None:
            key = (checked.residence, checked.building, checked.dwelling)
            first = dwellings.setdefault(key, checked)
            if (first.floor_area_m2, first.heating_type) != (checked.floor_area_m2, checked.heating_type):
                errors.append(RowError(line, f"dwelling {'/'.join(key)} has another floor area or heating "
                                             f"type on line {first.line}"))
                continue
            if checked.contract is not None and first.contract is not None and checked.contract != first.contract:
                errors.append(RowError(line, f"dwelling {'/'.join(key)} has another contract on line {first.line}"))
                continue
            if first.contract is None and checked.contract is not None:
                dwellings[key] = checked  # the line that carries the dwelling's contract
        meters[checked.meter_source] = checked
        rows.append(checked)
    return rows, errors


def import_registry(conn: psycopg.Connection, rows: Iterable[RegistryRow], *, staff_account: int | None = None,
                    tz: ZoneInfo | None = None) -> ImportCounts:
    """Create or update the records of `rows` in one transaction (the caller commits).

    Consents on a line are recorded as decided on paper by ``staff_account`` (required then).
    """
    counts = ImportCounts()
    rows = list(rows)
    # Counted only when the file has consents: a database before migration 0013 has no consent table.
    records_before = _consent_records(conn) if any(r.consents for r in rows) else 0
    with_consents: set[tuple[str, str, str]] = set()
    residence_ids: dict[str, int] = {}
    building_ids: dict[tuple[str, str], int] = {}
    dwelling_ids: dict[tuple[str, str, str], int] = {}
    for row in rows:
        if row.residence not in residence_ids:
            residence_ids[row.residence], created = _upsert_returning(
                conn, "INSERT INTO residence (code, name) VALUES (%s, %s) ON CONFLICT (code) DO NOTHING RETURNING id",
                (row.residence, row.residence), "SELECT id FROM residence WHERE code = %s", (row.residence,))
            counts.created["residence"] += created
        building_key = (row.residence, row.building)
        if building_key not in building_ids:
            residence_id = residence_ids[row.residence]
            building_ids[building_key], created = _upsert_returning(
                conn, "INSERT INTO building (residence_id, code) VALUES (%s, %s) "
                      "ON CONFLICT (residence_id, code) DO NOTHING RETURNING id",
                (residence_id, row.building),
                "SELECT id FROM building WHERE residence_id = %s AND code = %s", (residence_id, row.building))
            counts.created["building"] += created
        building_id = building_ids[building_key]

        dwelling_id = None
        if row.dwelling is not None:
            dwelling_key = (row.residence, row.building, row.dwelling)
            if dwelling_key not in dwelling_ids:
                changed = conn.execute(
                    "INSERT INTO dwelling (building_id, code, floor_area_m2, heating_type) VALUES (%s, %s, %s, %s) "
                    "ON CONFLICT (building_id, code) DO UPDATE SET floor_area_m2 = excluded.floor_area_m2, "
                    "heating_type = excluded.heating_type "
                    "WHERE (dwelling.floor_area_m2, dwelling.heating_type) "
                    "IS DISTINCT FROM (excluded.floor_area_m2, excluded.heating_type) "
                    "RETURNING id, (xmax = 0) AS inserted",
                    (building_id, row.dwelling, row.floor_area_m2, row.heating_type),
                ).fetchone()
                if changed is None:
                    found = conn.execute("SELECT id FROM dwelling WHERE building_id = %s AND code = %s",
                                         (building_id, row.dwelling)).fetchone()
                    assert found is not None
                    dwelling_ids[dwelling_key] = found[0]
                else:
                    dwelling_ids[dwelling_key] = changed[0]
                    (counts.created if changed[1] else counts.updated)["dwelling"] += 1
            dwelling_id = dwelling_ids[dwelling_key]
            if row.consents and dwelling_key not in with_consents:
                with_consents.add(dwelling_key)  # one form per dwelling, repeated on each of its meters' lines
                if staff_account is None:
                    raise ConsentError("the file records consents: name the staff account recording them (--staff)")
                decided = (datetime.combine(row.consent_date, datetime.min.time(), tz or UTC)
                           if row.consent_date else None)
                record_decisions(conn, dwelling_id, dict(row.consents), recorded_by="staff",
                                 account_id=staff_account, paper_form=row.consent_form, decided_at=decided)
            if row.contract is not None:
                _upsert_contract(conn, dwelling_id, row.contract, counts)

        # A dwelling's meter is tied to the dwelling; a collective meter to the building.
        meter_building_id = None if dwelling_id is not None else building_id
        changed = conn.execute(
            "INSERT INTO meter (dwelling_id, building_id, kind, mode, source) VALUES (%s, %s, %s, %s, %s) "
            "ON CONFLICT (source) DO UPDATE SET dwelling_id = excluded.dwelling_id, "
            "building_id = excluded.building_id, kind = excluded.kind, mode = excluded.mode, auto_registered = false "
            "WHERE (meter.dwelling_id, meter.building_id, meter.kind, meter.mode, meter.auto_registered) "
            "IS DISTINCT FROM (excluded.dwelling_id, excluded.building_id, excluded.kind, excluded.mode, false) "
            "RETURNING (xmax = 0) AS inserted",
            (dwelling_id, meter_building_id, row.meter_kind, row.meter_mode, row.meter_source),
        ).fetchone()
        if changed is not None:
            (counts.created if changed[0] else counts.updated)["meter"] += 1
    if with_consents:
        counts.consents = _consent_records(conn) - records_before
    return counts


def _consent_records(conn: psycopg.Connection) -> int:
    row = conn.execute("SELECT count(*) FROM consent").fetchone()
    return int(row[0]) if row else 0
def _upsert_contract(conn: psycopg.Connection, dwelling_id: int, contract: SupplyContract,
                     counts: ImportCounts) -> None:
    """The dwelling's contract from its day on: the same day again replaces it, another day adds one."""
    changed = conn.execute(
        "INSERT INTO supply_contract (dwelling_id, valid_from, option, subscribed_kva, offpeak_hours)"
        " VALUES (%s, %s, %s, %s, %s) ON CONFLICT (dwelling_id, valid_from) DO UPDATE SET"
        " option = excluded.option, subscribed_kva = excluded.subscribed_kva, offpeak_hours = excluded.offpeak_hours,"
        " recorded_at = now()"
        " WHERE (supply_contract.option, supply_contract.subscribed_kva, supply_contract.offpeak_hours)"
        " IS DISTINCT FROM (excluded.option, excluded.subscribed_kva, excluded.offpeak_hours)"
        " RETURNING (xmax = 0) AS inserted",
        (dwelling_id, contract.valid_from, contract.option, contract.subscribed_kva,
         list(contract.offpeak_hours) if contract.offpeak_hours else None),
    ).fetchone()
    if changed is not None:
        (counts.created if changed[0] else counts.updated)["contract"] += 1


def _upsert_returning(conn: psycopg.Connection, insert: str, insert_args: tuple[object, ...],
                      select: str, select_args: tuple[object, ...]) -> tuple[int, int]:
    """The id of a row inserted if missing, and 1 if it was created here (0 if it existed)."""
    inserted = conn.execute(insert, insert_args).fetchone()
    if inserted is not None:
        return int(inserted[0]), 1
    found = conn.execute(select, select_args).fetchone()
    assert found is not None
    return int(found[0]), 0


def _staff_account(conn: psycopg.Connection, username: str) -> int:
    row = conn.execute("SELECT id FROM account WHERE username = %s AND role <> 'household'",
                       (username.strip().lower(),)).fetchone()
    if row is None:
        raise ConsentError(f"--staff {username!r}: no staff account of that name")
    return int(row[0])


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``coopwatt registry``."""
    sub = parser.add_subparsers(dest="registry_command", required=True)
    imp = sub.add_parser("import", help="create or update residences, buildings, dwellings and meters from a CSV file")
    imp.add_argument("path", help="CSV: " + ",".join(COLUMNS) + " [," + ",".join(CONTRACT_COLUMNS) + "]")
    imp.add_argument("--dry-run", action="store_true", help="check the file and report, write nothing")
    imp.add_argument("--staff", help="your staff account, when the file records consents from paper forms")


def main(settings: Settings, args: argparse.Namespace) -> int:
    """Import the file; exit 1 when some lines were rejected (the others are imported)."""
    from coopwatt.cli import require_database_url

    url = require_database_url(settings)
    try:
        text = Path(args.path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        print(f"coopwatt registry import: cannot read {args.path}: {exc}", file=sys.stderr)
        return 2
    rows, errors = parse_registry(text)
    for error in errors:
        print(f"{args.path}: {error}", file=sys.stderr)
    with psycopg.connect(url) as conn:
        try:
            staff = _staff_account(conn, args.staff) if args.staff else None
            counts = import_registry(conn, rows, staff_account=staff, tz=settings.tz)
        except ConsentError as exc:
            conn.rollback()
            print(f"coopwatt registry import: {exc}", file=sys.stderr)
            return 2
        if args.dry_run:
            conn.rollback()
        else:
            conn.commit()
    verb = "would have" if args.dry_run else "imported"
    print(f"{verb} {len(rows)} line(s), {len(errors)} rejected: {counts.summary()}")
    return 1 if errors else 0
