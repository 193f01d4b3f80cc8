"""Readings → MQTT messages in the real device formats, each with the readings the ingester should make of it.

Formats and topics follow each project's documentation and coopwatt's adapters
(docs/payload-formats.md):

* native: ``coopwatt/<device>/reading`` ``{"time", "readings": [{"quantity", "value", "unit"}]}``;
  outdoor temperature ``coopwatt/<residence code>/temperature`` ``{"time", "value", "unit"}``;
* Tasmota ``tele/<device>/SENSOR``: an ``ENERGY`` block (Total kWh, Power W) or a Linky ``TIC``
  block (standard mode: EAST/EASF01/EASF02 in Wh, SINSTS in VA); ``Time`` is local time without offset;
* teleinfo2mqtt ``teleinfo/<ADSC>``: every label as ``{"raw", "value"}``, DATE with a UTC timestamp;
* Shelly Gen1 (Shelly EM) ``shellies/<id>/emeter/0/<value>``: bare numbers, ``total`` in Wh;
* Shelly Gen2+ (Pro 3EM) ``<id>/status/em:0`` and ``<id>/status/emdata:0`` (Wh);
* Zigbee2MQTT ``zigbee2mqtt/<friendly name>``: a plug (``energy`` kWh, ``power`` W) or a ZLinky
  (``current_summ_delivered`` and tier registers in kWh, ``apparent_power`` VA);
* ESPHome ``esphome/<node>/sensor/<object id>/state``: a bare number per sensor.

A timed message carries its own timestamp; Shelly, Zigbee2MQTT and ESPHome
messages do not (the ingester stamps them on receipt), so history is sent in
the native format for those devices (a source holding ``/`` percent-encoded in
its topic level).
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import numpy as np

from coopwatt.quantities import Quantity
from coopwatt.simulator.residence import LINKY_FORMATS, Meter
from coopwatt.simulator.series import Chunk
from ingest.adapters import native
from ingest.reading import Reading

POWER_FACTOR = 0.92  # active / apparent power of a household
VOLTAGE_V = 230.0
TIMED_FORMATS = frozenset({"native", "tasmota_energy", "tasmota_tic", "teleinfo2mqtt"})

_NATIVE_NAMES = {
    Quantity.ENERGY_INDEX_KWH: ("energy_index", "kWh"),
    Quantity.ENERGY_INDEX_OFFPEAK_KWH: ("energy_index_offpeak", "kWh"),
    Quantity.ENERGY_INDEX_PEAK_KWH: ("energy_index_peak", "kWh"),
    Quantity.POWER_W: ("power", "W"),
    Quantity.APPARENT_POWER_VA: ("apparent_power", "VA"),
    Quantity.VOLUME_INDEX_M3: ("volume_index", "m³"),
}


@dataclass(frozen=True)
class Message:
    """One MQTT message (topic without the deployment prefix) and the readings it stands for."""

    topic: str
    payload: bytes
    expected: tuple[Reading, ...]
    timed: bool  # the payload carries the reading time (else the receive time is used)


def _json(data: object) -> bytes:
    return json.dumps(data, separators=(",", ":"), ensure_ascii=False).encode()


def _wh(kwh: float) -> int:
    return int(round(kwh * 1000.0))


def _va(power_w: float) -> int:
    return int(round(power_w / POWER_FACTOR))


def readings_for(meter: Meter, time: datetime, values: Mapping[Quantity, float]) -> dict[Quantity, float]:
    """What a meter of this format can say about `values`: Linky readers give Wh-rounded indices and VA."""
    out: dict[Quantity, float] = {}
    if meter.format in LINKY_FORMATS:
        index_kwh = values[Quantity.ENERGY_INDEX_KWH]
        if Quantity.ENERGY_INDEX_OFFPEAK_KWH in values:
            offpeak_wh = _wh(values[Quantity.ENERGY_INDEX_OFFPEAK_KWH])
            peak_wh = _wh(values[Quantity.ENERGY_INDEX_PEAK_KWH])
            out[Quantity.ENERGY_INDEX_KWH] = (offpeak_wh + peak_wh) / 1000.0
            out[Quantity.ENERGY_INDEX_OFFPEAK_KWH] = offpeak_wh / 1000.0
            out[Quantity.ENERGY_INDEX_PEAK_KWH] = peak_wh / 1000.0
        else:
            out[Quantity.ENERGY_INDEX_KWH] = _wh(index_kwh) / 1000.0
        if Quantity.POWER_W in values:
            out[Quantity.APPARENT_POWER_VA] = float(_va(values[Quantity.POWER_W]))
        return out
    for quantity in (Quantity.ENERGY_INDEX_KWH, Quantity.ENERGY_INDEX_OFFPEAK_KWH, Quantity.ENERGY_INDEX_PEAK_KWH,
                     Quantity.VOLUME_INDEX_M3, Quantity.POWER_W):
        if quantity in values:
            out[quantity] = values[quantity]
    if meter.format in ("tasmota_energy", "shelly_gen1", "shelly_gen2", "esphome", "z2m_plug"):
        out.pop(Quantity.ENERGY_INDEX_OFFPEAK_KWH, None)
        out.pop(Quantity.ENERGY_INDEX_PEAK_KWH, None)
    if meter.format in ("tasmota_energy", "shelly_gen2") and Quantity.POWER_W in out:
        out[Quantity.APPARENT_POWER_VA] = float(_va(out[Quantity.POWER_W]))
    if meter.format == "esphome" and Quantity.VOLUME_INDEX_M3 in out and meter.kind == "water":
        out[Quantity.VOLUME_INDEX_M3] = round(out[Quantity.VOLUME_INDEX_M3] * 1000.0) / 1000.0
    return out


def _expected(source: str, time: datetime, values: Mapping[Quantity, float]) -> tuple[Reading, ...]:
    return tuple(Reading(source, time, q, float(v)) for q, v in values.items())


def encode_native(meter: Meter, time: datetime, values: Mapping[Quantity, float]) -> Message:
    """coopwatt's own JSON for any meter (its source percent-encoded as one topic level)."""
    payload = _json({
        "time": time.astimezone(UTC).isoformat(),
        "readings": [{"quantity": _NATIVE_NAMES[q][0], "value": v, "unit": _NATIVE_NAMES[q][1]}
                     for q, v in values.items()],
    })
    return Message(f"coopwatt/{native.topic_level(meter.source)}/reading", payload,
                   _expected(meter.source, time, values), True)


