"""The MQTT side of the ingester: subscribe, hand messages to the writer, acknowledge after commit.

Callbacks only put messages in the writer's inbox: no parsing, no SQL. Messages are
acknowledged (manual PUBACK) by the writer once their batch is committed, so a
crash loses nothing: the broker redelivers whatever was not acknowledged.
"""

from __future__ import annotations

import itertools
import logging
import ssl
import struct
import threading
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime
from typing import Any
from urllib.parse import unquote, urlsplit

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode

from coopwatt.settings import Settings
from ingest.batch import Message
from ingest.inbox import Inbox
from ingest.metrics import IngestMetrics
from ingest.presence import Presence

# MQTT 5 DISCONNECT reason code: publish the will (after its delay) although the disconnection is clean.
DISCONNECT_WITH_WILL = 4
# A PUBACK's first four bytes, packet type and remaining length 2, before its 16-bit packet id (MQTT 3.1.1
# and 5: a reason code "success" with no properties may be left out).
_PUBACK_HEADER = 0x4002 << 16

log = logging.getLogger(__name__)


def subscription_filters(settings: Settings) -> list[str]:
    """The topic filters to subscribe to, with the prefix and shared-subscription group applied."""
    prefix = settings.mqtt_topic_prefix.strip("/")
    filters = [f"{prefix}/{topic}" if prefix else topic for topic in settings.mqtt_topics]
    if settings.mqtt_shared_group:
        filters = [f"$share/{settings.mqtt_shared_group}/{topic}" for topic in filters]
    return filters


def send_pubacks(client: mqtt.Client, mids: list[int]) -> None:
    """Queue one PUBACK per packet id as a single write on the client's socket.

    paho's ``ack`` builds, queues and writes each PUBACK on its own, and wakes the network thread
    (a byte on its socket pair) for each: several microseconds of interpreter time per message
    (docs/benchmarks.md, Ingest). The packets are the same bytes, packed in one C call and queued
    once. paho's queue is private, so with a paho that lacks it each message is acknowledged the
    documented way.
    """
    queue_packet = getattr(client, "_packet_queue", None)
    if queue_packet is None:
        for mid in mids:
            client.ack(mid, 1)
        return
    packets = struct.pack(f"!{len(mids)}I", *[_PUBACK_HEADER | mid for mid in mids])
    queue_packet(PacketTypes.PUBACK << 4, packets, 0, 0)


