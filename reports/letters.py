"""The month's letters: who gets one and how, queued once, e-mailed with retries, printed into one file.

Rules:

* A dwelling with meters gets one letter a month (primary key dwelling × month: queuing twice
  changes nothing), unless its household opted out or asked for erasure.
* By e-mail when it chose e-mail and its address never bounced; otherwise on paper (no address,
  paper chosen, or a bounced address): paper letters wait for the office's print file.
* E-mail goes like the alert outbox (analytics/notify): one row taken at a time with
  ``FOR UPDATE SKIP LOCKED``, sent, marked in the same transaction; a failure is retried after
  ``alert_retry_base_s`` × 2^(n − 1) (capped); a permanent refusal records the address in
  ``letter_bounce`` and moves the letter to paper, as does giving up, so no household loses its letter.
* A print file takes every paper letter of the month not printed yet, renders them in one PDF,
  then marks them with the file's name.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from datetime import date, datetime, timezone
from pathlib import Path
from typing import Any

import psycopg
from psycopg import pq
from psycopg.types.json import Jsonb

from analytics.notify.email import email_channel_enabled, send_email
from analytics.notify.errors import DeliveryError
from analytics.notify.outbox import retry_delay
from coopwatt.settings import Settings
from reports.letter_content import build_content
from reports.render import email_content, render_pdf

log = logging.getLogger(__name__)

_RECIPIENTS = """
SELECT d.id, p.delivery, p.email, coalesce(p.language, a.language), p.recipient_name, p.postal_address,
       b.email IS NOT NULL
FROM dwelling d
LEFT JOIN letter_preference p ON p.dwelling_id = d.id
LEFT JOIN LATERAL (SELECT language FROM account WHERE dwelling_id = d.id AND role = 'household'
                   ORDER BY id LIMIT 1) a ON true
LEFT JOIN letter_bounce b ON lower(b.email) = lower(p.email)
WHERE EXISTS (SELECT 1 FROM meter m WHERE m.dwelling_id = d.id)
  AND coalesce(p.delivery, 'paper') <> 'none'
  AND NOT EXISTS (SELECT 1 FROM erasure_request e WHERE e.dwelling_id = d.id AND e.status = 'open')
  AND NOT EXISTS (SELECT 1 FROM letter l WHERE l.dwelling_id = d.id AND l.month = %(month)s)
  AND (%(only)s::integer[] IS NULL OR d.id = ANY(%(only)s))
ORDER BY d.id
"""


@dataclass(frozen=True)
class Recipient:
    """Where one dwelling's letter goes."""

    dwelling_id: int
    channel: str  # "email" or "paper"
    target: str  # the e-mail address, '' for paper
    language: str
    recipient_name: str | None
    postal_address: str | None


def choose_channel(delivery: str | None, email: str | None, bounced: bool) -> str:
    """E-mail when chosen with a working address; paper otherwise (no preference: paper, the office's default)."""
    return "email" if delivery == "email" and email and not bounced else "paper"


def recipients(conn: psycopg.Connection, month: date, settings: Settings, *,
               only: list[int] | None = None) -> list[Recipient]:
    """The dwellings still without a letter for the month, with their channel and language."""
    result = []
    for dwelling_id, delivery, email, language, name, address, is_bounced in conn.execute(
            _RECIPIENTS, {"month": month, "only": only}):
        channel = choose_channel(delivery, email, is_bounced)
        result.append(Recipient(dwelling_id, channel, email if channel == "email" else "",
                                language if language in ("fr", "en") else settings.letters_default_language,
                                name, address))
    return result


@dataclass
class QueueStats:
    """What queuing a month did."""

    email: int = 0
    paper: int = 0


def queue_month(conn: psycopg.Connection, settings: Settings, month: date, *, only: list[int] | None = None,
                now: datetime | None = None) -> QueueStats:
    """Build and queue the month's letter of every dwelling that has none yet; each committed on its own."""
    stats = QueueStats()
    moment = now or datetime.now(timezone.utc)
    progress_cache: dict[int, Any] = {}
    for recipient in recipients(conn, month, settings, only=only):
        with conn.transaction():
            content = build_content(conn, recipient.dwelling_id, month, settings, recipient.language,
                                    recipient_name=recipient.recipient_name, postal_address=recipient.postal_address,
                                    progress_cache=progress_cache)
            if content is None:
                continue
            inserted = conn.execute(
                "INSERT INTO letter (dwelling_id, month, channel, target, language, content, created_at, next_attempt_at)"
                " VALUES (%s, %s, %s, %s, %s, %s, %s, %s) ON CONFLICT DO NOTHING",
                (recipient.dwelling_id, month, recipient.channel, recipient.target, recipient.language, Jsonb(content),
                 moment, moment)).rowcount
        if inserted:
            setattr(stats, recipient.channel, getattr(stats, recipient.channel) + 1)
    log.info("letters for %s: %d to e-mail, %d on paper", month.isoformat()[:7], stats.email, stats.paper)
    return stats


@dataclass
class SendStats:
    """What one e-mail round did."""

    sent: int = 0
    retrying: int = 0
    to_paper: int = 0


