"""``coopwatt privacy``: the data-protection officer's records (processing register, one household's file)."""

from __future__ import annotations

import argparse
import json
import sys
from datetime import UTC, datetime
from pathlib import Path

from coopwatt.db import connect
from coopwatt.settings import Settings


def add_arguments(privacy: argparse.ArgumentParser) -> None:
    """The privacy subcommands and their options."""
    sub = privacy.add_subparsers(dest="privacy_command", required=True)
    register = sub.add_parser("register", help="the processing register: data kinds, purposes, retention, recipients,"
                                               " consents and access-log counts")
    register.add_argument("--format", choices=("text", "json"), default="text", help="text (default) or json")
    export = sub.add_parser("export", help="one household's full file for an access request")
    export.add_argument("dwelling", help="dwelling id or RESIDENCE/BUILDING/DWELLING codes")
    export.add_argument("--format", choices=("zip", "json"), default="zip",
                        help="zip (household.json and the readings as CSV, the default) or json (one document)")
    export.add_argument("--output", help="where to write (default: coopwatt-dwelling-<id>-<date>.zip here;"
                                         " json goes to standard output unless --output is given)")


def main(settings: Settings, args: argparse.Namespace) -> int:
    """Run one privacy subcommand."""
    from coopwatt.cli import require_database_url
    from coopwatt.privacy_export import write_json, write_zip
    from coopwatt.privacy_register import build_register, register_text
    from coopwatt.users import UserError, _resolve

    with connect(require_database_url(settings)) as conn:
        if args.privacy_command == "register":
            register = build_register(conn, settings)
            if args.format == "json":
                print(json.dumps(register, ensure_ascii=False, indent=2))
            else:
                sys.stdout.write(register_text(register))
            return 0
        try:
            dwelling_id = _resolve(conn, "dwelling", args.dwelling)
        except UserError as exc:
            print(f"coopwatt privacy export: {exc}", file=sys.stderr)
            return 2
        if args.format == "json":
            if args.output:
                with open(args.output, "w", encoding="utf-8") as out:
                    write_json(conn, dwelling_id, out)
                print(f"wrote {args.output}", file=sys.stderr)
            else:
                write_json(conn, dwelling_id, sys.stdout)  # type: ignore[arg-type]
            return 0
        path = Path(args.output or f"coopwatt-dwelling-{dwelling_id}-{datetime.now(UTC):%Y%m%d}.zip")
        counts = write_zip(conn, dwelling_id, path)
        print(f"wrote {path}: household.json, " + ", ".join(f"{name} ({n} rows)" for name, n in counts.items()))
    return 0
