"""The ingester under fuzzing: generated and mutated payloads of every format, on their real topics, through
the real ingester process over the real Mosquitto into the real PostgreSQL.

Asserted after every Hypothesis example (a batch of messages):

* no crash: the ingester process is alive and its writer thread too (``/health``);
* every message was processed (the ingester's received counter reaches the number published), and every
  message it rejected has a dead letter with a reason (rejected counter = dead letters, reasons non-empty);
* no wrong row: each valid generated message is stored exactly as an oracle written here (not the
  adapters' code) computes it, with no dead letter; every stored row keeps the data contract (a registered
  meter of a kind that takes the quantity, a finite value within the physical limits, not before the
  meter's installation nor in the future);
* memory flat: the ingester's RSS after a warm-up grows by less than ``RSS_GROWTH_LIMIT_MB`` (plus
  ``PER_NEW_METER_KB`` for each registered meter first heard of after it, whose last values are kept),
  although the mutants include 60 KB Linky frames to ever new ``teleinfo/<id>`` devices (issue 11: +76 MB
  for 300).

CI runs a fixed, derandomized profile (about a minute). A larger run, by hand::

    COOPWATT_FUZZ_EXAMPLES=200 COOPWATT_FUZZ_SEED=7 .venv/bin/python -m pytest tests/test_ingest_fuzz.py -q -s

(``COOPWATT_FUZZ_SEED`` set: a random run from that seed instead of the derandomized one; each example
publishes up to 2 × ``COOPWATT_FUZZ_MAX_PER_EXAMPLE`` messages, 150 by default.)
"""

from __future__ import annotations

import json
import math
import os
import random
import re
import signal
import urllib.request
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import psycopg
import pytest
from hypothesis import HealthCheck, Phase, given, seed
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from coopwatt.quantities import Quantity
from coopwatt.settings import Settings
from tests.mqtt_tools import ReliablePublisher
from tests.test_ingest_service import IngesterProcess, wait_until

Q = Quantity
EXAMPLES = int(os.environ.get("COOPWATT_FUZZ_EXAMPLES", "30"))
MAX_PER_EXAMPLE = int(os.environ.get("COOPWATT_FUZZ_MAX_PER_EXAMPLE", "150"))
SEED = os.environ.get("COOPWATT_FUZZ_SEED")
RSS_GROWTH_LIMIT_MB = 25.0
# Each valid message goes to a meter the process has not seen (the oracle needs its first reading), and the
# ingester rightly keeps the last value of every registered meter's indices: that much growth is expected.
PER_NEW_METER_KB = 4.0
WARM_UP_EXAMPLES = 3
PARIS = ZoneInfo("Europe/Paris")

# The limits of the ingester's default settings, restated here: the contract every stored row keeps.
MAX_POWER_W = 100_000.0
MAX_INDEX = 1e9
MAX_PER_YEAR = {Q.ENERGY_KWH: 500_000.0, Q.VOLUME_M3: 100_000.0}
MAX_FUTURE_S = 300.0
INSTALLED = datetime(2020, 1, 1, tzinfo=UTC)
ALLOWED = {
    "electricity": {Q.ENERGY_INDEX_KWH, Q.ENERGY_INDEX_OFFPEAK_KWH, Q.ENERGY_INDEX_PEAK_KWH, Q.ENERGY_KWH,
                    Q.POWER_W, Q.APPARENT_POWER_VA},
    "water": {Q.VOLUME_INDEX_M3, Q.VOLUME_M3},
}

FORMATS = ("native", "tasmota_energy", "tasmota_tic", "teleinfo", "shelly1", "shelly2", "zigbee", "esphome")


@dataclass(frozen=True)
class Generated:
    """One message: its topic (no prefix), payload, and for a valid one the readings it must give."""

    topic: str
    payload: bytes
    expected: dict[Quantity, float] | None  # None: a mutant, any outcome but a broken contract
    source: str | None = None
    device: str | None = None