def encode_temperature(residence_code: str, time: datetime, temperature_c: float) -> Message:
    """A residence's outdoor temperature on ``coopwatt/<code>/temperature``."""
    payload = _json({"time": time.astimezone(UTC).isoformat(), "value": temperature_c, "unit": "°C"})
    reading = Reading(f"residence:{residence_code}", time, Quantity.TEMPERATURE_C, temperature_c)
    return Message(f"coopwatt/{residence_code}/temperature", payload, (reading,), True)


def _ambiguous_local(time: datetime, tz: ZoneInfo) -> bool:
    """True in the repeated hour of an autumn clock change, where a local time names two instants."""
    local = time.astimezone(tz).replace(tzinfo=None)
    return local.replace(tzinfo=tz, fold=0).utcoffset() != local.replace(tzinfo=tz, fold=1).utcoffset()


def _tasmota_time(time: datetime, tz: ZoneInfo) -> str:
    return time.astimezone(tz).replace(tzinfo=None).isoformat(timespec="seconds")


def _tic_standard(meter: Meter, values: Mapping[Quantity, float]) -> dict[str, object]:
    """A Linky standard-mode frame (labels and values as the meter sends them)."""
    hc = Quantity.ENERGY_INDEX_OFFPEAK_KWH in values
    east = _wh(values[Quantity.ENERGY_INDEX_KWH])
    frame: dict[str, object] = {
        "ADSC": _adsc(meter), "VTIC": "02", "NGTF": "H PLEINE/CREUSE" if hc else "BASE",
        "LTARF": "HEURE  CREUSE" if hc else "BASE", "EAST": east,
        "EASF01": _wh(values[Quantity.ENERGY_INDEX_OFFPEAK_KWH]) if hc else east,
    }
    if hc:
        frame["EASF02"] = _wh(values[Quantity.ENERGY_INDEX_PEAK_KWH])
    if Quantity.APPARENT_POWER_VA in values:
        va = int(values[Quantity.APPARENT_POWER_VA])
        frame.update({"IRMS1": max(1, round(va / VOLTAGE_V)), "URMS1": int(VOLTAGE_V), "PREF": 9, "PCOUP": 9,
                      "SINSTS": va})
    return frame


