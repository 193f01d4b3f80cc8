"""Linky / Enedis TIC labels → readings, and the teleinfo2mqtt adapter (``teleinfo/<meter id>``).

Facts from Enedis' TIC specification as relayed by Tasmota, teleinfo2mqtt and ZLinky docs:

* indices (BASE, HCHC, HCHP, BBR…, EJP…, EAST, EASFnn) are in Wh;
* instantaneous power PAPP (historic mode) and SINSTS (standard mode) is
  *apparent* power in VA — stored as APPARENT_POWER_VA, never as W.

Historic mode: the subscription option OPTARIF says which registers exist
(BASE; HC: HCHC/HCHP; BBR (Tempo): BBRHC/HPJB/JW/JR; EJP: EJPHN/EJPHPM). The
total index is the sum of the option's registers, emitted once all of them are
known; HC registers (HCHC, BBRHCJx) sum to the off-peak index and HP ones to
the peak index. EJP registers only feed the total.

Standard mode: EAST is the total. EASF01…EASF10 are the supplier's registers;
which one is off-peak depends on the supplier calendar (NGTF). For the
calendars that have off-peak hours (NGTF naming HC/HP, "H PLEINE/CREUSE",
Tempo) the common layout is odd registers = heures creuses, even = heures
pleines (HC/HP: EASF01 = HC, EASF02 = HP; Tempo: 01/02 blue, 03/04 white,
05/06 red). That is the choice made here. With an unknown or BASE/EJP
calendar no off-peak/peak split is emitted, only EAST.

Partial messages (Tasmota's "EnergyConfig Changed" sends only labels that
changed) are merged into the device's last known labels: a quantity is
emitted when one of its labels is in the message and all the labels it needs
are known. Sums over several standard-mode registers additionally wait until a
full frame (one carrying the meter address ADSC/ADCO) has been seen, so that a
register missed after a restart is never left out of a sum.

That memory is bounded (:class:`TicStates`): it keeps only the labels the sums
and the tariff need, only for devices the caller says to keep (the registered
ones), and at most a set number of devices, the least recently heard dropped
first. A frame of a device that is not kept is read on its own.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime

from coopwatt.quantities import Quantity
from ingest.adapters.payload import iso_time, load_object, number_or_numeric_text
from ingest.reading import PayloadError, Reading, shown

_WH_PER_KWH = 1000.0

# Historic-mode registers of each subscription option (OPTARIF starts with the key).
_HISTORIC_OPTIONS: dict[str, tuple[str, ...]] = {
    "BASE": ("BASE",),
    "HC": ("HCHC", "HCHP"),
    "EJP": ("EJPHN", "EJPHPM"),
    "BBR": ("BBRHCJB", "BBRHPJB", "BBRHCJW", "BBRHPJW", "BBRHCJR", "BBRHPJR"),
}
_HISTORIC_REGISTERS = frozenset(label for labels in _HISTORIC_OPTIONS.values() for label in labels)
_OFFPEAK_HISTORIC = frozenset({"HCHC", "BBRHCJB", "BBRHCJW", "BBRHCJR"})
_PEAK_HISTORIC = frozenset({"HCHP", "BBRHPJB", "BBRHPJW", "BBRHPJR"})
# Option → (registers of the total, off-peak registers, peak registers).
_HISTORIC_GROUPS = {
    option: (frozenset(registers), _OFFPEAK_HISTORIC.intersection(registers), _PEAK_HISTORIC.intersection(registers))
    for option, registers in _HISTORIC_OPTIONS.items()
}
_STANDARD_REGISTERS = tuple(f"EASF{n:02d}" for n in range(1, 11))
_STANDARD_OFFPEAK = frozenset(_STANDARD_REGISTERS[0::2])  # EASF01, 03, 05…: heures creuses (module docstring)
_STANDARD_PEAK = frozenset(_STANDARD_REGISTERS[1::2])  # EASF02, 04, 06…: heures pleines
_EAST = frozenset({"EAST"})
_IDENTITY_LABELS = ("ADCO", "ADSC")
_APPARENT_POWER_LABELS = ("PAPP", "SINSTS")

# Every label whose value must be a number; other labels (OPTARIF, PTEC, NGTF…) are kept as they come.
NUMERIC_LABELS = frozenset(_HISTORIC_REGISTERS | set(_STANDARD_REGISTERS) | {"EAST", *_APPARENT_POWER_LABELS})
# The text labels the readings depend on (the tariff); no other text label is remembered.
_TARIFF_LABELS = ("OPTARIF", "NGTF")
_MAX_TARIFF_CHARS = 32  # "H PLEINE/CREUSE", "TEMPO", "HC.."; longer is not a tariff name


@dataclass
class TicState:
    """The last known labels of one meter, and whether a full frame has been seen."""

    numbers: dict[str, float] = field(default_factory=dict)  # indices (Wh) and apparent power (VA)
    texts: dict[str, str] = field(default_factory=dict)  # the tariff labels only (OPTARIF, NGTF)
    seen_full_frame: bool = False


class TicStates:
    """Each device's TicState, kept for the devices ``keep`` accepts, at most ``max_devices`` of them."""

    def __init__(self, max_devices: int = 10_000, keep: Callable[[str], bool] | None = None) -> None:
        self.max_devices = max_devices
        self.keep = keep
        self._states: OrderedDict[str, TicState] = OrderedDict()

    def for_device(self, source: str) -> TicState:
        """The device's remembered state; a fresh one, not remembered, for a device that is not kept."""
        state = self._states.get(source)
        if state is not None:
            self._states.move_to_end(source)
            return state
        state = TicState()
        if self.keep is None or self.keep(source):
            self._states[source] = state
            while len(self._states) > self.max_devices:
                self._states.popitem(last=False)  # the device heard least recently
        return state

    def __len__(self) -> int:
        return len(self._states)

    def __contains__(self, source: object) -> bool:
        return source in self._states


