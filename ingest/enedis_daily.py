"""The daily sections of an Enedis customer export ("mes données"): pure parsing of one section each.

Besides the load curve (``ingest.enedis``), the customer area exports, each as a
preamble (``Identifiant PRM;Type de donnees;…;Unite`` and its values) followed by a
table whose first column is ``Horodate``:

* daily consumption ("Consommation quotidienne", unit Wh): ``Horodate;Valeur``, one
  row per local day, the value being that day's energy;
* daily indices ("Index", step "Arrêté quotidien", unit Wh): ``Horodate;Type de
  releve;EAS F1;…;EAS F10;EAS D1;…;EAS D4;EAS T``: the supplier's registers F1–F10,
  the distributor's D1–D4 and their total EAS T, read at local midnight;
* maximum power ("Puissance maximale", unit VA): ``Horodate;Valeur``, the day's
  highest apparent power (10-minute mean), stamped when it happened.

A status column (``Statut``, ``Nature``, ``Qualite``), when a file has one, marks
estimated figures; see :func:`is_estimated`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from ingest.csv_cells import CellError, cell, find_column, norm, parse_day, parse_instant, parse_number
from ingest.daily import DayFigure, IndexPoint
from ingest.plain_csv import BadRow

# Statuses Enedis gives a measure: R réelle (read from the meter) and B brute are measured; E estimée,
# C corrigée (replaced after validation, usually by an estimate), S coupure secteur (the meter lost power
# during the step), P, H, K and any other code are not measurements as read, so they are stored as estimated.
_MEASURED_STATUSES = frozenset({"", "r", "reel", "reelle", "b", "brut", "brute", "mesure", "mesuree"})
_UNIT_TO_KWH = {"wh": 0.001, "kwh": 1.0}
_UNIT_TO_VA = {"va": 1.0, "kva": 1000.0}


def is_estimated(status: str) -> bool:
    """True unless a status says the value was measured (R, B or no status at all)."""
    return norm(status) not in _MEASURED_STATUSES


def section_kind(header: list[str], fields: dict[str, str]) -> str | None:
    """'load_curve', 'daily', 'index' or 'max_power' for a section, from its header and preamble; None if unknown."""
    kind = fields.get("type de donnees", "").lower()
    step = fields.get("etape metier", "").lower()
    unit = fields.get("unite", "").lower()
    columns = [norm(h) for h in header]
    if any(c.startswith("eas ") for c in columns) or "index" in kind or "arrete" in step:
        return "index"
    if "puissance max" in kind or unit in _UNIT_TO_VA:
        return "max_power"
    if "quotidien" in kind or unit in _UNIT_TO_KWH:
        return "daily"
    if columns[:2] == ["horodate", "valeur"] and unit in ("", "w"):
        return "load_curve"
    return None


def _status_column(header: list[str]) -> int | None:
    return find_column(header, "statut", "nature", "qualite")


def daily_consumption(header: list[str], rows: list[tuple[int, str, list[str]]], fields: dict[str, str],
                      tz: ZoneInfo) -> tuple[list[DayFigure], list[BadRow]]:
    """'Horodate;Valeur' rows in Wh (or kWh) per local day."""
    factor = _UNIT_TO_KWH.get(fields.get("unite", "wh").lower())
    if factor is None:
        return [], [BadRow(rows[0][0], rows[0][1], f"daily consumption in unit {fields.get('unite')!r}:"
                           " expected Wh or kWh")] if rows else []
    status_at = _status_column(header)
    figures, bad = [], []
    for line, raw, cells in rows:
        try:
            day = parse_day(cell(cells, 0), tz, "Horodate")
            value = parse_number(cell(cells, 1), "Valeur (Wh)")
        except CellError as exc:
            bad.append(BadRow(line, raw, str(exc)))
            continue
        if value is None:
            continue  # Enedis leaves the value empty for a day it has no measure of
        if value < 0:
            bad.append(BadRow(line, raw, "negative daily consumption"))
            continue
        figures.append(DayFigure(line, day, energy_kwh=value * factor,
                                 estimated=is_estimated(cell(cells, status_at))))
    return figures, bad


@dataclass(frozen=True)
class _Registers:
    total: int | None
    supplier: list[int]
    distributor: list[int]


def _registers(header: list[str]) -> _Registers:
    columns = [norm(h).replace(" ", "") for h in header]
    return _Registers(
        total=columns.index("east") if "east" in columns else None,
        supplier=[i for i, c in enumerate(columns) if c.startswith("easf")],
        distributor=[i for i, c in enumerate(columns) if c.startswith("easd")],
    )


def daily_indices(header: list[str], rows: list[tuple[int, str, list[str]]], fields: dict[str, str],
                  tz: ZoneInfo) -> tuple[list[IndexPoint], list[BadRow]]:
    """Index rows: EAS T, else the sum of the supplier registers EAS F…, else of the distributor's EAS D… (kWh)."""
    factor = _UNIT_TO_KWH.get(fields.get("unite", "wh").lower())
    registers = _registers(header)
    if factor is None or (registers.total is None and not registers.supplier and not registers.distributor):
        reason = (f"index section in unit {fields.get('unite')!r}: expected Wh or kWh" if factor is None else
                  "index section without EAS T, EAS F… or EAS D… columns")
        first = rows[0] if rows else (0, "", [])
        return [], [BadRow(first[0], first[1], reason)]
    status_at = _status_column(header)
    points, bad = [], []
    for line, raw, cells in rows:
        try:
            day = parse_day(cell(cells, 0), tz, "Horodate")
            total = parse_number(cell(cells, registers.total), "EAS T") if registers.total is not None else None
            if total is None:
                for group in (registers.supplier, registers.distributor):
                    values = [parse_number(cell(cells, i), norm(header[i]).upper()) for i in group]
                    if any(v is not None for v in values):
                        total = sum(v for v in values if v is not None)
                        break
        except CellError as exc:
            bad.append(BadRow(line, raw, str(exc)))
            continue
        if total is None:
            continue  # no index that day
        if total < 0:
            bad.append(BadRow(line, raw, "negative index"))
            continue
        points.append(IndexPoint(line, raw, day, total * factor, is_estimated(cell(cells, status_at))))
    return points, bad


def maximum_power(header: list[str], rows: list[tuple[int, str, list[str]]], fields: dict[str, str],
                  tz: ZoneInfo) -> tuple[list[tuple[int, datetime, float]], list[BadRow]]:
    """'Horodate;Valeur' rows in VA: (line, when, apparent power VA)."""
    factor = _UNIT_TO_VA.get(fields.get("unite", "va").lower())
    if factor is None:
        return [], [BadRow(rows[0][0], rows[0][1], f"maximum power in unit {fields.get('unite')!r}:"
                           " expected VA or kVA")] if rows else []
    out, bad = [], []
    for line, raw, cells in rows:
        try:
            when = parse_instant(cell(cells, 0), tz)
            value = parse_number(cell(cells, 1), "Valeur (VA)")
        except CellError as exc:
            bad.append(BadRow(line, raw, str(exc)))
            continue
        if value is None:
            continue
        if value < 0:
            bad.append(BadRow(line, raw, "negative maximum power"))
            continue
        out.append((line, when, value * factor))
    return out, bad
