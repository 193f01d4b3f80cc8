"""``coopwatt import PATH``: load a utility export or a plain CSV into ``reading``/``consumption_day``, or temperatures.

Formats (docs/payload-formats.md): Enedis customer exports (load curve, daily
consumption, daily indices, maximum power), the Enedis per-measure layout for many
meters, GRDF gas exports, a water utility's daily index export, a plain CSV of
readings, outdoor temperatures.

Thin I/O around the pure parsers (``ingest.enedis``, ``ingest.plain_csv``, ``ingest.temperature_csv``):
read the file, find the meters, write with ``ingest.store`` (COPY, idempotent:
importing twice stores nothing new), record every bad row in ``dead_letter``
(source ``import``, topic = file name, payload = the raw line, reason with the
line number) and print a summary. The whole file is one transaction.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd
import psycopg
from tqdm import tqdm

from coopwatt.consent import Collection
from coopwatt.quantities import Quantity
from coopwatt.settings import Settings
from ingest.daily import DayFigure
from ingest.enedis import looks_like_enedis, parse_enedis
from ingest.import_consent import daily_totals, file_consent, gate_rows, refuse
from ingest.enedis_measures import MeasurePoint, looks_like_measures, parse_measures
from ingest.import_daily import DayCounts, meters_by_source, store_days, unknown_meter_rows
from ingest.plain_csv import BadRow, MeterRef, looks_like_plain, parse_plain
from ingest.reading import PayloadError
from ingest.store import ReadingRow, TemperatureRow, store_dead_letters, store_readings
from ingest.temperature_csv import looks_like_temperature, parse_temperatures
from ingest.utility_daily import UtilityFile, detect_utility, parse_grdf, parse_water

log = logging.getLogger(__name__)

CHUNK_ROWS = 5000
SHOWN_BAD_ROWS = 50  # printed; all of them are in dead_letter


class ImportFailed(Exception):
    """The file as a whole cannot be imported (unknown format, unknown meter); the text says why."""


@dataclass
class ImportSummary:
    """What one import did (rows_read = stored + updated + already_present + rejected + empty + duplicates)."""

    path: str
    format: str
    rows_read: int = 0
    stored: int = 0
    already_present: int = 0
    rejected: int = 0
    empty: int = 0
    duplicates: int = 0
    updated: int = 0  # temperatures corrected by a later file
    not_consented: int = 0  # rows of meters whose household gave no consent to their flow (dead letter per meter)
    reduced: int = 0  # finer-than-daily rows kept as daily values only (the household refused the load curve)
    days: DayCounts = field(default_factory=DayCounts)  # daily figures (consumption_day)
    skipped_sections: list[str] = field(default_factory=list)
    bad: list[BadRow] = field(default_factory=list)

    def lines(self) -> list[str]:
        """The summary a person reads, in French and English."""
        out = [
            f"{self.path} ({self.format})",
            f"  lignes lues / rows read:                {self.rows_read}",
            f"  enregistrées / stored:                  {self.stored}",
            f"  déjà présentes / already present:       {self.already_present}",
            f"  rejetées / rejected:                    {self.rejected}",
        ]
        if self.updated:
            out.append(f"  corrigées / corrected:                  {self.updated}")
        if self.days != DayCounts():
            out += [
                f"  jours enregistrés / days stored:        {self.days.stored}",
                f"  jours corrigés / days corrected:        {self.days.corrected}",
                f"  jours déjà présents / days present:     {self.days.unchanged}",
            ]
        if self.not_consented:
            out.append(f"  sans consentement / without consent:    {self.not_consented}")
        if self.reduced:
            out.append(f"  réduites au jour / reduced to daily:    {self.reduced}")
        if self.empty:
            out.append(f"  sans valeur / without a value:          {self.empty}")
        if self.duplicates:
            out.append(f"  horodate répétée / repeated timestamp:  {self.duplicates}")
        out += [f"  section ignorée / skipped section: {s}" for s in self.skipped_sections]
        return out


def read_lines(path: Path) -> list[str]:
    """The file's lines: UTF-8 (with or without BOM), else Windows-1252 as spreadsheets save it."""
    data = path.read_bytes()
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        text = data.decode("cp1252", errors="replace")
    return text.splitlines()


