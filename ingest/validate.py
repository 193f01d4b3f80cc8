"""Is a parsed reading believable? Pure checks; the reason returned is what the dead-letter table shows.

What is deliberately *not* rejected here: an index that goes down. A cumulative
index that decreases is a counter reset or a meter replacement; it is stored
and the consumption derivation recognises it (a negative step is never turned
into negative consumption). Rejecting it here would lose the new counter's
first readings.

Jumps are judged against the previous accepted reading of the same meter and
quantity, and only when the new reading is later than it: an out-of-order
(late) reading is not checked for jumps. The previous reading survives restarts:
the writer reads it from the database the first time a process sees a meter.

An index may rise by at most the power (or flow) limit times the gap, and by at
most a year's growth for each started year of the gap: the first bounds short
gaps, the second a meter silent for months. No index may exceed what any
meter's register can show, and no interval value a year's growth.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime

from coopwatt.quantities import CUMULATIVE, Quantity
from coopwatt.settings import Settings
from ingest.reading import Reading
from ingest.units import canonical_unit

RESIDENCE_SOURCE_PREFIX = "residence:"

# Outdoor temperatures outside this range are sensor faults, not weather (°C); the default of the settings.
OUTDOOR_TEMPERATURE_RANGE_C = (-60.0, 60.0)
_HOURS_PER_YEAR = 8766.0  # 365.25 days

_ELECTRIC_ENERGY = frozenset({
    Quantity.ENERGY_INDEX_KWH, Quantity.ENERGY_INDEX_OFFPEAK_KWH, Quantity.ENERGY_INDEX_PEAK_KWH,
    Quantity.ENERGY_KWH,
})
_VOLUME = frozenset({Quantity.VOLUME_INDEX_M3, Quantity.VOLUME_M3})

# What each kind of meter may send. Gas modules often report kWh as well as m³; heat meters
# report energy, power and the volume of water that went through them.
QUANTITIES_BY_KIND: dict[str, frozenset[Quantity]] = {
    "electricity": _ELECTRIC_ENERGY | {Quantity.POWER_W, Quantity.APPARENT_POWER_VA},
    "gas": _VOLUME | {Quantity.ENERGY_INDEX_KWH, Quantity.ENERGY_KWH},
    "water": _VOLUME,
    "heat": _VOLUME | {Quantity.ENERGY_INDEX_KWH, Quantity.ENERGY_KWH, Quantity.POWER_W},
}

_NEVER_NEGATIVE = frozenset(Quantity) - {Quantity.TEMPERATURE_C}
_INDEX_KWH = frozenset({Quantity.ENERGY_INDEX_KWH, Quantity.ENERGY_INDEX_OFFPEAK_KWH, Quantity.ENERGY_INDEX_PEAK_KWH})
# Enum members read from their class cost a lookup each; the checks below run for every reading ingested.
_TEMPERATURE_C = Quantity.TEMPERATURE_C
_POWER = (Quantity.POWER_W, Quantity.APPARENT_POWER_VA)
_VOLUME_INDEX_M3 = Quantity.VOLUME_INDEX_M3
_ENERGY_KWH = Quantity.ENERGY_KWH
_VOLUME_M3 = Quantity.VOLUME_M3


@dataclass(frozen=True, slots=True)
class MeterInfo:
    """What validation needs to know about a registered meter."""

    meter_id: int
    kind: str  # electricity, gas, water, heat
    mode: str  # index or interval
    installed_at: datetime
    removed_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class ValidationLimits:
    """Thresholds beyond which a reading is implausible."""

    max_future_s: float = 300.0
    max_power_w: float = 100_000.0
    max_flow_m3_per_h: float = 10.0
    max_energy_kwh_per_year: float = 500_000.0
    max_volume_m3_per_year: float = 100_000.0
    max_index_kwh: float = 1e9
    max_index_m3: float = 1e9
    min_temperature_c: float = OUTDOOR_TEMPERATURE_RANGE_C[0]
    max_temperature_c: float = OUTDOOR_TEMPERATURE_RANGE_C[1]


def limits_from_settings(settings: Settings) -> ValidationLimits:
    """The validation limits configured in Settings."""
    return ValidationLimits(
        max_future_s=settings.ingest_max_future_s,
        max_power_w=settings.ingest_max_power_w,
        max_flow_m3_per_h=settings.ingest_max_flow_m3_per_h,
        max_energy_kwh_per_year=settings.ingest_max_energy_kwh_per_year,
        max_volume_m3_per_year=settings.ingest_max_volume_m3_per_year,
        max_index_kwh=settings.ingest_max_index_kwh,
        max_index_m3=settings.ingest_max_index_m3,
        min_temperature_c=settings.ingest_min_temperature_c,
        max_temperature_c=settings.ingest_max_temperature_c,
    )


def _label(quantity: Quantity) -> str:
    """A quantity as people read it: 'energy_index (kWh)'."""
    unit = canonical_unit(quantity)
    base = quantity.name.lower()
    suffix = "_" + unit.lower().replace("³", "3").replace("°", "")
    if base.endswith(suffix):
        base = base[: -len(suffix)]
    return f"{base} ({unit})"


def check_reading(
    reading: Reading,
    meter: MeterInfo | None,
    previous: Reading | None,
    now: datetime,
    limits: ValidationLimits,
) -> str | None:
    """Why this reading cannot be stored, in words a person can act on; None if it is fine.

    ``previous`` is the last accepted reading of the same meter and quantity (or None).
    A residence's outdoor temperature (source ``residence:<code>``) needs no meter.
    """
    value = reading.value
    quantity = reading.quantity
    is_outdoor_temperature = quantity is _TEMPERATURE_C and reading.source.startswith(RESIDENCE_SOURCE_PREFIX)
    if meter is None and not is_outdoor_temperature:
        return f"unknown device {reading.source!r}"
    if not math.isfinite(value):
        return f"{_label(reading.quantity)} is not a finite number ({value})"
    if value < 0 and quantity in _NEVER_NEGATIVE:
        return f"negative {_label(reading.quantity)}: {value:g}"
    ahead_s = (reading.time - now).total_seconds()
    if ahead_s > limits.max_future_s:
        return (f"timestamp {reading.time.isoformat()} is {ahead_s:.0f} s in the future "
                f"(more than {limits.max_future_s:g} s ahead of the server clock)")
    if is_outdoor_temperature:
        low, high = limits.min_temperature_c, limits.max_temperature_c
        if not low <= value <= high:
            return f"outdoor temperature {value:g} °C is outside {low:g}…{high:g} °C"
        return None
    assert meter is not None
    if reading.time < meter.installed_at:
        return (f"timestamp {reading.time.isoformat()} is before the meter was installed "
                f"({meter.installed_at.isoformat()})")
    if meter.removed_at is not None and reading.time > meter.removed_at:
        return (f"timestamp {reading.time.isoformat()} is after the meter was removed "
                f"({meter.removed_at.isoformat()})")
    allowed = QUANTITIES_BY_KIND.get(meter.kind)
    if allowed is None or quantity not in allowed:
        if quantity is _TEMPERATURE_C:
            return ("temperature does not belong to a meter: publish outdoor temperature on "
                    "coopwatt/<residence code>/temperature")
        return f"{_label(reading.quantity)} does not fit a {meter.kind} meter"
    if quantity in _POWER and value > limits.max_power_w:
        return f"{_label(quantity)} of {value:g} is above the plausible {limits.max_power_w:g}"
    ceiling = _ceiling(quantity, limits)
    if ceiling is not None and value > ceiling[0]:
        return f"{_label(reading.quantity)} of {value:g} is above {ceiling[1]} ({ceiling[0]:g})"
    return _check_jump(reading, previous, limits)


def _ceiling(quantity: Quantity, limits: ValidationLimits) -> tuple[float, str] | None:
    """The largest value a quantity can take whatever came before, and what that limit is."""
    if quantity in _INDEX_KWH:
        return limits.max_index_kwh, "the largest index a meter can show"
    if quantity is _VOLUME_INDEX_M3:
        return limits.max_index_m3, "the largest index a meter can show"
    if quantity is _ENERGY_KWH:
        return limits.max_energy_kwh_per_year, "a year's plausible consumption"
    if quantity is _VOLUME_M3:
        return limits.max_volume_m3_per_year, "a year's plausible consumption"
    return None


def _check_jump(reading: Reading, previous: Reading | None, limits: ValidationLimits) -> str | None:
    """An index rising faster than any dwelling could consume is a glitch, not consumption."""
    if (previous is None or reading.quantity not in CUMULATIVE or previous.quantity is not reading.quantity
            or reading.time <= previous.time or reading.value <= previous.value):
        return None  # first reading, interval value, late reading, or a reset (decrease): not a jump
    hours = (reading.time - previous.time).total_seconds() / 3600
    increase = reading.value - previous.value
    years = max(1.0, math.ceil(hours / _HOURS_PER_YEAR))
    if reading.quantity is _VOLUME_INDEX_M3:
        flow_m3_per_h = increase / hours
        if flow_m3_per_h > limits.max_flow_m3_per_h:
            return (f"absurd jump: volume index rose by {increase:g} m³ {_since(previous)}, an average flow of "
                    f"{flow_m3_per_h:.3g} m³/h (limit {limits.max_flow_m3_per_h:g} m³/h)")
        if increase > limits.max_volume_m3_per_year * years:
            return (f"absurd jump: volume index rose by {increase:g} m³ {_since(previous)}, more than "
                    f"{limits.max_volume_m3_per_year:g} m³ a year")
        return None
    power_w = increase * 1000 / hours
    if power_w > limits.max_power_w:
        return (f"absurd jump: {_label(reading.quantity)} rose by {increase:g} kWh {_since(previous)}, an average of "
                f"{power_w:.3g} W (limit {limits.max_power_w:g} W)")
    if increase > limits.max_energy_kwh_per_year * years:
        return (f"absurd jump: {_label(reading.quantity)} rose by {increase:g} kWh {_since(previous)}, more than "
                f"{limits.max_energy_kwh_per_year:g} kWh a year")
    return None


def _since(previous: Reading) -> str:
    """Where a jump is measured from, as its reason says (built only for a reason: isoformat is not free)."""
    return f"since {previous.time.isoformat()}"
