"""ESPHome MQTT sensor states: ``<node>/sensor/<object_id>/state`` or ``esphome/<node>/…`` (a bare number; source = node).

ESPHome publishes each sensor's state as text on ``<topic_prefix>/sensor/<object_id>/state``.
``topic_prefix`` defaults to the node's name, so a node configured with only
``mqtt: broker: …`` publishes ``<node>/sensor/<object_id>/state``; a node may also set
``topic_prefix: esphome/<node>`` (both are subscribed). The node name is the meter's
source in the registry either way. The object id (the sensor
name in lower case, spaces as underscores) says what it is, by this convention:

=====================================  ===============================  ============
object id contains                     quantity                         default unit
=====================================  ===============================  ============
``apparent_power``                     apparent power                   VA
``energy``                             energy index (cumulative)        kWh
``power``                              active power                     W
``water``, ``gas`` or ``volume``       volume index (cumulative)        m³
=====================================  ===============================  ============

The first matching row wins. A unit suffix overrides the default unit:
``_wh``, ``_kwh``, ``_wmin``, ``_w``, ``_kw``, ``_va``, ``_kva``, ``_l``, ``_m3``
(e.g. ``water_total_l`` → litres, ``house_energy_wh`` → Wh). Object ids with
``daily``, ``today``, ``yesterday``, ``week``, ``month`` or ``year`` are
per-period totals that restart, not indices: they are not stored, nor are
object ids matching no row (temperature, wifi_signal, uptime…). ESPHome sends
``nan`` while a sensor has no value yet: nothing is stored for it.
"""

from __future__ import annotations

from datetime import datetime

from coopwatt.quantities import Quantity
from ingest.adapters.payload import bare_number
from ingest.reading import Reading
from ingest.units import to_canonical

_CONVENTION: tuple[tuple[tuple[str, ...], Quantity, str], ...] = (
    (("apparent_power",), Quantity.APPARENT_POWER_VA, "VA"),
    (("energy",), Quantity.ENERGY_INDEX_KWH, "kWh"),
    (("power",), Quantity.POWER_W, "W"),
    (("water", "gas", "volume"), Quantity.VOLUME_INDEX_M3, "m³"),
)
_UNIT_SUFFIXES = {"_wh": "Wh", "_kwh": "kWh", "_wmin": "Wmin", "_w": "W", "_kw": "kW", "_va": "VA",
                  "_kva": "kVA", "_l": "L", "_m3": "m³"}
_PERIOD_WORDS = ("daily", "today", "yesterday", "week", "month", "year")


def quantity_for(object_id: str) -> tuple[Quantity, str] | None:
    """The quantity and unit an object id stands for under the convention, or None."""
    name = object_id.lower()
    if any(word in name for word in _PERIOD_WORDS):
        return None
    for words, quantity, unit in _CONVENTION:
        if any(word in name for word in words):
            for suffix, suffix_unit in _UNIT_SUFFIXES.items():
                if name.endswith(suffix):
                    return quantity, suffix_unit
            return quantity, unit
    return None


def parse(node: str, object_id: str, payload: bytes, received_at: datetime, *, prefix: str = "esphome/") -> list[Reading]:
    """One sensor state; [] for sensors outside the convention and for ``nan``. ``prefix``: before the node."""
    meaning = quantity_for(object_id)
    if meaning is None:
        return []
    quantity, unit = meaning
    if payload.strip().lower() == b"nan":
        return []
    value = bare_number(payload, f"{prefix}{node}/sensor/{object_id}/state")
    return [Reading(node, received_at, quantity, to_canonical(value, unit, quantity))]
