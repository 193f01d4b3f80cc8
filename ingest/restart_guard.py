"""The restart guard: readings published while a restarted broker had no shared subscription are kept.

Mosquitto 2.0 saves a persistent session's plain subscriptions but not its shared ones
(`$share/<group>/…`): after a restart, until a member of the group has subscribed again, the
broker routes a reading to no one and drops it, although it acknowledged it to the meter
(tests/test_ingest_restart_guard.py shows both). Its plain subscriptions it does restore, and
queues for them. So one member of the group, the one that would take over gone members'
sessions (ingest/failover.py), also holds a session of the group's own, ``<group>-restart-guard``,
subscribed to the same topics without ``$share``. After every connection it is "catching up":
what arrives is stored like any reading (acknowledged after commit; the many duplicates are
harmless). Once its member's shared subscription is granted again, it publishes a marker to
itself; the broker delivers in order, so when the marker comes back every reading routed to no
one is behind it, and from then on the guard acknowledges its copies without storing them.
"""

from __future__ import annotations

import logging
import threading
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import paho.mqtt.client as mqtt

from coopwatt.settings import Settings
from ingest.batch import Message
from ingest.inbox import Inbox
from ingest.metrics import IngestMetrics
from ingest.subscriber import Subscriber, send_pubacks

log = logging.getLogger(__name__)

GUARD_LEVELS = "coopwatt/ingest/guard"
# Caught up, the copies are acknowledged this many at a time, and what is left at least this often.
_ACK_BATCH = 500
_ACK_EVERY_S = 0.2
# Checking whether the member's own shared subscription is granted again: a short poll, for a
# handful of seconds after each broker restart.
_READY_POLL_S = 0.05


def marker_topic(settings: Settings) -> str:
    """Where the guard publishes the marker that says it has caught up (under the topic prefix)."""
    prefix = settings.mqtt_topic_prefix.strip("/")
    base = f"{prefix}/{GUARD_LEVELS}" if prefix else GUARD_LEVELS
    return f"{base}/{settings.mqtt_shared_group}"


class RestartGuard(Subscriber):
    """The group's plain-subscription session, held by one member: one connection, never reconnected."""

    def __init__(self, settings: Settings, url: str, out: Inbox[Message], metrics: IngestMetrics, *,
                 generations: Iterator[int], group_ready: Callable[[], bool],
                 on_released: Callable[[], None] | None = None) -> None:
        plain = settings.model_copy(update={"mqtt_client_id": settings.restart_guard_client_id,
                                            "mqtt_shared_group": None})
        super().__init__(plain, url, out, metrics, generations=generations, adopted=True, on_released=on_released)
        self._marker = marker_topic(settings)
        self._group_ready = group_ready
        self._token = uuid.uuid4().hex.encode()
        self.caught_up = threading.Event()
        self._copies: list[int] = []  # copies' packet ids not yet acknowledged
        self._copies_lock = threading.Lock()
        self.client.message_callback_add(self._marker, self._on_marker)

    def _filters(self) -> list[str]:
        return [*super()._filters(), self._marker]

    def _on_subscribe(self, client: mqtt.Client, userdata: Any, mid: int, reason_codes: list[Any],
                      properties: Any) -> None:
        super()._on_subscribe(client, userdata, mid, reason_codes, properties)
        if self.subscribed.is_set():
            threading.Thread(target=self._announce, name="restart-guard-marker", daemon=True).start()

    def _announce(self) -> None:
        """Publish the marker once the member's shared subscription is granted (so it follows every gap)."""
        while self._accepting and not self.released.is_set():
            if self._group_ready():
                self.client.publish(self._marker, self._token, qos=1)
                return
            self.released.wait(_READY_POLL_S)

    def _ack_copies(self) -> None:
        with self._copies_lock:
            mids, self._copies = self._copies, []
        if mids:
            send_pubacks(self.client, mids)

    def _ack_rest(self) -> None:
        """Acknowledge the copies left below a batch, from a thread of its own."""
        while not self.released.wait(_ACK_EVERY_S):
            self._ack_copies()

    def _on_marker(self, client: mqtt.Client, userdata: Any, msg: mqtt.MQTTMessage) -> None:
        if msg.qos:
            client.ack(msg.mid, msg.qos)  # nothing to store; markers of earlier connections too
        if msg.payload == self._token and not self.caught_up.is_set():
            self.caught_up.set()
            threading.Thread(target=self._ack_rest, name="restart-guard-acks", daemon=True).start()
            log.info("restart guard %s caught up: from now on its copies of the readings are not stored",
                     self._settings.mqtt_client_id)

    def _on_message(self, client: mqtt.Client, userdata: Any, msg: mqtt.MQTTMessage) -> None:
        if self.caught_up.is_set():
            # The group's shared subscription has this reading too: acknowledge the copy, store nothing.
            # In batches: one write for many (ingest/subscriber.py, send_pubacks); a timer sends the rest.
            if msg.qos == 1:
                with self._copies_lock:
                    self._copies.append(msg.mid)
                    full = len(self._copies) >= _ACK_BATCH
                if full:
                    self._ack_copies()
            elif msg.qos:
                client.ack(msg.mid, msg.qos)
            return
        if self._accepting:
            self._metrics.guard_taken.inc()
        super()._on_message(client, userdata, msg)
