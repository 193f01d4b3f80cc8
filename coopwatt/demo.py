"""``coopwatt demo``: the whole pipeline on one machine, on embedded services when none is configured.

A sequence of small stages, each a function: services → schema → simulated
residence → history backfill → live ingest (with consumption derived and
rollups refreshed as it goes) → clean stop. Later stages (analytics, the
dashboard) slot in as more functions called from :func:`main`.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import signal
import socket
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import psycopg

from coopwatt.db import StorageMode, connect
from coopwatt.settings import Settings, SettingsError
from ingest.store import store_temperatures

if TYPE_CHECKING:
    from coopwatt.simulator.faults import Fault
    from coopwatt.simulator.register import Registered
    from coopwatt.simulator.residence import Residence
    from coopwatt.simulator.series import Simulation
    from coopwatt.simulator.timeline import Recorder, Segment

STATUS_EVERY_S = 5.0
DERIVE_EVERY_S = 5.0
# Each wall-clock interval is two simulated hours at LIVE_SPEED: live faults show up within the demo.
ANOMALIES_EVERY_S = 60.0
# The embedded amqtt broker speaks MQTT 3.1.1 only.
MQTT_PROTOCOL_EMBEDDED = 4
# Same residence on every run, so a second demo continues the first one's data.
SIMULATION_SEED = 1
HISTORY_STEP_S = 1800
# One simulated minute every half second: lively, and well within what amqtt carries (about 1,500 msg/s here).
LIVE_SPEED = 120.0
GROUND_TRUTH_FILE = "demo-ground-truth.json"
TIMELINE_FILE = "demo-timeline.json"  # the steps the simulation took, for a later run to replay
FAULT_WINDOW_DAYS = 10  # faults are injected in the last days of history and during live
DEMO_CLIENT_ID = "coopwatt-demo-ingest"


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
    mode, applied = migrate(settings.database_url, timezone=settings.timezone, storage=settings.storage)
    apply_policies(settings.database_url, settings)
    if mode is StorageMode.TIMESCALEDB:
        explained = ("TimescaleDB (hypertables, agrégats continus)", "TimescaleDB (hypertables, continuous aggregates)")
    else:
        explained = ("PostgreSQL simple (TimescaleDB absent ; agrégats recalculés par coopwatt)",
                     "plain PostgreSQL (no TimescaleDB; rollups refreshed by coopwatt)")
    say(f"schéma à jour ({len(applied)} migration(s) appliquée(s)) ; stockage : {explained[0]}",
        f"schema up to date ({len(applied)} migration(s) applied); storage: {explained[1]}")
    return mode


# -- stage 3: a simulated residence -----------------------------------------------------------


@dataclass
class DemoPlan:
    """The simulated cooperative and its timeline: history up to `live_start`, then live."""

    residences: list[Residence]
    faults: list[Fault]
    history_start: datetime
    live_start: datetime
    resumed: bool  # True when an earlier run's data is continued
    replayed: list[Segment]  # the earlier runs' steps, taken again so every index carries on exactly
    timeline_path: Path


def plan_residence(settings: Settings, dwellings: int, days: int, duration_s: float | None) -> DemoPlan:
    """Choose the residence, its injected faults and its timeline; continue an earlier run's if there is one."""
    from coopwatt.simulator.cli import plan_timeline
    from coopwatt.simulator.faults import FAULT_KINDS, plan_faults, read_ground_truth, write_ground_truth
    from coopwatt.simulator.residence import make_residences
    from coopwatt.simulator.timeline import read_segments

    if dwellings < 1 or days < 1:
        raise SettingsError("coopwatt demo: --dwellings ≥ 1 and --days ≥ 1 are expected")
    residences = make_residences(dwellings, SIMULATION_SEED)
    meters = [m for r in residences for m in r.meters]
    history_start, live_start, live_end = plan_timeline(datetime.now(UTC), days, LIVE_SPEED, duration_s)
    fault_end = live_end or live_start + timedelta(days=1)
    truth_path = settings.data_dir / GROUND_TRUTH_FILE
    timeline_path = settings.data_dir / TIMELINE_FILE
    previous = _previous_start(settings, residences, truth_path)
    replayed: list[Segment] = []
    if previous is not None:
        # The simulated counters start from the same values at the simulation's start: continuing from
        # the first run's start (and its faults) keeps every index consistent with what is stored.
        history_start, faults, resumed = previous, read_ground_truth(truth_path), True
        replayed = read_segments(timeline_path)
        if replayed:
            # Live goes on from where the earlier run stopped, never over the time it already covered.
            live_start = max(live_start, replayed[-1].until)
        say(f"reprise de la résidence simulée d'une démo précédente (depuis {history_start:%Y-%m-%d %H:%M} UTC)",
            "continuing the simulated residence of an earlier demo")
    else:
        resumed = False
        faults = []
        if dwellings >= len(FAULT_KINDS):
            # As `coopwatt simulate` does: about one fault of each kind per hundred dwellings, at least one.
            per_kind = max(1, min(dwellings // 100, dwellings // len(FAULT_KINDS)))
            # In the last days only: the anomaly runs look back days, not a year, and a fault still
            # open (or just over) when the dashboard comes up is one the demo can show.
            fault_start = max(history_start, live_start - timedelta(days=FAULT_WINDOW_DAYS))
            faults = plan_faults(residences, fault_start, fault_end, SIMULATION_SEED, per_kind=per_kind,
                                 step_s=HISTORY_STEP_S)
    write_ground_truth(truth_path, faults, residences, seed=SIMULATION_SEED, start=history_start, end=fault_end)
    say(f"résidence simulée : {dwellings} logements, {len(meters)} compteurs, {len(faults)} pannes injectées "
        f"(vérité terrain : {truth_path})",
        f"simulated residence: {dwellings} dwellings, {len(meters)} meters, {len(faults)} injected faults")
    return DemoPlan(residences, faults, history_start, live_start, resumed, replayed, timeline_path)


def _previous_start(settings: Settings, residences: list[Residence], truth_path: Path) -> datetime | None:
    """The first run's simulation start, when the database already holds this residence's readings."""
    assert settings.database_url is not None
    sources = [m.source for r in residences for m in r.meters]
    with psycopg.connect(settings.database_url) as conn:
        row = conn.execute(
            "SELECT EXISTS (SELECT 1 FROM reading r JOIN meter m ON m.id = r.meter_id WHERE m.source = ANY(%s))",
            (sources,),
        ).fetchone()
    if not row or not row[0]:
        return None
    try:
        document = json.loads(truth_path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        document = {}
    codes = sorted(f"{d['residence_code']}/{d['code']}" for d in document.get("dwellings", []))
    if document.get("seed") != SIMULATION_SEED or codes != sorted(
            f"{r.code}/{d.code}" for r in residences for d in r.dwellings):
        say("la base contient déjà cette résidence mais sa vérité terrain manque : les index simulés "
            "pourront sembler remis à zéro",
            "the database already holds this residence but its ground truth is missing: simulated indices "
            "may look reset")
        return None
    return datetime.fromisoformat(document["start"])


def register_residence(settings: Settings, plan: DemoPlan) -> Registered:
    """Create (or update) the residence, its buildings, dwellings and meters in the database."""
    from coopwatt.simulator.register import register_residences

    assert settings.database_url is not None
    with connect(settings.database_url) as conn:
        registered = register_residences(conn, plan.residences, installed_at=plan.history_start - timedelta(days=1))
        conn.commit()
    say(f"{len(registered.dwelling_ids)} logements et {len(registered.meter_ids)} compteurs enregistrés",
        f"{len(registered.dwelling_ids)} dwellings and {len(registered.meter_ids)} meters registered")
    return registered


# -- stage 4: history --------------------------------------------------------------------------


def backfill_history(settings: Settings, plan: DemoPlan, registered: Registered) -> tuple[Simulation, Recorder]:
    """Write the history up to the live start straight to the database; return the simulation, ready to go live.

    One simulation runs from the history into live publishing, so every index carries on where the
    history left it (``backfill_to_db`` starts a fresh simulation per group of buildings, which
    cannot then be continued live).
    """
    from coopwatt.simulator.register import store_chunk, temperature_rows
    from coopwatt.simulator.series import Chunk, Simulation
    from coopwatt.simulator.publish import LIVE_STEP_S
    from coopwatt.simulator.timeline import Recorder, advance_through, extended

    assert settings.database_url is not None
    simulation = Simulation(plan.residences, plan.history_start, seed=SIMULATION_SEED, faults=plan.faults,
                            timezone=settings.timezone, gas_kwh_per_m3=settings.gas_kwh_per_m3)
    say(f"historique du {plan.history_start:%Y-%m-%d %H:%M} au {plan.live_start:%Y-%m-%d %H:%M} UTC, "
        f"un relevé toutes les {HISTORY_STEP_S // 60} min, écrit directement en base …",
        "backfilling history straight into the database …")
    started = time.monotonic()
    new_readings = days_done = 0

    def store(chunk: Chunk) -> None:
        nonlocal new_readings, days_done
        new_readings += store_chunk(conn, chunk, registered)
        store_temperatures(conn, temperature_rows(chunk, registered.residence_ids))
        conn.commit()
        days_done += 1
        if days_done % 30 == 0:
            say(f"… {simulation.now:%Y-%m-%d}, {new_readings:,} nouveaux relevés",
                f"… {simulation.now:%Y-%m-%d}, {new_readings:,} new readings")

    with connect(settings.database_url) as conn:
        advance_through(simulation, extended(plan.replayed, HISTORY_STEP_S, plan.live_start), store)
    timeline = Recorder(plan.timeline_path, extended(plan.replayed, HISTORY_STEP_S, simulation.now), LIVE_STEP_S)
    timeline.record(simulation.now)
    say(f"historique : {new_readings:,} nouveaux relevés en {time.monotonic() - started:.1f} s"
        + (" (les relevés déjà en base sont gardés tels quels)" if plan.resumed else ""),
        f"history: {new_readings:,} new readings stored")
    return simulation, timeline


# -- stage 5: consumption and rollups ----------------------------------------------------------


def derive_consumption(settings: Settings, reported: set[tuple[int, datetime, str]]) -> int:
    """Derive hourly consumption for meters with new readings, then refresh the rollups they touch.

    Resets and jumps are told once: `reported` remembers them (a later run that re-reads the same
    window finds them again).
    """
    from coopwatt.rollups import refresh_rollups
    from ingest.derive import derive_pending

    assert settings.database_url is not None
    with connect(settings.database_url) as conn:
        stats = derive_pending(conn, settings)
        if stats.since is not None and stats.until is not None and stats.until > stats.since:
            refresh_rollups(conn, settings, since=stats.since, until=stats.until)
    for event in stats.events:
        if (event.meter_id, event.time, event.kind) in reported:
            continue
        reported.add((event.meter_id, event.time, event.kind))
        say(f"compteur {event.meter_id} : {'remise à zéro' if event.kind == 'reset' else 'saut'} d'index "
            f"le {event.time:%Y-%m-%d %H:%M} UTC ({event.before:.3f} → {event.after:.3f})",
            f"meter {event.meter_id}: index {event.kind} ({event.before:.3f} → {event.after:.3f})")
    return stats.hours_written


# -- stage 6: live ingest ----------------------------------------------------------------------


@dataclass(frozen=True)
class RunningIngester:
    """The in-process ingester and the (idempotent) way to stop it."""

    service: Any  # ingest.service.IngestService
    stop: Callable[[], None]


def analyse(settings: Settings, *, nightly: bool, now: datetime) -> None:
    """Analytics stage: `coopwatt analytics` runs (the nightly steps, then anomalies) and what they found.

    ``now`` is the simulated clock, not the wall clock: live meters replay the recent past at speed,
    so judged at the wall clock every meter would look silent since the end of the backfill.
    """
    from analytics.job.nightly import run_nightly
    from analytics.job.run import run_anomalies

    assert settings.database_url is not None
    if nightly:
        n = run_nightly(settings.database_url, settings, now)
        say(f"analyse de nuit : {n.baselines_qualified} références météo ajustées, {n.baselines_unqualified} sans "
            f"assez de données ; {n.groups_published} groupes de logements similaires publiés, {n.groups_withheld} "
            f"retenus (moins de {settings.comparison_min_group_size}), {n.groups_unchanged} déjà publiés inchangés ; {n.high_consumers} gros consommateur(s) ; "
            f"{n.suggestions} piste(s) d'économie ; {n.savings} mesure(s) d'économies",
            f"nightly analytics: {n.baselines_qualified} weather baselines fitted, {n.baselines_unqualified} without "
            f"enough data; {n.groups_published} groups of similar homes published, {n.groups_withheld} withheld "
            f"(fewer than {settings.comparison_min_group_size}), {n.groups_unchanged} published before, unchanged; {n.high_consumers} high consumer(s); "
            f"{n.suggestions} savings suggestion(s); {n.savings} savings result(s)")
        for line_fr, line_en in _top_findings(settings.database_url):
            say(line_fr, line_en)
    # The history was backfilled at once, never seen by a 15-minute run as it arrived: the raw readings of the
    # whole fault window are judged (a counter reset five days ago would be outside the usual 3 days).
    window = settings.model_copy(update={"analytics_index_lookback_days": max(
        settings.analytics_index_lookback_days, FAULT_WINDOW_DAYS + 1.0)})
    summary = run_anomalies(settings.database_url, window, now, full=True)  # the demo shows all it finds
    found = ", ".join(f"{kind} {count}" for kind, count in sorted(summary.anomalies_by_kind.items())) or "aucune / none"
    say(f"analyse : {summary.dwellings_processed} logements, anomalies : {found} ; "
        f"{summary.alerts_opened} alerte(s) ouverte(s), {summary.failures} échec(s)",
        f"analytics: {summary.dwellings_processed} dwellings, anomalies: {found}; "
        f"{summary.alerts_opened} alert(s) opened, {summary.failures} failure(s)")


def _top_findings(url: str) -> list[tuple[str, str]]:
    """The most valuable suggestion and the highest consumer, as one line each (French, English)."""
    lines = []
    with psycopg.connect(url) as conn:
        best = conn.execute(
            "SELECT d.code, s.kind, s.cost_eur_per_year FROM suggestion s JOIN dwelling d ON d.id = s.dwelling_id"
            " ORDER BY s.cost_eur_per_year DESC LIMIT 1").fetchone()
        top = conn.execute(
            "SELECT d.code, h.energy_kind, h.ratio_to_group FROM high_consumer h JOIN dwelling d ON d.id = h.dwelling_id"
            " WHERE h.rank = 1 ORDER BY h.period_end DESC, h.ratio_to_group DESC NULLS LAST LIMIT 1").fetchone()
    if best is not None:
        lines.append((f"  meilleure piste : logement {best[0]}, {best[1]}, {best[2]:.0f} € par an",
                      f"  best suggestion: dwelling {best[0]}, {best[1]}, €{best[2]:.0f} a year"))
    if top is not None and top[2] is not None:
        lines.append((f"  plus gros consommateur : logement {top[0]} ({top[1]}), {top[2]:.1f}× les logements similaires",
                      f"  highest consumer: dwelling {top[0]} ({top[1]}), {top[2]:.1f}× similar homes"))
    return lines


def start_ingester(settings: Settings, stack: contextlib.ExitStack) -> RunningIngester:
    """Run the MQTT ingester in this process; it flushes and acknowledges what it holds when stopped."""
    from ingest.service import IngestService

    service = IngestService(settings)
    service.start()
    stop = _once(service.stop)
    stack.callback(stop)
    if not service.subscriber.subscribed.wait(30):
        raise RuntimeError("the ingester could not connect and subscribe to the MQTT broker within 30 s")
    metrics = (f" ; métriques sur http://{settings.metrics_host}:{settings.metrics_port}/metrics"
               if settings.metrics_port else "")
    say(f"ingesteur connecté (QoS 1, session persistante « {settings.mqtt_client_id} », "
        f"acquittement après écriture){metrics}",
        "ingester connected (QoS 1, persistent session, acknowledged after commit)")
    return RunningIngester(service, stop)


class LivePublisher:
    """The simulated devices publishing live over MQTT, accelerated, in a thread of their own."""

    def __init__(self, settings: Settings, plan: DemoPlan, simulation: Simulation, timeline: Recorder) -> None:
        self._settings = settings
        self._timeline = timeline
        self._meters = [m for r in plan.residences for m in r.meters]
        self._simulation = simulation
        self._stop = threading.Event()
        self.sent = 0
        self.error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="demo-live-publisher", daemon=True)

    def start(self) -> None:
        """Start publishing."""
        self._thread.start()
        say(f"compteurs simulés en direct à partir du {self._simulation.now:%Y-%m-%d %H:%M} UTC, "
            f"accélérés ×{LIVE_SPEED:g} jusqu'à rattraper l'heure réelle",
            f"simulated meters publishing live, ×{LIVE_SPEED:g} until they catch up with the clock")

    def _run(self) -> None:
        from coopwatt.simulator.publish import Publisher, run_live

        assert self._settings.mqtt_url is not None
        try:
            with Publisher(self._settings.mqtt_url, topic_prefix=self._settings.mqtt_topic_prefix,
                           client_id=f"coopwatt-demo-sim-{uuid.uuid4().hex[:8]}") as publisher:
                run_live(publisher, self._simulation, self._meters, speed=LIVE_SPEED, tz=self._settings.timezone,
                         stop=self._stop, on_step=self._count)
                publisher.flush()
                self.sent = publisher.sent
        except Exception as exc:  # shown by the main loop, which then stops the demo
            self.error = exc

    def _count(self, at: datetime, count: int) -> None:
        self.sent = count
        self._timeline.record(at, at_most_every_s=1.0)

    @property
    def clock(self) -> datetime:
        """The simulated time the live meters have reached (behind the wall clock until they catch up)."""
        return self._simulation.now

    def stop(self) -> None:
        """Stop publishing and wait until every message is acknowledged by the broker."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(60)
        self._timeline.record(self.clock)


def wait_for_ingester(ingester: Any, published: int, timeout_s: float = 30.0) -> bool:
    """Wait until the ingester has received every message published live; False on timeout."""
    deadline = time.monotonic() + timeout_s
    while ingester.counts()["received"] < published:
        if time.monotonic() > deadline:
            return False
        time.sleep(0.2)
    return True


def _once(function: Callable[[], None]) -> Callable[[], None]:
    """`function` wrapped so that only the first call runs it (stop from a stage and from the ExitStack)."""
    done = threading.Event()

    def run() -> None:
        if not done.is_set():
            done.set()
            function()

    return run

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


def report(settings: Settings, elapsed_s: float | None, ingester: Any, published: int,
           mode: StorageMode) -> Counts:
    """Print one status line: what was published and ingested live, and what the database holds."""
    assert settings.database_url is not None
    counts = database_counts(settings.database_url)
    live = ingester.counts()
    when = "fin/end" if elapsed_s is None else f"{elapsed_s:5.0f} s"
    print(
        f"[demo {when}] publiés/published {published:,} · reçus/received {live['received']:,} · "
        f"rejetés/rejected {live['rejected']:,} │ base ({mode}) : relevés/readings {counts.readings:,} · "
        f"heures de consommation/consumption hours {counts.consumption_hours:,} · "
        f"lettres mortes/dead letters {counts.dead_letters:,}",
        flush=True,
    )
    return counts


# -- the sequence ------------------------------------------------------------------------------


def _demo_settings(settings: Settings) -> Settings:
    """The demo's own MQTT client id unless one was chosen, so it never takes over a real ingester's session."""
    if "mqtt_client_id" in settings.model_fields_set:
        return settings
    return settings.model_copy(update={"mqtt_client_id": DEMO_CLIENT_ID})


def _quiet_routine_logs(settings: Settings) -> None:
    """The demo prints its own summary of derivation and rollups; their per-run log lines would drown it."""
    if settings.log_level != "DEBUG":
        # werkzeug logs every dashboard request: opening one page would bury the live status lines.
        for name in ("coopwatt.rollups", "coopwatt.migrations", "coopwatt.embedded", "werkzeug"):
            logging.getLogger(name).setLevel(logging.WARNING)
        # Its resets and jumps are warnings the demo already prints, once, in both languages.
        logging.getLogger("ingest.derive").setLevel(logging.ERROR)


def watch(settings: Settings, ingester: RunningIngester, live: LivePublisher, duration_s: float | None,
          mode: StorageMode, reported: set[tuple[int, datetime, str]]) -> None:
    """Derive, refresh and report every few seconds until the duration is over (or Ctrl-C)."""
    started = time.monotonic()
    last_derive = last_anomalies = started
    while True:
        remaining = None if duration_s is None else duration_s - (time.monotonic() - started)
        if remaining is not None and remaining <= 0:
            return
        time.sleep(min(STATUS_EVERY_S, remaining) if remaining is not None else STATUS_EVERY_S)
        if live.error is not None:
            raise RuntimeError(f"live publishing failed: {live.error}") from live.error
        if not ingester.service.writer.is_alive():
            raise RuntimeError(f"the ingester's writer stopped: {ingester.service.writer.failed}")
        if time.monotonic() - last_derive >= DERIVE_EVERY_S:
            derive_consumption(settings, reported)
            last_derive = time.monotonic()
        if time.monotonic() - last_anomalies >= ANOMALIES_EVERY_S:
            live_anomalies(settings, live.clock)
            last_anomalies = time.monotonic()
        report(settings, time.monotonic() - started, ingester.service, live.sent, mode)


def live_anomalies(settings: Settings, now: datetime) -> None:
    """An incremental anomaly run, as the schedule makes every 15 min, at the simulated clock; say what changed."""
    from analytics.job.run import run_anomalies

    assert settings.database_url is not None
    summary = run_anomalies(settings.database_url, settings, now)
    if summary.alerts_opened or summary.alerts_resolved:
        say(f"anomalies au {now:%Y-%m-%d %H:%M} UTC : {summary.alerts_opened} alerte(s) ouverte(s), "
            f"{summary.alerts_resolved} résolue(s) d'elles-mêmes",
            f"anomalies at {now:%Y-%m-%d %H:%M} UTC: {summary.alerts_opened} alert(s) opened, "
            f"{summary.alerts_resolved} resolved by themselves")


def finish(settings: Settings, ingester: RunningIngester, live: LivePublisher, mode: StorageMode,
           reported: set[tuple[int, datetime, str]]) -> None:
    """Stop publishing, let the ingester store what was sent, derive the last hours and summarise."""
    live.stop()
    if not wait_for_ingester(ingester.service, live.sent):
        say("l'ingesteur n'a pas tout reçu à temps : le reste attend dans la session du broker",
            "the ingester did not receive everything in time: the rest waits in its broker session")
    ingester.stop()
    derive_consumption(settings, reported)
    analyse(settings, nightly=False, now=live.clock)
    counts = report(settings, None, ingester.service, live.sent, mode)
    assert settings.database_url is not None
    with psycopg.connect(settings.database_url) as conn:
        reasons = conn.execute("SELECT reason, count(*) FROM dead_letter GROUP BY reason ORDER BY 2 DESC").fetchall()
    for reason, count in reasons:
        say(f"lettre morte ×{count} : {reason}", f"dead letter ×{count}: {reason}")
    if counts.dead_letters == 0:
        say("aucune lettre morte : tout ce qui a été reçu est valide", "no dead letters: everything received was valid")


def serve_dashboard(settings: Settings, stack: contextlib.ExitStack) -> None:
    """Serve the dashboard in this process and print its address and one demo account per role."""
    import psycopg

    from coopwatt.users import ensure_demo_accounts
    from dashboard.app import demo_settings
    from dashboard.serve import start_in_thread

    with psycopg.connect(settings.database_url) as conn:
        accounts = ensure_demo_accounts(conn)
        conn.commit()
    port = settings.dashboard_port if _port_free(settings.dashboard_host, settings.dashboard_port) else 0
    running = start_in_thread(demo_settings(settings), host=settings.dashboard_host, port=port)
    stack.callback(running.stop)
    say(f"tableau de bord : {running.url}", f"dashboard: {running.url}")
    for username, password, role in accounts:
        print(f"    {role:<10} {username:<14} {password}", flush=True)


def main(settings: Settings, args: argparse.Namespace) -> int:
    """Run the demo until --duration-s or Ctrl-C, then stop everything cleanly."""
    from coopwatt.demo_letters import send_month_letters

    settings = _demo_settings(settings)
    _quiet_routine_logs(settings)
    # SIGTERM unwinds like Ctrl-C: every started service is stopped on the way out.
    previous = signal.signal(signal.SIGTERM, signal.default_int_handler)
    try:
        with contextlib.ExitStack() as stack:
            settings = start_services(settings, stack)
            mode = prepare_database(settings)
            plan = plan_residence(settings, args.dwellings, args.days, args.duration_s)
            registered = register_residence(settings, plan)
            simulation, timeline = backfill_history(settings, plan, registered)
            reported: set[tuple[int, datetime, str]] = set()
            hours = derive_consumption(settings, reported)
            say(f"consommation horaire dérivée des index : {hours:,} heures écrites ; agrégats à jour",
                f"hourly consumption derived from indices: {hours:,} hours written; rollups refreshed")
            analyse(settings, nightly=True, now=plan.live_start)
            send_month_letters(settings, stack, plan.live_start, say)
            serve_dashboard(settings, stack)
            ingester = start_ingester(settings, stack)
            live = LivePublisher(settings, plan, simulation, timeline)
            stack.callback(live.stop)
            live.start()
            say("en direct" + (f" pendant {args.duration_s:g} s" if args.duration_s is not None
                               else " (Ctrl-C pour arrêter)"),
                "live" + (f" for {args.duration_s:g} s" if args.duration_s is not None else " (Ctrl-C to stop)"))
            try:
                watch(settings, ingester, live, args.duration_s, mode, reported)
            except KeyboardInterrupt:
                say("arrêt demandé : arrêt propre en cours …", "stop requested: stopping cleanly …")
            finish(settings, ingester, live, mode, reported)
    finally:
        signal.signal(signal.SIGTERM, previous)
    say("démo terminée", "demo finished")
    return 0
