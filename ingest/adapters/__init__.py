"""Payload adapters: pick the format from the MQTT topic and turn one message into readings.

Each format is a small module; this package only routes (see docs/payload-formats.md):

==========================================  ===============  =============================
topic (prefix already stripped)             module           source id
==========================================  ===============  =============================
``coopwatt/<device>/reading``               native           ``<device>``
``coopwatt/<residence>/temperature``        native           ``residence:<residence>``
``tele/<device>/SENSOR``                    tasmota          ``<device>``
``teleinfo/<meter id>``                     teleinfo         ``<meter id>``
``shellies/<id>/emeter|relay/<n>/<value>``  shelly (Gen1)    ``<id>/emeter/<n>``, ``<id>/relay/<n>``
``<device>/status/em|em1|emdata|em1data:<n>``  shelly (Gen2+)  ``<device>/em:<n>``, ``<device>/em1:<n>``
``zigbee2mqtt/<friendly name>``             zigbee2mqtt      ``<friendly name>``
``esphome/<node>/sensor/<object id>/state`` esphome          ``<node>``
``<node>/sensor/<object id>/state``         esphome          ``<node>`` (ESPHome's default prefix)
==========================================  ===============  =============================

Each topic goes to exactly one adapter: the first row whose shape it has, in this order
(a four-level ``<x>/sensor/<y>/state`` is ESPHome's unless ``<x>`` is ``zigbee2mqtt``,
whose device names may hold slashes).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from zoneinfo import ZoneInfo

from ingest.adapters import esphome, native, shelly, tasmota, teleinfo, zigbee2mqtt
from ingest.adapters.bounds import DEFAULT_LIMITS, InputLimits, check_raw
from ingest.adapters.teleinfo import TicStates
from ingest.reading import PayloadError, Reading

__all__ = ["AdapterState", "InputLimits", "PayloadError", "parse_message"]

_ZIGBEE2MQTT_NON_DEVICE_SUFFIXES = ("/availability", "/set", "/get")


@dataclass
class AdapterState:
    """Per-process memory of formats that send partial messages (Linky TIC labels by device), and the
    limits every message is held to.

    Owned by the single thread that parses (the writer); not thread-safe. ``tic`` keeps state only for
    the devices its ``keep`` accepts (the writer passes "is registered") and for a bounded number of them.
    """

    tic: TicStates = field(default_factory=TicStates)
    limits: InputLimits = DEFAULT_LIMITS


def parse_message(topic: str, payload: bytes, received_at: datetime, state: AdapterState,
                  tz: ZoneInfo) -> list[Reading]:
    """Readings carried by one MQTT message; PayloadError(reason) if it cannot be read.

    ``received_at`` must be timezone-aware; every returned time is. ``tz`` is the
    cooperative's time zone, for formats that send local time without an offset.
    """
    readings = _parse(topic, payload, received_at, state, tz)
    if len(readings) > state.limits.max_readings:
        raise PayloadError(f"{len(readings)} readings in one message (at most {state.limits.max_readings})")
    return readings


def _parse(topic: str, payload: bytes, received_at: datetime, state: AdapterState, tz: ZoneInfo) -> list[Reading]:
    """Route a message to its format's adapter, once its size, depth and digits are within limits."""
    check_raw(topic, payload, state.limits)
    parts = topic.split("/")
    head, count = parts[0], len(parts)
    if head == "coopwatt" and count == 3 and parts[1]:
        if parts[2] == "reading":
            return native.parse_reading(parts[1], payload, received_at, state.limits.max_readings)
        if parts[2] == "temperature":
            return native.parse_temperature(parts[1], payload, received_at)
    elif head == "tele" and count == 3 and parts[2] == "SENSOR" and parts[1]:
        return tasmota.parse(parts[1], payload, received_at, state.tic, tz)
    elif head == "teleinfo" and count == 2 and parts[1]:
        return teleinfo.parse(parts[1], payload, received_at, state.tic)
    elif head == "shellies" and count == 5 and parts[2] in ("emeter", "relay") and parts[1] and parts[3]:
        return shelly.parse_gen1(parts[1], parts[2], parts[3], parts[4], payload, received_at)
    elif head == "zigbee2mqtt" and count >= 2:
        name = topic[len("zigbee2mqtt/"):]
        if name and not name.startswith("bridge/") and not name.endswith(_ZIGBEE2MQTT_NON_DEVICE_SUFFIXES):
            return zigbee2mqtt.parse(name, payload, received_at)
    elif head == "esphome" and count == 5 and parts[2] == "sensor" and parts[4] == "state" and parts[1]:
        return esphome.parse(parts[1], parts[3], payload, received_at)
    elif count == 4 and parts[1] == "sensor" and parts[3] == "state" and head and parts[2]:
        # ESPHome without a topic_prefix: it defaults to the node name.
        return esphome.parse(head, parts[2], payload, received_at, prefix="")
    if count >= 3 and parts[-2] == "status":
        component, _, component_id = parts[-1].partition(":")
        device = "/".join(parts[:-2])
        if component in shelly.GEN2_COMPONENTS and component_id and device:
            return shelly.parse_gen2(device, component, component_id, payload, received_at)
    raise PayloadError(f"unknown topic {topic!r}: no payload format is read from it")
