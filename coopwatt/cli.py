"""The ``coopwatt`` command: one entry point, one subcommand per job."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Callable, Sequence
from typing import Any
from urllib.parse import urlsplit

import psycopg

from coopwatt.errors import CoopwattError
from coopwatt.settings import Settings, SettingsError, load_settings
from coopwatt.storage import StorageModeError

Handler = Callable[[Settings, argparse.Namespace], int]


def require_database_url(settings: Settings) -> str:
    """The configured database URL; only the demo may start an embedded one."""
    if settings.database_url is None:
        raise SettingsError(
            "COOPWATT_DATABASE_URL: not set (expected postgresql://user@host:5432/db; "
            "only `coopwatt demo` starts an embedded database)"
        )
    return settings.database_url


def require_mqtt_url(settings: Settings) -> str:
    """The configured broker URL; only the demo may start an embedded broker."""
    if settings.mqtt_url is None:
        raise SettingsError(
            "COOPWATT_MQTT_URL: not set (expected mqtt://host:1883; only `coopwatt demo` starts an embedded broker)"
        )
    return settings.mqtt_url


def _cmd_migrate(settings: Settings, args: argparse.Namespace) -> int:
    from coopwatt.migrations import migrate
    from coopwatt.policies import apply_policies

    url = require_database_url(settings)
    mode, applied = migrate(url, timezone=settings.timezone, storage=settings.storage)
    apply_policies(url, settings)
    print(f"storage mode: {mode}; applied {len(applied)} migration(s)")
    return 0


def _cmd_status(settings: Settings, args: argparse.Namespace) -> int:
    from coopwatt.status import print_status

    return print_status(require_database_url(settings), settings)


def _lazy(module: str, function: str = "main") -> Handler:
    """A handler imported only when its subcommand runs (keeps start-up fast)."""

    def run(settings: Settings, args: argparse.Namespace) -> int:
        import importlib

        handler: Any = getattr(importlib.import_module(module), function)
        return int(handler(settings, args) or 0)

    return run


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with every subcommand."""
    parser = argparse.ArgumentParser(prog="coopwatt", description="Energy monitoring for housing cooperatives.")
    sub = parser.add_subparsers(dest="command", required=True)

    sub.add_parser("migrate", help="create or upgrade the database schema").set_defaults(handler=_cmd_migrate)
    sub.add_parser("status", help="storage mode, schema version and counts").set_defaults(handler=_cmd_status)

    ingest = sub.add_parser("ingest", help="subscribe to MQTT and store readings")
    ingest.set_defaults(handler=_lazy("ingest.service"))

    imp = sub.add_parser("import", help="import a utility export (Enedis, GRDF, water), a plain CSV or outdoor temperatures")
    imp.add_argument("path", help="CSV file")
    imp.add_argument("--format", choices=["auto", "enedis", "enedis_measures", "grdf", "water", "plain", "temperature"],
                     default="auto",
                     help="auto (default) recognises the file by its header: enedis (Horodate;…: load curve, daily"
                          " consumption, daily indices, maximum power), enedis_measures (Date de la mesure;…;Valeur;…"
                          " for many PRMs), grdf (Date…;Volume…;Energie…), water (Date…;Index…), plain"
                          " (meter,time,value,unit), temperature (residence,time,temperature[,unit]: °C unless"
                          " unit says K or °F; a file corrected later updates the stored values)")
    imp.add_argument("--meter", help="meter source id a single-meter file belongs to (when it names none)")
    imp.add_argument("--residence", help="residence code of a temperature file without a residence column")
    imp.set_defaults(handler=_lazy("ingest.importer"))

    sim = sub.add_parser("simulate", help="publish a simulated residence over MQTT")
    sim.add_argument("--dwellings", type=int, default=24)
    sim.add_argument("--seed", type=int, default=1)
    sim.add_argument("--backfill-days", type=int, default=0, help="publish this much history first, as fast as possible")
    sim.add_argument("--speed", type=float, default=1.0, help="live time acceleration (60 = one simulated minute per second)")
    sim.add_argument("--duration-s", type=float, default=None, help="stop live publishing after this many seconds")
    sim.add_argument("--ground-truth", default=None, help="write injected faults to this JSON file")
    sim.add_argument("--under-heating-share", type=float, default=0.0,
                     help="share of individually heated homes that turn their heating far down halfway (hardship ground truth)")
    sim.add_argument("--register", action="store_true", help="also create the residence and meters in the database")
    sim.set_defaults(handler=_lazy("coopwatt.simulator.cli"))

    demo = sub.add_parser("demo", help="the whole pipeline on embedded defaults")
    # A weather baseline needs a full year (CalTRACK); a little more gives every month a neighbour comparison.
    demo.add_argument("--days", type=int, default=None,
                      help="days of history to backfill (default: 400, more to reach back to the start of last year's"
                           " heating season, which the hall page's progress compares with; baselines need 365)")
    demo.add_argument("--dwellings", type=int, default=36, help="simulated dwellings (36: enough similar homes for the hardship list to compare with)")
    demo.add_argument("--duration-s", type=float, default=None, help="stop after this many seconds (default: until Ctrl-C)")
    demo.set_defaults(handler=_lazy("coopwatt.demo"))

    # Dashboard.
    from coopwatt.users import add_arguments as add_users_arguments
    from dashboard.serve import add_arguments as add_dashboard_arguments

    users = sub.add_parser("users", help="dashboard accounts: add, list, set-password, remove")
    add_users_arguments(users)
    users.set_defaults(handler=_lazy("coopwatt.users"))
    dashboard = sub.add_parser("dashboard", help="serve the dashboard with gunicorn")
    add_dashboard_arguments(dashboard)
    dashboard.set_defaults(handler=_lazy("dashboard.serve"))

    # Deploy: bulk registry of residences, buildings, dwellings and meters.
    from coopwatt.registry_import import add_arguments as add_registry_arguments

    registry = sub.add_parser("registry", help="import residences, buildings, dwellings and meters from CSV")
    add_registry_arguments(registry)
    registry.set_defaults(handler=_lazy("coopwatt.registry_import"))

    # Consent recorded by staff from signed paper forms (households decide online on their page).
    from coopwatt.consent_cli import add_arguments as add_consent_arguments

    consent = sub.add_parser("consent", help="consents from signed paper forms: show, record, withdraw, texts")
    add_consent_arguments(consent)
    consent.set_defaults(handler=_lazy("coopwatt.consent_cli"))

    # Data protection: the processing register and a household's file (coopwatt/privacy.py).
    from coopwatt.privacy import add_arguments as add_privacy_arguments

    privacy = sub.add_parser("privacy", help="data-protection records: processing register, a household's file")
    add_privacy_arguments(privacy)
    privacy.set_defaults(handler=_lazy("coopwatt.privacy"))

    # Analytics job: scheduled anomaly runs (leader only), consumption derivation, retention.
    analytics = sub.add_parser("analytics", help="run the analytics schedule (or one run with --once)")
    analytics.add_argument("--once", action="store_true", help="derive, detect anomalies, run the nightly steps, send due alerts once and exit")
    analytics.set_defaults(handler=_lazy("analytics.job.cli"))

    # Monthly letters to households and the residences' collective progress.
    from reports.cli import add_arguments as add_reports_arguments

    reports = sub.add_parser("reports", help="monthly letters: build, send, print file; preferences, erasure, progress")
    add_reports_arguments(reports)
    reports.set_defaults(handler=_lazy("reports.cli"))
    return parser


def _where(url: str | None) -> str:
    """host:port/database of a URL, never its password."""
    if not url:
        return "(embedded)"
    parts = urlsplit(url)
    return f"{parts.hostname or 'localhost'}:{parts.port or 5432}{parts.path}"


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def main(argv: Sequence[str] | None = None) -> int:
    """Parse arguments, load settings once, run the subcommand."""
    args = build_parser().parse_args(argv)
    try:
        settings = load_settings()
    except SettingsError as exc:
        print(f"coopwatt: {exc}", file=sys.stderr)
        return 2
    logging.basicConfig(level=settings.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        return args.handler(settings, args)
    except (SettingsError, StorageModeError) as exc:
        print(f"coopwatt: {exc}", file=sys.stderr)
        return 2
    except psycopg.OperationalError as exc:
        print(f"coopwatt: COOPWATT_DATABASE_URL: the database at {_where(settings.database_url)} is unreachable"
              f" or failing: {_first_line(exc)}", file=sys.stderr)
        return 1
    except CoopwattError as exc:
        print(f"coopwatt: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
