"""Ingest benchmark: coopwatt's ingester against a bare receiver and a naive one-INSERT-per-message one.

All three drain the same backlog of QoS 1 messages queued on a private Mosquitto
(configured like the deploy broker) for a persistent MQTT 5 session, so the
publisher's speed does not enter the figure:

  (a) ceiling  — a bare paho subscriber that only receives and parses the JSON;
  (b) naive    — parse, then one INSERT and commit per message;
  (c) coopwatt — `coopwatt ingest` end to end: received, parsed, validated, COPY, committed, acknowledged.

Run:  uv run python bench/ingest_bench.py [--messages 100000] [--naive-messages 20000]
It prints rates and the ratios c/a and c/b, and the ingester's peak memory.
--quick: 20,000 and 1,000 messages (seconds; checks the script runs, its ratios mean little at that size).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import paho.mqtt.client as mqtt
import psycopg
from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from coopwatt.migrations import migrate  # noqa: E402
from tests.factories import index_stream, make_meters  # noqa: E402
from tests.mqtt_tools import MosquittoServer, ReliablePublisher  # noqa: E402

ADMIN_URL = os.environ.get("TEST_PG_ADMIN_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
RECEIVE_MAXIMUM = 20_000
METERS = 50
BROKER_CONFIG = ("max_queued_messages 1000000", "max_queued_bytes 0", "max_inflight_messages 20000")


def _client(client_id: str, port: int, on_message) -> mqtt.Client:  # type: ignore[no-untyped-def]
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id, protocol=MQTTProtocolVersion.MQTTv5)
    client.on_message = on_message
    props = Properties(PacketTypes.CONNECT)
    props.SessionExpiryInterval = 3600
    props.ReceiveMaximum = RECEIVE_MAXIMUM
    client.connect("127.0.0.1", port, clean_start=False, properties=props)
    return client


def _register_session(client_id: str, port: int, topic: str) -> None:
    """Create the persistent session and its subscription, then leave so the backlog queues up."""
    client = _client(client_id, port, lambda *a: None)
    client.loop_start()
    result, mid = client.subscribe(topic, qos=1)
    time.sleep(0.3)
    client.disconnect()
    client.loop_stop()


def _backlog(port: int, stream: list[tuple[str, bytes]]) -> None:
    publisher = ReliablePublisher("127.0.0.1", port, max_outstanding=2000)
    publisher.publish_all(stream)
    publisher.close()


def _drain(port: int, client_id: str, expected: int, handle: Callable[[mqtt.MQTTMessage], None]) -> float:
    """Connect to the session's backlog, handle every message in paho's callback; messages per second."""
    got = 0
    done = threading.Event()

    def on_message(client, userdata, msg):  # type: ignore[no-untyped-def]
        nonlocal got
        handle(msg)
        got += 1
        if got >= expected:
            done.set()

    client = _client(client_id, port, on_message)
    started = time.perf_counter()
    client.loop_start()
    done.wait(900)
    elapsed = time.perf_counter() - started
    client.disconnect()
    client.loop_stop()
    return expected / elapsed


def drain_bare(port: int, client_id: str, expected: int) -> float:
    """(a) receive and json.loads only; returns messages per second."""
    return _drain(port, client_id, expected, lambda msg: json.loads(msg.payload))


def drain_naive(port: int, client_id: str, expected: int, url: str, meter_ids: dict[str, int]) -> float:
    """(b) one INSERT and commit per message; returns messages per second."""
    with psycopg.connect(url, autocommit=True) as conn:

        def insert(msg: mqtt.MQTTMessage) -> None:
            data = json.loads(msg.payload)
            source = msg.topic.split("/")[-2]
            conn.execute(
                "INSERT INTO reading (meter_id, quantity_id, time, value) VALUES (%s, 1, %s, %s)"
                " ON CONFLICT DO NOTHING",
                (meter_ids[source], datetime.fromisoformat(data["time"]), data["readings"][0]["value"]),
            )

        return _drain(port, client_id, expected, insert)


def drain_coopwatt(port: int, client_id: str, expected: int, url: str, prefix: str) -> tuple[float, int]:
    """(c) `coopwatt ingest` as its own process; returns (messages per second, peak RSS in kB).

    The clock starts at the first committed row, so Python's start-up is not counted as ingest work;
    the rate is the rows committed after that moment over the time they took.
    """
    env = {k: v for k, v in os.environ.items() if not k.startswith("COOPWATT_")}
    env.update({
        "COOPWATT_DATABASE_URL": url, "COOPWATT_MQTT_URL": f"mqtt://127.0.0.1:{port}",
        "COOPWATT_MQTT_CLIENT_ID": client_id, "COOPWATT_MQTT_TOPIC_PREFIX": prefix,
        "COOPWATT_METRICS_PORT": "0", "COOPWATT_LOG_LEVEL": "WARNING",
        "COOPWATT_INGEST_MAX_INFLIGHT": str(RECEIVE_MAXIMUM),
    })
    process = subprocess.Popen([sys.executable, "-m", "coopwatt.cli", "ingest"], env=env)
    peak_kb = 0
    first: tuple[float, int] | None = None
    deadline = time.monotonic() + 600
    with psycopg.connect(url, autocommit=True) as conn:
        while True:
            n = conn.execute("SELECT count(*) FROM reading").fetchone()[0]
            now = time.perf_counter()
            if first is None and n > 0:
                first = (now, n)
            try:
                status = Path(f"/proc/{process.pid}/status").read_text()
                peak_kb = max(peak_kb, int(next(l for l in status.splitlines() if l.startswith("VmHWM")).split()[1]))
            except (OSError, StopIteration):
                pass
            if n >= expected:
                break
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"ingester stopped or stalled at {n:,} of {expected:,} rows")
            time.sleep(0.02)
    process.terminate()
    process.wait(30)
    assert first is not None
    return (expected - first[1]) / (now - first[0]), peak_kb


def fresh_database() -> str:
    name = "cw_bench_" + uuid.uuid4().hex[:8]
    with psycopg.connect(ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    url = ADMIN_URL.rsplit("/", 1)[0] + "/" + name
    migrate(url)
    return url


def drop_database(url: str) -> None:
    with psycopg.connect(ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{url.rsplit("/", 1)[1]}" WITH (FORCE)')


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=100_000)
    parser.add_argument("--naive-messages", type=int, default=20_000)
    parser.add_argument("--quick", action="store_true", help="tiny scale, seconds: checks the script still runs")
    args = parser.parse_args()
    if args.quick:
        args.messages, args.naive_messages = 20_000, 1_000  # fewer: every row is in at the first poll
    sources = [f"bench{i}" for i in range(METERS)]
    per_meter = args.messages // METERS
    start = datetime(2026, 1, 1, tzinfo=UTC)
    results: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as tmp:
        # Each phase gets a fresh broker: on Mosquitto 2.0.11 a session that reconnected to a large backlog
        # after other sessions had drained theirs on the same broker was sometimes sent nothing (seen here).
        def broker(name: str) -> MosquittoServer:
            server = MosquittoServer(Path(tmp) / name, BROKER_CONFIG)
            server.start()
            return server

        # (a) ceiling
        mq = broker("a")
        try:
            prefix = "bench-" + uuid.uuid4().hex[:6]
            stream = [(t, p) for t, p, _, _ in index_stream(sources, start, per_meter, prefix=prefix)]
            _register_session("bench-bare", mq.port, f"{prefix}/coopwatt/+/reading")
            _backlog(mq.port, stream)
            results["bare"] = drain_bare(mq.port, "bench-bare", len(stream))
            print(f"(a) bare receive+parse: {results['bare']:,.0f} msg/s over {len(stream):,} messages", flush=True)
        finally:
            mq.stop()

        # (b) naive
        mq = broker("b")
        url = fresh_database()
        try:
            ids = make_meters(url, sources)
            prefix = "bench-" + uuid.uuid4().hex[:6]
            naive = [(t, p) for t, p, _, _ in index_stream(sources, start, args.naive_messages // METERS, prefix=prefix)]
            _register_session("bench-naive", mq.port, f"{prefix}/coopwatt/+/reading")
            _backlog(mq.port, naive)
            results["naive"] = drain_naive(mq.port, "bench-naive", len(naive), url, ids)
            print(f"(b) naive one INSERT per message: {results['naive']:,.0f} msg/s over {len(naive):,}", flush=True)
        finally:
            drop_database(url)
            mq.stop()

        # (c) coopwatt
        mq = broker("c")
        url = fresh_database()
        try:
            make_meters(url, sources)
            prefix = "bench-" + uuid.uuid4().hex[:6]
            stream = [(t, p) for t, p, _, _ in index_stream(sources, start, per_meter, prefix=prefix)]
            _register_session("bench-coopwatt", mq.port, f"{prefix}/coopwatt/+/reading")
            _backlog(mq.port, stream)
            rate, peak_kb = drain_coopwatt(mq.port, "bench-coopwatt", len(stream), url, prefix)
            results["coopwatt"] = rate
            with psycopg.connect(url) as conn:
                stored = conn.execute("SELECT count(*) FROM reading").fetchone()[0]
            print(f"(c) coopwatt ingest end to end: {rate:,.0f} msg/s over {len(stream):,}; "
                  f"stored {stored:,} (lost {len(stream) - stored}); peak RSS {peak_kb / 1024:,.0f} MiB", flush=True)
        finally:
            drop_database(url)
            mq.stop()
    print(f"ratio coopwatt / bare  = {results['coopwatt'] / results['bare']:.2f}  (target >= 0.85)")
    print(f"ratio coopwatt / naive = {results['coopwatt'] / results['naive']:.1f}x (target >= 6x)")


if __name__ == "__main__":
    main()