_DUE = """
SELECT dwelling_id, month, target, attempts, content FROM letter
WHERE channel = 'email' AND sent_at IS NULL AND gave_up_at IS NULL AND next_attempt_at <= %(now)s
ORDER BY next_attempt_at, dwelling_id LIMIT 1
FOR UPDATE SKIP LOCKED
"""
_KEY = "dwelling_id = %(dwelling_id)s AND month = %(month)s"


def _message_id(dwelling_id: int, month: date, target: str, settings: Settings) -> str:
    # Stable per letter and address: a repeat after a crash shows once in the mail client.
    digest = hashlib.sha256(f"{dwelling_id}\0{month}\0{target}".encode()).hexdigest()[:16]
    domain = (settings.smtp_from or "coopwatt@localhost").rsplit("@", 1)[-1].strip(" >") or "localhost"
    return f"<coopwatt.letter-{month:%Y-%m}-{digest}@{domain}>"


def send_due(conn: psycopg.Connection, settings: Settings, *, now: datetime | None = None,
             limit: int = 10_000) -> SendStats:
    """Send the e-mail letters that are due, each in its own committed transaction."""
    if conn.info.transaction_status != pq.TransactionStatus.IDLE:
        raise ValueError("send_due commits letter by letter: call it outside a transaction")
    stats = SendStats()
    if not email_channel_enabled(settings):
        log.warning("letters: e-mail channel not configured (COOPWATT_SMTP_HOST is not set); e-mail letters wait")
        return stats
    moment = now or datetime.now(timezone.utc)
    while stats.sent + stats.retrying + stats.to_paper < limit:
        with conn.transaction():
            row = conn.execute(_DUE, {"now": moment}).fetchone()
            if row is None:
                break
            dwelling_id, month, target, attempts, content = row
            key = {"dwelling_id": dwelling_id, "month": month}
            try:
                send_email(settings, target, email_content(content),
                           message_id=_message_id(dwelling_id, month, target, settings))
            except Exception as exc:  # noqa: BLE001 - one letter's failure is recorded on it; the round goes on
                error = exc if isinstance(exc, DeliveryError) else DeliveryError(f"{exc.__class__.__name__}: {exc}")
                _failed(conn, key, target, attempts + 1, error, settings, moment, stats)
                continue
            conn.execute(f"UPDATE letter SET sent_at = %(now)s, attempts = attempts + 1, last_error = NULL WHERE {_KEY}",
                         key | {"now": moment})
            stats.sent += 1
    if stats.sent or stats.retrying or stats.to_paper:
        log.info("letters: %d e-mailed, %d to retry, %d moved to paper", stats.sent, stats.retrying, stats.to_paper)
    return stats


def _failed(conn: psycopg.Connection, key: dict[str, Any], target: str, attempts: int, error: DeliveryError,
            settings: Settings, moment: datetime, stats: SendStats) -> None:
    if error.permanent:
        conn.execute("INSERT INTO letter_bounce (email, bounced_at, reason) VALUES (%s, %s, %s)"
                     " ON CONFLICT (email) DO UPDATE SET bounced_at = EXCLUDED.bounced_at, reason = EXCLUDED.reason",
                     (target, moment, error.reason))
    if error.permanent or attempts >= settings.alert_max_attempts:
        reason = error.reason if error.permanent else f"gave up e-mail after {attempts} attempts: {error.reason}"
        conn.execute(f"UPDATE letter SET channel = 'paper', target = '', attempts = %(attempts)s,"
                     f" last_error = %(error)s WHERE {_KEY}", key | {"attempts": attempts, "error": reason})
        log.warning("letter %s of dwelling %s moved to paper: %s", key["month"], key["dwelling_id"], reason)
        stats.to_paper += 1
        return
    conn.execute(f"UPDATE letter SET attempts = %(attempts)s, next_attempt_at = %(next)s, last_error = %(error)s"
                 f" WHERE {_KEY}", key | {"attempts": attempts, "next": moment + retry_delay(attempts, settings),
                                          "error": error.reason})
    stats.retrying += 1


def write_print_file(conn: psycopg.Connection, settings: Settings, month: date, *, directory: Path | None = None,
                     now: datetime | None = None) -> tuple[Path | None, int]:
    """Render the month's paper letters not printed yet into one PDF; return its path (None: nothing to print) and count."""
    moment = now or datetime.now(timezone.utc)
    folder = directory or Path(settings.letters_print_dir)
    with conn.transaction():
        rows = conn.execute(
            "SELECT l.dwelling_id, l.content FROM letter l JOIN dwelling d ON d.id = l.dwelling_id"
            " JOIN building b ON b.id = d.building_id"
            " WHERE l.month = %s AND l.channel = 'paper' AND l.sent_at IS NULL"
            " ORDER BY b.residence_id, b.code, d.code FOR UPDATE OF l", (month,)).fetchall()
        if not rows:
            return None, 0
        path = folder / f"letters-{month:%Y-%m}-{moment:%Y%m%dT%H%M%S}.pdf"
        render_pdf([row[1] for row in rows], path)
        conn.execute("UPDATE letter SET sent_at = %s, print_file = %s, attempts = attempts + 1"
                     " WHERE month = %s AND dwelling_id = ANY(%s)", (moment, path.name, month, [row[0] for row in rows]))
    log.info("letters: print file %s with %d letter(s)", path, len(rows))
    return path, len(rows)
