"""The simulator's messages, read back by the ingester's adapters, give exactly the readings intended."""

from __future__ import annotations

import math
from collections import Counter
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from coopwatt.quantities import Quantity
from coopwatt.simulator.encode import Message, iter_messages
from coopwatt.simulator.faults import plan_faults
from coopwatt.simulator.residence import ELECTRICITY_FORMATS, make_residences
from coopwatt.simulator.series import Simulation
from ingest.adapters import AdapterState, parse_message

TZ = ZoneInfo("Europe/Paris")
RECEIVED = datetime(2030, 1, 1, tzinfo=UTC)  # far from the simulated times: timed messages must not use it


def _key(reading):
    return (reading.source, int(reading.quantity))


def _assert_round_trip(message: Message, state: AdapterState) -> None:
    received = RECEIVED if message.timed else message.expected[0].time if message.expected else RECEIVED
    parsed = parse_message(message.topic, message.payload, received, state, TZ)
    assert sorted(map(_key, parsed)) == sorted(map(_key, message.expected)), message.topic
    expected = {_key(r): r for r in message.expected}
    for reading in parsed:
        want = expected[_key(reading)]
        # Compare instants: an aware time in the repeated autumn hour never compares equal across zones.
        assert reading.time.timestamp() == want.time.timestamp(), (message.topic, reading, want)
        assert math.isclose(reading.value, want.value, rel_tol=1e-12, abs_tol=1e-9), (message.topic, reading, want)


@pytest.fixture(scope="module")
def residence():
    return make_residences(27, seed=3)


@pytest.mark.parametrize("timed", [False, True], ids=["live-mix", "timed"])
def test_every_message_parses_to_the_intended_readings(residence, timed):
    # A window over the autumn clock change, with faults, at the live and the backfill steps.
    start = datetime(2025, 10, 25, 20, tzinfo=UTC)
    end = datetime(2025, 10, 26, 6, tzinfo=UTC)
    faults = plan_faults(residence, start, end, seed=3, step_s=600)
    sim = Simulation(residence, start, seed=3, faults=faults)
    meters = [m for r in residence for m in r.meters]
    state = AdapterState()
    counts: Counter[str] = Counter()
    topics_by_format: Counter[str] = Counter()
    fmt_of = {m.source: m.format for m in meters}
    for until, step_s in ((datetime(2025, 10, 26, 2, tzinfo=UTC), 600), (end, 1800)):
        chunk = sim.advance(until, step_s)
        for message in iter_messages(chunk, meters, timed=timed, tz=TZ):
            _assert_round_trip(message, state)
            counts["messages"] += 1
            counts["readings"] += len(message.expected)
            for reading in message.expected[:1]:
                topics_by_format[fmt_of.get(reading.source, "temperature")] += 1
    assert counts["readings"] > 1000
    if not timed:
        # The live mix speaks every device format.
        assert set(ELECTRICITY_FORMATS) <= set(topics_by_format), topics_by_format


def test_timed_messages_always_carry_their_time(residence):
    start = datetime(2025, 3, 29, 22, tzinfo=UTC)  # spring clock change
    sim = Simulation(residence, start, seed=3)
    chunk = sim.advance(datetime(2025, 3, 30, 4, tzinfo=UTC), 1800)
    meters = [m for r in residence for m in r.meters]
    messages = list(iter_messages(chunk, meters, timed=True, tz=TZ))
    assert messages and all(m.timed for m in messages)
    # Every meter has its history over MQTT: Shelly sources hold '/', percent-encoded in one native topic level.
    sent = {r.source for m in messages for r in m.expected}
    assert {m.source for m in meters} <= sent
    shelly = {m.source for m in meters if m.format.startswith("shelly")}
    assert shelly and all("/" in source for source in shelly)
    native_topics = [m.topic for m in messages if any(r.source in shelly for r in m.expected)]
    assert native_topics and all(t.startswith("coopwatt/") and t.count("/") == 2 and "%2F" in t
                                 for t in native_topics)


def test_linky_formats_report_watt_hours_and_volt_amperes(residence):
    sim = Simulation(residence, datetime(2025, 1, 10, tzinfo=UTC), seed=3)
    chunk = sim.advance(datetime(2025, 1, 10, 1, tzinfo=UTC), 1800)
    meters = [m for r in residence for m in r.meters if m.format in ("tasmota_tic", "teleinfo2mqtt", "z2m_zlinky")]
    messages = list(iter_messages(chunk, meters, timed=False, tz=TZ))
    quantities = {r.quantity for m in messages for r in m.expected if not r.source.startswith("residence:")}
    assert Quantity.APPARENT_POWER_VA in quantities and Quantity.POWER_W not in quantities
    for m in messages:
        for r in m.expected:
            if r.quantity == Quantity.ENERGY_INDEX_KWH:
                assert abs(r.value * 1000 - round(r.value * 1000)) < 1e-6  # whole Wh


def test_messages_say_the_same_indices_as_the_series_stored_directly(residence):
    # The demo writes history straight to the database and then goes live over MQTT: at the
    # hand-over every index must carry on exactly, whatever the device format.
    start = datetime(2025, 1, 10, tzinfo=UTC)
    faults = plan_faults(residence, start, start + timedelta(hours=6), seed=3, step_s=1800)
    chunk = Simulation(residence, start, seed=3, faults=faults).advance(start + timedelta(hours=6), 1800)
    frame = chunk.to_frame().set_index(["source", "quantity", "time"])["value"]
    meters = [m for r in residence for m in r.meters]
    compared = 0
    for timed in (False, True):
        for message in iter_messages(chunk, meters, timed=timed, tz=TZ):
            for reading in message.expected:
                if reading.quantity in (Quantity.APPARENT_POWER_VA, Quantity.TEMPERATURE_C):
                    continue
                stored = frame[(reading.source, int(reading.quantity), reading.time)]
                tolerance = 0.006 if reading.quantity == Quantity.POWER_W else 1e-9
                assert abs(stored - reading.value) <= tolerance, (message.topic, reading, stored)
                compared += 1
    assert compared > 500


def test_offpeak_contracts_total_is_the_sum_of_their_registers(residence):
    start = datetime(2025, 1, 1, tzinfo=UTC)
    end = start + timedelta(days=20)
    faults = plan_faults(residence, start, end, seed=3, per_kind=4, step_s=1800)
    chunk = Simulation(residence, start, seed=3, faults=faults).advance(end, 1800)
    offpeak = chunk.block(Quantity.ENERGY_INDEX_OFFPEAK_KWH)
    assert offpeak is not None and len(offpeak.sources) > 3
    for source in offpeak.sources:
        total = chunk.series(source, Quantity.ENERGY_INDEX_KWH)
        parts = chunk.series(source, Quantity.ENERGY_INDEX_OFFPEAK_KWH) + chunk.series(
            source, Quantity.ENERGY_INDEX_PEAK_KWH)
        assert (total - parts).abs().max() < 1e-6, source