# -- the oracle: what each format's valid message must store, computed from the values drawn -----------

def kwh_3(max_kwh: float = 900_000) -> st.SearchStrategy[float]:
    """An index in kWh with three decimals, as meters print them."""
    return st.integers(min_value=0, max_value=int(max_kwh * 1000)).map(lambda wh: wh / 1000)


POWER_W = st.integers(min_value=0, max_value=36_000)


@st.composite
def valid_native(draw: st.DrawFn, device: str, when: datetime) -> Generated:
    units = {"energy_index": ("kWh", "Wh", "MWh"), "energy_index_offpeak": ("kWh", "Wh"), "power": ("W", "kW"),
             "apparent_power": ("VA", "kVA"), "energy": ("kWh", "Wh")}
    quantity = {"energy_index": Q.ENERGY_INDEX_KWH, "energy_index_offpeak": Q.ENERGY_INDEX_OFFPEAK_KWH,
                "power": Q.POWER_W, "apparent_power": Q.APPARENT_POWER_VA, "energy": Q.ENERGY_KWH}
    to_canonical = {"kWh": 1.0, "W": 1.0, "VA": 1.0, "Wh": 1e-3, "MWh": 1e3, "kW": 1e3, "kVA": 1e3}
    names = draw(st.lists(st.sampled_from(sorted(units)), min_size=1, max_size=4, unique=True))
    items, expected = [], {}
    for name in names:
        unit = draw(st.sampled_from(units[name]))
        canonical = draw(POWER_W) if name in ("power", "apparent_power") else draw(kwh_3(400))
        value = canonical / to_canonical[unit]
        # The ingester divides by 1000 for Wh (exact decimals) and multiplies otherwise, as done here.
        expected[quantity[name]] = value / 1000 if unit == "Wh" else value * to_canonical[unit]
        items.append({"quantity": name, "value": value, "unit": unit})
    payload = json.dumps({"time": when.isoformat(), "readings": items}).encode()
    return Generated(f"coopwatt/{device}/reading", payload, expected, device)


@st.composite
def valid_tasmota_energy(draw: st.DrawFn, device: str, when: datetime) -> Generated:
    total = draw(kwh_3())
    powers = draw(st.lists(POWER_W.map(float), min_size=1, max_size=3))
    apparent = draw(POWER_W)
    energy = {"Total": total, "Power": powers if len(powers) > 1 else powers[0], "ApparentPower": apparent,
              "Today": 1.2, "Voltage": 231}
    local = when.astimezone(PARIS).replace(tzinfo=None, microsecond=0)
    payload = json.dumps({"Time": local.isoformat(), "ENERGY": energy}).encode()
    expected = {Q.ENERGY_INDEX_KWH: total, Q.POWER_W: sum(powers), Q.APPARENT_POWER_VA: float(apparent)}
    return Generated(f"tele/{device}/SENSOR", payload, expected, device)


@st.composite
def valid_tasmota_tic(draw: st.DrawFn, device: str, when: datetime) -> Generated:
    hchc, hchp = draw(st.integers(0, 400_000_000)), draw(st.integers(0, 400_000_000))
    papp = draw(st.integers(0, 12_000))
    as_text = draw(st.booleans())
    tic = {"ADCO": "021861234567", "OPTARIF": "HC..", "ISOUSC": 45,
           "HCHC": f"{hchc:09d}" if as_text else hchc, "HCHP": f"{hchp:09d}" if as_text else hchp,
           "PTEC": "HP..", "PAPP": f"{papp:05d}" if as_text else papp}
    payload = json.dumps({"TIC": tic}).encode()
    expected = {Q.ENERGY_INDEX_KWH: (hchc + hchp) / 1000, Q.ENERGY_INDEX_OFFPEAK_KWH: hchc / 1000,
                Q.ENERGY_INDEX_PEAK_KWH: hchp / 1000, Q.APPARENT_POWER_VA: float(papp)}
    return Generated(f"tele/{device}/SENSOR", payload, expected, device)


