"""``coopwatt consent show|record|withdraw|texts``: consents from signed paper forms, recorded by staff.

Households decide online on their page; a household that prefers paper signs a form and a staff member
records it here, naming their own account and the form's reference. Nothing here is reachable from the
dashboard: staff cannot withdraw a household's consent from its page.
"""

from __future__ import annotations

import argparse
import sys
from datetime import date, datetime

import psycopg

from coopwatt import consent
from coopwatt.consent_data import apply_withdrawal
from coopwatt.consent_texts import all_texts
from coopwatt.settings import Settings
from coopwatt.users import UserError, _resolve, normalise_username

_CHOICES = ("delete", "aggregate", "keep")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``coopwatt consent``."""
    sub = parser.add_subparsers(dest="consent_command", required=True)
    show = sub.add_parser("show", help="a dwelling's consents in force and their history")
    show.add_argument("dwelling", help="dwelling id or RESIDENCE/BUILDING/DWELLING codes")
    record = sub.add_parser("record", help="record a signed paper form's decisions")
    record.add_argument("dwelling", help="dwelling id or RESIDENCE/BUILDING/DWELLING codes")
    record.add_argument("--grant", nargs="*", default=[], metavar="FLOW", choices=consent.FLOWS)
    record.add_argument("--refuse", nargs="*", default=[], metavar="FLOW", choices=consent.FLOWS)
    withdraw = sub.add_parser("withdraw", help="record a withdrawal signed on paper, and apply the household's choice")
    withdraw.add_argument("dwelling", help="dwelling id or RESIDENCE/BUILDING/DWELLING codes")
    withdraw.add_argument("flow", choices=consent.FLOWS)
    withdraw.add_argument("--data", choices=_CHOICES, required=True,
                          help="what the household chose for the data already collected (aggregate: load curve only)")
    for command in (record, withdraw):
        command.add_argument("--staff", required=True, help="your own account (admin, manager or adviser)")
        command.add_argument("--form", required=True, help="the signed paper form's reference")
    record.add_argument("--date", type=date.fromisoformat, help="the form's date (YYYY-MM-DD; default today)")
    texts = sub.add_parser("texts", help="print the consent texts (for a paper form) with their version")
    texts.add_argument("--lang", choices=("fr", "en"), default="fr")


def _staff(conn: psycopg.Connection, username: str) -> int:
    row = conn.execute("SELECT id, role FROM account WHERE username = %s", (normalise_username(username),)).fetchone()
    if row is None or row[1] == "household":
        raise UserError(f"--staff {username!r}: no staff account of that name")
    return int(row[0])


def _print_history(conn: psycopg.Connection, dwelling_id: int) -> None:
    for r in consent.consent_history(conn, dwelling_id):
        state = ("in force" if r.in_force else "refused" if not r.granted
                 else f"withdrawn {r.withdrawn_at:%Y-%m-%d} by {r.withdrawn_by} ({r.withdrawal_choice})")
        who = r.recorded_by + (f" {r.recorded_username}" if r.recorded_username else "") + (
            f", form {r.paper_form}" if r.paper_form else "")
        print(f"{r.flow:24} {r.decided_at:%Y-%m-%d}  {state:40} {who}  text {r.text_version}")


def main(settings: Settings, args: argparse.Namespace) -> int:
    """Run one ``coopwatt consent`` command; 2 on a usage error."""
    from coopwatt.cli import require_database_url

    if args.consent_command == "texts":
        print(f"version {consent.TEXT_VERSION}")
        for flow, text in all_texts(args.lang, settings).items():
            print(f"\n[{flow}] {text.title}\n  " + "\n  ".join(text.paragraphs()))
        return 0
    with psycopg.connect(require_database_url(settings), application_name="coopwatt-consent") as conn:
        try:
            dwelling_id = _resolve(conn, "dwelling", args.dwelling)
            if args.consent_command == "record":
                overlap = set(args.grant) & set(args.refuse)
                if overlap or not (args.grant or args.refuse):
                    raise UserError("give each flow once, with --grant or --refuse")
                decided = (datetime.combine(args.date, datetime.min.time(), settings.tz) if args.date else None)
                decisions = {**dict.fromkeys(args.refuse, False), **dict.fromkeys(args.grant, True)}
                consent.record_decisions(conn, dwelling_id, decisions, recorded_by="staff",
                                         account_id=_staff(conn, args.staff), paper_form=args.form,
                                         decided_at=decided)
            elif args.consent_command == "withdraw":
                staff = _staff(conn, args.staff)
                consent.withdraw(conn, dwelling_id, args.flow, by="staff", account_id=staff, choice=args.data,
                                 paper_form=args.form)
                apply_withdrawal(conn, dwelling_id, args.flow, args.data, settings.timezone)
        except (UserError, consent.ConsentError) as exc:
            conn.rollback()
            print(f"coopwatt consent: {exc}", file=sys.stderr)
            return 2
        conn.commit()
        _print_history(conn, dwelling_id)
    return 0
