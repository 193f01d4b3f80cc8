"""The outdoor-temperature CSV format: ``residence,time,temperature`` (+ optional ``unit``).

Pure: text in, rows and bad rows out; which residences exist is passed in.

* ``residence`` is the residence code; it may be left out when the whole file is one
  place (a weather-station export) and the caller names the residence;
* ``time`` is ISO 8601, local time of the cooperative's zone when it has no offset (a
  local time that a DST change makes ambiguous or skips is a bad row);
* ``temperature`` uses ``.`` or ``,`` as decimal mark; ``unit`` is °C by default, or any
  temperature unit ``ingest.units`` knows (K, °F: converted with their offset);
* a temperature outside −50…+60 °C is a bad row (a sensor fault, not weather);
* a residence and instant already given on an earlier line is counted as a repeat when the
  value is the same, and is a bad row naming that line when it differs (which one is right
  cannot be told from the file).

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

from coopwatt.quantities import Quantity
from ingest.plain_csv import BadRow, parse_time
from ingest.reading import PayloadError
from ingest.units import to_canonical
from ingest.validate import OUTDOOR_TEMPERATURE_RANGE_C

SAME_VALUE_C = 0.005  # two lines agree when they round to the same hundredth of a degree


@dataclass
class TemperatureFile:
    """What a temperature CSV holds: (line, residence id, time, °C) rows, bad rows and repeated lines."""

    rows: list[tuple[int, int, datetime, float]] = field(default_factory=list)
    bad: list[BadRow] = field(default_factory=list)
    duplicates: int = 0  # lines repeating an earlier line's residence, instant and value


def _columns(header: str) -> tuple[str, list[str]]:
    header = header.lstrip("\ufeff")
    delimiter = max(",;\t", key=header.count)
    return delimiter, [c.strip().lower() for c in next(csv.reader([header], delimiter=delimiter))]


def looks_like_temperature(header: str) -> bool:
    """True when a header line names the temperature format's columns."""
    cells = {c.strip().lower() for c in re.split(r"[,;\t]", header.lstrip("\ufeff"))}
    return {"time", "temperature"} <= cells and "meter" not in cells


def parse_temperatures(lines: Iterable[str], residences: Mapping[str, int], tz: ZoneInfo,
                       residence: str | None = None) -> TemperatureFile:
    """Parse a temperature CSV; ``residence`` names the place when the file has no residence column."""
    result = TemperatureFile()
    iterator = iter(enumerate(lines, start=1))
    first = next(iterator, None)
    if first is None:
        raise PayloadError("empty file")
    delimiter, columns = _columns(first[1])
    missing = [c for c in ("time", "temperature") if c not in columns]
    if missing:
        raise PayloadError(f"header lacks column(s) {', '.join(missing)} (expected residence,time,temperature[,unit])")
    if "residence" not in columns and residence is None:
        raise PayloadError("pas de colonne residence, indiquez --residence CODE / no residence column:"
                           " name the place with --residence CODE")
    if "residence" in columns and residence is not None:
        # Refused rather than ignored: which of the two was meant cannot be guessed.
        raise PayloadError("le fichier a une colonne residence, --residence est de trop / the file has a residence"
                           " column: --residence is only for files without one")
    if residence is not None and residence not in residences:
        raise PayloadError(f"résidence inconnue / unknown residence {residence!r}")
    where = {name: columns.index(name) for name in ("residence", "time", "temperature", "unit") if name in columns}
    seen: dict[tuple[int, datetime], tuple[int, float]] = {}  # aware datetimes compare by instant
    for line_no, raw in iterator:
        if not raw.strip():
            continue
        try:
            cells = next(csv.reader([raw], delimiter=delimiter))
            if len(cells) < len(columns):
                raise PayloadError(f"{len(cells)} column(s), expected {len(columns)}")
            code = cells[where["residence"]].strip() if "residence" in where else residence
            residence_id = residences.get(code or "")
            if residence_id is None:
                raise PayloadError(f"unknown residence {code!r}")
            when = parse_time(cells[where["time"]], tz)
            celsius = _celsius(cells[where["temperature"]], cells[where["unit"]] if "unit" in where else "")
            earlier = seen.get((residence_id, when))
            if earlier is not None:
                if abs(earlier[1] - celsius) < SAME_VALUE_C:
                    result.duplicates += 1
                    continue
                raise PayloadError(f"same residence and time as line {earlier[0]} but {celsius:g} °C"
                                   f" instead of {earlier[1]:g} °C")
            seen[(residence_id, when)] = (line_no, celsius)
            result.rows.append((line_no, residence_id, when, celsius))
        except PayloadError as exc:
            result.bad.append(BadRow(line_no, raw, str(exc)))
    return result


def _celsius(value_text: str, unit_text: str) -> float:
    text = value_text.strip().replace(",", ".")
    try:
        value = float(text)
    except ValueError:
        raise PayloadError(f"temperature {value_text.strip()!r} is not a number") from None
    if not math.isfinite(value):
        raise PayloadError(f"temperature {value_text.strip()!r} is not a number")
    celsius = to_canonical(value, unit_text.strip() or "°C", Quantity.TEMPERATURE_C)
    low, high = OUTDOOR_TEMPERATURE_RANGE_C  # the same limits as temperatures received over MQTT
    if not low <= celsius <= high:
        raise PayloadError(f"temperature {celsius:.1f} °C is outside {low:g}…{high:g} °C (a sensor fault?)")
    return celsius
