"""Presence of a shared group's ingesters on the broker: topic names and payloads (pure; no I/O).

Each member publishes, retained, ``{"client_id", "group", "state": "online"}`` to
``<prefix>/coopwatt/ingest/presence/<client id>`` when it connects, and leaves the same with
``"offline"`` as its will, which the broker publishes only once the member has been gone for
the failover delay (MQTT 5 Will Delay Interval). ingest/failover.py reads them.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from coopwatt.settings import Settings

PRESENCE_LEVELS = "coopwatt/ingest/presence"
ONLINE, OFFLINE = "online", "offline"


@dataclass(frozen=True)
class Presence:
    """One member's presence topic, the filter for every member's, and its payloads."""

    client_id: str
    group: str
    topic: str
    filter: str

    def payload(self, state: str) -> bytes:
        """The retained message saying this member is `state` (online or offline)."""
        return json.dumps({"client_id": self.client_id, "group": self.group, "state": state}).encode()


@dataclass(frozen=True)
class MemberState:
    """What a presence message says about one member."""

    client_id: str
    group: str
    online: bool


def presence_for(settings: Settings) -> Presence | None:
    """This ingester's presence, or None when it is in no shared group or failover is off (MQTT 5 only)."""
    if not (settings.mqtt_shared_group and settings.mqtt_failover_after_s and settings.mqtt_protocol == 5):
        return None
    prefix = settings.mqtt_topic_prefix.strip("/")
    base = f"{prefix}/{PRESENCE_LEVELS}" if prefix else PRESENCE_LEVELS
    return Presence(settings.mqtt_client_id, settings.mqtt_shared_group, f"{base}/{settings.mqtt_client_id}",
                    f"{base}/+")


def parse_presence(payload: bytes) -> MemberState | None:
    """The member a presence message describes; None for anything else (an empty retained clear, garbage)."""
    try:
        data = json.loads(payload)
    except (ValueError, RecursionError):
        return None
    if not isinstance(data, dict):
        return None
    client_id, group, state = data.get("client_id"), data.get("group"), data.get("state")
    if not (isinstance(client_id, str) and client_id and isinstance(group, str) and state in (ONLINE, OFFLINE)):
        return None
    if any(char in client_id for char in "/+#") or len(client_id) > 256:
        return None
    return MemberState(client_id, group, state == ONLINE)
