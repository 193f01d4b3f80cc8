"""Import benchmark: a year of 30-minute Enedis load curve (17,520 rows) through `coopwatt import`.

Baseline in the same run: the same rows inserted one INSERT per row in one transaction
(what a straightforward importer would do). Also prints parse-only time and the
re-import of the same file (idempotent: nothing new).

Run:  uv run python bench/import_bench.py [--quick]   (--quick: two weeks of rows, seconds)
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.ingest_bench import drop_database, fresh_database  # noqa: E402
from coopwatt.settings import load_settings  # noqa: E402
from ingest.enedis import parse_enedis  # noqa: E402
from ingest.importer import import_file, read_lines  # noqa: E402
from tests.factories import make_meters  # noqa: E402

PRM = "09876543210123"
PARIS = ZoneInfo("Europe/Paris")


def write_year(path: Path, days: int = 365) -> int:
    """A year (or ``days``) of 30-minute average power, as Enedis exports it (local time with offset, step end)."""
    start = datetime(2025, 1, 1, tzinfo=PARIS).astimezone(UTC)
    lines = [
        "Identifiant PRM;Type de donnees;Date de debut;Date de fin;Grandeur physique;Grandeur metier;"
        "Etape metier;Unite;Pas en minutes",
        f"{PRM};Courbe de charge;01/01/2025;01/01/2026;Energie active;Consommation;Comptage Brut;W;30",
        "Horodate;Valeur",
    ]
    rows = days * 48
    for i in range(1, rows + 1):
        end = (start + timedelta(minutes=30 * i)).astimezone(PARIS)
        lines.append(f"{end.isoformat()};{400 + (i * 37) % 2600}")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return rows


def fresh() -> str:
    """A migrated database with the file's meter registered (an interval meter)."""
    url = fresh_database()
    make_meters(url, [PRM], mode="interval")
    return url


def main() -> None:
    """Import the generated file, then the same rows one INSERT each; print both and the ratio."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="two weeks of rows, seconds: checks the script runs")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "enedis_year.csv"
        rows = write_year(path, days=14 if args.quick else 365)
        settings = load_settings({})

        started = time.perf_counter()
        parse_enedis(read_lines(path), settings.tz)
        parse_s = time.perf_counter() - started

        url = fresh()
        try:
            with psycopg.connect(url) as conn:
                started = time.perf_counter()
                import_file(conn, path, settings, progress=False)
                import_s = time.perf_counter() - started
                started = time.perf_counter()
                again = import_file(conn, path, settings, progress=False)
                reimport_s = time.perf_counter() - started
                stored = conn.execute("SELECT count(*) FROM reading").fetchone()[0]
        finally:
            drop_database(url)

        # Baseline: one INSERT per row, one transaction, same rows.
        url = fresh()
        try:
            with psycopg.connect(url) as conn:
                meter_id = conn.execute("SELECT id FROM meter").fetchone()[0]
                values = [(meter_id, 4, t, v) for t, v in _rows_of(path)]
                started = time.perf_counter()
                for row in values:
                    conn.execute("INSERT INTO reading (meter_id, quantity_id, time, value) VALUES (%s, %s, %s, %s)"
                                 " ON CONFLICT DO NOTHING", row)
                conn.commit()
                naive_s = time.perf_counter() - started
        finally:
            drop_database(url)

    print(f"rows in file: {rows:,}; stored: {stored:,}; second import stored {again.stored} new")
    print(f"parse only:            {parse_s:6.2f} s  ({rows / parse_s:,.0f} rows/s)")
    print(f"coopwatt import:       {import_s:6.2f} s  ({rows / import_s:,.0f} rows/s)")
    print(f"re-import (no-op):     {reimport_s:6.2f} s")
    print(f"naive INSERT per row:  {naive_s:6.2f} s  ({rows / naive_s:,.0f} rows/s)")
    print(f"ratio coopwatt / naive = {naive_s / import_s:.1f}x faster")


def _rows_of(path: Path) -> list[tuple[datetime, float]]:
    """The (end time, energy kWh) pairs of the generated file (30-minute steps)."""
    out = []
    for line in path.read_text(encoding="utf-8").splitlines()[3:]:
        stamp, watts = line.split(";")
        out.append((datetime.fromisoformat(stamp), float(watts) * 0.5 / 1000))
    return out


if __name__ == "__main__":
    main()