def detect_format(lines: list[str]) -> str:
    """'enedis', 'enedis_measures', 'grdf', 'water', 'plain' or 'temperature' from the first lines; ImportFailed if none."""
    head = lines[:20]
    if looks_like_enedis(head):
        return "enedis"
    if looks_like_measures(head):
        return "enedis_measures"
    utility = detect_utility(head)
    if utility is not None:
        return utility
    if head and looks_like_plain(head[0]):
        return "plain"
    if head and looks_like_temperature(head[0]):
        return "temperature"
    raise ImportFailed("format non reconnu / unrecognised format: expected an Enedis export"
                       " (Horodate;…), the Enedis per-measure layout (Date de la mesure;…;Valeur;…), a GRDF"
                       " export (Date…;Volume…;Energie…), a water index export (Date…;Index…), a plain CSV with columns meter,time,value,unit, or outdoor"
                       " temperatures with columns residence,time,temperature")


def _chunks(rows: list[ReadingRow], size: int) -> Iterator[list[ReadingRow]]:
    for start in range(0, len(rows), size):
        yield rows[start:start + size]


def _store(conn: psycopg.Connection, rows: list[ReadingRow], progress: bool, label: str) -> int:
    stored = 0
    with tqdm(total=len(rows), unit="row", desc=label, disable=not progress, file=sys.stderr) as bar:
        for chunk in _chunks(rows, CHUNK_ROWS):
            stored += store_readings(conn, chunk)
            bar.update(len(chunk))
    return stored


def _dead_letters(conn: psycopg.Connection, path: Path, bad: Iterable[BadRow]) -> None:
    # Re-importing a file must not record its bad rows a second time.
    known = set(conn.execute(
        "SELECT payload, reason FROM dead_letter WHERE source = 'import' AND topic = %s", (path.name,)).fetchall())
    now = datetime.now(UTC)
    fresh = [(b.raw.encode("utf-8"), f"line {b.line}: {b.reason}") for b in bad]
    store_dead_letters(conn, (("import", path.name, payload, reason, now)
                              for payload, reason in fresh if (payload, reason) not in known))


def _one_meter(conn: psycopg.Connection, source: str | None, kind: str, what: str) -> int:
    """The id of the meter a single-meter file belongs to; ImportFailed naming the problem."""
    if source is None:
        raise ImportFailed(f"compteur inconnu / unknown meter: the {what} names no meter; pass --meter SOURCE")
    row = conn.execute("SELECT id, kind FROM meter WHERE source = %s", (source,)).fetchone()
    if row is None:
        raise ImportFailed(f"compteur inconnu / unknown meter: no meter has source {source!r}"
                           " (register it, or pass --meter SOURCE)")
    if row[1] != kind:
        raise ImportFailed(f"meter {source!r} is a {row[1]} meter; an {what} is {kind}")
    return int(row[0])


