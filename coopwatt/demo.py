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
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import psycopg

from coopwatt.db import StorageMode, connect
from coopwatt.demo_analytics import FAULT_WINDOW_DAYS, analyse
from coopwatt.demo_console import console, count, counts, index_event, meter_label, number, say
from coopwatt.demo_hardship import plan_demo_under_heating, replay_under_heating, under_heating_day
from coopwatt.demo_letters import history_days, send_month_letters
from coopwatt.demo_live import LIVE_SPEED, LivePublisher, finish, start_ingester, watch
from coopwatt.demo_services import DEMO_CLIENT_ID, DatabaseBusy, claim, serve_dashboard, start_services
from coopwatt.settings import Settings, SettingsError
from ingest.store import store_temperatures

if TYPE_CHECKING:
    from coopwatt.simulator.faults import Fault
    from coopwatt.simulator.register import Registered
    from coopwatt.simulator.residence import Residence
    from coopwatt.simulator.series import Simulation
    from coopwatt.simulator.timeline import Recorder, Segment

# Same residence on every run, so a second demo continues the first one's data.
SIMULATION_SEED = 1
HISTORY_STEP_S = 1800
GROUND_TRUTH_FILE = "demo-ground-truth.json"
TIMELINE_FILE = "demo-timeline.json"  # the steps the simulation took, for a later run to replay
DERIVE_PROGRESS_STEPS = 10  # the first derivation (half a minute) says how far it is about ten times


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
    migrations = counts(len(applied), ("migration appliquée", "migrations appliquées"),
                        ("migration applied", "migrations applied"))
    say(f"schéma à jour ({migrations[0]}) ; stockage : {explained[0]}",
        f"schema up to date ({migrations[1]}); storage: {explained[1]}")
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


def plan_residence(settings: Settings, dwellings: int, days: int | None, duration_s: float | None) -> DemoPlan:
    """Choose the residence, its injected faults and its timeline; continue an earlier run's if there is one."""
    from coopwatt.simulator.cli import plan_timeline
    from coopwatt.simulator.faults import FAULT_KINDS, plan_faults, read_ground_truth, write_ground_truth
    from coopwatt.simulator.residence import make_residences
    from coopwatt.simulator.timeline import read_segments

    if days is None:
        days = history_days(settings, datetime.now(UTC))
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
    plan = DemoPlan(residences, faults, history_start, live_start, resumed, replayed, timeline_path)
    if resumed:
        cold = replay_under_heating(residences, truth_path)
    else:
        avoid = {(f.residence_code, f.dwelling_code) for f in faults} | set(load_curve_refusal(plan))
        cold = plan_demo_under_heating(residences, live_start, min_group_size=settings.comparison_min_group_size,
                                       avoid=avoid)
    write_ground_truth(truth_path, faults, residences, seed=SIMULATION_SEED, start=history_start, end=fault_end)
    say(f"résidence simulée : {dwellings} logements, {len(meters)} compteurs, {len(faults)} pannes injectées "
        f"(vérité terrain : {truth_path})",
        f"simulated residence: {dwellings} dwellings, {len(meters)} meters, {len(faults)} injected faults")
    if cold:
        # Which homes stays in the ground-truth file: the list that names them is for advisers only.
        say(f"{count(len(cold), 'fr', 'ménage simulé baisse', 'ménages simulés baissent')} le chauffage très bas "
            f"depuis le {under_heating_day(residences)} : de quoi alimenter la liste des conseillers sur la "
            "précarité énergétique",
            f"{count(len(cold), 'en', 'simulated household turns', 'simulated households turn')} the heating far "
            f"down from {under_heating_day(residences)}: something for the advisers' energy hardship list")
    return plan


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
        refused = load_curve_refusal(plan)
        registered = register_residences(conn, plan.residences, installed_at=plan.history_start - timedelta(days=1),
                                         refused=refused)
        conn.commit()
    say(f"{len(registered.dwelling_ids)} logements et {len(registered.meter_ids)} compteurs enregistrés",
        f"{len(registered.dwelling_ids)} dwellings and {len(registered.meter_ids)} meters registered")
    for residence, dwelling in refused:
        say(f"consentements enregistrés ; le logement {residence}/{dwelling} a refusé la courbe de charge :"
            " son électricité est gardée jour par jour",
            f"consents recorded; dwelling {residence}/{dwelling} refused the load curve: its electricity is"
            " kept day by day")
    return registered


