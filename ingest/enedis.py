"""The Enedis customer load-curve CSV ("courbe de charge", from the Enedis customer area): pure parsing.

Shape of the file (semicolon-separated, UTF-8, sometimes with a BOM)::

    Identifiant PRM;Type de donnees;Date de debut;Date de fin;Grandeur physique;Grandeur metier;Etape metier;Unite
    12345678901234;Courbe de charge;2026-01-01;2026-12-31;Energie active;Consommation;Comptage Brut;W
    Horodate;Valeur
    2026-03-29T01:30:00+01:00;1200
    2026-03-29T03:00:00+02:00;1180
    2026-03-29T03:30:00+02:00;

A file can hold several such sections (a preamble, ``Horodate;Valeur``, rows).
Each value is the average active power in W over a step that ENDS at the
timestamp; it becomes an ``ENERGY_KWH`` reading at that timestamp worth
``W × step_h / 1000``. Timestamps carry their UTC offset, which is what makes
the 23- and 25-hour days come out right; a timestamp without an offset is local
time in the cooperative's zone, and one that a DST change makes ambiguous or
skips is a bad row (we cannot tell which of the two 02:30 it is).

The step of each row (rows sorted by time, per section, duplicates ignored):

1. the time since the previous row, when that is a step Enedis uses
   (5, 10, 15, 30 or 60 minutes);
2. otherwise (first row, or a row after a hole) the time to the next row, when
   that is such a step;
3. otherwise the step the preamble declares (``Pas en minutes`` or ``PT30M``);
4. otherwise 30 minutes, the usual Linky step.

Rows with an empty value (how Enedis marks a missing measure) count for the
step inference but store nothing. A limit of rule 1: a 10-minute series that
lost two whole rows shows a 30-minute hole, which reads as a step of 30; the
empty rows Enedis writes for missing measures avoid that.
The same export page also gives daily consumption, daily indices and maximum
power: those sections are read by ``ingest.enedis_daily`` (daily figures go to
``consumption_day``, maximum power to ``reading``). A section of any other kind
is reported with its lines and the reason, in the summary and in dead_letter.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd

from ingest.csv_cells import MAX_NUMBER_CHARS, local_time
from ingest.daily import DayFigure, IndexPoint, days_from_index
from ingest.enedis_daily import daily_consumption, daily_indices, maximum_power, section_kind
from ingest.plain_csv import BadRow

ENEDIS_STEPS_MIN = (5, 10, 15, 30, 60)
DEFAULT_STEP_MIN = 30
_OFFSET_RE = re.compile(r"(?:Z|[+-]\d\d:?\d\d)$", re.IGNORECASE)
_PRM_RE = re.compile(r"\b(\d{14})\b")
_ISO_STEP_RE = re.compile(r"\bPT(\d+)M\b", re.IGNORECASE)
_NS_PER_MIN = 60_000_000_000
_DECIMAL_RE = r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)"


@dataclass
class EnedisFile:
    """A parsed load curve: one row per measured step, plus what could not be used."""

    prm: str | None = None
    # line, time (UTC), power_w, step_min, energy_kwh — sorted by time, one row per time.
    rows: pd.DataFrame = field(default_factory=lambda: _frame([], [], [], [], []))
    bad: list[BadRow] = field(default_factory=list)
    empty: int = 0  # rows with a timestamp and no value (missing measure)
    duplicates: int = 0  # rows repeating a timestamp already in the file
    skipped_sections: list[str] = field(default_factory=list)
    daily: list[DayFigure] = field(default_factory=list)  # daily consumption, from its export or from indices
    max_power: list[tuple[int, datetime, float]] = field(default_factory=list)  # line, when, VA


def _one_per_day(figures: list[DayFigure], result: EnedisFile) -> list[DayFigure]:
    """One figure per day: a measured one before an estimated one, then the first in the file."""
    chosen: dict[object, DayFigure] = {}
    for figure in sorted(figures, key=lambda f: (f.estimated, f.line)):
        if figure.day in chosen:
            result.duplicates += 1
        else:
            chosen[figure.day] = figure
    return sorted(chosen.values(), key=lambda f: f.day)


def _frame(lines: list[int], times: object, power: object, step: object, energy: object) -> pd.DataFrame:
    return pd.DataFrame({
        "line": np.asarray(lines, dtype=np.int64),
        "time": pd.DatetimeIndex(pd.to_datetime(times, utc=True)),
        "power_w": np.asarray(power, dtype=np.float64),
        "step_min": np.asarray(step, dtype=np.float64),
        "energy_kwh": np.asarray(energy, dtype=np.float64),
    })


def _norm(text: str) -> str:
    """Lower case, no accents, no BOM: 'Unité' and 'Unite' are the same header."""
    text = unicodedata.normalize("NFKD", text.replace("\ufeff", "")).encode("ascii", "ignore").decode()
    return text.strip().lower()


def looks_like_enedis(head_lines: Iterable[str]) -> bool:
    """True when the first lines of a file look like an Enedis customer export (any of its sections)."""
    return any(_norm(line).replace(" ", "").startswith("horodate;") or _norm(line).startswith("identifiant prm")
               for line in head_lines)


@dataclass
class Section:
    """One section of an Enedis export: its preamble lines, its column header and its data rows."""

    preamble: list[str] = field(default_factory=list)
    header: list[str] = field(default_factory=list)  # the 'Horodate;…' line's cells
    header_line: int = 0
    rows: list[tuple[int, str, list[str]]] = field(default_factory=list)  # line, raw, cells


def _split_sections(lines: Iterable[str]) -> list[Section]:
    sections: list[Section] = []
    current = Section()
    in_data = False
    for line_no, raw in enumerate(lines, start=1):
        if not raw.strip():
            continue
        # Data rows start with a digit; only other lines can be headers (saves normalising 17,520 rows a year).
        normalised = "" if raw.lstrip("\ufeff \t")[:1].isdigit() else _norm(raw)
        if normalised.replace(" ", "").startswith("horodate;"):
            if in_data or current.header:  # a second table without its own preamble
                sections.append(current)
                current = Section()
            current.header, current.header_line, in_data = [c.strip() for c in raw.split(";")], line_no, True
            continue
        if in_data and normalised.startswith("identifiant prm"):
            sections.append(current)
            current, in_data = Section(), False
        if not in_data:
            current.preamble.append(raw)
            continue
        current.rows.append((line_no, raw, [c.strip() for c in raw.split(";")]))
    sections.append(current)
    return [s for s in sections if s.rows or s.preamble or s.header]


def section_fields(section: Section) -> dict[str, str]:
    """The preamble's header/value pairs, normalised keys ('type de donnees', 'unite', …)."""
    return _preamble_fields(section.preamble)


