"""Zigbee2MQTT device state: ``zigbee2mqtt/<friendly_name>`` (JSON object; source = friendly name).

Generic metering devices (plugs, DIN-rail meters): ``energy`` kWh (index),
``power`` W.

LiXee ZLinky_TIC (a Linky reader), per the Zigbee2MQTT device page:
``current_summ_delivered`` kWh is the total index (BASE or EAST);
``current_tier<n>_summ_delivered`` kWh are the registers (tier1 = HCHC,
tier2 = HCHP, tiers 1…6 = the Tempo registers HC/HP by colour, and in standard
mode EASF01…); ``apparent_power`` VA (PAPP / SINSTS — apparent, not active).
Odd tiers sum to the off-peak index and even tiers to the peak index when the
tariff (``current_tarif``) is an HC/HP or Tempo one, or, without a tariff,
when a tier 2 register is present and non-zero. Without
``current_summ_delivered`` the total is the sum of the tiers.

Zigbee2MQTT publishes the device's whole cached state each time, so there is
nothing to merge. ``null`` values (not yet read) are skipped. Messages with
none of these fields (door sensors, thermometers…) give no readings.
"""

from __future__ import annotations

from datetime import datetime

from coopwatt.quantities import Quantity
from ingest.adapters.payload import load_object, number
from ingest.adapters.teleinfo import calendar_has_offpeak
from ingest.reading import Reading

_TIERS = tuple(f"current_tier{n}_summ_delivered" for n in range(1, 11))


def parse(friendly_name: str, payload: bytes, received_at: datetime) -> list[Reading]:
    """Readings from one Zigbee2MQTT device state message."""
    state = load_object(payload)

    def value_of(key: str) -> float | None:
        raw = state.get(key)
        return None if raw is None else number(raw, key)

    readings: list[Reading] = []

    def emit(quantity: Quantity, value: float | None) -> None:
        if value is not None:
            readings.append(Reading(friendly_name, received_at, quantity, value))

    tiers = {n: value_of(key) for n, key in enumerate(_TIERS, start=1)}
    known_tiers = {n: v for n, v in tiers.items() if v is not None}
    total_kwh = value_of("current_summ_delivered")
    if total_kwh is None and known_tiers:
        total_kwh = sum(known_tiers.values())
    if total_kwh is None:
        total_kwh = value_of("energy")
    emit(Quantity.ENERGY_INDEX_KWH, total_kwh)
    if known_tiers and _splits(state.get("current_tarif"), known_tiers):
        emit(Quantity.ENERGY_INDEX_OFFPEAK_KWH, sum(v for n, v in known_tiers.items() if n % 2 == 1))
        emit(Quantity.ENERGY_INDEX_PEAK_KWH, sum(v for n, v in known_tiers.items() if n % 2 == 0))
    emit(Quantity.POWER_W, value_of("power"))
    emit(Quantity.APPARENT_POWER_VA, value_of("apparent_power"))
    return readings


def _splits(tariff: object, tiers: dict[int, float]) -> bool:
    """Whether the tiers are off-peak/peak registers (see module docstring)."""
    if isinstance(tariff, str) and tariff.strip():
        return calendar_has_offpeak(tariff)
    return tiers.get(2, 0.0) > 0