@st.composite
def valid_teleinfo(draw: st.DrawFn, device: str, when: datetime) -> Generated:
    base, papp = draw(st.integers(0, 900_000_000)), draw(st.integers(0, 12_000))
    frame = {"ADCO": {"raw": "021861234567", "value": 21861234567}, "OPTARIF": {"raw": "BASE", "value": "BASE"},
             "BASE": {"raw": f"{base:09d}", "value": base}, "PAPP": {"raw": f"{papp:05d}", "value": papp},
             "MOTDETAT": {"raw": "000000", "value": 0}}
    expected = {Q.ENERGY_INDEX_KWH: base / 1000, Q.APPARENT_POWER_VA: float(papp)}
    return Generated(f"teleinfo/{device}", json.dumps(frame).encode(), expected, device)


@st.composite
def valid_shelly1(draw: st.DrawFn, device: str, when: datetime) -> Generated:
    if draw(st.booleans()):
        total_wh = draw(st.integers(0, 900_000_000)) / 10
        return Generated(f"shellies/{device}/emeter/0/total", f"{total_wh}".encode(),
                         {Q.ENERGY_INDEX_KWH: total_wh / 1000}, f"{device}/emeter/0")
    power = draw(st.integers(0, 3_600_000)) / 100
    return Generated(f"shellies/{device}/emeter/0/power", f"{power:.2f}".encode(), {Q.POWER_W: power},
                     f"{device}/emeter/0")


@st.composite
def valid_shelly2(draw: st.DrawFn, device: str, when: datetime) -> Generated:
    if draw(st.booleans()):
        total_wh = draw(st.integers(0, 900_000_000)) / 100
        return Generated(f"{device}/status/emdata:0", json.dumps({"id": 0, "total_act": total_wh}).encode(),
                         {Q.ENERGY_INDEX_KWH: total_wh / 1000}, f"{device}/em:0")
    act, aprt = draw(POWER_W) / 10, draw(POWER_W) / 10
    payload = json.dumps({"id": 0, "total_act_power": act, "total_aprt_power": aprt, "total_current": 3.1}).encode()
    return Generated(f"{device}/status/em:0", payload, {Q.POWER_W: act, Q.APPARENT_POWER_VA: aprt}, f"{device}/em:0")


@st.composite
def valid_zigbee(draw: st.DrawFn, device: str, when: datetime) -> Generated:
    if draw(st.booleans()):
        energy, power = draw(kwh_3()), draw(POWER_W)
        payload = json.dumps({"energy": energy, "power": power, "voltage": 230, "linkquality": 120}).encode()
        return Generated(f"zigbee2mqtt/{device}", payload, {Q.ENERGY_INDEX_KWH: energy, Q.POWER_W: float(power)},
                         device)
    tier1, tier2, apparent = draw(kwh_3(400_000)), draw(kwh_3(400_000)), draw(POWER_W)
    payload = json.dumps({"current_tier1_summ_delivered": tier1, "current_tier2_summ_delivered": tier2,
                          "current_tarif": "HC..", "apparent_power": apparent}).encode()
    expected = {Q.ENERGY_INDEX_KWH: tier1 + tier2, Q.ENERGY_INDEX_OFFPEAK_KWH: tier1,
                Q.ENERGY_INDEX_PEAK_KWH: tier2, Q.APPARENT_POWER_VA: float(apparent)}
    return Generated(f"zigbee2mqtt/{device}", payload, expected, device)


@st.composite
def valid_esphome(draw: st.DrawFn, device: str, when: datetime) -> Generated:
    if draw(st.booleans()):
        wh = draw(st.integers(0, 900_000_000))
        return Generated(f"esphome/{device}/sensor/house_energy_wh/state", str(wh).encode(),
                         {Q.ENERGY_INDEX_KWH: wh / 1000}, device)
    power = draw(st.integers(0, 360_000)) / 10
    return Generated(f"esphome/{device}/sensor/power/state", f"{power:.1f}".encode(), {Q.POWER_W: power}, device)