def _preamble_fields(preamble: list[str]) -> dict[str, str]:
    """Header line + value line pairs ('Identifiant PRM;…' then '1234…;…') as a dict."""
    fields: dict[str, str] = {}
    for header, values in zip(preamble, preamble[1:], strict=False):
        if not _norm(header).startswith("identifiant prm"):
            continue
        for key, value in zip(header.split(";"), values.split(";"), strict=False):
            fields[_norm(key)] = value.strip()
    return fields


def _declared_step(preamble: list[str], fields: dict[str, str]) -> float | None:
    text = fields.get("pas en minutes", "")
    if text.isdigit() and int(text) > 0:
        return float(text)
    for line in preamble:
        match = _ISO_STEP_RE.search(line)
        if match:
            return float(match[1])
    return None


def _parse_times(texts: pd.Series, tz: ZoneInfo) -> pd.Series:
    """UTC times; NaT where a text is not a time or is an ambiguous/skipped local time."""
    try:
        return _parse_times_vectorised(texts, tz)
    except Exception:  # noqa: BLE001 — a crafted cell (year -2, year 99999…) spoils the vectorised parse
        # One by one then: each cell that is not a time becomes NaT, i.e. a bad row with its line.
        return pd.Series([_one_time(text, tz) for text in texts], index=texts.index, dtype="datetime64[ns, UTC]")


def _one_time(text: str, tz: ZoneInfo) -> pd.Timestamp:
    try:
        moment = datetime.fromisoformat(text)
        if moment.tzinfo is None:
            moment = local_time(moment.date(), moment.strftime("%H:%M:%S"), tz)
        return pd.Timestamp(moment).tz_convert("UTC")
    except Exception:  # noqa: BLE001 — not a time, out of pandas' range, or skipped/repeated by DST
        return pd.NaT


def _parse_times_vectorised(texts: pd.Series, tz: ZoneInfo) -> pd.Series:
    result = pd.Series(pd.NaT, index=texts.index, dtype="datetime64[ns, UTC]")
    with_offset = texts.str.contains(_OFFSET_RE)
    if with_offset.any():
        result[with_offset] = pd.to_datetime(texts[with_offset], utc=True, format="ISO8601", errors="coerce")
    naive = ~with_offset
    if naive.any():
        local = pd.to_datetime(texts[naive], format="ISO8601", errors="coerce")
        result[naive] = local.dt.tz_localize(tz, ambiguous="NaT", nonexistent="NaT").dt.tz_convert("UTC")
    return result


def infer_steps_min(times: pd.Series, declared_min: float | None) -> np.ndarray:
    """Each row's step in minutes from its sorted, unique times (rules in the module docstring)."""
    ns = pd.DatetimeIndex(times).as_unit("ns").asi8
    gaps = np.diff(ns) / _NS_PER_MIN
    standard = np.isin(gaps, ENEDIS_STEPS_MIN)
    before = np.full(ns.size, np.nan)
    before[1:] = np.where(standard, gaps, np.nan)
    after = np.full(ns.size, np.nan)
    after[:-1] = np.where(standard, gaps, np.nan)
    fallback = declared_min if declared_min is not None else DEFAULT_STEP_MIN
    return np.where(np.isnan(before), np.where(np.isnan(after), fallback, after), before)


