"""Letters benchmark: a month's letters for N dwellings built, rendered and queued, and a print file of M letters.

Seeds a residence of N homes (tests/letters_support.py: two heating seasons of hourly use through
the product's rollup refresh, a baseline and a suggestion each), computes the collective progress,
then times, in the same run:

* one letter built and rendered to HTML, alone (the baseline), and N letters queued (content
  built and stored) then rendered as e-mails: ratio to N × the single letter;
* one letter printed to PDF alone, and the print file of M letters: ratio to M × the single PDF.

With ``--seeded`` the letters are those of the seeded benchmark database (bench/rollup_seed.py: N
dwellings, a year of the simulator's use, the nightly job's results; run_nightly is run first when the
database holds no baseline): the month is the seeded year's last, two homes in three get the letter by
e-mail and the rest on paper, and what the run adds (letters, preferences) is removed at the end.

Peak memory is the process's peak resident set (ru_maxrss), read after each phase.
Targets (issue 16): 10,000 dwellings in ≤ 10 minutes and ≤ 1 GiB; a print file of 1,000 letters in ≤ 10 minutes.

Run:  uv run python bench/letters_bench.py [--dwellings N] [--print-letters M] [--seeded] [--quick]
"""

from __future__ import annotations

import argparse
import resource
import sys
import tempfile
import time
from pathlib import Path
from zoneinfo import ZoneInfo

from datetime import date, datetime, timedelta

import psycopg
from psycopg.types.json import Jsonb

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.ingest_bench import drop_database, fresh_database  # noqa: E402
from bench.rollup_seed import ADMIN_URL, SeedInfo, ensure_seeded, quick_seed  # noqa: E402
from coopwatt.settings import Settings, load_settings  # noqa: E402
from reports.letter_content import build_content  # noqa: E402
from reports.letters import queue_month, write_print_file  # noqa: E402
from reports.progress_store import refresh_progress  # noqa: E402
from reports.render import email_content, render_pdf  # noqa: E402
from tests.letters_support import TODAY, seed_residence, settings_for  # noqa: E402

MONTH = TODAY.replace(month=11, day=1)
HOMES_PER_BUILDING = 40


def peak_rss_mib() -> float:
    """The process's peak resident set so far, in MiB (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def seed(url: str, dwellings: int) -> list[int]:
    """N homes in buildings of 40, each changed by a few percent; a suggestion each; the progress computed."""
    buildings: dict[str, list[float]] = {}
    for n in range(dwellings):
        buildings.setdefault(f"B{n // HOMES_PER_BUILDING:03d}", []).append(((n * 7) % 21 - 10) / 100)
    seeded = seed_residence(url, buildings)
    ids = sorted(seeded.dwellings.values())
    with psycopg.connect(url, autocommit=True) as conn:
        with conn.cursor().copy("COPY suggestion (dwelling_id, kind, energy_kwh_per_year, cost_eur_per_year, evidence)"
                                " FROM STDIN") as copy:
            for dwelling_id in ids:
                copy.write_row((dwelling_id, "base_load", 300.0, 60.5, Jsonb({"base_load_w": 120.0})))
        refresh_progress(conn, settings_for(url), TODAY)
    return ids


def seeded(info: SeedInfo) -> tuple[str, list[int], Settings, date, datetime]:
    """The seeded database's dwellings, with the nightly results, e-mail for two homes in three, progress computed."""
    settings = load_settings({}, database_url=info.url)
    now = info.end + timedelta(hours=6)  # the morning after the seeded year's last night
    last_day = (info.end - timedelta(hours=1)).astimezone(ZoneInfo(settings.timezone)).date()
    month = last_day.replace(day=1)
    with psycopg.connect(info.url, autocommit=True) as conn:
        if conn.execute("SELECT NOT EXISTS (SELECT 1 FROM baseline)").fetchone()[0]:
            from analytics.job.nightly import run_nightly

            started = time.perf_counter()
            summary = run_nightly(info.url, settings, now=now)
            print(f"nightly run first (no baseline stored): {time.perf_counter() - started:.0f} s, {summary.status}")
        cleanup_seeded(conn, month)
        conn.execute("INSERT INTO letter_preference (dwelling_id, delivery, email, updated_by)"
                     " SELECT id, 'email', 'home' || id || '@bench.invalid', 'bench' FROM dwelling WHERE id % 3 <> 0")
        refresh_progress(conn, settings, last_day)
        ids = [row[0] for row in conn.execute(
            "SELECT DISTINCT dwelling_id FROM meter WHERE dwelling_id IS NOT NULL ORDER BY 1")]
    return info.url, ids, settings, month, now


def cleanup_seeded(conn: psycopg.Connection, month: date) -> None:
    """Remove what a seeded run adds, so the next run starts from the same database."""
    conn.execute("DELETE FROM letter WHERE month = %s", (month,))
    conn.execute("DELETE FROM letter_preference WHERE updated_by = 'bench'")