def _with_device(make: Callable[[str, datetime], st.SearchStrategy[Generated]]
                 ) -> Callable[[str, datetime], st.SearchStrategy[Generated]]:
    """The format's strategy, its messages remembering the device id they were drawn for."""
    def strategy(device: str, when: datetime) -> st.SearchStrategy[Generated]:
        return make(device, when).map(lambda g: Generated(g.topic, g.payload, g.expected, g.source, device))
    return strategy


VALID: dict[str, Callable[[str, datetime], st.SearchStrategy[Generated]]] = {
    "native": valid_native, "tasmota_energy": valid_tasmota_energy, "tasmota_tic": valid_tasmota_tic,
    "teleinfo": valid_teleinfo, "shelly1": valid_shelly1, "shelly2": valid_shelly2, "zigbee": valid_zigbee,
    "esphome": valid_esphome,
}
VALID = {fmt: _with_device(make) for fmt, make in VALID.items()}


def source_of(fmt: str, device: str) -> str:
    """The meter source a valid message of this format on this device id is stored under."""
    return {"shelly1": f"{device}/emeter/0", "shelly2": f"{device}/em:0"}.get(fmt, device)


# -- mutants ----------------------------------------------------------------------------------------------

JSON_KEYS = st.sampled_from(["readings", "quantity", "value", "unit", "time", "ENERGY", "TIC", "Total", "Power",
                             "ApparentPower", "HCHC", "HCHP", "BASE", "EAST", "EASF01", "PAPP", "SINSTS", "OPTARIF",
                             "NGTF", "ADCO", "raw", "DATE", "timestamp", "energy", "power", "apparent_power",
                             "current_summ_delivered", "current_tier1_summ_delivered", "current_tarif",
                             "total_act", "total_act_power", "total_aprt_power", "a_total_act_energy", "Time"])
WEIRD_UNITS = st.sampled_from(["W)", "(((", "W/0", "delta_degC", "V*A", "volt*ampere", "percent*W", "1_000",
                               "kW*h", "", " ", "\u0000", "\ud800", "W" * 5000, "kWh", "Wh", "VA", "°C", "K", "L"])
# Python refuses to turn integers of more than 4,300 digits into text: longer ones are spliced in as bytes.
HUGE = st.integers(min_value=20, max_value=4000).map(lambda n: int("9" * n))
HUGE_DIGITS = st.integers(min_value=20, max_value=6000).map(lambda n: b"9" * n)
SCALARS = st.one_of(
    st.none(), st.booleans(), st.integers(), HUGE, st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=30), WEIRD_UNITS, st.sampled_from(["energy_index", "power", "volume_index", "temperature",
                                                         "2026-01-05T10:00:00+01:00", "2026-01-05T10:00:00",
                                                         "9999-12-31T23:59:59Z", "0001-01-01T00:00:00+14:00",
                                                         "HC..", "BASE", "TEMPO", "000123456", "-1", "1e400"]))
JSON_VALUES = st.recursive(SCALARS, lambda children: st.one_of(
    st.lists(children, max_size=5), st.dictionaries(st.one_of(JSON_KEYS, st.text(max_size=8)), children, max_size=6)),
    max_leaves=25)


def _dumps(value: object) -> bytes:
    try:
        return json.dumps(value, allow_nan=True).encode("utf-8", "surrogatepass")
    except (ValueError, RecursionError):
        return b"{}"


