"""The demo's live phase: the in-process ingester, the simulated meters publishing, the watch loop and the finish."""

from __future__ import annotations

import contextlib
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import psycopg

from coopwatt.demo_console import (AlertTally, Line, LiveStatus, StatusPolicy, counts, live_alerts_line, meter_label,
                                   say)
from coopwatt.settings import Settings

if TYPE_CHECKING:
    from coopwatt.simulator.residence import Residence
    from coopwatt.simulator.series import Simulation
    from coopwatt.simulator.timeline import Recorder

STATUS_EVERY_S = 5.0
DERIVE_EVERY_S = 5.0
# Each wall-clock interval is two simulated hours at LIVE_SPEED: live faults show up within the demo.
ANOMALIES_EVERY_S = 60.0
# One simulated minute every half second: lively, and well within what amqtt carries (about 1,500 msg/s here).
LIVE_SPEED = 120.0


@dataclass(frozen=True)
class RunningIngester:
    """The in-process ingester and the (idempotent) way to stop it."""

    service: Any  # ingest.service.IngestService
    stop: Callable[[], None]


def start_ingester(settings: Settings, stack: contextlib.ExitStack) -> RunningIngester:
    """Run the MQTT ingester in this process; it flushes and acknowledges what it holds when stopped."""
    from ingest.service import IngestService

    service = IngestService(settings)
    service.start()
    stop = _once(service.stop)
    stack.callback(stop)
    if not service.subscriber.subscribed.wait(30):
        raise RuntimeError("the ingester could not connect and subscribe to the MQTT broker within 30 s")
    metrics = ((f" ; métriques sur http://{settings.metrics_host}:{settings.metrics_port}/metrics",
                f"; metrics on http://{settings.metrics_host}:{settings.metrics_port}/metrics")
               if settings.metrics_port else ("", ""))
    say(f"ingesteur connecté (QoS 1, session persistante « {settings.mqtt_client_id} », "
        f"acquittement après écriture){metrics[0]}",
        f"ingester connected (QoS 1, persistent session, acknowledged after commit){metrics[1]}")
    return RunningIngester(service, stop)


class LivePublisher:
    """The simulated devices publishing live over MQTT, accelerated, in a thread of their own."""

    def __init__(self, settings: Settings, residences: list[Residence], simulation: Simulation,
                 timeline: Recorder) -> None:
        self._settings = settings
        self._timeline = timeline
        self._meters = [m for r in residences for m in r.meters]
        self._simulation = simulation
        self._stop = threading.Event()
        self._publisher: Any = None
        self._sent_before = 0
        self.error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="demo-live-publisher", daemon=True)

    @property
    def sent(self) -> int:
        """Messages published so far, counted as each goes (a per-step count would lag what was received)."""
        publisher = self._publisher
        return self._sent_before if publisher is None else int(publisher.sent)

    def start(self) -> None:
        """Start publishing."""
        self._thread.start()
        say(f"compteurs simulés en direct à partir du {self._simulation.now:%Y-%m-%d %H:%M} UTC, "
            f"accélérés ×{LIVE_SPEED:g} jusqu'à rattraper l'heure réelle",
            f"simulated meters publishing live from {self._simulation.now:%Y-%m-%d %H:%M} UTC, "
            f"×{LIVE_SPEED:g} until they catch up with the clock")

    def _run(self) -> None:
        from coopwatt.simulator.publish import Publisher, run_live

        assert self._settings.mqtt_url is not None
        try:
            with Publisher(self._settings.mqtt_url, topic_prefix=self._settings.mqtt_topic_prefix,
                           client_id=f"coopwatt-demo-sim-{uuid.uuid4().hex[:8]}") as publisher:
                self._publisher = publisher
                run_live(publisher, self._simulation, self._meters, speed=LIVE_SPEED, tz=self._settings.timezone,
                         stop=self._stop, on_step=self._step)
                publisher.flush()
                self._sent_before = publisher.sent
        except Exception as exc:  # shown by the main loop, which then stops the demo
            self.error = exc

    def _step(self, at: datetime, count: int) -> None:
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


