"""The plain CSV import format: one reading per row, columns ``meter,time,value,unit`` (+ optional ``quantity``).

Pure: text in, readings and bad rows out; which meters exist is passed in.

* ``meter`` is the meter's source id (``meter.source``);
* ``time`` is ISO 8601; with an offset (``2026-01-05T10:00:00+01:00`` or ``Z``)
  it is taken as is, without one it is local time in the cooperative's zone, and
  a local time that a DST change makes ambiguous or skips is a bad row;
* ``value`` uses ``.`` or ``,`` as decimal mark; ``unit`` is any unit
  ``ingest.units`` knows (Wh, kWh, W, VA, m³, L, …);
* ``quantity`` (a name such as ``energy_index_kwh``, or its id) is optional:
  without it the unit decides, and for energy and volume the meter's mode picks
  index (cumulative) or interval.

The separator is sniffed among ``,`` ``;`` and tab from the header line.
"""

from __future__ import annotations

import csv
import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from zoneinfo import ZoneInfo

import pandas as pd

from coopwatt.quantities import Quantity
from ingest.reading import PayloadError, Reading
from ingest.units import to_canonical

REQUIRED_COLUMNS = ("meter", "time", "value", "unit")


@dataclass(frozen=True)
class BadRow:
    """A row that could not be imported: its line number in the file, the raw line and why."""

    line: int
    raw: str
    reason: str


@dataclass
class PlainFile:
    """What a plain CSV holds: readings (with their line numbers) and bad rows."""

    readings: list[tuple[int, Reading]] = field(default_factory=list)
    bad: list[BadRow] = field(default_factory=list)


@dataclass(frozen=True)
class MeterRef:
    """What the plain importer needs to know about a registered meter."""

    meter_id: int
    mode: str  # "index" or "interval"


def looks_like_plain(header: str) -> bool:
    """True when a header line names the plain format's columns."""
    cells = {c.strip().lower() for c in re.split(r"[,;\t]", header.lstrip("\ufeff"))}
    return set(REQUIRED_COLUMNS) <= cells


def parse_time(text: str, tz: ZoneInfo) -> datetime:
    """An ISO 8601 time; without an offset it is local time in ``tz`` (PayloadError if ambiguous or skipped)."""
    text = text.strip()
    if not text:
        raise PayloadError("time is empty")
    # Strictly ISO 8601: a lenient parser reads a French 05/01/2026 as 1 May and imports it without a word.
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError as exc:
        raise PayloadError(f"time {text!r} is not ISO 8601 (e.g. 2026-01-05T10:00:00+01:00)") from exc
    if parsed.tzinfo is not None:
        return parsed
    try:
        stamp = pd.Timestamp(parsed).tz_localize(tz, ambiguous="raise", nonexistent="raise")
    except (ValueError, TypeError) as exc:  # pytz-style AmbiguousTimeError/NonExistentTimeError are ValueErrors
        raise PayloadError(f"local time {text!r} is ambiguous or does not exist in {tz.key} (DST change);"
                           " give a UTC offset") from exc
    return stamp.to_pydatetime()


def _quantity_for(unit_quantity: str | None, unit: str, mode: str) -> Quantity:
    if unit_quantity:
        key = unit_quantity.strip()
        if key.isdigit() and int(key) in Quantity._value2member_map_:
            return Quantity(int(key))
        try:
            return Quantity[key.upper()]
        except KeyError:
            raise PayloadError(f"unknown quantity {key!r} (expected one of "
                               f"{', '.join(q.name.lower() for q in Quantity)})") from None
    # Without a quantity column: try each family the unit might belong to.
    candidates = (
        (Quantity.ENERGY_INDEX_KWH if mode == "index" else Quantity.ENERGY_KWH),
        (Quantity.VOLUME_INDEX_M3 if mode == "index" else Quantity.VOLUME_M3),
        Quantity.POWER_W, Quantity.APPARENT_POWER_VA,
    )
    for quantity in candidates:
        try:
            to_canonical(1.0, unit, quantity)
        except PayloadError:
            continue
        return quantity
    raise PayloadError(f"unit {unit!r} is not an energy, volume or power unit this import knows")


def parse_plain(lines: Iterable[str], meters: Mapping[str, MeterRef], tz: ZoneInfo) -> PlainFile:
    """Parse a plain CSV (lines without their newline); unknown meters and bad values become bad rows."""
    result = PlainFile()
    iterator = iter(enumerate(lines, start=1))
    header_line = next(iterator, None)
    if header_line is None:
        raise PayloadError("empty file")
    _, header_text = header_line
    header_text = header_text.lstrip("\ufeff")
    delimiter = max(",;\t", key=header_text.count)
    columns = [c.strip().lower() for c in next(csv.reader([header_text], delimiter=delimiter))]
    missing = [c for c in REQUIRED_COLUMNS if c not in columns]
    if missing:
        raise PayloadError(f"header lacks column(s) {', '.join(missing)} (expected {','.join(REQUIRED_COLUMNS)}[,quantity])")
    where = {name: columns.index(name) for name in (*REQUIRED_COLUMNS, "quantity") if name in columns}
    for line_no, raw in iterator:
        if not raw.strip():
            continue
        try:
            cells = next(csv.reader([raw], delimiter=delimiter))
            if len(cells) < len(columns):
                raise PayloadError(f"{len(cells)} column(s), expected {len(columns)}")
            source = cells[where["meter"]].strip()
            meter = meters.get(source)
            if meter is None:
                raise PayloadError(f"unknown meter {source!r}")
            when = parse_time(cells[where["time"]], tz)
            text = cells[where["value"]].strip().replace(",", ".")
            try:
                value = float(text)
            except ValueError:
                raise PayloadError(f"value {text!r} is not a number") from None
            if not math.isfinite(value) or value < 0:
                raise PayloadError(f"value {text!r} must be a finite number ≥ 0")
            unit = cells[where["unit"]].strip()
            quantity = _quantity_for(cells[where["quantity"]] if "quantity" in where else None, unit, meter.mode)
            result.readings.append((line_no, Reading(source, when, quantity, to_canonical(value, unit, quantity))))
        except PayloadError as exc:
            result.bad.append(BadRow(line_no, raw, str(exc)))
    return result