def calendar_has_offpeak(tariff: str | None) -> bool:
    """True when a tariff name (OPTARIF / NGTF) is a calendar with off-peak hours (HC/HP or Tempo)."""
    if not tariff:
        return False
    name = tariff.upper()
    if "BASE" in name or "EJP" in name:
        return False
    return any(word in name for word in ("CREUSE", "PLEINE", "HC", "HP", "TEMPO", "BBR"))


def tic_readings(source: str, frame: Mapping[str, object], time: datetime, state: TicState) -> list[Reading]:
    """Readings from one (possibly partial) TIC frame of label → value, merged into ``state``."""
    numbers = {label: number_or_numeric_text(value, f"TIC label {label}")
               for label, value in frame.items() if label in NUMERIC_LABELS}
    for label in _TARIFF_LABELS:
        value = frame.get(label)
        if isinstance(value, str):
            state.texts[label] = value[:_MAX_TARIFF_CHARS]
    known = state.numbers
    known.update(numbers)
    if any(label in frame for label in _IDENTITY_LABELS):
        state.seen_full_frame = True

    relevant = numbers.keys()
    if not relevant:
        return []
    readings: list[Reading] = []

    def emit(quantity: Quantity, labels: frozenset[str], scale: float) -> None:
        if labels and not relevant.isdisjoint(labels) and known.keys() >= labels:
            total = sum(known[label] for label in labels)
            readings.append(Reading(source, time, quantity, total / scale))

    # Apparent power: one label, whichever mode.
    for label in _APPARENT_POWER_LABELS:
        if label in relevant:
            emit(Quantity.APPARENT_POWER_VA, frozenset((label,)), 1.0)
    # Standard mode.
    if "EAST" in relevant:
        emit(Quantity.ENERGY_INDEX_KWH, _EAST, _WH_PER_KWH)
    if not relevant.isdisjoint(_STANDARD_REGISTERS) and state.seen_full_frame:
        tariff = state.texts.get("NGTF")
        if calendar_has_offpeak(tariff if isinstance(tariff, str) else None):
            emit(Quantity.ENERGY_INDEX_OFFPEAK_KWH, _STANDARD_OFFPEAK.intersection(known), _WH_PER_KWH)
            emit(Quantity.ENERGY_INDEX_PEAK_KWH, _STANDARD_PEAK.intersection(known), _WH_PER_KWH)
    # Historic mode.
    if not relevant.isdisjoint(_HISTORIC_REGISTERS):
        option = _historic_option(state.texts.get("OPTARIF"), known)
        if option is not None:
            total, offpeak, peak = _HISTORIC_GROUPS[option]
            emit(Quantity.ENERGY_INDEX_KWH, total, _WH_PER_KWH)
            emit(Quantity.ENERGY_INDEX_OFFPEAK_KWH, offpeak, _WH_PER_KWH)
            emit(Quantity.ENERGY_INDEX_PEAK_KWH, peak, _WH_PER_KWH)
    return readings


def _historic_option(optarif: object, known: Mapping[str, float]) -> str | None:
    """The historic subscription option: from OPTARIF, else guessed from the registers seen."""
    if isinstance(optarif, str):
        for option in _HISTORIC_OPTIONS:
            if optarif.upper().startswith(option):
                return option
    for option, registers in _HISTORIC_OPTIONS.items():
        if any(label in known for label in registers):
            return option
    return None


def parse(meter_id: str, payload: bytes, received_at: datetime, states: TicStates) -> list[Reading]:
    """teleinfo2mqtt: ``{"LABEL": {"raw": "…", "value": …}, …}`` on ``teleinfo/<meter id>``.

    The time is the meter's own DATE (standard mode, sent as an UTC timestamp) when present,
    else the receive time.
    """
    message = load_object(payload)
    frame: dict[str, object] = {}
    time = received_at
    for label, entry in message.items():
        if not isinstance(entry, dict):
            raise PayloadError(f"label {_named(label)}: expected an object with 'raw' and 'value', got {shown(entry)}")
        if label == "DATE":
            stamp = entry.get("timestamp")
            if isinstance(stamp, dict) and "date" in stamp:
                time = iso_time(stamp["date"], "DATE timestamp")
            continue
        if "value" in entry and not (label in NUMERIC_LABELS and entry["value"] is None):
            value = entry["value"]
            if label in NUMERIC_LABELS and isinstance(value, str) and "raw" in entry:
                value = entry["raw"]  # not converted to a number by teleinfo2mqtt: read the raw text
        elif "raw" in entry:
            value = entry["raw"]
        else:
            raise PayloadError(f"label {_named(label)}: missing field 'value'")
        frame[label] = value
    state = states.for_device(meter_id)
    # teleinfo2mqtt always publishes whole frames.
    state.seen_full_frame = True
    return tic_readings(meter_id, frame, time, state)


def _named(label: str) -> str:
    """A label as a reason names it: as it is when it looks like a TIC label, quoted and cut otherwise."""
    return label if len(label) <= 16 and label.isascii() and label.isprintable() else shown(label)
