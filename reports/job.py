"""The scheduled letter runs: the month's letters after the month's last nightly run, progress daily, e-mail retries."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path

from coopwatt.db import connect
from coopwatt.settings import Settings
from reports.letter_content import previous_month
from reports.letters import QueueStats, SendStats, queue_month, send_due, write_print_file
from reports.progress_store import refresh_progress

log = logging.getLogger(__name__)


@dataclass
class MonthRun:
    """What one month's run did."""

    month: date
    queued: QueueStats
    sent: SendStats
    print_file: Path | None
    printed: int


def letters_schedule(settings: Settings) -> tuple[int, int]:
    """(day of month, local hour) of the monthly run: ``letters_after_nightly_h`` after the nightly run of the 1st."""
    total_h = settings.analytics_nightly_hour + settings.letters_after_nightly_h
    return 1 + total_h // 24, total_h % 24


def run_month(url: str, settings: Settings, *, month: date | None = None, today: date | None = None,
              print_dir: Path | None = None) -> MonthRun:
    """Refresh the residences' progress, queue the month's letters, send the e-mails and write the print file."""
    today = today or datetime.now(settings.tz).date()
    month = month or previous_month(today)
    with connect(url, autocommit=True) as conn:
        refresh_progress(conn, settings, today)
        queued = queue_month(conn, settings, month)
        sent = send_due(conn, settings)
        path, printed = write_print_file(conn, settings, month, directory=print_dir)
    log.info("letters of %s: %d e-mail and %d paper queued, %d e-mailed, %d printed (%s)", month.isoformat()[:7],
             queued.email, queued.paper, sent.sent, printed, path or "no print file")
    return MonthRun(month, queued, sent, path, printed)


def refresh_progress_now(url: str, settings: Settings) -> int:
    """Recompute every residence's collective progress for today (the daily run after the nightly one)."""
    with connect(url, autocommit=True) as conn:
        return refresh_progress(conn, settings, datetime.now(settings.tz).date())


def send_pending(url: str, settings: Settings) -> SendStats:
    """Send the e-mail letters that are due (first tries and retries)."""
    with connect(url, autocommit=True) as conn:
        return send_due(conn, settings)
