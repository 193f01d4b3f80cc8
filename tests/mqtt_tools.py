"""Test helpers for MQTT: a private Mosquitto instance and a publisher that loses nothing."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Iterable, Sequence
from pathlib import Path
from types import TracebackType

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for_port(port: int, timeout_s: float = 10.0) -> None:
    """Wait until something accepts connections on 127.0.0.1:port."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise TimeoutError(f"nothing listening on port {port} after {timeout_s} s")


class MosquittoServer:
    """A Mosquitto of the test's own (its own port, config and persistence), restartable."""

    def __init__(self, workdir: Path, extra_config: Sequence[str] = ()) -> None:
        if shutil.which("mosquitto") is None:
            raise FileNotFoundError("mosquitto is not installed")
        self.port = free_port()
        self.workdir = workdir
        workdir.mkdir(parents=True, exist_ok=True)
        self.config = workdir / "mosquitto.conf"
        lines = [
            f"listener {self.port} 127.0.0.1",
            "allow_anonymous true",
            "persistence true",
            f"persistence_location {workdir}/",
            "log_dest none",
            # Started as root, Mosquitto would drop to its own user, which cannot write the test's
            # private (0700) directories: its persistence would silently fail and sessions vanish.
            *(["user root"] if os.geteuid() == 0 else []),
            *extra_config,
        ]
        self.config.write_text("\n".join(lines) + "\n")
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"mqtt://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int:
        """The running broker's process id (benchmarks read its CPU time)."""
        assert self._process is not None, "the broker is not running"
        return self._process.pid

    def start(self) -> None:
        """Start the broker and wait until it accepts connections."""
        self._process = subprocess.Popen(["mosquitto", "-c", str(self.config)],
                                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_for_port(self.port)

    def stop(self) -> None:
        """Stop gracefully (SIGTERM: Mosquitto saves its persistence file)."""
        if self._process is not None and self._process.poll() is None:
            self._process.terminate()
            self._process.wait(timeout=20)
        self._process = None

    def restart(self, down_s: float = 1.0) -> None:
        """Stop, stay down for a while, start again on the same port and data."""
        self.stop()
        time.sleep(down_s)
        self.start()

    def __enter__(self) -> MosquittoServer:
        self.start()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()


def _published(info: mqtt.MQTTMessageInfo) -> bool:
    """True once the broker acknowledged; False (not an exception) for a send that failed."""
    try:
        return info.is_published()
    except (RuntimeError, ValueError):
        return False


class ReliablePublisher:
    """Publishes QoS 1 with a bounded number in flight and publishes again whatever was not acknowledged.

    Duplicates are harmless to coopwatt (idempotent writes), so re-sending after a broker
    restart is the simple way to be sure every message reached the broker at least once.
    """

    def __init__(self, host: str, port: int, *, max_outstanding: int = 500, client_id: str = "") -> None:
        self._client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id,
                                   protocol=MQTTProtocolVersion.MQTTv311)
        self._client.max_inflight_messages_set(max_outstanding)
        self._client.reconnect_delay_set(0.2, 2)
        self._max = max_outstanding
        self._client.connect(host, port)
        self._client.loop_start()
        # Wait for the CONNACK: a message published before it would be taken as failed by _settle (not connected)
        # and sent again, while paho still sends the first copy once connected: every first message went twice.
        deadline = time.monotonic() + 30
        while not self._client.is_connected():
            if time.monotonic() > deadline:
                raise TimeoutError(f"no CONNACK from {host}:{port}")
            time.sleep(0.01)
        self.acknowledged = 0
        self.sent = 0

    def publish_all(self, messages: Iterable[tuple[str, bytes]], *, timeout_s: float = 300.0,
                    pause: threading.Event | None = None) -> None:
        """Publish every message and return once the broker has acknowledged each of them."""
        deadline = time.monotonic() + timeout_s
        window: list[tuple[str, bytes, mqtt.MQTTMessageInfo]] = []
        for topic, payload in messages:
            while pause is not None and pause.is_set():
                time.sleep(0.01)
            window.append((topic, payload, self._send(topic, payload)))
            if len(window) >= self._max:
                window = self._settle(window, deadline)
        while window:
            window = self._settle(window, deadline)

    def _send(self, topic: str, payload: bytes) -> mqtt.MQTTMessageInfo:
        self.sent += 1
        return self._client.publish(topic, payload, qos=1)

    def _settle(self, window: list[tuple[str, bytes, mqtt.MQTTMessageInfo]],
                deadline: float) -> list[tuple[str, bytes, mqtt.MQTTMessageInfo]]:
        """Wait for the oldest half of the window; re-send what failed or timed out."""
        keep: list[tuple[str, bytes, mqtt.MQTTMessageInfo]] = []
        half = max(1, len(window) // 2)
        for index, (topic, payload, info) in enumerate(window):
            if index >= half:
                keep.append((topic, payload, info))
                continue
            while not _published(info):
                if time.monotonic() > deadline:
                    raise TimeoutError("broker did not acknowledge in time")
                if info.rc != mqtt.MQTT_ERR_SUCCESS or not self._client.is_connected():
                    break
                time.sleep(0.002)
            if _published(info):
                self.acknowledged += 1
            else:
                # Not acknowledged (broker went away): wait for the reconnection and send again.
                while not self._client.is_connected():
                    if time.monotonic() > deadline:
                        raise TimeoutError("publisher could not reconnect")
                    time.sleep(0.05)
                keep.append((topic, payload, self._send(topic, payload)))
        return keep

    def close(self) -> None:
        """Disconnect."""
        self._client.disconnect()
        self._client.loop_stop()
