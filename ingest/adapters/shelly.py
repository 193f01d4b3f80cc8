"""Shelly devices: Gen1 per-value topics and Gen2+ (Plus/Pro) component status topics.

Gen1 (``shellies/<id>/emeter/<n>/<value>``, ``shellies/<id>/relay/<n>/<value>``),
one bare number per message, no timestamp (the receive time is used). What Shelly's
Gen1 API documents for these values, and what is stored:

==========================  ===========================================  ==========================
value                       meaning (Shelly Gen1 MQTT)                   stored as
==========================  ===========================================  ==========================
emeter ``power``            active power, W                              power_w
emeter ``total``            energy in Wh, kept in non-volatile memory    energy_index_kwh (÷ 1000)
emeter ``energy``           energy counter in watt-minutes, restarts     not stored (see below)
                            from 0 when the device reboots
emeter ``total_returned``,  energy sent back to the grid (Wh; Wmin)      not stored
``returned_energy``
relay ``power``             active power, W (Plug, Plug S, 1PM, 2.5)     power_w
relay ``energy``            energy counter in watt-minutes, restarts     energy_index_kwh (÷ 60 000)
                            from 0 when the device reboots
==========================  ===========================================  ==========================

An EM or 3EM channel publishes ``energy`` and ``total`` side by side, and both count the
same energy. ``total`` is the channel's index: it survives reboots, so its differences are
the consumption, whereas ``energy`` drops to 0 at every reboot and would read as a counter
reset. Storing both as the one index quantity of one meter would interleave two series
of different values (one index in Wh since installation, one in Wmin since boot), which
the derivation would read as resets and jumps at every message: double counting at best.
So ``energy`` is left out where ``total`` exists, which for an emeter channel is always.
A plug or 1PM publishes no persistent total over MQTT: its ``energy`` watt-minute counter
is the index, and the consumption derivation treats each reboot's drop to 0 as a counter
reset (the new count is the use since the reboot), never as negative use.
Other values (voltage, current, pf, reactive_power, command, overpower_value…) are valid
but not stored. Sources: ``<id>/emeter/<n>`` and ``<id>/relay/<n>``.

Gen2+ (``<device>/status/<component>:<n>``, the component status as JSON, when
"generic status update over MQTT" is on):

* ``em:<n>`` (three-phase, Pro 3EM): ``total_act_power`` W, ``total_aprt_power`` VA;
* ``emdata:<n>``: ``total_act`` Wh (active energy index, all phases);
  without it, the sum of ``a_/b_/c_total_act_energy`` Wh;
* ``em1:<n>`` (single channel, Pro EM): ``act_power`` W, ``aprt_power`` VA;
* ``em1data:<n>``: ``total_act_energy`` Wh.

Sources: ``<device>/em:<n>`` for em and emdata, ``<device>/em1:<n>`` for em1 and em1data
(the data component belongs to the meter channel with the same id).
"""

from __future__ import annotations

from datetime import datetime

from coopwatt.quantities import Quantity
from ingest.adapters.payload import bare_number, load_object, number
from ingest.reading import PayloadError, Reading
from ingest.units import to_canonical

# Gen1: (channel type, value name) → (quantity, unit). emeter "energy" is deliberately absent: "total" is that
# channel's index (persistent Wh); both would be two disagreeing indices of one meter (module docstring).
_GEN1_VALUES: dict[tuple[str, str], tuple[Quantity, str]] = {
    ("emeter", "power"): (Quantity.POWER_W, "W"),
    ("emeter", "total"): (Quantity.ENERGY_INDEX_KWH, "Wh"),
    ("relay", "power"): (Quantity.POWER_W, "W"),
    ("relay", "energy"): (Quantity.ENERGY_INDEX_KWH, "watt_minute"),
}

# Gen2: component type → (field, quantity, unit) in order of preference per quantity.
_GEN2_FIELDS: dict[str, tuple[tuple[str, Quantity, str], ...]] = {
    "em": (("total_act_power", Quantity.POWER_W, "W"), ("total_aprt_power", Quantity.APPARENT_POWER_VA, "VA")),
    "em1": (("act_power", Quantity.POWER_W, "W"), ("aprt_power", Quantity.APPARENT_POWER_VA, "VA")),
    "emdata": (("total_act", Quantity.ENERGY_INDEX_KWH, "Wh"),),
    "em1data": (("total_act_energy", Quantity.ENERGY_INDEX_KWH, "Wh"),),
}
_EMDATA_PHASES = ("a_total_act_energy", "b_total_act_energy", "c_total_act_energy")
# The meter channel a component's readings belong to.
_GEN2_SOURCE_COMPONENT = {"em": "em", "emdata": "em", "em1": "em1", "em1data": "em1"}
GEN2_COMPONENTS = frozenset(_GEN2_FIELDS)


def parse_gen1(shelly_id: str, channel_type: str, channel: str, value_name: str, payload: bytes,
               received_at: datetime) -> list[Reading]:
    """One Gen1 per-value message; values that are not energy or power give []."""
    wanted = _GEN1_VALUES.get((channel_type, value_name))
    if wanted is None:
        return []
    quantity, unit = wanted
    value = bare_number(payload, f"shellies/{shelly_id}/{channel_type}/{channel}/{value_name}")
    return [Reading(f"{shelly_id}/{channel_type}/{channel}", received_at, quantity,
                    to_canonical(value, unit, quantity))]


def parse_gen2(device: str, component: str, component_id: str, payload: bytes,
               received_at: datetime) -> list[Reading]:
    """One Gen2+ status message of an energy-meter component."""
    status = load_object(payload)
    source = f"{device}/{_GEN2_SOURCE_COMPONENT[component]}:{component_id}"
    readings = []
    for field, quantity, unit in _GEN2_FIELDS[component]:
        if field in status and status[field] is not None:
            value = number(status[field], f"{component}:{component_id}.{field}")
            readings.append(Reading(source, received_at, quantity, to_canonical(value, unit, quantity)))
    if component == "emdata" and not readings and all(status.get(f) is not None for f in _EMDATA_PHASES):
        total_wh = sum(number(status[f], f"{component}:{component_id}.{f}") for f in _EMDATA_PHASES)
        readings.append(Reading(source, received_at, Quantity.ENERGY_INDEX_KWH,
                                to_canonical(total_wh, "Wh", Quantity.ENERGY_INDEX_KWH)))
    if not readings and component in ("emdata", "em1data"):
        raise PayloadError(f"{component}:{component_id} status has no energy total "
                           f"(expected {_GEN2_FIELDS[component][0][0]})")
    return readings