def _import_enedis(conn: psycopg.Connection, path: Path, lines: list[str], settings: Settings,
                   meter_source: str | None, progress: bool) -> ImportSummary:
    parsed = parse_enedis(lines, settings.tz, max_kwh_per_day=settings.ingest_max_power_w * 24 / 1000.0)
    if parsed.rows.empty and not (parsed.daily or parsed.max_power or parsed.bad or parsed.empty):
        raise ImportFailed("aucune mesure / no measure: the file has no data row under a 'Horodate;…' line")
    meter_id = _one_meter(conn, meter_source or parsed.prm, "electricity", "Enedis export")
    times = pd.DatetimeIndex(parsed.rows["time"]).to_pydatetime()
    quantity = int(Quantity.ENERGY_KWH)
    rows: list[ReadingRow] = [
        (meter_id, quantity, t, e) for t, e in zip(times, parsed.rows["energy_kwh"].tolist(), strict=True)
    ]
    rows += [(meter_id, int(Quantity.APPARENT_POWER_VA), when, va) for _, when, va in parsed.max_power]
    rows_read = len(rows) + len(parsed.daily) + len(parsed.bad) + parsed.empty + parsed.duplicates
    consent = file_consent(conn, [meter_id])
    daily, not_consented, reduced = list(parsed.daily), 0, 0
    if consent.of(meter_id) is Collection.NONE:
        not_consented = len(rows) + len(daily)
        refuse(conn, path, {meter_id: not_consented}, consent)
        rows, daily = [], []
    elif consent.of(meter_id) is Collection.DAILY:
        # The load curve becomes each day's total; a day the file also gives as a daily figure keeps Enedis' own.
        given = {d.day for d in daily}
        daily += [d for d in daily_totals(zip(times, parsed.rows["energy_kwh"].tolist(),
                                              parsed.rows["step_min"].tolist(), strict=True), settings.tz)
                  if d.day not in given]
        reduced, rows = len(rows), []
    stored = _store(conn, rows, progress, path.name)
    days = store_days(conn, meter_id, daily, settings.tz, "enedis")
    _dead_letters(conn, path, parsed.bad)
    return ImportSummary(
        path=str(path), format="enedis", rows_read=rows_read,
        stored=stored, already_present=len(rows) - stored, rejected=len(parsed.bad), empty=parsed.empty,
        duplicates=parsed.duplicates, skipped_sections=parsed.skipped_sections, bad=parsed.bad, days=days,
        not_consented=not_consented, reduced=reduced,
    )


def _import_measures(conn: psycopg.Connection, path: Path, lines: list[str], settings: Settings,
                     meter_source: str | None, progress: bool) -> ImportSummary:
    parsed = parse_measures(lines, settings.tz)
    if meter_source is not None:  # a file without a PRM column: every row is that meter's
        parsed.points = [replace(p, prm=p.prm or meter_source) for p in parsed.points]
        parsed.daily = [replace(d, meter=d.meter or meter_source) for d in parsed.daily]
    items = [(p.line, p.prm) for p in parsed.points] + [(d.line, d.meter or "") for d in parsed.daily]
    known = meters_by_source(conn, (source for _, source in items))
    rejected, unknown = unknown_meter_rows(lines, items, known, "electricity")
    consent = file_consent(conn, (ids[0] for ids in known.values()))
    points = [p for p in parsed.points if p.line not in rejected]
    daily = [d for d in parsed.daily if d.line not in rejected]
    refused: dict[int, int] = {}
    for meter_id in {known[p.prm][0] for p in points} | {known[d.meter or ""][0] for d in daily}:
        if consent.of(meter_id) is Collection.NONE:
            refused[meter_id] = sum(known[p.prm][0] == meter_id for p in points) + sum(
                known[d.meter or ""][0] == meter_id for d in daily)
    refuse(conn, path, refused, consent)
    daily = [d for d in daily if known[d.meter or ""][0] not in refused]
    points = [p for p in points if known[p.prm][0] not in refused]
    daily_only = [p for p in points if consent.of(known[p.prm][0]) is Collection.DAILY]
    points = [p for p in points if consent.of(known[p.prm][0]) is Collection.FULL]
    daily += _daily_of_points(daily_only, {(d.meter, d.day) for d in daily}, settings)
    quantity = int(Quantity.ENERGY_KWH)
    rows: list[ReadingRow] = [(known[p.prm][0], quantity, p.time, p.energy_kwh) for p in points]
    stored = _store(conn, rows, progress, path.name)
    estimated = [(known[p.prm][0], quantity, p.time) for p in points if p.estimated]
    if estimated:
        with conn.cursor() as cur:
            cur.executemany("INSERT INTO reading_estimated (meter_id, quantity_id, time) VALUES (%s, %s, %s)"
                            " ON CONFLICT DO NOTHING", estimated)
    days = store_days(conn, {source: ids[0] for source, ids in known.items()}, daily, settings.tz, "enedis")
    bad = sorted(parsed.bad + unknown, key=lambda b: b.line)
    _dead_letters(conn, path, bad)
    return ImportSummary(
        path=str(path), format="enedis_measures",
        rows_read=len(parsed.points) + len(parsed.daily) + len(parsed.bad) + parsed.empty + parsed.duplicates,
        stored=stored, already_present=len(rows) - stored, rejected=len(bad), empty=parsed.empty,
        duplicates=parsed.duplicates, bad=bad, days=days, not_consented=sum(refused.values()),
        reduced=len(daily_only),
    )


