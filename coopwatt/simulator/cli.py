"""``coopwatt simulate``: publish a simulated residence over MQTT (history first, then live)."""

from __future__ import annotations

import argparse
import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from types import FrameType

from coopwatt.cli import require_database_url, require_mqtt_url
from coopwatt.db import connect
from coopwatt.settings import Settings
from coopwatt.simulator.faults import FAULT_KINDS, Fault, plan_faults, write_ground_truth
from coopwatt.simulator.publish import LIVE_STEP_S, Publisher, publish_history, run_live
from coopwatt.simulator.register import DEFAULT_REPORTING_PERIOD_S, register_residences
from coopwatt.simulator.hardship import plan_under_heating
from coopwatt.simulator.residence import Residence, make_residences
from coopwatt.simulator.series import Simulation

HISTORY_STEP_S = DEFAULT_REPORTING_PERIOD_S
DEFAULT_ACCELERATED_REPLAY = timedelta(days=1)


def say(french: str, english: str) -> None:
    """One line of progress, French then English."""
    print(f"[simulate] {french} / {english}", flush=True)


def _floor(time: datetime, step_s: int) -> datetime:
    return datetime.fromtimestamp(int(time.timestamp()) // step_s * step_s, tz=UTC)


def plan_timeline(now: datetime, backfill_days: int, speed: float,
                  duration_s: float | None) -> tuple[datetime, datetime, datetime | None]:
    """History start, live start and live end (None: until stopped) for these options.

    Accelerated live replays the recent past so that the simulated clock meets the
    wall clock at the end: live starts ``duration × (speed − 1)`` before now.
    """
    if speed > 1:
        replay = timedelta(seconds=duration_s * (speed - 1)) if duration_s else DEFAULT_ACCELERATED_REPLAY
    else:
        replay = timedelta(0)
    live_start = _floor(now - replay, LIVE_STEP_S)
    history_start = _floor(live_start - timedelta(days=backfill_days), HISTORY_STEP_S)
    live_end = now + timedelta(seconds=duration_s) if duration_s is not None else None
    return history_start, live_start, live_end


@contextmanager
def _stop_on_signals(stop: threading.Event) -> Iterator[None]:
    """SIGTERM and SIGINT stop live publishing cleanly (flush, disconnect)."""
    def handler(signum: int, frame: FrameType | None) -> None:
        stop.set()

    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {sig: signal.signal(sig, handler) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


def _fault_count(dwellings: int) -> int:
    """Faults of each kind: about one per hundred dwellings, at least one, never more than dwellings allow."""
    return max(1, min(dwellings // 100, dwellings // len(FAULT_KINDS)))


def main(settings: Settings, args: argparse.Namespace) -> int:
    """Run the simulator as the CLI options say."""
    mqtt_url = require_mqtt_url(settings)
    database_url = require_database_url(settings) if args.register else None
    if args.dwellings < 1 or args.backfill_days < 0 or args.speed <= 0 or not 0 <= getattr(args, "under_heating_share", 0.0) <= 1:
        raise SystemExit("coopwatt simulate: --dwellings ≥ 1, --backfill-days ≥ 0, --speed > 0 and --under-heating-share"
                         " within [0, 1] are expected")
    now = datetime.now(UTC)
    history_start, live_start, live_end = plan_timeline(now, args.backfill_days, args.speed, args.duration_s)
    residences = make_residences(args.dwellings, args.seed)
    meters = [m for r in residences for m in r.meters]
    say(f"{args.dwellings} logements, {len(residences)} résidence(s), {len(meters)} compteurs (graine {args.seed})",
        f"{args.dwellings} dwellings, {len(residences)} residence(s), {len(meters)} meters (seed {args.seed})")

    faults: list[Fault] = []
    fault_end = live_end or (live_start + timedelta(days=1))
    if args.dwellings >= len(FAULT_KINDS):
        faults = plan_faults(residences, history_start, fault_end, args.seed,
                             per_kind=_fault_count(args.dwellings), step_s=HISTORY_STEP_S)
        for fault in faults:
            say(f"panne injectée : {fault.kind} sur {fault.meter_source} à {fault.start:%Y-%m-%d %H:%M} UTC",
                f"injected fault: {fault.kind} on {fault.meter_source} at {fault.start:%Y-%m-%d %H:%M} UTC")
    else:
        say("trop peu de logements pour injecter des pannes", "too few dwellings to inject faults")
    share = getattr(args, "under_heating_share", 0.0)
    if share > 0:
        # From a day in the second half of the simulated time: a history before it to compare with.
        cut_start = history_start + (fault_end - history_start) / 2
        cuts = plan_under_heating(residences, cut_start, fault_end, args.seed, share=share)
        say(f"{len(cuts)} ménage(s) qui chauffent très peu (vérité terrain : under_heating_from_s)",
            f"{len(cuts)} household(s) that under-heat (ground truth: under_heating_from_s)")
    if args.ground_truth:
        path = write_ground_truth(args.ground_truth, faults, residences, seed=args.seed,
                                  start=history_start, end=fault_end)
        say(f"vérité terrain écrite dans {path}", f"ground truth written to {path}")

    registered = None
    if database_url is not None:
        with connect(database_url) as conn:
            registered = register_residences(conn, residences, installed_at=history_start - timedelta(days=1))
            conn.commit()
        say(f"{len(registered.meter_ids)} compteurs enregistrés dans la base",
            f"{len(registered.meter_ids)} meters registered in the database")

    sim = Simulation(residences, history_start, seed=args.seed, faults=faults, timezone=settings.timezone,
                     gas_kwh_per_m3=settings.gas_kwh_per_m3)
    stop = threading.Event()
    with Publisher(mqtt_url, topic_prefix=settings.mqtt_topic_prefix,
                   client_id=f"coopwatt-simulate-{args.seed}") as publisher, _stop_on_signals(stop):
        if args.backfill_days > 0:
            _backfill(publisher, sim, residences, live_start, settings)
        say(f"en direct depuis {sim.now:%Y-%m-%d %H:%M} UTC, vitesse ×{args.speed:g}"
            + (f", pendant {args.duration_s:g} s" if args.duration_s is not None else " (Ctrl-C pour arrêter)"),
            f"live from {sim.now:%Y-%m-%d %H:%M} UTC, speed ×{args.speed:g}"
            + (f", for {args.duration_s:g} s" if args.duration_s is not None else " (Ctrl-C to stop)"))
        sent = run_live(publisher, sim, meters, speed=args.speed, duration_s=args.duration_s,
                        tz=settings.timezone, stop=stop, start=live_start)
        say(f"{sent} messages publiés en direct ; déconnexion", f"{sent} live messages published; disconnecting")
    return 0


def _backfill(publisher: Publisher, sim: Simulation, residences: list[Residence], until: datetime,
              settings: Settings) -> None:
    """Publish the history over MQTT, every message carrying its time (native JSON for untimed formats)."""
    meters = [m for r in residences for m in r.meters]
    say(f"historique de {sim.now:%Y-%m-%d} à {until:%Y-%m-%d}, pas de {HISTORY_STEP_S // 60} min",
        f"history from {sim.now:%Y-%m-%d} to {until:%Y-%m-%d}, every {HISTORY_STEP_S // 60} min")

    def progress(at: datetime, count: int) -> None:
        if at.hour == 0 and at.minute == 0 and at.day in (1, 15):
            say(f"… {at:%Y-%m-%d}, {count} messages", f"… {at:%Y-%m-%d}, {count} messages")

    count = publish_history(publisher, sim, meters, until, step_s=HISTORY_STEP_S, tz=settings.timezone,
                            on_window=progress)
    publisher.flush()
    say(f"historique : {count} messages publiés", f"history: {count} messages published")