@st.composite
def mutant(draw: st.DrawFn, topics: list[str], devices: list[str], base: Generated) -> Generated:
    """A valid message mutated, a random JSON document, random bytes, or an oversized TIC frame.

    It goes to the topic of a mutant device of the same format, or to any mutant topic, never to the valid
    message's device (whose stored values the oracle checks).
    """
    kind = draw(st.sampled_from(["truncate", "huge_number", "deep", "flip", "splice", "json", "bytes", "unit",
                                 "big_tic", "number_text", "escapes"]))
    assert base.device is not None
    if draw(st.booleans()):
        topic = draw(st.sampled_from(topics))
    else:
        topic = base.topic.replace(base.device, draw(st.sampled_from(devices)), 1)
    payload = base.payload
    if kind == "truncate":
        payload = payload[: draw(st.integers(0, max(0, len(payload) - 1)))]
    elif kind == "huge_number":
        digits = list(re.finditer(rb"\d+", payload))
        if digits:
            match = draw(st.sampled_from(digits))
            payload = payload[: match.start()] + draw(HUGE_DIGITS) + payload[match.end():]
    elif kind == "deep":
        depth = draw(st.integers(10, 6000))
        opener = draw(st.sampled_from([b"[", b'{"a":']))
        closer = b"]" if opener == b"[" else b"}"
        payload = opener * depth + payload + closer * depth * draw(st.integers(0, 1))
    elif kind == "flip":
        data = bytearray(payload)
        for _ in range(draw(st.integers(1, 5))):
            if data:
                data[draw(st.integers(0, len(data) - 1))] = draw(st.integers(0, 255))
        payload = bytes(data)
    elif kind == "splice":
        at = draw(st.integers(0, len(payload)))
        payload = payload[:at] + _dumps(draw(JSON_VALUES)) + payload[at:]
    elif kind == "json":
        payload = _dumps(draw(JSON_VALUES))
    elif kind == "bytes":
        payload = draw(st.binary(max_size=200))
    elif kind == "unit":
        replacement = b'"unit": ' + _dumps(draw(WEIRD_UNITS))
        payload = re.sub(rb'"unit": "[^"]*"', lambda _: replacement, payload)
        if payload == base.payload:
            payload = _dumps({"readings": [{"quantity": draw(st.sampled_from(["power", "temperature", "energy"])),
                                            "value": draw(SCALARS), "unit": draw(WEIRD_UNITS)}]})
    elif kind == "big_tic":
        labels = draw(st.integers(100, 1400))
        frame = {f"X{n:04d}": {"raw": "y" * 40, "value": "y" * 40} for n in range(labels)}
        frame["HCHC"] = {"raw": "1", "value": 1}
        topic, payload = f"teleinfo/fz-new-{uuid.uuid4().hex[:12]}", json.dumps(frame).encode()
    elif kind == "escapes":  # brackets enough for the depth scan, then a string that never closes
        repeated = draw(st.sampled_from([b'\\"', b"\\\n", b'"\\']))
        payload = b"[" * draw(st.integers(17, 40)) + b'"' + repeated * draw(st.integers(1, 20_000))
    elif kind == "number_text":
        payload = draw(st.sampled_from([b"1_000", b"nan", b"inf", b"-0", b"1e999", b"\xd9\xa1", b" 12 ", b"0x10",
                                        b"1" * 41, b"-5", b"1e308"]))
    return Generated(topic, payload, None)


# -- the contract and the ingester's own counts --------------------------------------------------------------

def contract_violation(kind: str, installed: datetime, quantity: Quantity, time: datetime, value: float,
                       now: datetime) -> str | None:
    """Why a stored row breaks the data contract; None if it keeps it."""
    if quantity not in ALLOWED[kind]:
        return f"{quantity.name} on a {kind} meter"
    if not math.isfinite(value):
        return "not finite"
    if value < 0:
        return "negative"
    if quantity in (Q.POWER_W, Q.APPARENT_POWER_VA) and value > MAX_POWER_W:
        return "power above the limit"
    if quantity.cumulative and value > MAX_INDEX:
        return "index above the limit"
    if quantity in MAX_PER_YEAR and value > MAX_PER_YEAR[quantity]:
        return "interval above a year"
    if time < installed or (time - now).total_seconds() > MAX_FUTURE_S:
        return "time outside the meter's life"
    return None


