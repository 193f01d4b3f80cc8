"""`coopwatt reports`: build the month's letters, send them, write the print file; preferences and erasure for staff."""

from __future__ import annotations

import argparse
import re
from datetime import date, datetime
from pathlib import Path

from coopwatt.cli import require_database_url
from coopwatt.db import connect
from coopwatt.errors import CoopwattError
from coopwatt.settings import Settings
from reports.preferences import (
    DELIVERIES, LetterPreference, PreferenceError, erase_letter_details, load_preference, save_preference,
)


def _month(text: str) -> date:
    if not re.fullmatch(r"\d{4}-\d{2}", text):
        raise argparse.ArgumentTypeError(f"expected a month as YYYY-MM, got {text!r}")
    year, month = map(int, text.split("-"))
    if not 1 <= month <= 12:
        raise argparse.ArgumentTypeError(f"no month {month} in {text!r}")
    return date(year, month, 1)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The `reports` subcommands."""
    sub = parser.add_subparsers(dest="action", required=True)
    month_help = "month as YYYY-MM (default: the last complete month)"
    build = sub.add_parser("build", help="build and queue the month's letters (once per household)")
    build.add_argument("--month", type=_month, help=month_help)
    build.add_argument("--dwelling", type=int, action="append", help="only this dwelling id (repeatable)")
    sub.add_parser("send", help="e-mail the letters that are due (first tries and retries)")
    prints = sub.add_parser("print", help="write the office's print file (PDF) of the month's paper letters")
    prints.add_argument("--month", type=_month, help=month_help)
    prints.add_argument("--dir", type=Path, help="folder for the PDF (default: COOPWATT_LETTERS_PRINT_DIR)")
    run = sub.add_parser("run", help="progress, build, send and print: what the scheduled job does")
    run.add_argument("--month", type=_month, help=month_help)
    run.add_argument("--dir", type=Path, help="folder for the PDF (default: COOPWATT_LETTERS_PRINT_DIR)")
    sub.add_parser("progress", help="recompute the residences' collective progress")
    prefs = sub.add_parser("prefs", help="show or change a household's letter preferences and address")
    prefs.add_argument("dwelling", type=int, help="dwelling id")
    prefs.add_argument("--delivery", choices=DELIVERIES)
    prefs.add_argument("--email")
    prefs.add_argument("--language", choices=("fr", "en"))
    prefs.add_argument("--name", help="name on the envelope")
    prefs.add_argument("--address", help="postal address (use \\n between lines)")
    erase = sub.add_parser("erase", help="delete a household's letter preferences, address and letters (erasure)")
    erase.add_argument("dwelling", type=int, help="dwelling id")


def _today(settings: Settings) -> date:
    return datetime.now(settings.tz).date()


def _prefs(conn: object, args: argparse.Namespace) -> int:
    current = load_preference(conn, args.dwelling) or LetterPreference(args.dwelling, "paper")  # type: ignore[arg-type]
    changes = {"delivery": args.delivery, "email": args.email, "language": args.language,
               "recipient_name": args.name, "postal_address": args.address.replace("\\n", "\n") if args.address else None}
    if any(value is not None for value in changes.values()):
        wanted = LetterPreference(**{**current.__dict__, **{k: v for k, v in changes.items() if v is not None}})
        try:
            with conn.transaction():  # type: ignore[attr-defined]
                if conn.execute("SELECT 1 FROM dwelling WHERE id = %s", (args.dwelling,)).fetchone() is None:  # type: ignore[attr-defined]
                    raise CoopwattError(f"no dwelling {args.dwelling}")
                current = save_preference(conn, wanted, updated_by="cli")  # type: ignore[arg-type]
        except PreferenceError as exc:
            raise CoopwattError(f"dwelling {args.dwelling}: {exc}") from exc
    address = (current.postal_address or "").replace("\n", " / ")
    print(f"dwelling {current.dwelling_id}: delivery={current.delivery} email={current.email or '-'}"
          f" language={current.language or '-'} name={current.recipient_name or '-'} address={address or '-'}")
    return 0


def main(settings: Settings, args: argparse.Namespace) -> int:
    """Run one `coopwatt reports` action."""
    # Imported here: the letters pull in the dashboard's queries and figures, which `coopwatt --help` does not need.
    from reports.letter_content import previous_month
    from reports.letters import queue_month, send_due, write_print_file
    from reports.progress_store import refresh_progress

    url = require_database_url(settings)
    month = getattr(args, "month", None) or previous_month(_today(settings))
    with connect(url, autocommit=True) as conn:
        if args.action == "build":
            stats = queue_month(conn, settings, month, only=args.dwelling)
            print(f"letters of {month:%Y-%m}: {stats.email} to e-mail, {stats.paper} on paper queued")
        elif args.action == "send":
            sent = send_due(conn, settings)
            print(f"letters: {sent.sent} e-mailed, {sent.retrying} to retry, {sent.to_paper} moved to paper")
        elif args.action in ("print", "run"):
            if args.action == "run":
                refresh_progress(conn, settings, _today(settings))
                stats = queue_month(conn, settings, month)
                sent = send_due(conn, settings)
                print(f"letters of {month:%Y-%m}: {stats.email} to e-mail, {stats.paper} on paper queued;"
                      f" {sent.sent} e-mailed, {sent.retrying} to retry, {sent.to_paper} moved to paper")
            path, count = write_print_file(conn, settings, month, directory=args.dir)
            print(f"print file: {path} ({count} letter(s))" if path else f"print file: no paper letter of {month:%Y-%m} left to print")
        elif args.action == "progress":
            print(f"collective progress: {refresh_progress(conn, settings, _today(settings))} residence(s)")
        elif args.action == "prefs":
            return _prefs(conn, args)
        elif args.action == "erase":
            with conn.transaction():
                removed = erase_letter_details(conn, args.dwelling)
            print(f"dwelling {args.dwelling}: {removed} letter record(s) erased")
    return 0
