"""The analytics schedule: APScheduler 3 with its job store in PostgreSQL, run only by the leader.

Leadership is a PostgreSQL session advisory lock held on a dedicated connection: the
process holding it runs jobs; the others poll for it and take over when the leader's
session ends (PostgreSQL releases the lock when the connection drops). Job state lives
in the ``apscheduler_jobs`` table so a restarted leader knows what is due; misfire
grace and coalescing turn a long downtime into one catch-up run instead of many.
"""

from __future__ import annotations

import logging
import os
import threading
import time

import psycopg
from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from apscheduler.schedulers.background import BackgroundScheduler

from analytics.job import run
from coopwatt.db import connect
from coopwatt.settings import Settings

log = logging.getLogger(__name__)

LEADER_LOCK_KEY = 0x636F6F70  # "coop": one analytics leader per database
_context: dict[str, object] = {}  # the leader's url and settings; jobs in the store hold no secrets


def sqlalchemy_url(url: str) -> str:
    """The database URL in SQLAlchemy form, using the psycopg 3 driver."""
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix):]
    return url


def anomalies_job() -> None:
    """Scheduled entry point: derive the hours of what arrived since the last run, then one anomaly run."""
    run.derive_new_consumption(str(_context["url"]), _context["settings"])  # type: ignore[arg-type]
    summary = run.run_anomalies(str(_context["url"]), _context["settings"])  # type: ignore[arg-type]
    log.info("analytics run %d: %s, %s (%s), %d meters (%d judged, %d only for silence), %d failures, anomalies %s",
             summary.run_id, summary.status, summary.mode, "+".join(summary.detector_groups), summary.meters_processed,
             summary.meters_judged, summary.meters_silence_only, summary.failures, dict(summary.anomalies_by_kind))


def nightly_job() -> None:
    """Scheduled entry point: baselines, comparisons, rankings, suggestions and savings."""
    from analytics.job.nightly import run_nightly

    summary = run_nightly(str(_context["url"]), _context["settings"])  # type: ignore[arg-type]
    log.info("analytics nightly run %d: %s, %d dwellings, %d failures, %s", summary.run_id, summary.status,
             summary.dwellings_processed, summary.failures, summary.detail())


def deliver_job() -> None:
    """Scheduled entry point: send the alert notifications that are due (e-mail, webhook, MQTT)."""
    from analytics.notify.outbox import deliver_pending

    deliver_pending(str(_context["url"]), _context["settings"])  # type: ignore[arg-type]


def letters_job() -> None:
    """Scheduled entry point: the month's letters (progress, queue, e-mail, print file), after its last nightly run."""
    from reports.job import run_month

    run_month(str(_context["url"]), _context["settings"])  # type: ignore[arg-type]


def progress_job() -> None:
    """Scheduled entry point: the residences' collective progress, after the nightly run."""
    from reports.job import refresh_progress_now

    refresh_progress_now(str(_context["url"]), _context["settings"])  # type: ignore[arg-type]


def letters_deliver_job() -> None:
    """Scheduled entry point: e-mail letters due (retries of those that failed)."""
    from reports.job import send_pending

    send_pending(str(_context["url"]), _context["settings"])  # type: ignore[arg-type]


def maintenance_job() -> None:
    """Scheduled entry point: derive consumption, refresh rollups, delete expired raw readings."""
    run.run_maintenance(str(_context["url"]), _context["settings"])  # type: ignore[arg-type]


def acquire_leadership(url: str, poll_s: float, stop: threading.Event) -> psycopg.Connection | None:
    """Block until this process holds the leader lock (returns its connection) or ``stop`` is set."""
    while not stop.is_set():
        try:
            conn = connect(url, autocommit=True)
        except psycopg.OperationalError as exc:
            log.warning("analytics: database unreachable while waiting to lead: %s", exc)
            stop.wait(poll_s)
            continue
        if conn.execute("SELECT pg_try_advisory_lock(%s)", (LEADER_LOCK_KEY,)).fetchone()[0]:
            return conn
        conn.close()
        stop.wait(poll_s)
    return None


def build_scheduler(url: str, settings: Settings) -> BackgroundScheduler:
    """A scheduler with the PostgreSQL job store and the analytics jobs registered (not started)."""
    scheduler = BackgroundScheduler(
        jobstores={"default": SQLAlchemyJobStore(url=sqlalchemy_url(url), tablename="apscheduler_jobs")},
        job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": 3600},
        timezone=settings.timezone,
    )
    scheduler.add_job("analytics.job.scheduler:anomalies_job", "interval", minutes=settings.analytics_interval_min,
                      id="anomalies", replace_existing=True)
    scheduler.add_job("analytics.job.scheduler:maintenance_job", "cron", hour=2, minute=30,
                      id="maintenance", replace_existing=True)
    # After maintenance has refreshed the daily rollups (the anomaly runs derive hourly consumption themselves).
    scheduler.add_job("analytics.job.scheduler:nightly_job", "cron", hour=settings.analytics_nightly_hour, minute=0,
                      id="nightly", replace_existing=True)
    # Alerts are queued by the anomaly runs; a short interval keeps "sent once, promptly" without a broker of our own.
    scheduler.add_job("analytics.job.scheduler:deliver_job", "interval", seconds=settings.alert_deliver_interval_s,
                      id="deliver", replace_existing=True)
    # Letters (reports/): the month's on the 1st, after its nightly run has covered the month's last day.
    from reports.job import letters_schedule

    letters_day, letters_hour = letters_schedule(settings)
    scheduler.add_job("analytics.job.scheduler:letters_job", "cron", day=letters_day, hour=letters_hour, minute=0,
                      id="letters", replace_existing=True)
    scheduler.add_job("analytics.job.scheduler:progress_job", "cron", hour=letters_hour, minute=30,
                      id="progress", replace_existing=True)
    scheduler.add_job("analytics.job.scheduler:letters_deliver_job", "interval", minutes=10,
                      id="letters-deliver", replace_existing=True)
    return scheduler


def run_forever(url: str, settings: Settings, *, poll_s: float = 5.0, stop: threading.Event | None = None) -> None:
    """Wait for leadership, then run the schedule until the lock connection is lost or ``stop`` is set."""
    stop = stop or threading.Event()
    _context.update(url=url, settings=settings)
    lock = acquire_leadership(url, poll_s, stop)
    if lock is None:
        return
    log.info("analytics: this process (pid %d) is the leader", os.getpid())
    scheduler = build_scheduler(url, settings)
    scheduler.start()
    try:
        while not stop.wait(poll_s):
            try:
                lock.execute("SELECT 1")
            except psycopg.Error as exc:
                # Lost the session, so another process may already lead: stop running jobs at once.
                log.error("analytics: leader lock connection lost (%s); stopping", exc)
                break
    finally:
        scheduler.shutdown(wait=False)
        lock.close()
    time.sleep(0)  # let the scheduler thread see the shutdown