def parse_enedis(lines: Iterable[str], tz: ZoneInfo, *, max_kwh_per_day: float = 864.0) -> EnedisFile:
    """Parse an Enedis customer export (lines without their newline): every section it holds.

    ``max_kwh_per_day`` bounds a believable day between two daily indices (36 kVA all day by default).
    """
    sections = _split_sections(lines)
    result = EnedisFile()
    bad = result.bad
    frames: list[pd.DataFrame] = []
    index_points: list[IndexPoint] = []
    for section in sections:
        fields = _preamble_fields(section.preamble)
        prm = fields.get("identifiant prm") or next(
            (m[1] for line in section.preamble if (m := _PRM_RE.search(line))), None)
        result.prm = result.prm or prm
        if not section.rows:
            continue
        kind = section_kind(section.header, fields)
        first, last = section.rows[0][0], section.rows[-1][0]
        if kind is None:
            # Said per line too, so the dead letters and the summary name the section's rows and why.
            what = f"{fields.get('type de donnees', '?')} ({fields.get('unite', '?')})"
            reason = (f"section {what} with columns {';'.join(section.header)!r} (line {section.header_line})"
                      " is not an export this importer knows (load curve, daily consumption, daily indices,"
                      " maximum power)")
            result.skipped_sections.append(f"{what}, lines {first}–{last}: not a known Enedis export")
            bad.extend(BadRow(line, raw, reason) for line, raw, _ in section.rows)
            continue
        if kind == "daily":
            figures, section_bad = daily_consumption(section.header, section.rows, fields, tz)
            result.daily.extend(figures)
            bad.extend(section_bad)
            continue
        if kind == "index":
            points, section_bad = daily_indices(section.header, section.rows, fields, tz)
            index_points.extend(points)
            bad.extend(section_bad)
            continue
        if kind == "max_power":
            peaks, section_bad = maximum_power(section.header, section.rows, fields, tz)
            result.max_power.extend(peaks)
            bad.extend(section_bad)
            continue
        table_rows = []
        for line, raw, cells in section.rows:
            if len(cells) < 2:
                bad.append(BadRow(line, raw, "expected 'time;value'"))
            else:
                table_rows.append((line, raw, cells[0], cells[1]))
        if not table_rows:
            continue
        table = pd.DataFrame(table_rows, columns=["line", "raw", "time_text", "value_text"])
        table["time"] = _parse_times(table["time_text"], tz)
        value_text = table["value_text"].str.replace(",", ".", regex=False).str.replace(" ", "", regex=False)
        # Plain decimals only: to_numeric would take 'inf', 'nan', '1e400' or a 400-digit number (→ inf).
        plain = value_text.str.fullmatch(_DECIMAL_RE) & (value_text.str.len() <= MAX_NUMBER_CHARS)
        table["power_w"] = pd.to_numeric(value_text.where(plain), errors="coerce")
        no_time = table["time"].isna()
        is_empty = value_text.eq("")
        not_number = ~is_empty & table["power_w"].isna()
        negative = table["power_w"] < 0
        for reason, mask in (
            ("time is not ISO 8601 with an offset, or a local time skipped or repeated by a DST change", no_time),
            ("value is not a number (average power in W)", ~no_time & not_number),
            ("negative average power", ~no_time & negative),
        ):
            for row in table[mask].itertuples(index=False):
                bad.append(BadRow(int(row.line), row.raw, reason))
        usable = table[~no_time & ~not_number & ~negative].sort_values(["time", "line"], kind="stable")
        repeated = usable["time"].duplicated(keep="first")
        result.duplicates += int(repeated.sum())
        usable = usable[~repeated]
        steps = infer_steps_min(usable["time"], _declared_step(section.preamble, fields))
        measured = ~usable["power_w"].isna().to_numpy()
        result.empty += int((~measured).sum())
        power = usable["power_w"].to_numpy()[measured]
        step = steps[measured]
        frames.append(_frame(usable["line"].to_numpy()[measured].tolist(), pd.DatetimeIndex(usable["time"])[measured],
                             power, step, power * step / 60.0 / 1000.0))
    if index_points:
        figures, index_bad = days_from_index(index_points, volume=False, max_per_day=max_kwh_per_day)
        result.daily.extend(figures)
        bad.extend(index_bad)
    result.daily = _one_per_day(result.daily, result)
    if frames:
        rows = pd.concat(frames, ignore_index=True).sort_values(["time", "line"], kind="stable")
        repeated = rows["time"].duplicated(keep="first")  # the same time in two sections
        result.duplicates += int(repeated.sum())
        result.rows = rows[~repeated].reset_index(drop=True)
    result.bad.sort(key=lambda b: b.line)
    return result