def _daily_of_points(points: list[MeasurePoint], given: set[tuple[str | None, object]],
                     settings: Settings) -> list[DayFigure]:
    """Each meter's curve points as daily totals (the household allows daily values only), days given kept."""
    out: list[DayFigure] = []
    for prm in sorted({p.prm for p in points}):
        mine = [(p.time, p.energy_kwh, None) for p in points if p.prm == prm]
        out += [replace(d, meter=prm) for d in daily_totals(mine, settings.tz) if (prm, d.day) not in given]
    return out


def _import_utility(conn: psycopg.Connection, path: Path, parsed: UtilityFile, kind: str, what: str,
                    settings: Settings, meter_source: str | None) -> ImportSummary:
    meter_id = _one_meter(conn, meter_source or parsed.meter, kind, what)
    consent = file_consent(conn, [meter_id])
    daily, not_consented = parsed.daily, 0
    if consent.of(meter_id) is Collection.NONE:
        not_consented, daily = len(daily), []
        refuse(conn, path, {meter_id: not_consented}, consent)
    days = store_days(conn, meter_id, daily, settings.tz, parsed.format)
    _dead_letters(conn, path, parsed.bad)
    return ImportSummary(
        path=str(path), format=parsed.format,
        rows_read=len(parsed.daily) + len(parsed.bad) + parsed.empty + parsed.duplicates,
        rejected=len(parsed.bad), empty=parsed.empty, duplicates=parsed.duplicates, bad=parsed.bad, days=days,
        not_consented=not_consented,
    )


def _import_plain(conn: psycopg.Connection, path: Path, lines: list[str], settings: Settings,
                  progress: bool) -> ImportSummary:
    meters = {source: MeterRef(mid, mode) for mid, source, mode in conn.execute("SELECT id, source, mode FROM meter")}
    try:
        parsed = parse_plain(lines, meters, settings.tz)
    except PayloadError as exc:
        raise ImportFailed(str(exc)) from exc
    rows: list[ReadingRow] = [(meters[r.source].meter_id, int(r.quantity), r.time, r.value) for _, r in parsed.readings]
    rows_read = len(rows) + len(parsed.bad)
    gate = gate_rows(conn, path, rows, file_consent(conn, (r[0] for r in rows)), settings.tz)
    stored = _store(conn, gate.kept, progress, path.name)
    _dead_letters(conn, path, parsed.bad)
    return ImportSummary(
        path=str(path), format="plain", rows_read=rows_read,
        stored=stored, already_present=len(gate.kept) - stored, rejected=len(parsed.bad), bad=parsed.bad,
        not_consented=sum(gate.refused.values()), reduced=gate.reduced,
    )


def _upsert_temperatures(conn: psycopg.Connection, rows: list[TemperatureRow]) -> tuple[int, int]:
    """Store one chunk of temperatures; return (new, corrected). Does not commit."""
    inserted = updated = 0
    with conn.cursor() as cur:
        # A corrected weather file replaces what an earlier import stored: the later file is the better one.
        cur.executemany(
            "INSERT INTO outdoor_temperature (residence_id, time, temperature_c) VALUES (%s, %s, %s)"
            " ON CONFLICT (residence_id, time) DO UPDATE SET temperature_c = excluded.temperature_c"
            " WHERE outdoor_temperature.temperature_c IS DISTINCT FROM excluded.temperature_c"
            " RETURNING (xmax = 0)",  # true for a new row, false for a corrected one; nothing when unchanged
            rows, returning=True,
        )
        while True:
            for (is_new,) in cur.fetchall():
                inserted += bool(is_new)
                updated += not is_new
            if not cur.nextset():
                break
    return inserted, updated