def metric(port: int, name: str) -> float:
    """Sum of a Prometheus counter's samples, from the ingester's /metrics."""
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as response:
        text = response.read().decode()
    return sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines()
               if line.startswith(name) and not line.startswith("#"))


def rss_mb(pid: int) -> float:
    """Resident memory of a process, from /proc."""
    with open(f"/proc/{pid}/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    raise AssertionError("no VmRSS")


def register(url: str, sources_by_kind: dict[str, list[str]]) -> None:
    """Register many meters at once, in one building."""
    with psycopg.connect(url) as conn:
        residence = conn.execute("INSERT INTO residence (code, name) VALUES ('FZ', 'Fuzz') RETURNING id").fetchone()[0]
        building = conn.execute("INSERT INTO building (residence_id, code) VALUES (%s, 'A') RETURNING id",
                                (residence,)).fetchone()[0]
        for kind, sources in sources_by_kind.items():
            conn.execute("INSERT INTO meter (building_id, kind, mode, source, installed_at)"
                         " SELECT %s, %s, 'index', s, %s FROM unnest(%s::text[]) AS s",
                         (building, kind, INSTALLED, sources))


@pytest.mark.timeout(max(300, 15 * EXAMPLES))  # a larger profile by hand runs longer than the suite's 300 s
def test_fuzzed_payloads_never_crash_store_no_wrong_row_and_dead_letter_every_rejection(
        settings: Settings, broker, topic_prefix: str) -> None:
    valid_devices = [f"fz-v{n}" for n in range(EXAMPLES * MAX_PER_EXAMPLE + 10 * MAX_PER_EXAMPLE)]
    mutant_devices = [f"fz-m{n}" for n in range(8)]
    register(settings.database_url, {
        # Each device id under the source of every format, so that any format drawn can use the next one.
        "electricity": list(dict.fromkeys(source_of(fmt, d) for d in valid_devices + mutant_devices for fmt in FORMATS)),
        "water": ["fz-water"],
    })
    mutant_topics = ([f"coopwatt/{d}/reading" for d in mutant_devices] + [f"tele/{d}/SENSOR" for d in mutant_devices]
                     + [f"teleinfo/{d}" for d in mutant_devices] + [f"zigbee2mqtt/{d}" for d in mutant_devices]
                     + [f"shellies/{d}/emeter/0/total" for d in mutant_devices]
                     + [f"{d}/status/em:0" for d in mutant_devices]
                     + [f"esphome/{d}/sensor/energy/state" for d in mutant_devices]
                     + ["coopwatt/fz-water/reading", "coopwatt/FZ/temperature", "coopwatt/stranger/reading",
                        "tele/stranger/SENSOR", "teleinfo/stranger"])
    process = IngesterProcess(settings)
    port = process.metrics_port
    publisher = ReliablePublisher(broker.host, broker.port)
    wait_until(publisher._client.is_connected, 10, "the publisher's CONNACK")
    state = {"published": 0, "valid": 0, "examples": 0, "rss_after_warm_up": 0.0, "valid_at_warm_up": 0,
             "rss_max": 0.0}
    expected: dict[str, dict[Quantity, float]] = {}
    base_time = datetime.now(UTC) - timedelta(days=1)

    # Generation only: the ingester and its database keep the state of every earlier example, so replaying a
    # shrunk example would not reproduce a failure; the failing example's messages are in the report as drawn.
    profile = dict(max_examples=EXAMPLES, deadline=None, database=None, phases=[Phase.generate],
                   suppress_health_check=list(HealthCheck), derandomize=SEED is None)

    @hypothesis_settings(**profile)
    @given(st.data())
    def example(data: st.DataObject) -> None:
        messages: list[Generated] = []
        for _ in range(data.draw(st.integers(MAX_PER_EXAMPLE // 4, MAX_PER_EXAMPLE // 2), label="valid")):
            n = state["valid"]
            state["valid"] += 1
            fmt = data.draw(st.sampled_from(FORMATS), label="format")
            messages.append(data.draw(VALID[fmt](valid_devices[n], base_time + timedelta(seconds=n))))
        valid = list(messages)
        for _ in range(data.draw(st.integers(MAX_PER_EXAMPLE // 2, MAX_PER_EXAMPLE), label="mutants")):
            base = data.draw(st.sampled_from(valid))
            messages.append(data.draw(mutant(mutant_topics, mutant_devices, base)))
        random.Random(state["examples"]).shuffle(messages)
        publisher.publish_all([(f"{topic_prefix}/{m.topic}", m.payload) for m in messages])
        state["published"] += len(messages)
        for m in messages:
            if m.expected is not None:
                expected[m.source] = m.expected
        wait_until(lambda: metric(port, "coopwatt_ingest_messages_received_total") >= state["published"], 120,
                   "the ingester to process every message published")
        check(messages)
        state["examples"] += 1
        rss = rss_mb(process.process.pid)
        state["rss_max"] = max(state["rss_max"], rss)
        if state["examples"] == WARM_UP_EXAMPLES:
            state["rss_after_warm_up"] = rss
            state["valid_at_warm_up"] = state["valid"]

    def check(messages: list[Generated]) -> None:
        assert process.process.poll() is None, "the ingester exited"
        health = process.health()
        assert health["writer_alive"], health
        now = datetime.now(UTC)
        with psycopg.connect(settings.database_url) as conn:
            rows = conn.execute("SELECT m.source, m.kind, m.installed_at, r.quantity_id, r.time, r.value"
                                " FROM reading r JOIN meter m ON m.id = r.meter_id").fetchall()
            letters = conn.execute("SELECT topic, payload, reason FROM dead_letter").fetchall()
        stored: dict[str, dict[Quantity, float]] = {}
        for source, kind, installed, quantity_id, time, value in rows:
            quantity = Q(quantity_id)
            problem = contract_violation(kind, installed, quantity, time, value, now)
            assert problem is None, (problem, source, quantity, time, value)
            if source in expected:
                assert quantity not in stored.setdefault(source, {}), ("two rows for one valid message", source)
                stored[source][quantity] = value
        # Every valid message stored exactly as the oracle says, and never dead-lettered.
        for source, values in expected.items():
            got = stored.get(source, {})
            assert got.keys() == values.keys(), (source, got, values)
            for quantity, value in values.items():
                assert got[quantity] == pytest.approx(value, rel=1e-12, abs=1e-12), (source, quantity, got, values)
        dead = {(topic, bytes(payload)) for topic, payload, _ in letters}
        for m in messages:
            if m.expected is not None:
                assert (f"{m.topic}", m.payload) not in dead, ("a valid message dead-lettered", m)
        # Every rejected message has a dead letter, each with a reason.
        assert all(reason.strip() for _, _, reason in letters)
        rejected = metric(port, "coopwatt_ingest_messages_rejected_total")
        assert rejected == len(letters), (rejected, len(letters))

    try:
        run = seed(int(SEED))(example) if SEED is not None else example
        run()
        assert state["examples"] >= min(EXAMPLES, WARM_UP_EXAMPLES + 1), state
        final = rss_mb(process.process.pid)
        growth = max(final, state["rss_max"]) - state["rss_after_warm_up"]
        limit = RSS_GROWTH_LIMIT_MB + PER_NEW_METER_KB * (state["valid"] - state["valid_at_warm_up"]) / 1024
        print(f"fuzz: {state['examples']} examples, {state['published']} messages, {state['valid']} valid; "
              f"RSS {state['rss_after_warm_up']:.1f} MB after warm-up, {final:.1f} MB at the end "
              f"(peak {state['rss_max']:.1f} MB, limit +{limit:.1f} MB)")
        assert growth < limit, state
    finally:
        publisher.close()
        process.process.send_signal(signal.SIGTERM)
        process.process.wait(60)
