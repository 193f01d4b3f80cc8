"""Health and Prometheus metrics for the ingester, served over a small HTTP endpoint."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Gauge, Histogram, generate_latest


class IngestMetrics:
    """The ingester's counters; one registry per service so tests can run several."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.received = Counter("coopwatt_ingest_messages_received", "MQTT messages received", registry=r)
        self.stored = Counter("coopwatt_ingest_readings_stored", "new readings committed", registry=r)
        self.duplicates = Counter("coopwatt_ingest_readings_duplicate", "readings already stored (redelivery)", registry=r)
        self.rejected = Counter("coopwatt_ingest_messages_rejected", "messages sent to the dead-letter table",
                                ["reason"], registry=r)
        self.batches = Counter("coopwatt_ingest_batches", "batches committed", registry=r)
        self.reduced = Counter("coopwatt_ingest_readings_reduced_to_daily",
                               "readings not kept because the household allows daily values only", registry=r)
        self.sessions_held = Gauge("coopwatt_ingest_failover_sessions_held",
                                   "sessions of gone group members this ingester holds (ingest/failover.py)", registry=r)
        self.guard_held = Gauge("coopwatt_ingest_restart_guard_held",
                                "1 while this ingester holds its group's restart guard (ingest/restart_guard.py)",
                                registry=r)
        self.guard_taken = Counter("coopwatt_ingest_restart_guard_taken",
                                   "readings the restart guard took in while catching up (mostly duplicates)",
                                   registry=r)
        self.write_errors = Counter("coopwatt_ingest_write_errors", "failed batch writes (retried)", registry=r)
        self.batch_seconds = Histogram("coopwatt_ingest_batch_write_seconds", "time to write and commit one batch",
                                       buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5), registry=r)
        self.latency_seconds = Histogram("coopwatt_ingest_latency_seconds", "receive to commit, oldest message of a batch",
                                         buckets=(0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30), registry=r)
        self.queue_depth = Gauge("coopwatt_ingest_queue_depth", "messages waiting for the writer", registry=r)
        self.connected = Gauge("coopwatt_ingest_broker_connected", "1 while connected to the broker", registry=r)
        self.timescaledb_jobs_failed = Gauge("coopwatt_timescaledb_jobs_failed",
                                             "TimescaleDB background jobs whose last run failed", registry=r)
        self.last_commit = Gauge("coopwatt_ingest_last_commit_timestamp_seconds", "time of the last commit", registry=r)


class _Handler(BaseHTTPRequestHandler):
    metrics: IngestMetrics
    health: Callable[[], tuple[bool, dict[str, Any]]]

    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        if self.path.startswith("/metrics"):
            body, status, ctype = generate_latest(self.metrics.registry), 200, CONTENT_TYPE_LATEST
        elif self.path.startswith("/health"):
            healthy, detail = self.health()
            body, status, ctype = json.dumps(detail).encode(), 200 if healthy else 503, "application/json"
        else:
            body, status, ctype = b"not found", 404, "text/plain"
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - scrapes are not worth a log line
        return


def serve(host: str, port: int, metrics: IngestMetrics,
          health: Callable[[], tuple[bool, dict[str, Any]]]) -> ThreadingHTTPServer:
    """Serve /health and /metrics in a daemon thread; port 0 picks a free port."""
    handler = type("Handler", (_Handler,), {"metrics": metrics, "health": staticmethod(health)})
    server = ThreadingHTTPServer((host, port), handler)
    threading.Thread(target=server.serve_forever, name="ingest-metrics", daemon=True).start()
    return server
