"""Alerts on the MQTT alert topic: QoS 1 publish, delivered once the broker's PUBACK arrives."""

from __future__ import annotations

import json
import logging
import ssl
import threading
import uuid
from types import TracebackType
from typing import Any
from urllib.parse import unquote, urlsplit

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion

from analytics.notify.errors import DeliveryError
from coopwatt.settings import Settings

log = logging.getLogger(__name__)


def _segment(text: str) -> str:
    """One topic level: no wildcard or separator characters from a residence or building code."""
    cleaned = "".join("_" if c in "/+#\0" else c for c in text.strip())
    return cleaned or "_"


def alert_topic(settings: Settings, residence_code: str, building_code: str) -> str:
    """A building's alert topic as stored in the outbox, e.g. coopwatt/alerts/TIL/A."""
    return f"{settings.alert_mqtt_topic_prefix}/{_segment(residence_code)}/{_segment(building_code)}"


def broker_topic(settings: Settings, target: str) -> str:
    """The topic actually published: the deployment's mqtt_topic_prefix in front of the stored one."""
    prefix = settings.mqtt_topic_prefix.strip("/")
    return f"{prefix}/{target}" if prefix else target


class AlertPublisher:
    """One MQTT connection for a delivery round; each publish waits for its PUBACK."""

    def __init__(self, settings: Settings) -> None:
        if not settings.mqtt_url:
            raise DeliveryError("MQTT channel off: COOPWATT_MQTT_URL is not set", permanent=True)
        self._settings = settings
        self._url = urlsplit(settings.mqtt_url)
        self._connected = threading.Event()
        self._refused: str | None = None
        version5 = settings.mqtt_protocol == 5
        # A fresh client id and a clean session: the publisher subscribes to nothing, so there
        # is no session worth keeping on the broker.
        self._client = mqtt.Client(
            CallbackAPIVersion.VERSION2,
            client_id=f"coopwatt-alerts-{uuid.uuid4().hex[:12]}",
            protocol=MQTTProtocolVersion.MQTTv5 if version5 else MQTTProtocolVersion.MQTTv311,
            clean_session=None if version5 else True,
        )
        if self._url.username:
            self._client.username_pw_set(unquote(self._url.username), unquote(self._url.password or "") or None)
        if self._url.scheme == "mqtts":
            self._client.tls_set(cert_reqs=ssl.CERT_REQUIRED)
        self._client.on_connect = self._on_connect
        self._started = False

    def _on_connect(self, client: mqtt.Client, userdata: Any, flags: Any, reason: Any, properties: Any) -> None:
        if reason.is_failure:
            self._refused = str(reason)
        self._connected.set()

    def connect(self) -> None:
        """Connect and wait for the broker's CONNACK; raise DeliveryError if it does not come."""
        timeout_s = self._settings.alert_send_timeout_s
        try:
            self._client.connect(self._url.hostname or "127.0.0.1",
                                 self._url.port or (8883 if self._url.scheme == "mqtts" else 1883),
                                 keepalive=max(5, int(timeout_s * 3)))
        except (OSError, ValueError) as exc:
            raise DeliveryError(f"MQTT broker unreachable: {exc}") from exc
        self._client.loop_start()
        self._started = True
        if not self._connected.wait(timeout_s):
            raise DeliveryError(f"MQTT broker did not answer within {timeout_s:g} s")
        if self._refused is not None:
            raise DeliveryError(f"MQTT broker refused the connection: {self._refused}")

    def publish(self, topic: str, payload: dict[str, Any]) -> None:
        """Publish one alert at QoS 1 and return once the broker has acknowledged it."""
        body = json.dumps(payload, ensure_ascii=False).encode("utf-8")
        info = self._client.publish(topic, body, qos=1, retain=False)
        timeout_s = self._settings.alert_send_timeout_s
        try:
            info.wait_for_publish(timeout_s)
        except (ValueError, RuntimeError) as exc:
            raise DeliveryError(f"MQTT publish failed: {exc}") from exc
        if not info.is_published():
            raise DeliveryError(f"MQTT broker did not acknowledge the alert within {timeout_s:g} s")

    def close(self) -> None:
        """Disconnect and stop the network thread."""
        if self._started:
            self._client.disconnect()
            self._client.loop_stop()
            self._started = False

    def __enter__(self) -> AlertPublisher:
        return self

    def __exit__(self, kind: type[BaseException] | None, value: BaseException | None, tb: TracebackType | None) -> None:
        self.close()