def load_curve_refusal(plan: DemoPlan) -> dict[tuple[str, str], tuple[str, ...]]:
    """The demo's one household that refused the load curve: the last dwelling with no injected fault."""
    from coopwatt.consent import LOAD_CURVE

    faulty = {(f.residence_code, f.dwelling_code) for f in plan.faults}
    calm = [(d.residence_code, d.code) for r in plan.residences for d in r.dwellings
            if (d.residence_code, d.code) not in faulty]
    return {calm[-1]: (LOAD_CURVE,)} if calm else {}


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
        f"history from {plan.history_start:%Y-%m-%d %H:%M} to {plan.live_start:%Y-%m-%d %H:%M} UTC, one reading "
        f"every {HISTORY_STEP_S // 60} min, written straight into the database …")
    started = time.monotonic()
    new_readings = days_done = 0

    def store(chunk: Chunk) -> None:
        nonlocal new_readings, days_done
        new_readings += store_chunk(conn, chunk, registered, settings.timezone)
        store_temperatures(conn, temperature_rows(chunk, registered.residence_ids))
        conn.commit()
        days_done += 1
        if days_done % 30 == 0:
            span_s = max((plan.live_start - plan.history_start).total_seconds(), 1.0)
            percent = min(100, round(100 * (simulation.now - plan.history_start).total_seconds() / span_s))
            say(f"… {simulation.now:%Y-%m-%d} ({percent} %), {number(new_readings, 'fr')} nouveaux relevés",
                f"… {simulation.now:%Y-%m-%d} ({percent} %), {new_readings:,} new readings")

    with connect(settings.database_url) as conn:
        advance_through(simulation, extended(plan.replayed, HISTORY_STEP_S, plan.live_start), store)
    timeline = Recorder(plan.timeline_path, extended(plan.replayed, HISTORY_STEP_S, simulation.now), LIVE_STEP_S)
    timeline.record(simulation.now)
    say(f"historique : {number(new_readings, 'fr')} nouveaux relevés en {time.monotonic() - started:.0f} s"
        + (" (les relevés déjà en base sont gardés tels quels)" if plan.resumed else ""),
        f"history: {new_readings:,} new readings stored in {time.monotonic() - started:.0f} s"
        + (" (readings already stored are kept as they are)" if plan.resumed else ""))
    return simulation, timeline


# -- stage 5: consumption and rollups ----------------------------------------------------------


