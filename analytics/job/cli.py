"""`coopwatt analytics [--once]`: run the analytics schedule as leader, or one run and exit."""

from __future__ import annotations

import argparse
import logging

from analytics.job import run, scheduler
from analytics.job.nightly import run_nightly
from analytics.notify.outbox import deliver_pending
from coopwatt.cli import require_database_url
from coopwatt.settings import Settings

log = logging.getLogger(__name__)

def main(settings: Settings, args: argparse.Namespace) -> int:
    """Entry point of `coopwatt analytics`."""
    url = require_database_url(settings)
    if getattr(args, "once", False):
        run.run_maintenance(url, settings, retention=False)
        summary = run.run_anomalies(url, settings, full=True)  # one run on its own: judge everything
        print(f"analytics run {summary.run_id}: {summary.status}; {summary.dwellings_processed} dwellings, "
              f"{summary.failures} failures; anomalies {dict(summary.anomalies_by_kind) or 'none'}; "
              f"alerts opened {summary.alerts_opened}, resolved {summary.alerts_resolved} ({summary.mode})")
        nightly = run_nightly(url, settings)
        print(f"analytics nightly run {nightly.run_id}: {nightly.status}; {nightly.dwellings_processed} dwellings, "
              f"{nightly.failures} failures; baselines {nightly.baselines_qualified} fitted, "
              f"{nightly.baselines_unqualified} without enough data; comparison groups {nightly.groups_published} "
              f"published, {nightly.groups_withheld} withheld, {nightly.groups_unchanged} unchanged; {nightly.high_consumers} high consumers; "
              f"{nightly.suggestions} suggestions; {nightly.savings} savings results")
        delivered = deliver_pending(url, settings)
        print(f"alert notifications: {delivered.sent} sent, {delivered.retrying} to retry, {delivered.gave_up} given up,"
              f" {delivered.waiting} waiting for a channel to be configured")
        return 0 if "failed" not in (summary.status, nightly.status) else 1
    scheduler.run_forever(url, settings)
    return 0
