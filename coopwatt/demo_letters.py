"""The demo's monthly letters: a local SMTP server receives the e-mails, the print file goes to the data folder.

Kept apart from coopwatt/demo.py (one call there): half the households choose e-mail (an
address on the demo's own server), the others get paper; the residence's progress is computed,
the last complete month's letters built, sent and printed, and the demo says where to look.
"""

from __future__ import annotations

import contextlib
import email
import email.policy
import socket
import threading
from datetime import datetime
from pathlib import Path
from typing import Any

import psycopg

from coopwatt.settings import Settings

DEMO_EMAIL_DOMAIN = "demo.coopwatt.invalid"
MIN_HISTORY_DAYS = 400  # a weather baseline needs a year; a little more gives every month a neighbour comparison


def history_days(settings: Settings, now: datetime) -> int:
    """The demo's default history: 400 days, or more to reach back to the start of the progress's baseline season.

    The hall page compares this heating season with the same days of the baseline season: history that starts
    inside the baseline season leaves too few comparable days, and the page would only say it cannot publish yet.
    """
    from reports.progress import baseline_start, heating_season

    start, _ = heating_season(now.date(), settings.progress_season_start_month, settings.progress_season_end_month)
    # Two days more: the first day of history is partial, and the local day starts before UTC midnight.
    return max(MIN_HISTORY_DAYS, (now.date() - baseline_start(start, settings.progress_baseline_season)).days + 2)


class DemoMailbox:
    """An aiosmtpd handler that keeps each message it accepts as a .eml file."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.count = 0
        self._lock = threading.Lock()

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802 - aiosmtpd's hook name
        message = email.message_from_bytes(envelope.original_content or envelope.content, policy=email.policy.default)
        with self._lock:
            self.count += 1
            (self.folder / f"{self.count:04d}.eml").write_bytes(message.as_bytes())
        return "250 Message accepted"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def start_smtp(folder: Path, stack: contextlib.ExitStack) -> tuple[DemoMailbox, int]:
    """A local SMTP server writing what it receives to ``folder``; stopped with the demo."""
    from aiosmtpd.controller import Controller

    folder.mkdir(parents=True, exist_ok=True)
    mailbox = DemoMailbox(folder)
    port = _free_port()
    controller = Controller(mailbox, hostname="127.0.0.1", port=port)
    controller.start()
    stack.callback(controller.stop)
    return mailbox, port


def choose_demo_preferences(conn: psycopg.Connection) -> None:
    """Every other household chooses e-mail (an address on the demo's server); the rest get paper. Kept if set."""
    from reports.preferences import LetterPreference, save_preference

    dwellings = conn.execute(
        "SELECT d.id, d.code FROM dwelling d WHERE NOT EXISTS (SELECT 1 FROM letter_preference p WHERE p.dwelling_id = d.id)"
        " ORDER BY d.id").fetchall()
    for n, (dwelling_id, code) in enumerate(dwellings):
        slug = "".join(char for char in code.lower() if char.isalnum()) or str(dwelling_id)
        if n % 2 == 0:
            preference = LetterPreference(dwelling_id, "email", f"foyer-{slug}@{DEMO_EMAIL_DOMAIN}",
                                          "fr" if n % 4 == 0 else "en")
        else:
            preference = LetterPreference(dwelling_id, "paper", None, "fr", f"Foyer {code}",
                                          f"Logement {code}\n69000 Lyon")
        save_preference(conn, preference, updated_by="demo")


def send_month_letters(settings: Settings, stack: contextlib.ExitStack, now: datetime,
                       say: Any) -> None:
    """Progress, the last complete month's letters e-mailed to the demo's SMTP server, and the print file."""
    from reports.letter_content import previous_month
    from reports.letters import queue_month, send_due, write_print_file
    from reports.progress_store import refresh_progress

    assert settings.database_url is not None
    folder = settings.data_dir / "letters"
    mailbox, port = start_smtp(folder / "mailbox", stack)
    local = settings.model_copy(update={"smtp_host": "127.0.0.1", "smtp_port": port, "smtp_security": "none",
                                       "smtp_from": f"coopwatt <lettres@{DEMO_EMAIL_DOMAIN}>"})
    today = now.astimezone(settings.tz).date()
    month = previous_month(today)
    with psycopg.connect(settings.database_url, autocommit=True) as conn:
        with conn.transaction():
            choose_demo_preferences(conn)
        residences = refresh_progress(conn, local, today)
        queued = queue_month(conn, local, month)
        sent = send_due(conn, local)
        path, printed = write_print_file(conn, local, month, directory=folder)
        codes = [row[0] for row in conn.execute("SELECT code FROM residence ORDER BY code")]
    say(f"lettres de {month:%m/%Y} : progrès de {residences} résidence(s) calculé ; {queued.email} e-mail(s) et "
        f"{queued.paper} lettre(s) papier préparés ; {sent.sent} e-mail(s) remis au serveur SMTP local ({folder / 'mailbox'}) ;"
        f" fichier d'impression : {path or 'rien à imprimer'} ({printed} lettre(s))",
        f"letters of {month:%Y-%m}: progress of {residences} residence(s) computed; {queued.email} e-mail(s) and "
        f"{queued.paper} paper letter(s) built; {sent.sent} e-mail(s) delivered to the local SMTP server "
        f"({folder / 'mailbox'}); print file: {path or 'nothing to print'} ({printed} letter(s))")
    say("page du hall (sans connexion) : " + ", ".join(f"/hall/{code}" for code in codes),
        "hall page (no login): " + ", ".join(f"/hall/{code}" for code in codes))
