"""Members of one shared ingest group, as separate `coopwatt ingest` processes (tests of failover and the restart guard)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import urllib.error
import urllib.request
import uuid
from datetime import datetime, timedelta
from pathlib import Path

from coopwatt.settings import Settings
from tests.factories import index_stream, make_meters
from tests.mqtt_tools import MosquittoServer, free_port
from tests.test_ingest_service import START, count, expected_keys, stored, wait_until

FAILOVER_AFTER_S = 3
# An upper bound, not an expectation: the will delay, Mosquitto's once-a-second will check, the
# survivor's connection, then a few batches on a machine shared with other test runs.
TAKEOVER_BOUND_S = FAILOVER_AFTER_S + 60


def read_health(port: int) -> dict[str, object]:
    """An ingester's /health detail on `port` ({} while it does not answer)."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2) as response:
            return dict(json.loads(response.read()))
    except urllib.error.HTTPError as exc:
        return dict(json.loads(exc.read()))
    except OSError:
        return {}


def read_metric(port: int, name: str) -> float:
    """One sample of an ingester's /metrics on `port` (0 when absent)."""
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as response:
        for line in response.read().decode().splitlines():
            if line.startswith(name + " "):
                return float(line.split()[1])
    return 0.0


def six_meters_two_days(settings: Settings, topic_prefix: str, letter: str) -> tuple[
        dict[str, int], list[tuple[str, bytes, str, datetime]], list[tuple[str, bytes, str, datetime]]]:
    """Six meters of the test's own, and two streams of 200 readings each: one day, then the next."""
    sources = [f"{letter}{i}" for i in range(6)]
    ids = make_meters(settings.database_url, sources)
    return (ids, index_stream(sources, START, 200, prefix=topic_prefix),
            index_stream(sources, START + timedelta(days=1), 200, prefix=topic_prefix))


def assert_stored_exactly(database_url: str, stream: list[tuple[str, bytes, str, datetime]],
                          ids: dict[str, int]) -> None:
    """Every reading of the stream stored once, nothing else, no dead letter."""
    assert stored(database_url) == expected_keys(stream, ids)
    assert count(database_url) == len(stream)
    assert count(database_url, "dead_letter") == 0


class GroupIngester:
    """`coopwatt ingest` in a shared group, as a separate process so that it can be SIGKILLed."""

    def __init__(self, settings: Settings, client_id: str, log_dir: Path) -> None:
        self.client_id = client_id
        self.metrics_port = free_port()
        env = {k: v for k, v in os.environ.items() if not k.startswith("COOPWATT_")}
        env.update({
            "COOPWATT_MQTT_RESTART_GUARD": str(settings.mqtt_restart_guard).lower(),
            "COOPWATT_DATABASE_URL": settings.database_url or "",
            "COOPWATT_MQTT_URL": settings.mqtt_url or "",
            "COOPWATT_MQTT_TOPIC_PREFIX": settings.mqtt_topic_prefix,
            "COOPWATT_MQTT_CLIENT_ID": client_id,
            "COOPWATT_MQTT_SHARED_GROUP": settings.mqtt_shared_group or "",
            "COOPWATT_MQTT_FAILOVER_AFTER_S": str(settings.mqtt_failover_after_s),
            "COOPWATT_METRICS_PORT": str(self.metrics_port),
            "COOPWATT_LOG_LEVEL": "INFO",
        })
        self.log_path = log_dir / f"{client_id}-{uuid.uuid4().hex[:6]}.log"
        with self.log_path.open("wb") as log:
            self.process = subprocess.Popen([sys.executable, "-m", "coopwatt.cli", "ingest"], env=env,
                                            stdout=log, stderr=subprocess.STDOUT)
        wait_until(lambda: self.health().get("subscribed") is True, 30, f"{client_id} to subscribe")

    def health(self) -> dict[str, object]:
        """The ingester's /health detail ({} while it does not answer)."""
        if self.process.poll() is not None:
            raise AssertionError(f"{self.client_id} exited with {self.process.returncode}: {self.log()}")
        return read_health(self.metrics_port)

    def log(self) -> str:
        """What the process logged so far."""
        return self.log_path.read_text(errors="replace")

    def account(self, database_url: str) -> str:
        """What a timed-out wait reports: readings stored, this ingester's health and its last log lines."""
        try:
            health: object = self.health()
        except AssertionError as exc:  # it exited: the message carries its log
            return str(exc)
        tail = "\n".join(self.log().splitlines()[-40:])
        return f"{count(database_url)} readings stored; {self.client_id} health {health}; its log ends:\n{tail}"

    def stop(self) -> None:
        """SIGTERM, and a clean exit expected."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            assert self.process.wait(60) == 0

    def metric(self, name: str) -> float:
        """One sample of the ingester's /metrics (0 when absent)."""
        return read_metric(self.metrics_port, name)


def group_settings(settings: Settings, broker: MosquittoServer, topic_prefix: str) -> Settings:
    """The test's settings for a member of a group of its own on `broker`."""
    return settings.model_copy(update={"mqtt_url": broker.url, "mqtt_shared_group": f"g-{topic_prefix}",
                                       "mqtt_failover_after_s": FAILOVER_AFTER_S})