def _adsc(meter: Meter) -> str:
    return meter.device if meter.device.isdigit() else str(int.from_bytes(meter.device.encode()[-5:], "big"))[-12:].zfill(12)


def encode_tasmota(meter: Meter, time: datetime, values: Mapping[Quantity, float], tz: ZoneInfo) -> Message:
    """Tasmota ``tele/<device>/SENSOR``: an ENERGY block, or a TIC block for a Linky reader."""
    message: dict[str, object] = {"Time": _tasmota_time(time, tz)}
    if meter.format == "tasmota_tic":
        message["TIC"] = _tic_standard(meter, values)
    else:
        power_w = values[Quantity.POWER_W]
        apparent_va = values[Quantity.APPARENT_POWER_VA]
        message["ENERGY"] = {
            "TotalStartTime": "2019-03-14T10:00:00", "Total": values[Quantity.ENERGY_INDEX_KWH],
            "Power": power_w, "ApparentPower": apparent_va,
            "ReactivePower": round(float(np.sqrt(max(apparent_va**2 - power_w**2, 0.0)))),
            "Factor": round(power_w / apparent_va, 2) if apparent_va else 0.0,
            "Voltage": int(VOLTAGE_V), "Current": round(apparent_va / VOLTAGE_V, 3),
        }
    return Message(f"tele/{meter.device}/SENSOR", _json(message), _expected(meter.source, time, values), True)


def encode_teleinfo2mqtt(meter: Meter, time: datetime, values: Mapping[Quantity, float], tz: ZoneInfo) -> Message:
    """teleinfo2mqtt ``teleinfo/<ADSC>``: each label as {raw, value}; DATE carries the time."""
    local = time.astimezone(tz)
    summer = bool(local.dst())
    frame = _tic_standard(meter, values)
    body: dict[str, object] = {}
    for label, value in frame.items():
        if isinstance(value, int):
            width = 9 if label.startswith("EA") else 5
            body[label] = {"raw": str(value).zfill(width), "value": value}
        else:
            body[label] = {"raw": value, "value": int(value) if label in ("ADSC", "VTIC") else value.strip()}
    body["DATE"] = {
        "raw": ("E" if summer else "H") + local.strftime("%y%m%d%H%M%S"), "value": "",
        "timestamp": {"date": time.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z"),
                      "dst": "summer" if summer else "winter"},
    }
    return Message(f"teleinfo/{meter.device}", _json(body), _expected(meter.source, time, values), True)


def encode_shelly_gen1(meter: Meter, time: datetime, values: Mapping[Quantity, float],
                       energy_wmin: float) -> list[Message]:
    """Shelly EM Gen1: one bare number per topic (power W, energy W·min since last report, total Wh, voltage)."""
    base = f"shellies/{meter.device}/emeter/0"
    power = values[Quantity.POWER_W]
    total_wh = values[Quantity.ENERGY_INDEX_KWH] * 1000.0
    return [
        Message(f"{base}/power", f"{power:.2f}".encode(),
                (Reading(meter.source, time, Quantity.POWER_W, round(power, 2)),), False),
        Message(f"{base}/reactive_power", f"{power * 0.3:.2f}".encode(), (), False),
        Message(f"{base}/voltage", f"{VOLTAGE_V:.2f}".encode(), (), False),
        Message(f"{base}/energy", f"{energy_wmin:.0f}".encode(), (), False),
        Message(f"{base}/total", f"{total_wh:.1f}".encode(),
                (Reading(meter.source, time, Quantity.ENERGY_INDEX_KWH, round(total_wh, 1) / 1000.0),), False),
    ]


