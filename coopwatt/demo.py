"""``coopwatt demo``: the whole pipeline on one machine, on embedded services when none is configured.

A sequence of small stages, each a function: services → schema → simulated
residence → history backfill → live ingest (with consumption derived and
rollups refreshed as it goes) → clean stop. Later stages (analytics, the
dashboard) slot in as more functions called from :func:`main`.
"""

from __future__ import annotations

import argparse
import contextlib
import signal
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from types import FrameType
from typing import Any

import psycopg

from coopwatt.db import StorageMode
from coopwatt.settings import Settings

STATUS_EVERY_S = 5.0
DERIVE_EVERY_S = 5.0
# The embedded amqtt broker speaks MQTT 3.1.1 only.
MQTT_PROTOCOL_EMBEDDED = 4


def say(french: str, english: str) -> None:
    """Print one line of progress for a person, in French then English."""
    print(f"[demo] {french} / {english}", flush=True)


# -- stage 1: services -------------------------------------------------------------------------


def start_services(settings: Settings, stack: contextlib.ExitStack) -> Settings:
    """Start the embedded PostgreSQL and broker where no URL is configured; settings with both URLs set."""
    update: dict[str, Any] = {}
    if settings.database_url is None:
        update["database_url"] = _start_embedded_postgres(settings, stack)
    else:
        say(f"base de données configurée : {_without_password(settings.database_url)}",
            "using the configured database")
    if settings.mqtt_url is None:
        update["mqtt_url"] = _start_embedded_broker(stack)
        update["mqtt_protocol"] = MQTT_PROTOCOL_EMBEDDED
    else:
        say(f"broker MQTT configuré : {_without_password(settings.mqtt_url)}", "using the configured MQTT broker")
    if settings.metrics_port and not _port_free(settings.metrics_host, settings.metrics_port):
        # Another ingester (or a previous demo) already serves metrics there; the demo does without.
        say(f"port {settings.metrics_port} déjà pris : pas de /metrics pour cette démo",
            f"port {settings.metrics_port} is taken: no /metrics endpoint for this demo")
        update["metrics_port"] = 0
    return settings.model_copy(update=update)


def _start_embedded_postgres(settings: Settings, stack: contextlib.ExitStack) -> str:
    from coopwatt.embedded import EmbeddedPostgres

    say(f"démarrage de PostgreSQL intégré (données dans {settings.data_dir}) …",
        "starting the embedded PostgreSQL …")
    started = time.monotonic()
    server = EmbeddedPostgres(settings.data_dir)
    server.start()
    stack.callback(_stop_announced, "PostgreSQL intégré", "embedded PostgreSQL", server.stop)
    say(f"PostgreSQL intégré prêt sur 127.0.0.1:{server.port} en {time.monotonic() - started:.1f} s",
        f"embedded PostgreSQL ready on 127.0.0.1:{server.port}")
    return server.url("coopwatt")


def _start_embedded_broker(stack: contextlib.ExitStack) -> str:
    from coopwatt.embedded import EmbeddedBroker

    broker = EmbeddedBroker()
    broker.start()
    stack.callback(_stop_announced, "broker MQTT intégré", "embedded MQTT broker", broker.stop)
    say(f"broker MQTT intégré (amqtt, MQTT 3.1.1) sur 127.0.0.1:{broker.port}, utilisateur {broker.username}",
        "embedded MQTT broker ready")
    return broker.url


def _stop_announced(french: str, english: str, stop: Any) -> None:
    stop()
    say(f"{french} arrêté", f"{english} stopped")