def live_status(url: str, ingester: Any, live: LivePublisher) -> LiveStatus:
    """The live phase now: simulated clock, messages, and row counts a person watching cares about."""
    # Received first, published last: a message is counted as published just after it goes, so read the
    # other way round a message already received could look as if it had never been published.
    received = ingester.counts()
    with psycopg.connect(url) as conn:
        row = conn.execute(
            "SELECT (SELECT count(*) FROM reading), (SELECT count(*) FROM consumption_hourly),"
            " (SELECT count(*) FROM dead_letter)"
        ).fetchone()
    assert row is not None
    clock = live.clock
    return LiveStatus(clock=clock, behind_s=max((datetime.now(UTC) - clock).total_seconds(), 0.0),
                      published=live.sent, received=received["received"], rejected=received["rejected"],
                      readings=int(row[0]), consumption_hours=int(row[1]), dead_letters=int(row[2]))


def watch(settings: Settings, ingester: RunningIngester, live: LivePublisher, duration_s: float | None,
          derive: Callable[[], object]) -> None:
    """Derive, refresh and report until the duration is over (or Ctrl-C); status only when worth a line."""
    assert settings.database_url is not None
    started = time.monotonic()
    last_derive = last_anomalies = started
    policy = StatusPolicy()
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
            derive()
            last_derive = time.monotonic()
        if time.monotonic() - last_anomalies >= ANOMALIES_EVERY_S:
            live_anomalies(settings, live.clock)
            last_anomalies = time.monotonic()
        for line in policy.lines(time.monotonic(), live_status(settings.database_url, ingester.service, live)):
            say(*line)


def open_alerts(url: str) -> int:
    """Alerts open now."""
    with psycopg.connect(url) as conn:
        row = conn.execute("SELECT count(*) FROM alert WHERE status = 'open'").fetchone()
    return int(row[0]) if row else 0


def tally(url: str, summary: Any) -> AlertTally:
    """An anomaly run's alerts: opened and closed by it, open once it is over."""
    return AlertTally(summary.alerts_opened, summary.alerts_resolved, open_alerts(url),
                      tuple(sorted(summary.anomalies_by_kind.items())))


def changed_alerts(url: str, since: datetime) -> tuple[list[tuple[str, Line]], list[tuple[str, Line]]]:
    """Alerts opened and closed since `since` (wall clock): kind and the meter as staff name it."""
    query = ("SELECT a.kind, d.code, m.kind FROM alert a JOIN meter m ON m.id = a.meter_id"
             " LEFT JOIN dwelling d ON d.id = a.dwelling_id WHERE {} >= %s ORDER BY a.id")
    with psycopg.connect(url) as conn:
        opened = conn.execute(query.format("a.detected_at"), (since,)).fetchall()
        closed = conn.execute(query.format("a.resolved_at"), (since,)).fetchall()
    return ([(kind, meter_label(code, meter_kind)) for kind, code, meter_kind in opened],
            [(kind, meter_label(code, meter_kind)) for kind, code, meter_kind in closed])


def live_anomalies(settings: Settings, now: datetime) -> None:
    """An incremental anomaly run, as the schedule makes every 15 min, at the simulated clock; say what changed."""
    from analytics.job.run import run_anomalies

    assert settings.database_url is not None
    started = datetime.now(UTC)
    summary = run_anomalies(settings.database_url, settings, now)
    if summary.alerts_opened or summary.alerts_resolved:
        opened, closed = changed_alerts(settings.database_url, started)
        say(*live_alerts_line(now, opened, closed, open_alerts(settings.database_url)))


def finish(settings: Settings, ingester: RunningIngester, live: LivePublisher,
           derive: Callable[[], object], analyse: Callable[[datetime], None]) -> None:
    """Stop publishing, let the ingester store what was sent, derive the last hours and summarise."""
    live.stop()
    if not wait_for_ingester(ingester.service, live.sent):
        say("l'ingesteur n'a pas tout reçu à temps : le reste attend dans la session du broker",
            "the ingester did not receive everything in time: the rest waits in its broker session")
    ingester.stop()
    derive()
    analyse(live.clock)
    assert settings.database_url is not None
    from coopwatt.demo_console import status_line

    status = live_status(settings.database_url, ingester.service, live)
    say(*status_line(status))
    with psycopg.connect(settings.database_url) as conn:
        reasons = conn.execute("SELECT reason, count(*) FROM dead_letter GROUP BY reason ORDER BY 2 DESC").fetchall()
    for reason, n in reasons:
        set_aside = counts(n, ("message mis de côté", "messages mis de côté"), ("message set aside", "messages set aside"))
        say(f"{set_aside[0]} : {reason}", f"{set_aside[1]}: {reason}")
    if status.dead_letters == 0:
        say("aucun message mis de côté : tout ce qui a été reçu était valide",
            "no message set aside: everything received was valid")
