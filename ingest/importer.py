"""``coopwatt import PATH``: load an Enedis load-curve CSV or a plain CSV into ``reading``, or outdoor temperatures.

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
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd
import psycopg
from tqdm import tqdm

from coopwatt.quantities import Quantity
from coopwatt.settings import Settings
from ingest.enedis import looks_like_enedis, parse_enedis
from ingest.plain_csv import BadRow, MeterRef, looks_like_plain, parse_plain
from ingest.reading import PayloadError
from ingest.store import ReadingRow, TemperatureRow, store_dead_letters, store_readings
from ingest.temperature_csv import looks_like_temperature, parse_temperatures

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
    """'enedis', 'plain' or 'temperature' from the first lines; ImportFailed if none."""
    head = lines[:20]
    if looks_like_enedis(head):
        return "enedis"
    if head and looks_like_plain(head[0]):
        return "plain"
    if head and looks_like_temperature(head[0]):
        return "temperature"
    raise ImportFailed("format non reconnu / unrecognised format: expected an Enedis load curve"
                       " (Horodate;Valeur), a plain CSV with columns meter,time,value,unit, or outdoor"
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


def _import_enedis(conn: psycopg.Connection, path: Path, lines: list[str], settings: Settings,
                   meter_source: str | None, progress: bool) -> ImportSummary:
    parsed = parse_enedis(lines, settings.tz)
    source = meter_source or parsed.prm
    if source is None:
        raise ImportFailed("compteur inconnu / unknown meter: the file names no PRM; pass --meter SOURCE")
    row = conn.execute("SELECT id, kind FROM meter WHERE source = %s", (source,)).fetchone()
    if row is None:
        raise ImportFailed(f"compteur inconnu / unknown meter: no meter has source {source!r}"
                           " (register it, or pass --meter SOURCE)")
    meter_id, kind = row
    if kind != "electricity":
        raise ImportFailed(f"meter {source!r} is a {kind} meter; an Enedis load curve is electricity")
    times = pd.DatetimeIndex(parsed.rows["time"]).to_pydatetime()
    quantity = int(Quantity.ENERGY_KWH)
    rows: list[ReadingRow] = [
        (meter_id, quantity, t, e) for t, e in zip(times, parsed.rows["energy_kwh"].tolist(), strict=True)
    ]
    stored = _store(conn, rows, progress, path.name)
    _dead_letters(conn, path, parsed.bad)
    return ImportSummary(
        path=str(path), format="enedis",
        rows_read=len(rows) + len(parsed.bad) + parsed.empty + parsed.duplicates,
        stored=stored, already_present=len(rows) - stored, rejected=len(parsed.bad), empty=parsed.empty,
        duplicates=parsed.duplicates, skipped_sections=parsed.skipped_sections, bad=parsed.bad,
    )


def _import_plain(conn: psycopg.Connection, path: Path, lines: list[str], settings: Settings,
                  progress: bool) -> ImportSummary:
    meters = {source: MeterRef(mid, mode) for mid, source, mode in conn.execute("SELECT id, source, mode FROM meter")}
    try:
        parsed = parse_plain(lines, meters, settings.tz)
    except PayloadError as exc:
        raise ImportFailed(str(exc)) from exc
    rows: list[ReadingRow] = [(meters[r.source].meter_id, int(r.quantity), r.time, r.value) for _, r in parsed.readings]
    stored = _store(conn, rows, progress, path.name)
    _dead_letters(conn, path, parsed.bad)
    return ImportSummary(
        path=str(path), format="plain", rows_read=len(rows) + len(parsed.bad),
        stored=stored, already_present=len(rows) - stored, rejected=len(parsed.bad), bad=parsed.bad,
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