def encode_shelly_gen2(meter: Meter, time: datetime, values: Mapping[Quantity, float]) -> list[Message]:
    """Shelly Pro 3EM: ``<id>/status/em:0`` (powers) and ``<id>/status/emdata:0`` (Wh totals), one phase used."""
    power = values[Quantity.POWER_W]
    apparent = values[Quantity.APPARENT_POWER_VA]
    total_wh = round(values[Quantity.ENERGY_INDEX_KWH] * 1000.0, 2)
    current = round(apparent / VOLTAGE_V, 3)
    em = {"id": 0, "a_current": current, "a_voltage": VOLTAGE_V, "a_act_power": power, "a_aprt_power": apparent,
          "a_pf": round(power / apparent, 2) if apparent else 0.0,
          "b_current": 0.0, "b_voltage": VOLTAGE_V, "b_act_power": 0.0, "b_aprt_power": 0.0, "b_pf": 0.0,
          "c_current": 0.0, "c_voltage": VOLTAGE_V, "c_act_power": 0.0, "c_aprt_power": 0.0, "c_pf": 0.0,
          "n_current": None, "total_current": current, "total_act_power": power, "total_aprt_power": apparent,
          "user_calibrated_phase": []}
    emdata = {"id": 0, "a_total_act_energy": total_wh, "a_total_act_ret_energy": 0.0,
              "b_total_act_energy": 0.0, "b_total_act_ret_energy": 0.0,
              "c_total_act_energy": 0.0, "c_total_act_ret_energy": 0.0,
              "total_act": total_wh, "total_act_ret": 0.0}
    return [
        Message(f"{meter.device}/status/em:0", _json(em),
                (Reading(meter.source, time, Quantity.POWER_W, power),
                 Reading(meter.source, time, Quantity.APPARENT_POWER_VA, apparent)), False),
        Message(f"{meter.device}/status/emdata:0", _json(emdata),
                (Reading(meter.source, time, Quantity.ENERGY_INDEX_KWH, total_wh / 1000.0),), False),
    ]


def encode_zigbee2mqtt(meter: Meter, values: Mapping[Quantity, float], time: datetime) -> Message:
    """Zigbee2MQTT device state: a metering plug, or a LiXee ZLinky reading the Linky."""
    if meter.format == "z2m_zlinky":
        hc = Quantity.ENERGY_INDEX_OFFPEAK_KWH in values
        state: dict[str, object] = {
            "current_summ_delivered": values[Quantity.ENERGY_INDEX_KWH],
            "current_tarif": "HC.." if hc else "BASE",
            "apparent_power": values.get(Quantity.APPARENT_POWER_VA),
            "rms_current": round(values.get(Quantity.APPARENT_POWER_VA, 0.0) / VOLTAGE_V),
            "meter_serial_number": _adsc(meter), "linkquality": 87,
        }
        if hc:
            state["current_tier1_summ_delivered"] = values[Quantity.ENERGY_INDEX_OFFPEAK_KWH]
            state["current_tier2_summ_delivered"] = values[Quantity.ENERGY_INDEX_PEAK_KWH]
    else:
        state = {"energy": values[Quantity.ENERGY_INDEX_KWH], "power": values[Quantity.POWER_W],
                 "voltage": int(VOLTAGE_V), "current": round(values[Quantity.POWER_W] / VOLTAGE_V, 2),
                 "state": "ON", "linkquality": 120}
    return Message(f"zigbee2mqtt/{meter.device}", _json(state), _expected(meter.source, time, values), False)


