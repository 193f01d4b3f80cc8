"""``coopwatt ingest``: wire the subscriber, the writer and the metrics endpoint together."""

from __future__ import annotations

import argparse
import gc
import itertools
import logging
import signal
import threading
import time
from types import FrameType
from collections.abc import Iterable
from typing import Any

from coopwatt.cli import require_database_url, require_mqtt_url
from coopwatt.settings import Settings, SettingsError
from coopwatt.storage import JobWatch
from ingest.batch import Message
from ingest.failover import Failover, unguarded_group
from ingest.inbox import Inbox
from ingest.metrics import IngestMetrics, serve
from ingest.presence import presence_for
from ingest.subscriber import Subscriber
from ingest.writer import Writer

log = logging.getLogger(__name__)


class IngestService:
    """One ingester: MQTT subscriber → bounded inbox → one writer. Start, then stop to flush."""

    def __init__(self, settings: Settings, *, database_url: str | None = None, mqtt_url: str | None = None) -> None:
        self.settings = settings
        self.metrics = IngestMetrics()
        self._inbox: Inbox[Message] = Inbox(settings.ingest_queue_size, settings.ingest_batch_size)
        url = mqtt_url or require_mqtt_url(settings)
        generations = itertools.count(1)  # one counter: a message's generation says which session to ack on
        presence = presence_for(settings)
        # The restart guard's marker waits for this member's shared subscription (resolved at call time).
        self.failover = (Failover(settings, url, self._inbox, self.metrics, generations, presence,
                                  group_ready=lambda: self.subscriber.subscribed.is_set())
                         if presence is not None else None)
        self.subscriber = Subscriber(settings, url, self._inbox, self.metrics, generations=generations,
                                     presence=presence,
                                     on_presence=self.failover.on_presence if self.failover is not None else None)
        self.writer = Writer(settings, database_url or require_database_url(settings), self._inbox,
                             self._ack, self.metrics)
        self.metrics.queue_depth.set_function(self._inbox.qsize)
        # Failed TimescaleDB policy jobs (refresh, compression, retention) are shown, not hidden:
        # they do not stop ingest, but rollups or compression silently fall behind.
        self.jobs = JobWatch(database_url or require_database_url(settings))
        self.metrics.timescaledb_jobs_failed.set_function(lambda: len(self.jobs.current()))
        self._http: Any = None

    def _ack(self, messages: Iterable[Message]) -> int:
        batch = list(messages)
        acked = self.subscriber.ack(batch)
        if self.failover is not None:
            acked += self.failover.ack(batch)
        return acked

    def start(self) -> None:
        """Start writing, connect to the broker, serve /health and /metrics."""
        self.writer.start()
        self.subscriber.start()
        if self.settings.metrics_port:
            self._http = serve(self.settings.metrics_host, self.settings.metrics_port, self.metrics, self.health)
            log.info("health and metrics on http://%s:%d/metrics", self.settings.metrics_host,
                     self._http.server_address[1])

    def health(self) -> tuple[bool, dict[str, Any]]:
        """Healthy when subscribed at the broker, the database answers and the writer is alive."""
        last = self.writer.last_commit_monotonic
        detail = {
            "broker_connected": self.subscriber.connected.is_set(),
            "subscribed": self.subscriber.subscribed.is_set(),
            "subscriptions_refused": list(self.subscriber.refused_filters),
            "database_ok": self.writer.database_ok.is_set(),
            "writer_alive": self.writer.is_alive(),
            "queue_depth": self._inbox.qsize(),
            "messages_uncommitted": self._inbox.qsize() + self.writer.holding,
            "seconds_since_commit": None if last is None else round(time.monotonic() - last, 3),
            "sessions_held": self.failover.held() if self.failover is not None else [],
            "restart_guard": self.failover.guard() if self.failover is not None else None,
            # Shown but not counted against health: ingest itself still works.
            "timescaledb_jobs_failed": [job.describe() for job in self.jobs.current()],
        }
        healthy = bool(detail["subscribed"] and detail["database_ok"] and detail["writer_alive"])
        return healthy, detail

    def stop(self, timeout_s: float = 60.0) -> None:
        """Stop taking messages, commit and acknowledge what was queued, then disconnect."""
        self.subscriber.stop_accepting()
        if self.failover is not None:
            self.failover.stop_accepting()
        self.writer.stop()
        self.writer.join(timeout_s)
        if self.failover is not None:
            self.failover.stop()
        self.subscriber.stop()
        if self._http is not None:
            self._http.shutdown()
        counts = self.counts()
        log.info("ingester stopped: %d messages received, %d readings stored", counts["received"], counts["stored"])

    def counts(self) -> dict[str, int]:
        """Totals so far: received, stored, duplicate, rejected messages."""
        sample = self.metrics.registry.get_sample_value
        rejected = sum(int(s.value) for metric in self.metrics.registry.collect()
                       if metric.name == "coopwatt_ingest_messages_rejected"
                       for s in metric.samples if s.name.endswith("_total"))
        return {
            "received": int(sample("coopwatt_ingest_messages_received_total") or 0),
            "stored": int(sample("coopwatt_ingest_readings_stored_total") or 0),
            "duplicate": int(sample("coopwatt_ingest_readings_duplicate_total") or 0),
            "rejected": rejected,
        }


def main(settings: Settings, args: argparse.Namespace) -> int:
    """Run the ingester until SIGTERM or SIGINT; flush and stop cleanly."""
    missing = []
    for require in (require_database_url, require_mqtt_url):
        try:
            require(settings)
        except SettingsError as exc:
            missing.append(str(exc))
    if missing:
        raise SettingsError("\n  ".join(missing))
    unguarded = unguarded_group(settings)
    if unguarded is not None:
        log.warning("%s", unguarded)
    service = IngestService(settings)
    # Everything imported and built so far lives as long as the process: frozen, the cyclic garbage collector
    # stops walking it. Batches keep thousands of objects alive for a moment, which set off full collections
    # over the whole heap (pint, psycopg, prometheus…) on the interpreter lock: 0.21 s of CPU per 50,000
    # messages, 0.04 s once frozen, the collection here included (docs/benchmarks.md, Ingest).
    gc.collect()
    gc.freeze()
    stop = threading.Event()

    def _on_signal(signum: int, frame: FrameType | None) -> None:
        log.info("received %s: flushing and stopping", signal.Signals(signum).name)
        stop.set()

    signal.signal(signal.SIGTERM, _on_signal)
    signal.signal(signal.SIGINT, _on_signal)
    service.start()
    while not stop.wait(1.0):
        if not service.writer.is_alive():
            break
    service.stop()
    return 1 if service.writer.failed else 0
