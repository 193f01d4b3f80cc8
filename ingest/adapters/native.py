"""coopwatt's own JSON: ``coopwatt/<device>/reading`` and ``coopwatt/<residence>/temperature``.

Reading message::

    {"time": "2025-01-31T08:00:00+01:00",
     "readings": [{"quantity": "energy_index", "value": 1234.5, "unit": "kWh"}, ...]}

``<device>`` is one topic level, percent-encoded (``quote``): a source that holds a
``/``, such as a Shelly channel ``shellyem-A1B2/emeter/0``, travels as
``coopwatt/shellyem-A1B2%2Femeter%2F0/reading``, so a gateway can replay any meter's
buffered history with its times.

``time`` is optional (then the receive time is used) and must carry a UTC
offset; a reading may carry its own ``time``; ``unit`` is optional and
defaults to the quantity's canonical unit. Temperature message: a bare number
in °C, or ``{"value": -2.5, "unit": "°C", "time": "…"}`` (unit and time optional).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import datetime
from urllib.parse import quote, unquote

from coopwatt.quantities import Quantity
from ingest.adapters.payload import iso_time, load_json, load_object, number
from ingest.reading import PayloadError, Reading, shown
from ingest.units import canonical_unit, to_canonical

# Quantity names in the native format: the Quantity names without their unit suffix.
QUANTITY_BY_NAME: dict[str, Quantity] = {
    "energy_index": Quantity.ENERGY_INDEX_KWH,
    "energy_index_offpeak": Quantity.ENERGY_INDEX_OFFPEAK_KWH,
    "energy_index_peak": Quantity.ENERGY_INDEX_PEAK_KWH,
    "energy": Quantity.ENERGY_KWH,
    "power": Quantity.POWER_W,
    "apparent_power": Quantity.APPARENT_POWER_VA,
    "volume_index": Quantity.VOLUME_INDEX_M3,
    "volume": Quantity.VOLUME_M3,
    "temperature": Quantity.TEMPERATURE_C,
}
NAME_BY_QUANTITY: dict[Quantity, str] = {q: name for name, q in QUANTITY_BY_NAME.items()}
_CANONICAL_UNIT = {q: canonical_unit(q) for q in Quantity}


def topic_level(source: str) -> str:
    """The one topic level that names ``source`` in ``coopwatt/<device>/reading`` (percent-encoded)."""
    return quote(source, safe="")


def parse_reading(device: str, payload: bytes, received_at: datetime, max_readings: int = 1_000) -> list[Reading]:
    """Readings from a native ``coopwatt/<device>/reading`` message; the source is ``device``, decoded."""
    message = load_object(payload)
    try:
        device = unquote(device, errors="strict")
    except UnicodeDecodeError as exc:
        raise PayloadError(f"the topic's device level is not percent-encoded UTF-8: {exc.reason}") from None
    time = iso_time(message["time"], "time") if "time" in message else received_at
    items = message.get("readings")
    if items is None:
        raise PayloadError("missing field 'readings'")
    if not isinstance(items, list):
        raise PayloadError("'readings' must be an array")
    if len(items) > max_readings:
        raise PayloadError(f"{len(items)} readings in one message (at most {max_readings})")
    readings: list[Reading] = []
    for position, item in enumerate(items):
        if not isinstance(item, dict):
            raise PayloadError(f"readings[{position}] must be an object")
        name = item.get("quantity")
        if name is None:
            raise PayloadError(f"readings[{position}]: missing field 'quantity'")
        quantity = QUANTITY_BY_NAME.get(name) if isinstance(name, str) else None
        if quantity is None:
            raise PayloadError(f"readings[{position}]: unknown quantity {shown(name)} "
                               f"(known: {', '.join(QUANTITY_BY_NAME)})")
        if "value" not in item:
            raise PayloadError(f"readings[{position}]: missing field 'value'")
        value = number(item["value"], f"readings[{position}].value")
        unit = item.get("unit")
        if unit is not None and unit != _CANONICAL_UNIT[quantity]:
            if not isinstance(unit, str):
                raise PayloadError(f"readings[{position}]: 'unit' must be a text, got {shown(unit)}")
            value = to_canonical(value, unit, quantity)
        item_time = iso_time(item["time"], f"readings[{position}].time") if "time" in item else time
        readings.append(Reading(device, item_time, quantity, value))
    return readings


def parse_temperature(residence_code: str, payload: bytes, received_at: datetime) -> list[Reading]:
    """A residence's outdoor temperature; the source is ``residence:<code>``."""
    data = load_json(payload)
    time = received_at
    if isinstance(data, dict):
        if "value" not in data:
            raise PayloadError("missing field 'value'")
        value = number(data["value"], "value")
        unit = data.get("unit")
        if unit is not None:
            if not isinstance(unit, str):
                raise PayloadError(f"'unit' must be a text, got {shown(unit)}")
            value = to_canonical(value, unit, Quantity.TEMPERATURE_C)
        if "time" in data:
            time = iso_time(data["time"], "time")
    else:
        value = number(data, "temperature")
    return [Reading(f"residence:{residence_code}", time, Quantity.TEMPERATURE_C, value)]


def encode_reading(values: Iterable[tuple[Quantity, float]], time: datetime | None = None) -> bytes:
    """The native payload for some values in canonical units (for the simulator and tests)."""
    message: dict[str, object] = {}
    if time is not None:
        if time.tzinfo is None:
            raise ValueError("time must be timezone-aware")
        message["time"] = time.isoformat()
    message["readings"] = [
        {"quantity": NAME_BY_QUANTITY[quantity], "value": value, "unit": _CANONICAL_UNIT[quantity]}
        for quantity, value in values
    ]
    return json.dumps(message, separators=(",", ":"), ensure_ascii=False).encode()
