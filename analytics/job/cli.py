"""`coopwatt analytics [--once]`: run the analytics schedule as leader, or one run and exit."""

from __future__ import annotations

import argparse
import logging

from analytics.job import run, scheduler
from coopwatt.cli import require_database_url
from coopwatt.settings import Settings

log = logging.getLogger(__name__)

def main(settings: Settings, args: argparse.Namespace) -> int:
    """Entry point of `coopwatt analytics`."""
    url = require_database_url(settings)
    if getattr(args, "once", False):
        run.run_maintenance(url, settings, retention=False)
        summary = run.run_anomalies(url, settings)
        print(f"analytics run {summary.run_id}: {summary.status}; {summary.dwellings_processed} dwellings, "
              f"{summary.failures} failures; anomalies {dict(summary.anomalies_by_kind) or 'none'}; "
              f"alerts opened {summary.alerts_opened}, resolved {summary.alerts_resolved}")
        return 0 if summary.status != "failed" else 1
    scheduler.run_forever(url, settings)
    return 0
