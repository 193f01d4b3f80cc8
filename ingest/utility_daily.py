"""GRDF gas exports and a water utility's daily index export: pure parsing into daily figures.

Both are semicolon-separated tables (a few preamble lines allowed: the meter's
number, the period, the customer's name), recognised by their header line.

GRDF ("Mes données de consommation", Gazpar)::

    Date de relevé;Date de début;Date de fin;Index de début (m3);Index de fin (m3);Volume consommé (m3);
    Coefficient de conversion (kWh/m3);Energie consommée (kWh);Qualité du relevé

(the header is one line). One row per gas day (or per reading period for meters read
every few months): the volume in m³ (``Volume``, else ``Index de fin − Index de
début``), the energy in kWh (``Energie``, else volume × the conversion coefficient,
GRDF's "coefficient de conversion" which folds in the PCS — the gas's higher heating
value — and the pressure/temperature correction). A period [``Date de début``,
``Date de fin``) longer than a day is shared equally over its days, marked
estimated. Without start/end dates the row is the day of ``Date de relevé``. GRDF's
gas day runs 06:00 to 06:00; it is stored as the calendar day it starts on.
The PCE (meter number, ``GI`` + 6 digits or 14 digits) is taken from the preamble.

Water utility (daily index, "télérelève")::

    Date de relève;Index (m³);Type de relève

An index per day (m³, or litres when the header says so), read at the start of the
day; day D used ``index(D+1) − index(D)`` (``ingest.daily``).

A quality or reading-type column saying "estimé"/"calculé" (or ``E``) marks the
figure estimated.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import timedelta
from zoneinfo import ZoneInfo

from ingest.csv_cells import CellError, cell, find_column, norm, parse_day, parse_number, split_cells
from ingest.daily import MAX_SPREAD_DAYS, DayFigure, IndexPoint, days_from_index
from ingest.plain_csv import BadRow

_PCE_RE = re.compile(r"\b(GI\d{6}|\d{14})\b")
# "Compteur n° W20A123456", "Numéro de compteur : 123456", "Compteur : A-12345".
_METER_NUMBER_RE = re.compile(r"compteur(?:\s*(?:n°|no\b|num[ée]ro))?\s*:?\s*([A-Z0-9][A-Z0-9-]{4,})", re.IGNORECASE)


@dataclass
class UtilityFile:
    """Daily figures of one meter (named in the preamble when the file says), and bad rows."""

    format: str
    meter: str | None = None
    daily: list[DayFigure] = field(default_factory=list)
    bad: list[BadRow] = field(default_factory=list)
    empty: int = 0
    duplicates: int = 0


def _cells(raw: str) -> list[str]:
    return [norm(c) for c in split_cells(raw)]


def _is_grdf_header(raw: str) -> bool:
    cells = _cells(raw)
    has_date = any(c.startswith("date") for c in cells)
    return has_date and any(c.startswith(("volume", "energie", "coefficient de conversion")) for c in cells)


def _is_water_header(raw: str) -> bool:
    cells = _cells(raw)
    return (any(c.startswith("date") for c in cells) and any(c.startswith("index") for c in cells)
            and not any(c.startswith(("energie", "coefficient", "valeur", "horodate")) for c in cells))


def detect_utility(head_lines: Iterable[str]) -> str | None:
    """'grdf' or 'water' when one of the first lines is such a header, else None."""
    for line in head_lines:
        if _is_grdf_header(line):
            return "grdf"
        if _is_water_header(line):
            return "water"
    return None


def is_estimated_word(status: str) -> bool:
    """True for a quality or reading type that is not a measure: 'Estimé', 'calculé', 'E'."""
    text = norm(status)
    return text == "e" or "estim" in text or "calcul" in text


def _split(lines: Iterable[str], is_header: object) -> tuple[list[str], list[str] | None, list[tuple[int, str, list[str]]]]:
    preamble: list[str] = []
    header: list[str] | None = None
    rows: list[tuple[int, str, list[str]]] = []
    for line, raw in enumerate(lines, start=1):
        if not raw.strip():
            continue
        if header is None:
            if is_header(raw):  # type: ignore[operator]
                header = split_cells(raw)
            else:
                preamble.append(raw)
            continue
        cells = split_cells(raw)
        if any(cells):
            rows.append((line, raw, cells))
    return preamble, header, rows


def _meter_in(preamble: list[str], pattern: re.Pattern[str]) -> str | None:
    for line in preamble:
        if match := pattern.search(line):
            return match[1]
    return None


def parse_grdf(lines: Iterable[str], tz: ZoneInfo) -> UtilityFile:
    """A GRDF consumption export (module docstring)."""
    preamble, header, rows = _split(lines, _is_grdf_header)
    result = UtilityFile("grdf", meter=_meter_in(preamble, _PCE_RE))
    if header is None:
        result.bad.append(BadRow(0, "", "no GRDF header line (Date…;Volume…;Energie…)"))
        return result
    at = {
        "reading": find_column(header, "date de releve", "journee gaziere", "date"),
        "start": find_column(header, "date de debut"),
        "end": find_column(header, "date de fin"),
        "index_start": find_column(header, "index de debut"),
        "index_end": find_column(header, "index de fin"),
        "volume": find_column(header, "volume"),
        "coefficient": find_column(header, "coefficient de conversion", "coefficient"),
        "energy": find_column(header, "energie"),
        "status": find_column(header, "qualite", "type de releve", "statut"),
    }
    seen: set[object] = set()
    for line, raw, cells in rows:
        try:
            figures = _grdf_row(line, cells, at, tz)
        except CellError as exc:
            result.bad.append(BadRow(line, raw, str(exc)))
            continue
        if not figures:
            result.empty += 1
        for figure in figures:
            if figure.day in seen:
                result.duplicates += 1
                continue
            seen.add(figure.day)
            result.daily.append(figure)
    return result


def _grdf_row(line: int, cells: list[str], at: dict[str, int | None], tz: ZoneInfo) -> list[DayFigure]:
    start_text, end_text = cell(cells, at["start"]), cell(cells, at["end"])
    if start_text and end_text:
        start, end = parse_day(start_text, tz, "Date de début"), parse_day(end_text, tz, "Date de fin")
        days = max((end - start).days, 1)
        if end < start or days > MAX_SPREAD_DAYS:
            raise CellError(f"period {start} – {end} is not a period of 1 to {MAX_SPREAD_DAYS} days")
    else:
        start, days = parse_day(cell(cells, at["reading"]), tz, "Date de relevé"), 1
    volume = parse_number(cell(cells, at["volume"]), "Volume (m³)")
    if volume is None:
        first = parse_number(cell(cells, at["index_start"]), "Index de début")
        last = parse_number(cell(cells, at["index_end"]), "Index de fin")
        if first is not None and last is not None:
            if last < first:
                raise CellError(f"Index de fin {last:g} is below Index de début {first:g}")
            volume = last - first
    energy = parse_number(cell(cells, at["energy"]), "Energie (kWh)")
    coefficient = parse_number(cell(cells, at["coefficient"]), "Coefficient de conversion")
    if coefficient is not None and not 5.0 <= coefficient <= 15.0:
        raise CellError(f"conversion coefficient {coefficient:g} kWh/m³ is not that of natural gas (about 9–12.5)")
    if energy is None and volume is not None and coefficient is not None:
        energy = volume * coefficient
    if volume is None and energy is None:
        return []
    if (volume is not None and volume < 0) or (energy is not None and energy < 0):
        raise CellError("negative consumption")
    estimated = days > 1 or is_estimated_word(cell(cells, at["status"]))
    return [DayFigure(line, start + timedelta(days=offset),
                      None if energy is None else energy / days, None if volume is None else volume / days, estimated)
            for offset in range(days)]


def parse_water(lines: Iterable[str], tz: ZoneInfo, *, max_m3_per_day: float) -> UtilityFile:
    """A water utility's daily index export (module docstring)."""
    preamble, header, rows = _split(lines, _is_water_header)
    result = UtilityFile("water", meter=_meter_in(preamble, _METER_NUMBER_RE))
    if header is None:
        result.bad.append(BadRow(0, "", "no water index header line (Date…;Index…)"))
        return result
    day_at, index_at = find_column(header, "date"), find_column(header, "index")
    status_at = find_column(header, "type de rele", "qualite", "statut", "nature")
    index_header = norm(cell(header, index_at))
    factor = 0.001 if "litre" in index_header or "(l)" in index_header else 1.0
    points: list[IndexPoint] = []
    for line, raw, cells in rows:
        try:
            day = parse_day(cell(cells, day_at), tz, "Date")
            value = parse_number(cell(cells, index_at), "Index")
        except CellError as exc:
            result.bad.append(BadRow(line, raw, str(exc)))
            continue
        if value is None:
            result.empty += 1
            continue
        if value < 0:
            result.bad.append(BadRow(line, raw, "negative index"))
            continue
        points.append(IndexPoint(line, raw, day, value * factor, is_estimated_word(cell(cells, status_at))))
    result.daily, index_bad = days_from_index(points, volume=True, max_per_day=max_m3_per_day)
    result.bad.extend(index_bad)
    result.bad.sort(key=lambda b: b.line)
    return result