def _import_temperature(conn: psycopg.Connection, path: Path, lines: list[str], settings: Settings,
                        residence: str | None, progress: bool) -> ImportSummary:
    residences = dict(conn.execute("SELECT code, id FROM residence").fetchall())
    try:
        parsed = parse_temperatures(lines, residences, settings.tz, residence)
    except PayloadError as exc:
        raise ImportFailed(str(exc)) from exc
    rows: list[TemperatureRow] = [(rid, when, celsius) for _, rid, when, celsius in parsed.rows]
    inserted = updated = 0
    with tqdm(total=len(rows), unit="row", desc=path.name, disable=not progress, file=sys.stderr) as bar:
        for start in range(0, len(rows), CHUNK_ROWS):
            chunk = rows[start:start + CHUNK_ROWS]
            new, corrected = _upsert_temperatures(conn, chunk)
            inserted += new
            updated += corrected
            bar.update(len(chunk))
    _dead_letters(conn, path, parsed.bad)
    return ImportSummary(path=str(path), format="temperature",
                         rows_read=len(rows) + len(parsed.bad) + parsed.duplicates,
                         stored=inserted, already_present=len(rows) - inserted - updated, rejected=len(parsed.bad),
                         duplicates=parsed.duplicates, updated=updated, bad=parsed.bad)


def import_file(conn: psycopg.Connection, path: Path, settings: Settings, *, fmt: str = "auto",
                meter_source: str | None = None, progress: bool = True,
                residence: str | None = None) -> ImportSummary:
    """Import one CSV file in one transaction (committed here); ImportFailed if the file cannot be used at all."""
    lines = read_lines(path)
    chosen = detect_format(lines) if fmt == "auto" else fmt
    try:
        if chosen == "enedis":
            summary = _import_enedis(conn, path, lines, settings, meter_source, progress)
        elif chosen == "enedis_measures":
            summary = _import_measures(conn, path, lines, settings, meter_source, progress)
        elif chosen == "grdf":
            summary = _import_utility(conn, path, parse_grdf(lines, settings.tz), "gas", "GRDF export",
                                      settings, meter_source)
        elif chosen == "water":
            summary = _import_utility(conn, path, parse_water(lines, settings.tz,
                                                              max_m3_per_day=settings.ingest_max_flow_m3_per_h * 24),
                                      "water", "water index export", settings, meter_source)
        elif chosen == "plain":
            summary = _import_plain(conn, path, lines, settings, progress)
        elif chosen == "temperature":
            summary = _import_temperature(conn, path, lines, settings, residence, progress)
        else:
            raise ValueError(f"unknown format {chosen!r}")
    except BaseException:
        conn.rollback()
        raise
    conn.commit()
    log.info("imported %s: %d stored, %d already present, %d rejected", path, summary.stored,
             summary.already_present, summary.rejected)
    return summary


def main(settings: Settings, args: argparse.Namespace) -> int:
    """The `coopwatt import` command: 0 when every row was usable, 1 when some were rejected, 2 on failure."""
    from coopwatt.cli import require_database_url

    path = Path(args.path)
    if not path.is_file():
        print(f"coopwatt import: fichier introuvable / file not found: {path}", file=sys.stderr)
        return 2
    with psycopg.connect(require_database_url(settings), application_name="coopwatt-import") as conn:
        try:
            summary = import_file(conn, path, settings, fmt=args.format, meter_source=args.meter,
                                  progress=sys.stderr.isatty(), residence=getattr(args, "residence", None))
        except ImportFailed as exc:
            print(f"coopwatt import: {exc}", file=sys.stderr)
            return 2
    for bad in summary.bad[:SHOWN_BAD_ROWS]:
        print(f"  ligne/line {bad.line}: {bad.reason}", file=sys.stderr)
    if len(summary.bad) > SHOWN_BAD_ROWS:
        print(f"  … {len(summary.bad) - SHOWN_BAD_ROWS} more in dead_letter (topic {path.name!r})", file=sys.stderr)
    print("\n".join(summary.lines()))
    return 1 if summary.rejected else 0
