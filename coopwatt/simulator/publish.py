"""Publish simulated messages over MQTT: QoS 1 with a bounded number awaiting their PUBACK.

A paho client cannot hold hundreds of thousands of unacknowledged QoS 1
messages, so :class:`Publisher` blocks once ``max_outstanding`` are in flight and
goes on as acknowledgements come back. :func:`run_live` paces a simulation
against the wall clock, in real time or accelerated.
"""

from __future__ import annotations

import logging
import ssl
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, datetime, timedelta
from types import TracebackType
from typing import Any, Protocol
from urllib.parse import unquote, urlsplit
from zoneinfo import ZoneInfo

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion

from coopwatt.errors import CoopwattError
from coopwatt.simulator.encode import Message, iter_messages
from coopwatt.simulator.residence import Meter
from coopwatt.simulator.series import Simulation

log = logging.getLogger(__name__)

LIVE_STEP_S = 60  # live devices report every minute


class PublishError(CoopwattError):
    """The broker refused us or stopped acknowledging."""


class Publisher:
    """A QoS 1 MQTT publisher that never has more than `max_outstanding` messages unacknowledged."""

    def __init__(self, url: str, *, topic_prefix: str = "", client_id: str = "", max_outstanding: int = 1000,
                 connect_timeout_s: float = 15.0, ack_timeout_s: float = 60.0) -> None:
        parts = urlsplit(url)
        self._prefix = topic_prefix.strip("/") + "/" if topic_prefix.strip("/") else ""
        self._slots = threading.BoundedSemaphore(max_outstanding)
        self._max = max_outstanding
        self._ack_timeout_s = ack_timeout_s
        self._connected = threading.Event()
        self._refused: str | None = None
        self.sent = 0
        self.acknowledged = 0
        # MQTT 3.1.1: with MQTT 5 a broker's Receive Maximum (Mosquitto's default is 20) would
        # cap what we may have in flight far below our own bound.
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id,
                                  protocol=MQTTProtocolVersion.MQTTv311)
        if parts.username:
            self.client.username_pw_set(unquote(parts.username), unquote(parts.password or "") or None)
        if parts.scheme == "mqtts":
            self.client.tls_set(cert_reqs=ssl.CERT_REQUIRED)
        self.client.max_inflight_messages_set(max_outstanding)
        self.client.max_queued_messages_set(0)
        self.client.reconnect_delay_set(0.5, 10)
        self.client.on_connect = self._on_connect
        self.client.on_publish = self._on_publish
        host, port = parts.hostname or "127.0.0.1", parts.port or (8883 if parts.scheme == "mqtts" else 1883)
        try:
            self.client.connect(host, port)
        except OSError as exc:
            raise PublishError(f"COOPWATT_MQTT_URL: cannot reach the MQTT broker at {host}:{port}"
                               f" ({exc.strerror or exc})") from exc
        self.client.loop_start()
        if not self._connected.wait(connect_timeout_s):
            self.client.loop_stop()
            raise PublishError(self._refused or f"no CONNACK from {parts.hostname}:{parts.port} "
                                                f"within {connect_timeout_s:.0f} s")

    def _on_connect(self, client: mqtt.Client, userdata: Any, flags: Any, reason: Any, properties: Any) -> None:
        if reason.is_failure:
            self._refused = f"broker refused the connection: {reason}"
            return
        self._connected.set()

    def _on_publish(self, client: mqtt.Client, userdata: Any, mid: int, reason: Any, properties: Any) -> None:
        # Called from paho's network thread once the PUBACK arrives: free one slot.
        self.acknowledged += 1
        self._slots.release()

    def publish(self, topic: str, payload: bytes) -> None:
        """Send one QoS 1 message, first waiting while `max_outstanding` are unacknowledged."""
        if not self._slots.acquire(timeout=self._ack_timeout_s):
            raise PublishError(f"no PUBACK for {self._ack_timeout_s:.0f} s with {self._max} messages outstanding")
        info = self.client.publish(self._prefix + topic, payload, qos=1)
        if info.rc != mqtt.MQTT_ERR_SUCCESS and info.rc != mqtt.MQTT_ERR_NO_CONN:
            self._slots.release()
            raise PublishError(f"publish to {topic!r} failed: {mqtt.error_string(info.rc)}")
        # With no connection paho keeps the message and sends it after reconnecting.
        self.sent += 1

    def publish_all(self, messages: Iterable[Message]) -> int:
        """Publish messages in order; return how many were sent."""
        count = 0
        for message in messages:
            self.publish(message.topic, message.payload)
            count += 1
        return count

    def flush(self, timeout_s: float | None = None) -> None:
        """Wait until every message sent has been acknowledged."""
        deadline = time.monotonic() + (self._ack_timeout_s if timeout_s is None else timeout_s)
        while self.acknowledged < self.sent:
            if time.monotonic() > deadline:
                raise PublishError(f"{self.sent - self.acknowledged} message(s) still unacknowledged")
            time.sleep(0.01)

    def close(self) -> None:
        """Wait for outstanding acknowledgements (best effort), then disconnect cleanly."""
        try:
            self.flush()
        finally:
            self.client.disconnect()
            self.client.loop_stop()

    def __enter__(self) -> Publisher:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        if exc_type is None:
            self.close()
        else:
            self.client.disconnect()
            self.client.loop_stop()