def _port_free(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


def _without_password(url: str) -> str:
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@")
    return parts._replace(netloc=netloc).geturl()


# -- stage 2: schema ---------------------------------------------------------------------------


def prepare_database(settings: Settings) -> StorageMode:
    """Apply pending migrations and policies; say which storage mode is in use."""
    from coopwatt.migrations import migrate
    from coopwatt.policies import apply_policies

    assert settings.database_url is not None
    mode, applied = migrate(settings.database_url, timezone=settings.timezone)
    apply_policies(settings.database_url, settings)
    if mode is StorageMode.TIMESCALEDB:
        explained = ("TimescaleDB (hypertables, agrégats continus)", "TimescaleDB (hypertables, continuous aggregates)")
    else:
        explained = ("PostgreSQL simple (TimescaleDB absent ; agrégats recalculés par coopwatt)",
                     "plain PostgreSQL (no TimescaleDB; rollups refreshed by coopwatt)")
    say(f"schéma à jour ({len(applied)} migration(s) appliquée(s)) ; stockage : {explained[0]}",
        f"schema up to date ({len(applied)} migration(s) applied); storage: {explained[1]}")
    return mode


# -- stage 6: live ingest ----------------------------------------------------------------------


def start_ingester(settings: Settings, stack: contextlib.ExitStack) -> Any:
    """Run the MQTT ingester in this process until the stack unwinds (it flushes on stop)."""
    from ingest.service import IngestService

    service = IngestService(settings)
    service.start()
    stack.callback(_stop_announced, "ingesteur", "ingester", service.stop)
    if not service.subscriber.connected.wait(30):
        raise RuntimeError("the ingester could not connect to the MQTT broker within 30 s")
    say("ingesteur connecté au broker (QoS 1, session persistante, acquittement après écriture)",
        "ingester connected (QoS 1, persistent session, acknowledged after commit)")
    return service


# -- progress ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Counts:
    """What the database holds now."""

    readings: int
    consumption_hours: int
    dead_letters: int


def database_counts(url: str) -> Counts:
    """Row counts a person watching the demo cares about."""
    with psycopg.connect(url) as conn:
        row = conn.execute(
            "SELECT (SELECT count(*) FROM reading), (SELECT count(*) FROM consumption_hourly),"
            " (SELECT count(*) FROM dead_letter)"
        ).fetchone()
    assert row is not None
    return Counts(int(row[0]), int(row[1]), int(row[2]))


def report(settings: Settings, elapsed_s: float, ingester: Any) -> Counts:
    """Print one status line: what the ingester did and what the database holds."""
    assert settings.database_url is not None
    counts = database_counts(settings.database_url)
    live = ingester.counts()
    print(
        f"[demo {elapsed_s:5.0f} s] reçus/received {live['received']:,} · "
        f"stockés/stored {live['stored']:,} · rejetés/rejected {live['rejected']:,} │ "
        f"base/database: lectures/readings {counts.readings:,} · "
        f"heures de consommation/consumption hours {counts.consumption_hours:,} · "
        f"lettres mortes/dead letters {counts.dead_letters:,}",
        flush=True,
    )
    return counts


# -- the sequence ------------------------------------------------------------------------------


@contextlib.contextmanager
def _stop_on_sigterm(stop: threading.Event) -> Iterator[None]:
    """SIGTERM ends the demo as cleanly as Ctrl-C does."""

    def handler(signum: int, frame: FrameType | None) -> None:
        stop.set()

    previous = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def main(settings: Settings, args: argparse.Namespace) -> int:
    """Run the demo until --duration-s or Ctrl-C, then stop everything cleanly."""
    stop = threading.Event()
    with _stop_on_sigterm(stop), contextlib.ExitStack() as stack:
        settings = start_services(settings, stack)
        prepare_database(settings)
        ingester = start_ingester(settings, stack)
        started = time.monotonic()
        try:
            while not stop.wait(STATUS_EVERY_S):
                report(settings, time.monotonic() - started, ingester)
                if args.duration_s is not None and time.monotonic() - started >= args.duration_s:
                    break
        except KeyboardInterrupt:
            say("Ctrl-C : arrêt propre en cours …", "Ctrl-C: stopping cleanly …")
    say("démo terminée", "demo finished")
    return 0
