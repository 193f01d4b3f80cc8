"""Which device ids a meter may have: an id is an MQTT username and a topic level, so it must not collide.

A meter's id (the registry's ``meter_source``) is its broker account and is substituted for
``%u`` in the broker's ACL (deploy/mosquitto/acl). An id equal to a topic prefix (``tele``,
``coopwatt``) or to a level the ACL patterns put after the id (``status``, ``sensor``) would let
that meter write topics that read as another device's or as an alert; an id starting with
``coopwatt`` could be a service's MQTT client id, which the meter listener sets to the username.
deploy/mosquitto/make-passwd.sh applies the same rules to the broker's meter accounts
(tests/test_mqtt_acl.py checks that both agree).
"""

from __future__ import annotations

import re

# Topic prefixes of the formats the ingester reads, levels that follow %u in the ACL patterns,
# and the subtrees of coopwatt's own services. Compared case-insensitively.
RESERVED_DEVICE_IDS: frozenset[str] = frozenset({
    "coopwatt", "tele", "teleinfo", "shellies", "esphome", "zigbee2mqtt",
    "status", "sensor", "alerts", "ingest",
})
SERVICE_PREFIX = "coopwatt"
MAX_DEVICE_ID_LENGTH = 128
_TOPIC_SPECIAL = ("/", "+", "#")
# A meter source may name one channel of its device (ingest/adapters): Shelly Gen1
# ``<id>/emeter/<n>`` or ``<id>/relay/<n>``, Shelly Gen2+ ``<device>/em:<n>`` or ``<device>/em1:<n>``.
_CHANNEL_SUFFIX = re.compile(r"(?:emeter|relay)/[0-9]{1,3}|em1?:[0-9]{1,3}")


def device_id_problem(device_id: str) -> str | None:
    """Why `device_id` cannot be a meter's id (a sentence naming it), or None when it can."""
    if not device_id:
        return "a meter id cannot be empty"
    if device_id != device_id.strip():
        return f"meter id {device_id!r} starts or ends with a space"
    if len(device_id) > MAX_DEVICE_ID_LENGTH:
        return f"meter id {device_id[:20]!r}… is longer than {MAX_DEVICE_ID_LENGTH} characters"
    if any(char in device_id for char in _TOPIC_SPECIAL):
        return f"meter id {device_id!r} contains one of / + #, which are MQTT topic separators or wildcards"
    if device_id.startswith("$"):
        return f"meter id {device_id!r} starts with $, which MQTT keeps for the broker's own topics ($SYS)"
    if any(ord(char) < 32 or ord(char) == 127 for char in device_id):
        return f"meter id {device_id!r} contains a control character"
    if device_id.lower() in RESERVED_DEVICE_IDS:
        return (f"meter id {device_id!r} is reserved: it is a topic prefix or topic level of the broker's "
                "access control, so its meter could write as another device or as an alert")
    if device_id.lower().startswith(SERVICE_PREFIX):
        return (f"meter id {device_id!r} starts with {SERVICE_PREFIX!r}, which is kept for coopwatt's own "
                "services' broker accounts and client ids")
    return None


def meter_source_problem(source: str) -> str | None:
    """Why `source` cannot be a registry meter source (its device id, then its channel), or None."""
    device, slash, channel = source.partition("/")
    if slash and not _CHANNEL_SUFFIX.fullmatch(channel):
        return (f"meter source {source!r}: after its device id {device!r} only a channel such as "
                "emeter/0, relay/0, em:0 or em1:0 may follow a /")
    problem = device_id_problem(device)
    if problem is not None and slash:
        return f"meter source {source!r}: {problem}"
    return problem


def check_device_id(device_id: str) -> str:
    """`device_id` itself, or ValueError saying why it cannot be a meter's id."""
    problem = device_id_problem(device_id)
    if problem is not None:
        raise ValueError(problem)
    return device_id
