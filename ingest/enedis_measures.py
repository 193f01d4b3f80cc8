"""The Enedis per-measure layout landlords and data-hub users receive: one measure per row, many meters. Pure.

Shape (semicolon-separated, UTF-8 or Latin-1, maybe a BOM and a few preamble lines
before the header; column order does not matter, other columns are ignored)::

    Date de la mesure;Heure de la mesure;Valeur;Statut de la mesure;PRM;Type de donnees;Unite;Pas en minutes
    28/03/2026;23:30;1200;R;09876543210123;Courbe de charge;W;30
    28/03/2026;;8523;E;09876543210124;Consommation quotidienne;Wh;

* ``PRM`` (or ``Identifiant PRM``) names the meter of each row (``meter.source``);
* with a step (``Pas en minutes``) below a day, the row is a load-curve point: the
  mean power (W) over the step that ENDS at date + time, local time (or energy over
  the step when ``Unite`` says Wh/kWh); it becomes an ``ENERGY_KWH`` reading;
* without a step, with a step of 1440, or without a time, the row is a day's
  consumption (Wh unless ``Unite`` says kWh) and goes to ``consumption_day``;
* ``Statut de la mesure``: see ``ingest.enedis_daily.is_estimated`` (R measured,
  E/C/S/… estimated); estimated points are stored and flagged as such.

Local times repeated by the autumn DST change (02:00–03:00 twice) are told apart
by their order in the file, per meter and date: the first is summer time, the
second winter time, as Enedis writes them. A time the spring change skips is a
bad row.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime
from zoneinfo import ZoneInfo

from ingest.csv_cells import CellError, cell, find_column, local_time, norm, parse_day, parse_number, split_cells
from ingest.daily import DayFigure
from ingest.enedis_daily import is_estimated
from ingest.plain_csv import BadRow

SUB_DAILY_STEPS_MIN = (5, 10, 15, 30, 60)
_DAY_MIN = 1440
_ENERGY_UNITS = {"wh": 0.001, "kwh": 1.0}


@dataclass(frozen=True)
class MeasurePoint:
    """A load-curve point of one meter: energy over the step ending at ``time``."""

    line: int
    prm: str
    time: datetime
    energy_kwh: float
    estimated: bool


@dataclass
class MeasuresFile:
    """What a per-measure file holds: curve points, daily figures (``meter`` = PRM) and bad rows."""

    points: list[MeasurePoint] = field(default_factory=list)
    daily: list[DayFigure] = field(default_factory=list)
    bad: list[BadRow] = field(default_factory=list)
    empty: int = 0
    duplicates: int = 0


def _is_header(raw: str) -> bool:
    cells = [norm(c) for c in split_cells(raw)]
    return "date de la mesure" in cells and "valeur" in cells


def looks_like_measures(head_lines: Iterable[str]) -> bool:
    """True when one of the first lines is the per-measure header."""
    return any(_is_header(line) for line in head_lines)


@dataclass(frozen=True)
class _Columns:
    day: int
    clock: int | None
    value: int
    status: int | None
    prm: int | None
    unit: int | None
    step: int | None
    kind: int | None


def _columns(header: list[str]) -> _Columns:
    day, value = find_column(header, "date de la mesure"), find_column(header, "valeur")
    assert day is not None and value is not None  # _is_header checked both
    return _Columns(day, find_column(header, "heure de la mesure"), value,
                    find_column(header, "statut de la mesure", "statut", "nature"),
                    find_column(header, "prm", "identifiant prm"), find_column(header, "unite"),
                    find_column(header, "pas en minutes", "pas"),
                    find_column(header, "type de donnees", "grandeur metier"))


def parse_measures(lines: Iterable[str], tz: ZoneInfo) -> MeasuresFile:
    """Parse a per-measure file (lines without their newline)."""
    result = MeasuresFile()
    columns: _Columns | None = None
    seen_clock: dict[tuple[str, date, str], int] = {}  # (prm, day, clock) → occurrences so far (DST fold)
    seen_points: set[tuple[str, datetime]] = set()
    seen_days: set[tuple[str, date]] = set()
    for line, raw in enumerate(lines, start=1):
        if not raw.strip():
            continue
        if columns is None:
            if _is_header(raw):
                columns = _columns(split_cells(raw))
            continue  # preamble
        cells = split_cells(raw)
        if not any(cells):
            continue
        try:
            item = _row(line, raw, cells, columns, tz, seen_clock)
        except CellError as exc:
            result.bad.append(BadRow(line, raw, str(exc)))
            continue
        if item is None:
            result.empty += 1
        elif isinstance(item, MeasurePoint):
            key = (item.prm, item.time)
            if key in seen_points:
                result.duplicates += 1
            else:
                seen_points.add(key)
                result.points.append(item)
        else:
            day_key = (item.meter or "", item.day)
            if day_key in seen_days:
                result.duplicates += 1
            else:
                seen_days.add(day_key)
                result.daily.append(item)
    if columns is None:
        result.bad.append(BadRow(0, "", "no 'Date de la mesure;…;Valeur;…' header line"))
    return result


def _row(line: int, raw: str, cells: list[str], columns: _Columns, tz: ZoneInfo,
         seen_clock: dict[tuple[str, date, str], int]) -> MeasurePoint | DayFigure | None:
    """One row as a curve point or a day's figure; None when it has no value; CellError when unusable."""
    prm = cell(cells, columns.prm)
    if columns.prm is not None and not prm:
        raise CellError("no PRM on this row")
    day = parse_day(cell(cells, columns.day), tz, "Date de la mesure")
    value = parse_number(cell(cells, columns.value), "Valeur")
    step_text = cell(cells, columns.step)
    step = parse_number(step_text, "Pas en minutes") if step_text else None
    clock = cell(cells, columns.clock)
    unit = norm(cell(cells, columns.unit))
    estimated = is_estimated(cell(cells, columns.status))
    kind = norm(cell(cells, columns.kind))
    if "index" in kind or "puissance max" in kind or "production" in kind or "injection" in kind:
        # Indices, maximum power and production are not consumption: read as Wh they would be wrong figures.
        raise CellError(f"a {cell(cells, columns.kind)!r} row: this layout is imported for consumption only"
                        " (load curve, daily consumption); export indices or maximum power from the customer area")
    if value is None:
        return None
    if value < 0:
        raise CellError("negative value")
    daily = step is None and not clock or step == _DAY_MIN
    if daily:
        factor = _ENERGY_UNITS.get(unit or "wh")
        if factor is None:
            raise CellError(f"a day's value in unit {unit!r}: expected Wh or kWh")
        return DayFigure(line, day, energy_kwh=value * factor, estimated=estimated, meter=prm or None)
    if step is None or step not in SUB_DAILY_STEPS_MIN:
        raise CellError(f"'Pas en minutes' {step_text!r} is not an Enedis step (5, 10, 15, 30, 60 or 1440)")
    if not clock:
        raise CellError("a curve point without 'Heure de la mesure'")
    key = (prm, day, clock)
    fold = seen_clock.get(key, 0)
    seen_clock[key] = fold + 1
    # A second row at an ordinary time, or a third at a repeated one, lands on a time already seen: a duplicate.
    time = local_time(day, clock, tz, "Heure de la mesure", fold=min(fold, 1))
    if unit in ("", "w"):
        energy = value * step / 60.0 / 1000.0
    elif unit in _ENERGY_UNITS:
        energy = value * _ENERGY_UNITS[unit]
    else:
        raise CellError(f"a curve point in unit {unit!r}: expected W, Wh or kWh")
    return MeasurePoint(line, prm, time, energy, estimated)