def derive_consumption(settings: Settings, reported: set[tuple[int, datetime, str]], *,
                       progress: bool = False) -> int:
    """Derive hourly consumption for meters with new readings, then refresh the rollups they touch.

    With `progress`, meters are derived in about ten parts and each part says how far it is
    (the first derivation of a year of history takes half a minute). Resets and jumps are told
    once: `reported` remembers them (a later run that re-reads the same window finds them again).
    """
    from coopwatt.rollups import refresh_rollups
    from ingest.derive import DeriveStats, derive_pending

    assert settings.database_url is not None
    started = time.monotonic()
    with connect(settings.database_url) as conn:
        if not progress:
            stats = derive_pending(conn, settings)
        else:
            total = int(conn.execute("SELECT count(*) FROM consumption_pending").fetchone()[0])  # type: ignore[index]
            conn.commit()
            stats = DeriveStats()
            while True:
                part = derive_pending(conn, settings, max_meters=max(1, -(-total // DERIVE_PROGRESS_STEPS)))
                if part.meters == 0:
                    break
                stats.meters += part.meters
                stats.add(part)
                percent = min(100, round(100 * stats.meters / max(total, 1)))
                say(f"… consommation horaire : {stats.meters}/{total} compteurs ({percent} %), "
                    f"{number(stats.hours_written, 'fr')} heures écrites",
                    f"… hourly consumption: {stats.meters}/{total} meters ({percent} %), "
                    f"{stats.hours_written:,} hours written")
        if stats.since is not None and stats.until is not None and stats.until > stats.since:
            # In parts when asked for progress: each part is widened to whole days, so the parts cover it all.
            parts = DERIVE_PROGRESS_STEPS if progress else 1
            step = (stats.until - stats.since) / parts
            for part_no in range(1, parts + 1):
                refresh_rollups(conn, settings, since=stats.since + step * (part_no - 1),
                                until=stats.until if part_no == parts else stats.since + step * part_no)
                if progress:
                    say(f"… agrégats par heure et par jour : {100 * part_no // parts} % "
                        f"({time.monotonic() - started:.0f} s en tout)",
                        f"… hourly and daily rollups: {100 * part_no // parts} % "
                        f"({time.monotonic() - started:.0f} s in all)")
    _tell_index_events(settings.database_url, stats.events, reported)
    return stats.hours_written


def _tell_index_events(url: str, events: list[Any], reported: set[tuple[int, datetime, str]]) -> None:
    """Say each new counter reset or jump once, naming the dwelling and the meter as staff know them."""
    new = [e for e in events if (e.meter_id, e.time, e.kind) not in reported]
    if not new:
        return
    with psycopg.connect(url) as conn:
        labels = {row[0]: meter_label(row[1], row[2]) for row in conn.execute(
            "SELECT m.id, d.code, m.kind FROM meter m LEFT JOIN dwelling d ON d.id = m.dwelling_id"
            " WHERE m.id = ANY(%s)", ([e.meter_id for e in new],))}
    for event in new:
        reported.add((event.meter_id, event.time, event.kind))
        label = labels.get(event.meter_id, (f"compteur n° {event.meter_id}", f"meter no. {event.meter_id}"))
        say(*index_event(label, event.kind, event.time, event.before, event.after))


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
        # The letters stage says in one line what was built, sent and printed: not each SMTP exchange nor PDF page.
        for name in ("coopwatt.rollups", "coopwatt.migrations", "coopwatt.embedded", "werkzeug", "ingest.service",
                     "ingest.subscriber", "mail.log", "weasyprint", "fontTools", "reports.letters",
                     "reports.progress_store"):
            logging.getLogger(name).setLevel(logging.WARNING)
        # Its resets and jumps are warnings the demo already prints, once, in both languages.
        logging.getLogger("ingest.derive").setLevel(logging.ERROR)


def _shield_from_ctrl_c() -> None:
    """Once stopping has begun, a further Ctrl-C only says to wait: cut short, the stop would leave services behind."""
    def wait(signum: int, frame: Any) -> None:
        say("arrêt déjà en cours, un instant …", "already stopping, one moment …")

    signal.signal(signal.SIGINT, wait)
    signal.signal(signal.SIGTERM, wait)


def _set_up(settings: Settings, args: argparse.Namespace, lock: Any, stack: contextlib.ExitStack
            ) -> tuple[Settings, DemoPlan, Simulation, Recorder]:
    """Every stage before live: services, schema, residence, history, consumption, analytics, dashboard."""
    settings = start_services(settings, lock, stack)
    prepare_database(settings)
    plan = plan_residence(settings, args.dwellings, args.days, args.duration_s)
    registered = register_residence(settings, plan)
    simulation, timeline = backfill_history(settings, plan, registered)
    say("consommation horaire : dérivation des index …", "hourly consumption: deriving it from the indices …")
    started = time.monotonic()
    hours = derive_consumption(settings, set(), progress=True)
    say(f"consommation horaire dérivée des index : {number(hours, 'fr')} heures écrites en "
        f"{time.monotonic() - started:.0f} s ; agrégats à jour",
        f"hourly consumption derived from indices: {hours:,} hours written in {time.monotonic() - started:.0f} s; "
        "rollups refreshed")
    analyse(settings, nightly=True, now=plan.live_start)
    send_month_letters(settings, stack, plan.live_start, say)
    serve_dashboard(settings, lock, stack)
    return settings, plan, simulation, timeline


def main(settings: Settings, args: argparse.Namespace) -> int:
    """Run the demo until --duration-s or Ctrl-C, then stop everything cleanly.

    Exit status: 0 when it ran and stopped cleanly (at --duration-s or on Ctrl-C once live),
    130 when Ctrl-C came during the set-up (what was done is kept; the next run goes on from it),
    1 when every data directory it may use is taken by another running demo.
    """
    settings = _demo_settings(settings)
    console.language = settings.demo_language
    _quiet_routine_logs(settings)
    claimed = claim(settings)
    if claimed is None:
        return 1
    settings, lock = claimed
    # SIGTERM unwinds like Ctrl-C: every started service is stopped on the way out.
    previous = signal.signal(signal.SIGINT, signal.default_int_handler), signal.signal(
        signal.SIGTERM, signal.default_int_handler)
    status, stopped = 0, False
    try:
        with contextlib.ExitStack() as stack:
            stack.callback(lock.release)
            try:
                settings, plan, simulation, timeline = _set_up(settings, args, lock, stack)
            except DatabaseBusy as busy:
                say(f"une autre démo utilise cette base de données ({busy.holder}) : donnez-lui une base à elle "
                    "(COOPWATT_DATABASE_URL) ou aucune (PostgreSQL intégré)",
                    f"another demo is using this database ({busy.holder}): give this one a database of its own "
                    "(COOPWATT_DATABASE_URL) or none (embedded PostgreSQL)")
                status = 1
            except KeyboardInterrupt:
                _shield_from_ctrl_c()
                say("interrompue pendant la préparation : arrêt des services (ce qui est fait est gardé) …",
                    "interrupted during set-up: stopping the services (what is done is kept) …")
                status = 130
            else:
                status = _run_live(settings, args, plan, simulation, timeline, stack)
        stopped = status != 1
    finally:
        if stopped:
            # Everything is stopped: a late Ctrl-C has nothing left to stop. Ignored, not merely shielded:
            # the interpreter resets Python-level handlers to the default on its way out, and one arriving
            # then would end a clean stop "killed by SIGINT" instead of with its status.
            signal.signal(signal.SIGINT, signal.SIG_IGN)
            signal.signal(signal.SIGTERM, signal.SIG_IGN)
        else:
            signal.signal(signal.SIGINT, previous[0])
            signal.signal(signal.SIGTERM, previous[1])
    if status != 1:  # a demo that found its database taken did not run: nothing to say goodbye to
        say(f"au revoir : démo arrêtée proprement, données gardées dans {lock.data_dir}",
            f"goodbye: demo stopped cleanly, data kept in {lock.data_dir}")
    return status


def _run_live(settings: Settings, args: argparse.Namespace, plan: DemoPlan, simulation: Simulation,
              timeline: Recorder, stack: contextlib.ExitStack) -> int:
    """The live phase until --duration-s or Ctrl-C, then the finish; 0 either way once it is over."""
    reported: set[tuple[int, datetime, str]] = set()
    ingester = live = None
    try:
        ingester = start_ingester(settings, stack)
        live = LivePublisher(settings, plan.residences, simulation, timeline)
        stack.callback(live.stop)
        live.start()
        say("en direct" + (f" pendant {args.duration_s:g} s" if args.duration_s is not None
                           else " (Ctrl-C pour arrêter)"),
            "live" + (f" for {args.duration_s:g} s" if args.duration_s is not None else " (Ctrl-C to stop)"))
        watch(settings, ingester, live, args.duration_s, lambda: derive_consumption(settings, reported))
    except KeyboardInterrupt:
        say("arrêt demandé : arrêt propre en cours …", "stop requested: stopping cleanly …")
    _shield_from_ctrl_c()
    if ingester is None or live is None:
        return 0  # stopped before the meters went live: nothing was published to wait for
    finish(settings, ingester, live, lambda: derive_consumption(settings, reported),
           lambda clock: analyse(settings, nightly=False, now=clock))
    return 0