class Subscriber:
    """A persistent-session, QoS 1, manual-acknowledgement MQTT subscriber feeding the writer's inbox.

    With `presence`, it is a member of a shared group that announces itself (online, and a
    delayed will "offline") and hears the other members (ingest/failover.py). With `adopted`,
    it holds a gone member's session instead: no presence of its own, and no reconnection once
    its connection ends (that member is back and took its session over).
    """

    def __init__(self, settings: Settings, url: str, out: Inbox[Message], metrics: IngestMetrics, *,
                 generations: Iterator[int] | None = None, presence: Presence | None = None,
                 on_presence: Callable[[bytes], None] | None = None, adopted: bool = False,
                 on_released: Callable[[], None] | None = None) -> None:
        self._settings = settings
        self._url = urlsplit(url)
        self._inbox = out
        self._metrics = metrics
        self._prefix = settings.mqtt_topic_prefix.strip("/") + "/" if settings.mqtt_topic_prefix.strip("/") else ""
        self._accepting = True
        self._lock = threading.Lock()
        self._presence = presence
        self._on_presence = on_presence
        self.adopted = adopted
        self.released = threading.Event()  # a held session's connection ended; never reconnected
        self._on_released = on_released
        # Each connection gets a new generation: a message id is only meaningful on the
        # connection it came from, so messages of an older one are never acknowledged. Subscribers
        # of one process draw from one counter, so a generation also tells which one to ack on.
        self._generations = generations if generations is not None else itertools.count(1)
        self.generation = 0
        self.connected = threading.Event()
        # Set once the broker has granted every filter (SUBACK): before that, messages published
        # to our topics are not routed to this session, so "connected" alone is not "ready".
        self.subscribed = threading.Event()
        self.refused_filters: list[str] = []
        self._pending_subscribe: tuple[int, list[str]] | None = None
        self.client = self._make_client()

    def _make_client(self) -> mqtt.Client:
        version5 = self._settings.mqtt_protocol == 5
        client = mqtt.Client(
            CallbackAPIVersion.VERSION2,
            client_id=self._settings.mqtt_client_id,
            protocol=MQTTProtocolVersion.MQTTv5 if version5 else MQTTProtocolVersion.MQTTv311,
            clean_session=None if version5 else False,
            manual_ack=True,
        )
        if self._url.username:
            client.username_pw_set(unquote(self._url.username), unquote(self._url.password or "") or None)
        if self._url.scheme == "mqtts":
            client.tls_set(cert_reqs=ssl.CERT_REQUIRED)
        client.reconnect_delay_set(min_delay=1, max_delay=30)
        if self._presence is not None and not self.adopted:
            will = Properties(PacketTypes.WILLMESSAGE)
            # The broker publishes "offline" only if this session stays away this long: a restart
            # (compose's restart policy, an upgrade) comes back before and triggers no failover.
            will.WillDelayInterval = self._settings.mqtt_failover_after_s
            client.will_set(self._presence.topic, self._presence.payload("offline"), qos=1, retain=True,
                            properties=will)
        if self._presence is not None:
            # Presence is not a reading: never queued for the writer (a held session has the
            # subscription too, from its member).
            client.message_callback_add(self._presence.filter, self._on_presence_message)
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_connect_fail = self._on_connect_fail
        client.on_message = self._on_message
        client.on_subscribe = self._on_subscribe
        return client

    def start(self) -> None:
        """Connect in the background; paho reconnects by itself after a broker restart."""
        properties = None
        if self._settings.mqtt_protocol == 5:
            properties = Properties(PacketTypes.CONNECT)
            properties.SessionExpiryInterval = self._settings.mqtt_session_expiry_s
            # Acknowledging after commit needs many messages in flight; the broker honours this limit.
            properties.ReceiveMaximum = self._settings.ingest_max_inflight
        port = self._url.port or (8883 if self._url.scheme == "mqtts" else 1883)
        host = self._url.hostname or "127.0.0.1"
        if self._settings.mqtt_protocol == 5:
            self.client.connect_async(host, port, keepalive=30, clean_start=False, properties=properties)
        else:  # MQTT 3.1.1: the persistent session was asked for with clean_session=False
            self.client.connect_async(host, port, keepalive=30)
        self.client.loop_start()

    def _filters(self) -> list[str]:
        """The topic filters this connection subscribes to."""
        return subscription_filters(self._settings)

    def _on_connect_fail(self, client: mqtt.Client, userdata: Any) -> None:
        # Without this, an unreachable broker (wrong COOPWATT_MQTT_URL, broker down) left the log silent.
        log.warning("cannot reach the MQTT broker at %s:%s (COOPWATT_MQTT_URL); retrying",
                    self._url.hostname or "127.0.0.1", self._url.port or 1883)

    def _on_connect(self, client: mqtt.Client, userdata: Any, flags: Any, reason: Any, properties: Any) -> None:
        if reason.is_failure:
            log.error("MQTT connection refused: %s", reason)
            return
        with self._lock:
            self.generation = next(self._generations)
        if self._presence is not None and not self.adopted:
            client.publish(self._presence.topic, self._presence.payload("online"), qos=1, retain=True)
            client.subscribe(self._presence.filter, qos=1)
        filters = self._filters()
        # Subscribing again on a resumed session is harmless and covers a broker that lost it
        # (Mosquitto 2.0 forgets shared subscriptions over a restart: ingest/restart_guard.py).
        result, mid = client.subscribe([(topic, 1) for topic in filters])
        if result == mqtt.MQTT_ERR_SUCCESS:
            with self._lock:
                self._pending_subscribe = (mid, filters)
        if not self.adopted:
            self._metrics.connected.set(1)
        self.connected.set()
        log.info("connected to MQTT broker %s (session present: %s), subscribing to %d filters",
                 self._url.hostname, getattr(flags, "session_present", "?"), len(filters))

    def _on_subscribe(self, client: mqtt.Client, userdata: Any, mid: int, reason_codes: list[Any],
                      properties: Any) -> None:
        with self._lock:
            pending = self._pending_subscribe
            if pending is None or pending[0] != mid:
                return
            self._pending_subscribe = None
        filters = pending[1]
        refused = [topic for topic, code in zip(filters, reason_codes, strict=False) if code.is_failure]
        self.refused_filters = refused
        if refused:
            # Usually the broker's ACL: nothing on these topics would ever arrive, so say so loudly.
            log.error("the MQTT broker refused the subscription to %s (%s); check the ingester's ACL",
                      ", ".join(refused), ", ".join(str(c) for c in reason_codes if c.is_failure))
            return
        self.subscribed.set()

    def _on_disconnect(self, client: mqtt.Client, userdata: Any, flags: Any, reason: Any, properties: Any) -> None:
        self.subscribed.clear()
        self.connected.clear()
        if not self.adopted:
            self._metrics.connected.set(0)
        if self.adopted:
            # A held session is never reconnected: the usual cause is its ingester coming back and
            # taking it over (Mosquitto 2.0 just closes the socket), and reconnecting would take it
            # from that ingester again, and again. ingest/failover.py holds it anew if its member
            # is still gone (the presence messages come again when the survivor reconnects; failing
            # that, once the failover delay has passed).
            ended_here = not self._accepting  # stopped by this process: nothing to look at again
            if not ended_here:
                log.info("let go of ingester %s's session (%s): it is back, or the broker went away",
                         self._settings.mqtt_client_id, reason)
            self._accepting = False
            self.released.set()
            client.disconnect()  # ends paho's reconnect loop
            if not ended_here and self._on_released is not None:
                self._on_released()
            return
        if self._accepting:
            log.warning("disconnected from MQTT broker (%s); reconnecting", reason)

    def _on_presence_message(self, client: mqtt.Client, userdata: Any, msg: mqtt.MQTTMessage) -> None:
        if msg.qos:
            client.ack(msg.mid, msg.qos)  # manual acknowledgement covers these too; nothing to commit
        if self._on_presence is not None and self._accepting and not self.adopted:
            self._on_presence(msg.payload)

    def _on_message(self, client: mqtt.Client, userdata: Any, msg: mqtt.MQTTMessage) -> None:
        if not self._accepting:
            return  # not acknowledged: the broker redelivers it to the next session
        topic = msg.topic
        if self._prefix and topic.startswith(self._prefix):
            topic = topic[len(self._prefix):]
        # Blocks when the writer falls behind, which stops reading from the socket: backpressure.
        self._inbox.put(Message(topic, msg.payload, datetime.now(UTC), msg.mid, msg.qos, self.generation))

    def ack(self, messages: Sequence[Message]) -> int:
        """Acknowledge committed messages that came over the current connection; return how many."""
        current = self.generation
        mids = [message.mid for message in messages if message.qos == 1 and message.generation == current]
        if mids:
            send_pubacks(self.client, mids)
        sent = len(mids)
        for message in messages:  # QoS 2 is never granted (we subscribe at 1); acknowledged the slow way if it is
            if message.qos == 2 and message.generation == current:
                self.client.ack(message.mid, message.qos)
                sent += 1
        return sent

    def stop_accepting(self) -> None:
        """Stop queueing new messages (they stay unacknowledged and will be redelivered)."""
        self._accepting = False

    def stop(self) -> None:
        """Disconnect cleanly; the persistent session stays on the broker.

        A group member leaves its will to be published (after the failover delay) so that a
        member stopped for good is taken over as a dead one is; one back in time cancels it.
        """
        self._accepting = False
        self.subscribed.clear()
        if self._presence is not None and not self.adopted:
            self.client.disconnect(reasoncode=ReasonCode(PacketTypes.DISCONNECT, identifier=DISCONNECT_WITH_WILL))
        else:
            self.client.disconnect()
        self.client.loop_stop()
        if not self.adopted:
            self._metrics.connected.set(0)
