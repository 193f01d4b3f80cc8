"""Restart-guard benchmark: what holding the guard costs an ingester, against the same ingester without it.

One `coopwatt ingest` is the only member of a shared group on a private Mosquitto configured like the
deploy broker (ingest/restart_guard.py). The same two phases run with COOPWATT_MQTT_RESTART_GUARD=false
(the baseline) and with the guard held and caught up, each on a fresh broker and database:

  steady — a stream published while the ingester runs: CPU seconds of the ingester and of the broker
           per 1,000 messages (with the guard, the broker sends every reading twice and the ingester
           acknowledges the copy);
  outage — the ingester stopped (SIGTERM), the next stream published meanwhile, the ingester started
           again: seconds from its start until everything is stored, and the duplicates (with the guard,
           its copies of that backlog are stored too, and found already there).

Run:  uv run python bench/restart_guard_bench.py [--messages 50000]
--quick: 4,000 messages (seconds; checks the script runs, its ratios mean little at that size).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.ingest_bench import (  # noqa: E402
    BROKER_CONFIG,
    RECEIVE_MAXIMUM,
    drop_database,
    fresh_database,
)
from tests.factories import index_stream, make_meters  # noqa: E402
from tests.ingest_group import read_health, read_metric  # noqa: E402
from tests.mqtt_tools import MosquittoServer, ReliablePublisher, free_port  # noqa: E402

METERS = 50
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def cpu_s(pid: int) -> float:
    """User + system CPU seconds a running process has used."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


class Member:
    """`coopwatt ingest`, alone in its shared group, with or without the restart guard."""

    def __init__(self, url: str, broker: MosquittoServer, prefix: str, guard: bool) -> None:
        self.port = free_port()
        env = {k: v for k, v in os.environ.items() if not k.startswith("COOPWATT_")}
        env.update({
            "COOPWATT_DATABASE_URL": url, "COOPWATT_MQTT_URL": broker.url, "COOPWATT_MQTT_TOPIC_PREFIX": prefix,
            "COOPWATT_MQTT_CLIENT_ID": "coopwatt-bench-1", "COOPWATT_MQTT_SHARED_GROUP": f"g-{prefix}",
            "COOPWATT_MQTT_FAILOVER_AFTER_S": "30", "COOPWATT_MQTT_RESTART_GUARD": str(guard).lower(),
            "COOPWATT_METRICS_PORT": str(self.port), "COOPWATT_LOG_LEVEL": "WARNING",
            "COOPWATT_INGEST_MAX_INFLIGHT": str(RECEIVE_MAXIMUM),
        })
        self.guard = guard
        self.process = subprocess.Popen([sys.executable, "-m", "coopwatt.cli", "ingest"], env=env)

    def wait_ready(self) -> None:
        """Subscribed, and with the guard, caught up."""
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            health = read_health(self.port)
            if health.get("subscribed") and (not self.guard or health.get("restart_guard") == "caught up"):
                return
            if self.process.poll() is not None:
                raise RuntimeError(f"the ingester exited with {self.process.returncode}")
            time.sleep(0.05)
        raise RuntimeError("the ingester did not get ready in 120 s")

    def duplicates(self) -> int:
        return int(read_metric(self.port, "coopwatt_ingest_readings_duplicate_total"))

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(60)


def wait_rows(url: str, expected: int, member: Member) -> None:
    deadline = time.monotonic() + 600
    with psycopg.connect(url, autocommit=True) as conn:
        while conn.execute("SELECT count(*) FROM reading").fetchone()[0] < expected:
            if member.process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("the ingester stopped or stalled")
            time.sleep(0.02)


def publish(broker: MosquittoServer, stream: list[tuple[str, bytes]]) -> None:
    publisher = ReliablePublisher("127.0.0.1", broker.port, max_outstanding=2000)
    publisher.publish_all(stream)
    publisher.close()


def run(tmp: Path, messages: int, guard: bool) -> dict[str, float]:
    """Both phases for one setting, on a broker and a database of their own."""
    broker = MosquittoServer(tmp / f"guard-{guard}", BROKER_CONFIG)
    broker.start()
    url = fresh_database()
    try:
        sources = [f"bench{i}" for i in range(METERS)]
        make_meters(url, sources)
        prefix = "bench-" + uuid.uuid4().hex[:6]
        per_meter = messages // METERS
        start = datetime(2026, 1, 1, tzinfo=UTC)
        steady = [(t, p) for t, p, _, _ in index_stream(sources, start, per_meter, prefix=prefix)]
        later = [(t, p) for t, p, _, _ in index_stream(sources, start + timedelta(days=60), per_meter, prefix=prefix)]
        member = Member(url, broker, prefix, guard)
        member.wait_ready()
        ingester_0, broker_0 = cpu_s(member.process.pid), cpu_s(broker.pid)
        publish(broker, steady)
        wait_rows(url, len(steady), member)
        ingester_cpu, broker_cpu = cpu_s(member.process.pid) - ingester_0, cpu_s(broker.pid) - broker_0
        member.stop()
        publish(broker, later)
        started = time.perf_counter()
        member = Member(url, broker, prefix, guard)
        wait_rows(url, len(steady) + len(later), member)
        outage_s = time.perf_counter() - started
        member.wait_ready()
        duplicates = member.duplicates()
        member.stop()
        return {"ingester_ms_per_1000": 1000 * ingester_cpu / len(steady) * 1000,
                "broker_ms_per_1000": 1000 * broker_cpu / len(steady) * 1000,
                "outage_s": outage_s, "duplicates": duplicates, "later": len(later)}
    finally:
        drop_database(url)
        broker.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=50_000)
    parser.add_argument("--quick", action="store_true", help="tiny scale, seconds: checks the script still runs")
    args = parser.parse_args()
    if args.quick:
        args.messages = 4_000
    with tempfile.TemporaryDirectory() as tmp:
        results = {guard: run(Path(tmp), args.messages, guard) for guard in (False, True)}
    for guard, r in results.items():
        print(f"{'guard' if guard else 'no guard'}: steady {r['ingester_ms_per_1000']:,.0f} ms ingester CPU and "
              f"{r['broker_ms_per_1000']:,.0f} ms broker CPU per 1,000 messages; after an outage of "
              f"{r['later']:,.0f} messages, all stored {r['outage_s']:.1f} s after the start, "
              f"{r['duplicates']:,.0f} duplicates", flush=True)
    off, on = results[False], results[True]
    print(f"ratio guard / no guard, ingester CPU per message = {on['ingester_ms_per_1000'] / off['ingester_ms_per_1000']:.2f}")
    print(f"ratio guard / no guard, broker CPU per message = {on['broker_ms_per_1000'] / off['broker_ms_per_1000']:.2f}")
    print(f"ratio guard / no guard, time to store an outage's backlog = {on['outage_s'] / off['outage_s']:.2f}")


if __name__ == "__main__":
    main()