def publish_history(publisher: Publisher, simulation: Simulation, meters: Sequence[Meter], until: datetime, *,
                    step_s: int = 1800, tz: ZoneInfo | str = "Europe/Paris", window: timedelta = timedelta(days=1),
                    on_window: Callable[[datetime, int], None] | None = None) -> int:
    """Backfill: advance the simulation to `until` a day at a time, publishing timed messages as fast as acked."""
    count = 0
    while simulation.now + timedelta(seconds=step_s) <= until:
        chunk = simulation.advance(min(simulation.now + window, until), step_s)
        if not len(chunk.times):
            break
        count += publisher.publish_all(iter_messages(chunk, meters, timed=True, tz=tz))
        if on_window is not None:
            on_window(simulation.now, count)
    return count


class Clock(Protocol):
    """Where run_live reads the time and waits: the wall clock, or a simulated one in tests."""

    def monotonic(self) -> float:
        """Seconds on a clock that never goes back."""
        ...

    def now(self) -> datetime:
        """The current UTC time."""
        ...

    def wait(self, stop: threading.Event, seconds: float) -> bool:
        """Wait this long or until `stop` is set; True if it was set."""
        ...


class WallClock:
    """The real clock."""

    def monotonic(self) -> float:
        """time.monotonic()."""
        return time.monotonic()

    def now(self) -> datetime:
        """datetime.now(UTC)."""
        return datetime.now(UTC)

    def wait(self, stop: threading.Event, seconds: float) -> bool:
        """stop.wait(seconds)."""
        return stop.wait(seconds)


def run_live(publisher: Publisher, simulation: Simulation, meters: Sequence[Meter], *, speed: float = 1.0,
             duration_s: float | None = None, step_s: int = LIVE_STEP_S, tz: ZoneInfo | str = "Europe/Paris",
             stop: threading.Event | None = None, on_step: Callable[[datetime, int], None] | None = None,
             start: datetime | None = None, clock: Clock | None = None) -> int:
    """Publish readings as the simulated clock passes them; the clock runs `speed` times the wall clock.

    The simulated clock shows `start` (default: where the simulation stands) when this
    call begins. It never runs ahead of the real one (readings from the future are
    rejected by the ingester): once caught up it goes on in real time. In real time the
    devices speak their own formats; accelerated, every message carries its time.
    """
    stop = stop or threading.Event()
    clock = clock or WallClock()
    timed = speed != 1.0
    wall_start = clock.monotonic()
    sim_start = simulation.now if start is None else start
    count = 0
    while not stop.is_set():
        elapsed = clock.monotonic() - wall_start
        if duration_s is not None and elapsed >= duration_s:
            break
        target = min(sim_start + timedelta(seconds=elapsed * speed), clock.now())
        chunk = simulation.advance(target, step_s)
        if len(chunk.times):
            # Readings already late (catching up with the wall clock) must carry their time:
            # stamped on receipt, they would all land at the same instant.
            late = chunk.times[0].to_pydatetime() < clock.now() - timedelta(seconds=step_s)
            count += publisher.publish_all(iter_messages(chunk, meters, timed=timed or late, tz=tz))
            if on_step is not None:
                on_step(simulation.now, count)
        next_time = simulation.now + timedelta(seconds=step_s)
        wait_s = max((next_time - sim_start).total_seconds() / speed - (clock.monotonic() - wall_start),
                     (next_time - clock.now()).total_seconds(), 0.0)
        if duration_s is not None:
            wait_s = min(wait_s, max(duration_s - (clock.monotonic() - wall_start), 0.0))
        clock.wait(stop, wait_s)
    return count
