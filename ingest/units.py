"""Unit conversion at the ingest boundary: a unit a meter sends → the canonical unit of a Quantity.

Only the spellings listed here are accepted (an allow-list per kind of unit,
from what meters, their firmwares and docs/payload-formats.md write). A unit
string is never handed to pint's parser: pint reads any expression, so
``"V*A"`` would pass for active power, ``"percent*W"`` would scale by 0.01,
``"1_000"`` would be a number and ``"W)"`` or ``"W/0"`` would raise from deep
inside pint. pint still does the arithmetic of each accepted unit, once: the
linear map (scale and offset) of each (unit, quantity) pair is cached, so the
hot path is a dictionary lookup and one multiply-add.

Active power (W) and apparent power (VA) have the same dimension, so pint
would happily convert one into the other; they are kept apart here on purpose
(a Linky reports VA, and calling it W would overstate consumption).
"""

from __future__ import annotations

from enum import Enum

import pint

from coopwatt.quantities import Quantity
from ingest.reading import PayloadError, shown

UREG: pint.UnitRegistry = pint.UnitRegistry()
UREG.define("watt_minute = watt * minute = Wmin")


class Family(Enum):
    """What a unit measures, finer than pint's dimensions (W and VA differ here)."""

    ENERGY = "energy"
    POWER = "active power"
    APPARENT_POWER = "apparent power"
    VOLUME = "volume"
    TEMPERATURE = "temperature"


# Canonical unit (pint spelling) and family of each quantity.
_CANONICAL: dict[Quantity, tuple[str, Family]] = {
    Quantity.ENERGY_INDEX_KWH: ("kilowatt_hour", Family.ENERGY),
    Quantity.ENERGY_INDEX_OFFPEAK_KWH: ("kilowatt_hour", Family.ENERGY),
    Quantity.ENERGY_INDEX_PEAK_KWH: ("kilowatt_hour", Family.ENERGY),
    Quantity.ENERGY_KWH: ("kilowatt_hour", Family.ENERGY),
    Quantity.POWER_W: ("watt", Family.POWER),
    Quantity.APPARENT_POWER_VA: ("volt_ampere", Family.APPARENT_POWER),
    Quantity.VOLUME_INDEX_M3: ("meter ** 3", Family.VOLUME),
    Quantity.VOLUME_M3: ("meter ** 3", Family.VOLUME),
    Quantity.TEMPERATURE_C: ("degree_Celsius", Family.TEMPERATURE),
}

# Spellings found in meter payloads and documentation, mapped to pint units: the allow-list.
# Case matters for the SI prefixes (mW is not MW), so each accepted casing is listed.
_ALIASES: dict[str, tuple[str, Family]] = {}
# The first spelling of each unit, by family, for the reasons that list what is accepted.
_ACCEPTED: dict[Family, list[str]] = {family: [] for family in Family}


def _alias(spellings: str, pint_unit: str, family: Family) -> None:
    for spelling in spellings.split():
        _ALIASES[spelling] = (pint_unit, family)
    _ACCEPTED[family].append(spellings.split()[0])


_alias("Wh wh WH", "watt_hour", Family.ENERGY)
_alias("kWh kwh KWH KWh", "kilowatt_hour", Family.ENERGY)
_alias("MWh", "megawatt_hour", Family.ENERGY)
_alias("Wmin Wm watt-minute watt-minutes watt_minute watt_minutes W·min W*min", "watt_minute", Family.ENERGY)
_alias("J", "joule", Family.ENERGY)  # heat meters (M-Bus) count in J multiples
_alias("kJ", "kilojoule", Family.ENERGY)
_alias("MJ", "megajoule", Family.ENERGY)
_alias("GJ", "gigajoule", Family.ENERGY)
_alias("W w", "watt", Family.POWER)
_alias("kW kw KW", "kilowatt", Family.POWER)
_alias("VA va", "volt_ampere", Family.APPARENT_POWER)
_alias("kVA kva KVA", "kilovolt_ampere", Family.APPARENT_POWER)
_alias("m³ m3 m^3 m**3 M3", "meter ** 3", Family.VOLUME)
_alias("L l litre liter litres liters", "liter", Family.VOLUME)
_alias("°C ºC degC C celsius Celsius deg_C", "degree_Celsius", Family.TEMPERATURE)
_alias("°F ºF degF", "degree_Fahrenheit", Family.TEMPERATURE)
_alias("K kelvin", "kelvin", Family.TEMPERATURE)

# (unit, quantity) → (factor, divide, offset), or the PayloadError text for a bad pair.
# Dividing by an integer factor (Wh → kWh: / 1000) keeps decimal indices exact.
# Only allow-listed spellings are cached, so the cache is bounded by the allow-list, whatever devices send.
_Conversion = tuple[float, bool, float]
_cache: dict[tuple[str, Quantity], _Conversion | str] = {}


def canonical_unit(quantity: Quantity) -> str:
    """The canonical unit of a quantity as a short symbol (kWh, W, VA, m³, °C)."""
    return {"kilowatt_hour": "kWh", "watt": "W", "volt_ampere": "VA",
            "meter ** 3": "m³", "degree_Celsius": "°C"}[_CANONICAL[quantity][0]]


def to_canonical(value: float, unit: str, quantity: Quantity) -> float:
    """Convert ``value`` in ``unit`` to the canonical unit of ``quantity``; PayloadError if impossible."""
    if not isinstance(unit, str):
        raise PayloadError(f"unit for {quantity.name.lower()} must be a text, got {shown(unit)}")
    conversion = _cache.get((unit, quantity))
    if conversion is None:
        conversion = _conversion(unit, quantity)
        if unit.strip() in _ALIASES:
            _cache[(unit, quantity)] = conversion
    if isinstance(conversion, str):
        raise PayloadError(conversion)
    factor, divide, offset = conversion
    return (value / factor if divide else value * factor) + offset


def _family_of(unit: str) -> tuple[pint.Unit, Family] | None:
    """The pint unit and family of an allow-listed spelling, or None."""
    found = _ALIASES.get(unit)
    if found is None:
        return None
    name, family = found
    return UREG.Unit(name), family


def _conversion(unit: str, quantity: Quantity) -> _Conversion | str:
    """Work out the linear map unit → canonical once, or the reason it cannot be done."""
    canonical_name, wanted = _CANONICAL[quantity]
    name = quantity.name.lower()
    if not isinstance(unit, str) or not unit.strip():
        return f"missing unit for {name}"
    found = _family_of(unit.strip())
    if found is None:
        return (f"unknown unit {shown(unit)} for {name} "
                f"(accepted for {wanted.value}: {', '.join(_ACCEPTED[wanted])})")
    parsed, family = found
    if family is not wanted:
        return f"unit {shown(unit)} is {family.value}, not {wanted.value} as {name} needs ({canonical_unit(quantity)})"
    canonical = UREG.Unit(canonical_name)
    # Two points give scale and offset; only temperatures have an offset.
    at_zero = float(UREG.Quantity(0.0, parsed).to(canonical).magnitude)
    at_one = float(UREG.Quantity(1.0, parsed).to(canonical).magnitude)
    scale = at_one - at_zero
    if 0 < scale < 1:
        inverse = 1 / scale
        if abs(inverse - round(inverse)) < 1e-9 * inverse:
            return float(round(inverse)), True, at_zero
    return scale, False, at_zero