def encode_esphome(meter: Meter, time: datetime, values: Mapping[Quantity, float]) -> list[Message]:
    """ESPHome sensor states; object ids follow coopwatt's ESPHome naming convention."""
    base = f"esphome/{meter.device}/sensor"
    out = [Message(f"{base}/wifi_signal/state", b"-67", (), False)]
    for quantity, value in values.items():
        if quantity == Quantity.ENERGY_INDEX_KWH:
            out.append(Message(f"{base}/total_energy/state", f"{value:.3f}".encode(),
                               (Reading(meter.source, time, quantity, value),), False))
        elif quantity == Quantity.POWER_W:
            out.append(Message(f"{base}/power/state", f"{value:.1f}".encode(),
                               (Reading(meter.source, time, quantity, round(value, 1)),), False))
        elif quantity == Quantity.VOLUME_INDEX_M3 and meter.kind == "water":
            litres = int(round(value * 1000.0))
            out.append(Message(f"{base}/water_total_l/state", str(litres).encode(),
                               (Reading(meter.source, time, quantity, litres / 1000.0),), False))
        elif quantity == Quantity.VOLUME_INDEX_M3:
            out.append(Message(f"{base}/gas_total/state", f"{value:.3f}".encode(),
                               (Reading(meter.source, time, quantity, value),), False))
    return out


def encode(meter: Meter, time: datetime, values: Mapping[Quantity, float], *, timed: bool, tz: ZoneInfo,
           energy_wmin: float = 0.0) -> list[Message]:
    """The messages one meter sends for one reading time.

    With ``timed`` every message must carry its time: devices whose format has none
    speak native JSON instead.
    """
    said = readings_for(meter, time, values)
    fmt = meter.format
    # Tasmota's local Time names two instants in the repeated autumn hour: say it in native JSON then.
    ambiguous = fmt.startswith("tasmota") and _ambiguous_local(time, tz)
    if (timed and fmt not in TIMED_FORMATS) or ambiguous:
        # History needs explicit times: devices without one speak native JSON for it.
        return [encode_native(meter, time, said)]
    if fmt == "native":
        return [encode_native(meter, time, said)]
    if fmt in ("tasmota_energy", "tasmota_tic"):
        return [encode_tasmota(meter, time, said, tz)]
    if fmt == "teleinfo2mqtt":
        return [encode_teleinfo2mqtt(meter, time, said, tz)]
    if fmt == "shelly_gen1":
        return encode_shelly_gen1(meter, time, said, energy_wmin)
    if fmt == "shelly_gen2":
        return encode_shelly_gen2(meter, time, said)
    if fmt in ("z2m_plug", "z2m_zlinky"):
        return [encode_zigbee2mqtt(meter, said, time)]
    if fmt == "esphome":
        return encode_esphome(meter, time, said)
    raise ValueError(f"unknown device format {fmt!r}")


def iter_messages(chunk: Chunk, meters: Sequence[Meter], *, timed: bool, tz: ZoneInfo | str) -> Iterator[Message]:
    """Every message of a chunk, time by time (as a fleet of devices would send them)."""
    zone = tz if isinstance(tz, ZoneInfo) else ZoneInfo(tz)
    lookups: list[tuple[Meter, list[tuple[Quantity, np.ndarray, np.ndarray]]]] = []
    positions = [(block, {source: row for row, source in enumerate(block.sources)})
                 for block in chunk.blocks if block.quantity != Quantity.TEMPERATURE_C]
    for meter in meters:
        columns = []
        for block, position in positions:
            row = position.get(meter.source)
            if row is not None:
                columns.append((block.quantity, block.values[row], block.present[row]))
        if columns:
            lookups.append((meter, columns))
    temperature = chunk.block(Quantity.TEMPERATURE_C)
    step_s = (chunk.times[1] - chunk.times[0]).total_seconds() if len(chunk.times) > 1 else 60.0
    for t, stamp in enumerate(chunk.times):
        time = stamp.to_pydatetime()
        if temperature is not None:
            for row, code in enumerate(temperature.sources):
                yield encode_temperature(code, time, float(temperature.values[row, t]))
        for meter, columns in lookups:
            values = {q: float(v[t]) for q, v, present in columns if present[t]}
            if not values:
                continue  # the meter is silent
            energy_wmin = values.get(Quantity.POWER_W, 0.0) * step_s / 60.0
            yield from encode(meter, time, values, timed=timed, tz=zone, energy_wmin=energy_wmin)