def measure(url: str, ids: list[int], settings: Settings, month: date, print_letters: int) -> None:
    """Time the single letter, the month's queue and rendering, and the print file; print ratios and peak memory."""
    with psycopg.connect(url, autocommit=True) as conn:
        # Warm-up (template compilation, Babel locale data), then the single-letter baseline.
        email_content(build_content(conn, ids[0], month, settings, "fr") or {})
        started = time.perf_counter()
        single = build_content(conn, ids[1], month, settings, "fr")
        assert single is not None
        email_content(single)
        single_s = time.perf_counter() - started

        started = time.perf_counter()
        stats = queue_month(conn, settings, month)
        rendered = 0
        for (content,) in conn.execute("SELECT content FROM letter WHERE month = %s", (month,)):
            email_content(content)
            rendered += 1
        queue_s = time.perf_counter() - started
        queued = stats.email + stats.paper
        print(f"one letter built and rendered: {single_s * 1000:.1f} ms")
        print(f"{queued} letters built, queued and rendered as e-mail ({stats.email} e-mail, {stats.paper} paper):"
              f" {queue_s:.2f} s ({queue_s / max(queued, 1) * 1000:.1f} ms each); peak RSS {peak_rss_mib():.0f} MiB")
        print(f"queue / (N x one letter) = {queue_s / (single_s * max(queued, 1)):.2f}")
        per_10k_min = queue_s / max(queued, 1) * 10_000 / 60
        print(f"extrapolated to 10,000 dwellings: {per_10k_min:.1f} min (target 10 min)")

        render_pdf([single])  # warm-up: Pango and fonts load on first use
        started = time.perf_counter()
        render_pdf([single])
        one_pdf_s = time.perf_counter() - started
        # Only the first M paper letters stay unprinted for the print file.
        paper = [row[0] for row in conn.execute(
            "SELECT dwelling_id FROM letter WHERE month = %s AND channel = 'paper' ORDER BY dwelling_id LIMIT %s",
            (month, print_letters))]
        conn.execute("UPDATE letter SET sent_at = now() WHERE month = %s AND dwelling_id <> ALL(%s)", (month, paper))
        with tempfile.TemporaryDirectory() as folder:
            started = time.perf_counter()
            path, printed = write_print_file(conn, settings, month, directory=Path(folder))
            print_s = time.perf_counter() - started
            size_mib = path.stat().st_size / 2**20 if path else 0.0
        print(f"one letter as PDF: {one_pdf_s * 1000:.0f} ms")
        print(f"print file of {printed} letters: {print_s:.2f} s, {size_mib:.1f} MiB; peak RSS {peak_rss_mib():.0f} MiB")
        print(f"print file / (M x one PDF) = {print_s / (one_pdf_s * max(printed, 1)):.2f}")
        print(f"extrapolated to 1,000 letters: {print_s / max(printed, 1) * 1000 / 60:.1f} min (target 10 min)")


def main() -> None:
    """Seed (or reuse the seeded database), then measure; print ratios and peak memory."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dwellings", type=int, default=1000)
    parser.add_argument("--print-letters", type=int, default=200)
    parser.add_argument("--seeded", action="store_true",
                        help="the seeded benchmark database of --dwellings (bench/rollup_seed.py) instead of a fresh one")
    parser.add_argument("--quick", action="store_true",
                        help="tiny scale, seconds: checks the script still runs (both paths, the seeded one on a throwaway seed)")
    args = parser.parse_args()
    if args.quick:
        args.dwellings, args.print_letters, args.seeded = 12, 6, False
    if args.seeded:
        run_seeded(ensure_seeded(ADMIN_URL, args.dwellings), args.print_letters)
        return
    url = fresh_database()
    try:
        started = time.perf_counter()
        ids = seed(url, args.dwellings)
        print(f"seeded {len(ids)} dwellings in {time.perf_counter() - started:.1f} s; peak RSS {peak_rss_mib():.0f} MiB")
        measure(url, ids, settings_for(url), MONTH, args.print_letters)
    finally:
        drop_database(url)
    if args.quick:  # the seeded path too, on a throwaway seed of its own
        with quick_seed() as info:
            run_seeded(info, args.print_letters)


def run_seeded(info: SeedInfo, print_letters: int) -> None:
    """Measure the letters of a seeded database, then remove what the run added."""
    url, ids, settings, month, _ = seeded(info)
    print(f"seeded database: {len(ids)} dwellings; letters for {month.isoformat()[:7]}")
    try:
        measure(url, ids, settings, month, print_letters)
    finally:
        with psycopg.connect(url, autocommit=True) as conn:
            cleanup_seeded(conn, month)


if __name__ == "__main__":
    main()
