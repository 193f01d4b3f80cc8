"""Tasmota telemetry: ``tele/<device topic>/SENSOR`` with an ``ENERGY`` block or a Linky ``TIC`` block.

ENERGY (Tasmota's energy driver): ``Total`` is the cumulative index in kWh,
``Power`` active power in W, ``ApparentPower`` in VA. Multi-channel devices
send arrays; the device's values are their sums.

TIC (Tasmota's Teleinfo driver): the Linky labels, handled by the shared TIC
logic in :mod:`ingest.adapters.teleinfo` (Wh indices, VA power, partial
messages merged into the device's last state). When a TIC block is present the
ENERGY block of the same message is ignored: the Teleinfo driver fills it from
the TIC, so its ``Power`` is the meter's apparent power (VA) labelled as W, and
its ``Total`` is Tasmota's own counter, not the meter's index.

``Time`` is local time without an offset: it is read in the cooperative's time
zone. Without ``Time`` (raw TIC frames) the receive time is used.
"""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from coopwatt.quantities import Quantity
from ingest.adapters.payload import iso_time, load_object, number
from ingest.adapters.teleinfo import TicStates, tic_readings
from ingest.reading import PayloadError, Reading, shown

# More channels than any multi-channel meter has (Shelly 3EM, 4-channel Sonoff): more is not a meter.
_MAX_CHANNELS = 16

# ENERGY field → (quantity, factor to the canonical unit).
_ENERGY_FIELDS: tuple[tuple[str, Quantity], ...] = (
    ("Total", Quantity.ENERGY_INDEX_KWH),
    ("Power", Quantity.POWER_W),
    ("ApparentPower", Quantity.APPARENT_POWER_VA),
)


def parse(device: str, payload: bytes, received_at: datetime, states: TicStates,
          tz: ZoneInfo) -> list[Reading]:
    """Readings from one SENSOR message of the Tasmota device whose topic is ``device``."""
    message = load_object(payload)
    time = iso_time(message["Time"], "Time", tz) if "Time" in message else received_at
    tic = message.get("TIC")
    if tic is not None:
        if not isinstance(tic, dict):
            raise PayloadError(f"TIC must be an object, got {shown(tic)}")
        return tic_readings(device, tic, time, states.for_device(device))
    energy = message.get("ENERGY")
    if energy is None:
        return []  # a SENSOR message of other sensors (temperature, switches): nothing to store
    if not isinstance(energy, dict):
        raise PayloadError(f"ENERGY must be an object, got {shown(energy)}")
    readings = []
    for field, quantity in _ENERGY_FIELDS:
        if field in energy:
            readings.append(Reading(device, time, quantity, _summed(energy[field], f"ENERGY.{field}")))
    return readings


def _summed(value: object, what: str) -> float:
    """A number, or the sum of an array of numbers (one per channel or phase)."""
    if isinstance(value, list):
        if not value:
            raise PayloadError(f"{what} is an empty array")
        if len(value) > _MAX_CHANNELS:
            raise PayloadError(f"{what} has {len(value)} channels (at most {_MAX_CHANNELS})")
        return sum(number(item, what) for item in value)
    return number(value, what)
