"""Payload adapters: each format from fixtures built on its documentation, and malformed input of each kind."""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from coopwatt.quantities import Quantity
from ingest.adapters import AdapterState, parse_message
from ingest.adapters.esphome import quantity_for
from ingest.adapters.native import QUANTITY_BY_NAME, encode_reading, topic_level
from ingest.reading import PayloadError, Reading

Q = Quantity
PARIS = ZoneInfo("Europe/Paris")
RECEIVED = datetime(2025, 1, 31, 7, 0, 5, tzinfo=UTC)
PAYLOADS = Path(__file__).parent / "data" / "payloads"


def fixture(name: str) -> bytes:
    """A payload file from tests/data/payloads, byte for byte."""
    return (PAYLOADS / name).read_bytes()


def parse(topic: str, payload: bytes, state: AdapterState | None = None,
          received_at: datetime = RECEIVED) -> list[Reading]:
    return parse_message(topic, payload, received_at, state if state is not None else AdapterState(), PARIS)


def by_quantity(readings: list[Reading]) -> dict[Quantity, float]:
    """Quantity → value, checking each quantity appears once."""
    values = {r.quantity: r.value for r in readings}
    assert len(values) == len(readings), f"a quantity appears twice: {readings}"
    return values


def assert_all(readings: list[Reading], *, source: str, time: datetime) -> None:
    assert readings, "expected readings"
    for reading in readings:
        assert reading.source == source
        assert reading.time == time
        assert reading.time.tzinfo is not None


# -- native coopwatt JSON ---------------------------------------------------------------------------

class TestNative:
    def test_reading_fixture_converts_units_and_uses_the_message_time(self) -> None:
        readings = parse("coopwatt/dwelling-12-elec/reading", fixture("native_reading.json"))
        assert_all(readings, source="dwelling-12-elec",
                   time=datetime(2025, 1, 31, 8, 0, tzinfo=timezone(timedelta(hours=1))))
        assert by_quantity(readings) == {
            Q.ENERGY_INDEX_KWH: 1234.5,
            Q.ENERGY_INDEX_OFFPEAK_KWH: 456.7,  # sent as 456700 Wh
            Q.POWER_W: 1200.0,  # sent as 1.2 kW
            Q.VOLUME_INDEX_M3: 98.765,  # sent as 98765 L
        }

    def test_time_defaults_to_receive_time_and_unit_to_canonical(self) -> None:
        payload = b'{"readings":[{"quantity":"apparent_power","value":850}]}'
        readings = parse("coopwatt/m1/reading", payload)
        assert readings == [Reading("m1", RECEIVED, Q.APPARENT_POWER_VA, 850.0)]

    def test_a_reading_may_carry_its_own_time(self) -> None:
        payload = (b'{"time":"2025-01-31T08:00:00+01:00","readings":['
                   b'{"quantity":"energy","value":0.2,"time":"2025-01-31T07:30:00+01:00"},'
                   b'{"quantity":"energy","value":0.3}]}')
        readings = parse("coopwatt/m1/reading", payload)
        assert [r.time.isoformat() for r in readings] == ["2025-01-31T07:30:00+01:00", "2025-01-31T08:00:00+01:00"]

    def test_temperature_fixture_is_a_residence_reading(self) -> None:
        readings = parse("coopwatt/les-tilleuls/temperature", fixture("native_temperature.json"))
        assert readings == [Reading("residence:les-tilleuls", datetime(2025, 1, 31, 6, 0, tzinfo=UTC),
                                    Q.TEMPERATURE_C, -3.5)]

    def test_temperature_as_a_bare_number(self) -> None:
        assert parse("coopwatt/les-tilleuls/temperature", b"-1.25") == [
            Reading("residence:les-tilleuls", RECEIVED, Q.TEMPERATURE_C, -1.25)]

    def test_a_source_with_slashes_travels_percent_encoded_in_one_level(self) -> None:
        source = "shellyem-A1B2C3/emeter/0"
        assert topic_level(source) == "shellyem-A1B2C3%2Femeter%2F0"
        payload = b'{"time":"2025-01-31T08:00:00+01:00","readings":[{"quantity":"energy_index","value":12.5}]}'
        readings = parse(f"coopwatt/{topic_level(source)}/reading", payload)
        assert [r.source for r in readings] == [source]
        assert parse("coopwatt/100%25-solar/reading", b'{"readings":[]}') == []  # '%' itself is encoded too
        assert [r.source for r in parse("coopwatt/100%25-solar/reading", payload)] == ["100%-solar"]

    def test_a_device_level_that_is_not_percent_encoded_utf8_says_why(self) -> None:
        with pytest.raises(PayloadError, match="not percent-encoded UTF-8"):
            parse("coopwatt/meter%FF/reading", b'{"readings":[]}')

    @given(st.text(min_size=1, max_size=40))
    def test_any_source_round_trips_through_its_topic_level(self, source: str) -> None:
        level = topic_level(source)
        assert "/" not in level and "+" not in level and "#" not in level
        payload = b'{"readings":[{"quantity":"power","value":1}]}'
        assert [r.source for r in parse(f"coopwatt/{level}/reading", payload)] == [source]

    def test_empty_readings_list_is_valid_and_stores_nothing(self) -> None:
        assert parse("coopwatt/m1/reading", b'{"readings":[]}') == []

    @pytest.mark.parametrize(
        ("payload", "reason"),
        [
            (b'{"readings": [', "malformed JSON"),
            (b'{"readings": "\xc3\x28"}', "malformed JSON: payload is not UTF-8"),
            (b"[1, 2]", "expected a JSON object, got an array"),
            (b'{"time":"2025-01-31T08:00:00+01:00"}', "missing field 'readings'"),
            (b'{"readings": {"quantity": "power"}}', "'readings' must be an array"),
            (b'{"readings": [42]}', r"readings\[0\] must be an object"),
            (b'{"readings": [{"value": 1}]}', r"readings\[0\]: missing field 'quantity'"),
            (b'{"readings": [{"quantity": "power"}]}', r"readings\[0\]: missing field 'value'"),
            (b'{"readings": [{"quantity": "voltage", "value": 230}]}', "unknown quantity 'voltage'"),
            (b'{"readings": [{"quantity": "power", "value": "12"}]}', r"non-numeric value for readings\[0\].value"),
            (b'{"readings": [{"quantity": "power", "value": true}]}', "non-numeric value"),
            (b'{"readings": [{"quantity": "power", "value": 1, "unit": "VA"}]}', "apparent power, not active"),
            (b'{"readings": [{"quantity": "volume_index", "value": 1, "unit": "kWh"}]}', "is energy, not volume"),
            (b'{"time": "2025-01-31T08:00:00", "readings": []}', "time has no UTC offset"),
            (b'{"time": "yesterday", "readings": []}', "time is not an ISO 8601 timestamp"),
            (b'{"time": 1738306800, "readings": []}', "time must be an ISO 8601 text"),
        ],
    )
    def test_malformed_native_payloads_say_why(self, payload: bytes, reason: str) -> None:
        with pytest.raises(PayloadError, match=reason):
            parse("coopwatt/m1/reading", payload)

    @pytest.mark.parametrize(("payload", "reason"), [
        (b'"cold"', "non-numeric value for temperature"),
        ('{"unit": "°C"}'.encode(), "missing field 'value'"),
        (b'{"value": 3, "unit": "kWh"}', "is energy, not temperature"),
    ])
    def test_malformed_temperatures_say_why(self, payload: bytes, reason: str) -> None:
        with pytest.raises(PayloadError, match=reason):
            parse("coopwatt/les-tilleuls/temperature", payload)

    @given(
        values=st.lists(
            st.tuples(st.sampled_from(list(QUANTITY_BY_NAME.values())),
                      st.floats(min_value=-1e12, max_value=1e12, allow_nan=False)),
            max_size=8,
        ),
        time=st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1),
                          timezones=st.sampled_from([UTC, PARIS, timezone(timedelta(hours=-5))])),
    )
    def test_round_trip(self, values: list[tuple[Quantity, float]], time: datetime) -> None:
        readings = parse("coopwatt/dev/reading", encode_reading(values, time))
        assert [(r.quantity, r.value) for r in readings] == values
        # The same instant: a wall time in a DST gap never compares equal across zones (PEP 495), so compare in UTC.
        assert all(r.time.astimezone(UTC) == time.astimezone(UTC) and r.source == "dev" for r in readings)


# -- Tasmota --------------------------------------------------------------------------------------

class TestTasmota:
    def test_energy_block_gives_index_power_and_apparent_power(self) -> None:
        readings = parse("tele/sonoff_desk/SENSOR", fixture("tasmota_energy.json"))
        # Tasmota's Time is local time without offset: read in the cooperative's zone.
        assert_all(readings, source="sonoff_desk", time=datetime(2023, 5, 19, 20, 52, 56, tzinfo=PARIS))
        assert readings[0].time.utcoffset() == timedelta(hours=2)  # summer time
        assert by_quantity(readings) == {Q.ENERGY_INDEX_KWH: 514.153, Q.POWER_W: 56.0, Q.APPARENT_POWER_VA: 92.0}

    def test_multi_channel_arrays_are_summed(self) -> None:
        values = by_quantity(parse("tele/dual/SENSOR", fixture("tasmota_energy_two_channels.json")))
        assert values[Q.ENERGY_INDEX_KWH] == pytest.approx(2.813 + 0.254)
        assert values[Q.POWER_W] == 57.0
        assert values[Q.APPARENT_POWER_VA] == 76.0

    def test_sensor_message_without_energy_stores_nothing(self) -> None:
        assert parse("tele/tasmota/SENSOR", fixture("tasmota_analog.json")) == []

    def test_missing_time_falls_back_to_receive_time(self) -> None:
        readings = parse("tele/plug/SENSOR", b'{"ENERGY":{"Total":1.5,"Power":3}}')
        assert_all(readings, source="plug", time=RECEIVED)

    def test_tic_historic_hc_registers_total_and_apparent_power(self) -> None:
        readings = parse("tele/denky_D6C0C0/SENSOR", fixture("tasmota_tic_historique.json"))
        assert_all(readings, source="denky_D6C0C0", time=datetime(2021, 10, 26, 17, 28, 45, tzinfo=PARIS))
        hchc_wh, hchp_wh = 920_750, 2_275_560
        assert by_quantity(readings) == {
            Q.ENERGY_INDEX_OFFPEAK_KWH: hchc_wh / 1000,
            Q.ENERGY_INDEX_PEAK_KWH: hchp_wh / 1000,
            Q.ENERGY_INDEX_KWH: (hchc_wh + hchp_wh) / 1000,
            Q.APPARENT_POWER_VA: 170.0,  # PAPP is VA
        }

    def test_tic_power_is_apparent_and_the_energy_block_beside_it_is_ignored(self) -> None:
        # The Teleinfo driver copies PAPP (VA) into ENERGY.Power and keeps its own Total: neither is used.
        readings = parse("tele/denky/SENSOR", fixture("tasmota_tic_historique.json"))
        assert Q.POWER_W not in by_quantity(readings)
        assert 9098.245 not in [r.value for r in readings]

    def test_partial_tic_messages_merge_into_the_last_known_state(self) -> None:
        state = AdapterState()
        parse("tele/denky/SENSOR", fixture("tasmota_tic_historique.json"), state)
        later = RECEIVED + timedelta(minutes=1)
        only_papp = parse("tele/denky/SENSOR", fixture("tasmota_tic_changed_papp.json"), state, later)
        assert only_papp == [Reading("denky", later, Q.APPARENT_POWER_VA, 160.0)]
        changed = by_quantity(parse("tele/denky/SENSOR", fixture("tasmota_tic_changed_hchp.json"), state, later))
        # HCHC did not change, so it was not sent: the total uses its last known value.
        assert changed == {
            Q.ENERGY_INDEX_PEAK_KWH: 2275.613,
            Q.ENERGY_INDEX_KWH: (920_750 + 2_275_613) / 1000,
            Q.APPARENT_POWER_VA: 180.0,
        }

    def test_partial_state_is_kept_per_device(self) -> None:
        state = AdapterState()
        parse("tele/denky/SENSOR", fixture("tasmota_tic_historique.json"), state)
        other = by_quantity(parse("tele/other/SENSOR", fixture("tasmota_tic_changed_hchp.json"), state))
        # Nothing is known of 'other''s HCHC: no total that would silently leave it out.
        assert other == {Q.ENERGY_INDEX_PEAK_KWH: 2275.613, Q.APPARENT_POWER_VA: 180.0}

    def test_tic_zero_padded_text_values_and_base_option(self) -> None:
        readings = parse("tele/compteur/SENSOR", fixture("tasmota_tic_base_text_values.json"))
        assert by_quantity(readings) == {Q.ENERGY_INDEX_KWH: 7970.903, Q.APPARENT_POWER_VA: 780.0}

    def test_tic_standard_mode_east_total_and_hc_hp_registers(self) -> None:
        readings = parse("tele/linky/SENSOR", fixture("tasmota_tic_standard.json"))
        assert_all(readings, source="linky", time=datetime(2024, 2, 12, 7, 15, tzinfo=PARIS))
        assert by_quantity(readings) == {
            Q.ENERGY_INDEX_KWH: 3839.865,  # EAST
            Q.ENERGY_INDEX_OFFPEAK_KWH: 1266.150,  # EASF01 (+ odd registers, all 0)
            Q.ENERGY_INDEX_PEAK_KWH: 2573.715,  # EASF02 (+ even registers, all 0)
            Q.APPARENT_POWER_VA: 780.0,  # SINSTS is VA
        }

    def test_tic_standard_partial_register_waits_for_a_full_frame(self) -> None:
        state = AdapterState()
        partial = parse("tele/linky/SENSOR", b'{"TIC":{"NGTF":"TEMPO","EASF02":2573800,"EAST":3839950}}', state)
        assert by_quantity(partial) == {Q.ENERGY_INDEX_KWH: 3839.95}
        parse("tele/linky/SENSOR", fixture("tasmota_tic_standard.json"), state)
        after = parse("tele/linky/SENSOR", b'{"TIC":{"EASF02":2573900}}', state)
        assert by_quantity(after) == {Q.ENERGY_INDEX_PEAK_KWH: 2573.9}

    @given(
        hchc_steps=st.lists(st.integers(min_value=0, max_value=5000), min_size=1, max_size=6),
        hchp_steps=st.lists(st.integers(min_value=0, max_value=5000), min_size=1, max_size=6),
        order=st.randoms(use_true_random=False),
    )
    def test_partial_messages_give_the_same_indices_as_full_frames(
        self, hchc_steps: list[int], hchp_steps: list[int], order: object
    ) -> None:
        # After one full frame, any sequence of "changed labels only" messages yields, for every
        # register update, the total a full frame with the same registers would have given.
        state = AdapterState()
        hchc, hchp = 920_750, 2_275_560
        parse("tele/d/SENSOR", fixture("tasmota_tic_historique.json"), state)
        updates = [("HCHC", s) for s in hchc_steps] + [("HCHP", s) for s in hchp_steps]
        order.shuffle(updates)  # type: ignore[attr-defined]
        for label, step in updates:
            if label == "HCHC":
                hchc += step
            else:
                hchp += step
            payload = json.dumps({"TIC": {label: hchc if label == "HCHC" else hchp}}).encode()
            values = by_quantity(parse("tele/d/SENSOR", payload, state))
            assert values[Q.ENERGY_INDEX_KWH] == (hchc + hchp) / 1000
            register = Q.ENERGY_INDEX_OFFPEAK_KWH if label == "HCHC" else Q.ENERGY_INDEX_PEAK_KWH
            assert values[register] == (hchc if label == "HCHC" else hchp) / 1000

    def test_tic_time_in_autumn_repeated_hour_is_read_as_the_first_one(self) -> None:
        readings = parse("tele/linky/SENSOR", b'{"Time":"2024-10-27T02:30:00","TIC":{"PAPP":100}}')
        assert readings[0].time.astimezone(UTC) == datetime(2024, 10, 27, 0, 30, tzinfo=UTC)

    @pytest.mark.parametrize(("payload", "reason"), [
        (b'{"Time":"2021-10-26T17:28:45","ENERGY":', "malformed JSON"),
        (b'{"ENERGY":{"Total":"lots"}}', "non-numeric value for ENERGY.Total"),
        (b'{"ENERGY":{"Power":[]}}', "ENERGY.Power is an empty array"),
        (b'{"ENERGY":[1,2]}', "ENERGY must be an object"),
        (b'{"TIC":"HCHC=1"}', "TIC must be an object"),
        (b'{"TIC":{"HCHC":"12a"}}', "non-numeric value for TIC label HCHC"),
        (b'{"Time":"26/10/2021 17:28","TIC":{"PAPP":1}}', "Time is not an ISO 8601 timestamp"),
    ])
    def test_malformed_tasmota_payloads_say_why(self, payload: bytes, reason: str) -> None:
        with pytest.raises(PayloadError, match=reason):
            parse("tele/plug/SENSOR", payload)


# -- teleinfo2mqtt --------------------------------------------------------------------------------

class TestTeleinfo2mqtt:
    def test_historic_frame(self) -> None:
        readings = parse("teleinfo/12345678901", fixture("teleinfo_historique.json"))
        assert_all(readings, source="12345678901", time=RECEIVED)
        assert by_quantity(readings) == {
            Q.ENERGY_INDEX_OFFPEAK_KWH: 9058.688,
            Q.ENERGY_INDEX_PEAK_KWH: 9752.846,
            Q.ENERGY_INDEX_KWH: (9_058_688 + 9_752_846) / 1000,
            Q.APPARENT_POWER_VA: 4110.0,
        }

    def test_standard_frame_uses_the_meter_date(self) -> None:
        readings = parse("teleinfo/12345678901", fixture("teleinfo_standard.json"))
        assert_all(readings, source="12345678901", time=datetime(2022, 6, 9, 6, 5, 31, tzinfo=UTC))
        assert by_quantity(readings) == {
            Q.ENERGY_INDEX_KWH: 24779.773,
            Q.ENERGY_INDEX_OFFPEAK_KWH: 9785.769,
            Q.ENERGY_INDEX_PEAK_KWH: 14994.004,
            Q.APPARENT_POWER_VA: 857.0,
        }

    def test_base_calendar_gives_no_offpeak_split(self) -> None:
        readings = parse("teleinfo/12345678901", fixture("teleinfo_standard_base.json"))
        assert by_quantity(readings) == {Q.ENERGY_INDEX_KWH: 1234.567, Q.APPARENT_POWER_VA: 420.0}

    def test_value_left_as_text_is_read_from_raw(self) -> None:
        payload = b'{"BASE":{"raw":"007970903","value":"007970903"}}'
        assert parse("teleinfo/1", payload) == [Reading("1", RECEIVED, Q.ENERGY_INDEX_KWH, 7970.903)]

    @pytest.mark.parametrize(("payload", "reason"), [
        (b"HCHC 9058688", "malformed JSON"),
        (b'{"HCHC": 9058688}', "label HCHC: expected an object with 'raw' and 'value'"),
        (b'{"HCHC": {"unit": "Wh"}}', "label HCHC: missing field 'value'"),
        (b'{"PAPP": {"raw": "A", "value": "A"}}', "non-numeric value for TIC label PAPP"),
    ])
    def test_malformed_teleinfo_payloads_say_why(self, payload: bytes, reason: str) -> None:
        with pytest.raises(PayloadError, match=reason):
            parse("teleinfo/12345678901", payload)


# -- Shelly ---------------------------------------------------------------------------------------

class TestShellyGen1:
    def test_emeter_total_is_wh(self) -> None:
        [reading] = parse("shellies/shellyem-B9F3D1/emeter/0/total", b"1563741.3")
        assert (reading.source, reading.time, reading.quantity) == ("shellyem-B9F3D1/emeter/0", RECEIVED,
                                                                    Q.ENERGY_INDEX_KWH)
        assert reading.value == pytest.approx(1563.7413, rel=1e-15)

    def test_emeter_power_is_w(self) -> None:
        assert parse("shellies/shellyem-B9F3D1/emeter/1/power", b"452.60") == [
            Reading("shellyem-B9F3D1/emeter/1", RECEIVED, Q.POWER_W, 452.6)]

    def test_relay_energy_is_watt_minutes(self) -> None:
        [reading] = parse("shellies/shellyplug-s-C18B12/relay/0/energy", b"120000")
        assert reading == Reading("shellyplug-s-C18B12/relay/0", RECEIVED, Q.ENERGY_INDEX_KWH, 2.0)

    def test_relay_power(self) -> None:
        assert parse("shellies/shelly1pm-BA1936/relay/0/power", b"23.5") == [
            Reading("shelly1pm-BA1936/relay/0", RECEIVED, Q.POWER_W, 23.5)]

    @pytest.mark.parametrize("value_name", ["voltage", "reactive_power", "pf", "total_returned", "energy",
                                            "returned_energy"])
    def test_other_emeter_values_are_not_stored(self, value_name: str) -> None:
        # emeter 'energy' (watt-minutes since last report) would be a second, disagreeing index beside 'total'.
        assert parse(f"shellies/shellyem-B9F3D1/emeter/0/{value_name}", b"231.5") == []

    def test_relay_command_topic_is_not_a_reading(self) -> None:
        assert parse("shellies/shelly1pm-BA1936/relay/0/command", b"on") == []

    def test_non_numeric_value_says_where(self) -> None:
        with pytest.raises(PayloadError, match="non-numeric value for shellies/shellyem-1/emeter/0/power: 'n/a'"):
            parse("shellies/shellyem-1/emeter/0/power", b"n/a")


class TestShellyGen2:
    def test_em_status_gives_total_active_and_apparent_power(self) -> None:
        readings = parse("shellypro3em-c8f09e8812a4/status/em:0", fixture("shelly_gen2_em.json"))
        assert_all(readings, source="shellypro3em-c8f09e8812a4/em:0", time=RECEIVED)
        assert by_quantity(readings) == {Q.POWER_W: 715.5, Q.APPARENT_POWER_VA: 2619.9}

    def test_emdata_total_act_is_wh_and_belongs_to_the_em_meter(self) -> None:
        readings = parse("shellypro3em-c8f09e8812a4/status/emdata:0", fixture("shelly_gen2_emdata.json"))
        assert readings == [Reading("shellypro3em-c8f09e8812a4/em:0", RECEIVED, Q.ENERGY_INDEX_KWH, 8.36937)]

    def test_emdata_without_total_sums_the_phases(self) -> None:
        data = json.loads(fixture("shelly_gen2_emdata.json"))
        del data["total_act"]
        [reading] = parse("pro3em/status/emdata:0", json.dumps(data).encode())
        assert reading.value == pytest.approx((2776.49 + 2791.82 + 2801.06) / 1000)

    def test_em1_and_em1data(self) -> None:
        power = parse("shellyproem50-08f9e0e5/status/em1:0", fixture("shelly_gen2_em1.json"))
        assert by_quantity(power) == {Q.POWER_W: 452.3, Q.APPARENT_POWER_VA: 464.2}
        energy = parse("shellyproem50-08f9e0e5/status/em1data:0", fixture("shelly_gen2_em1data.json"))
        assert energy == [Reading("shellyproem50-08f9e0e5/em1:0", RECEIVED, Q.ENERGY_INDEX_KWH, 123.45678)]
        assert {r.source for r in power} == {"shellyproem50-08f9e0e5/em1:0"}

    @pytest.mark.parametrize(("topic", "payload", "reason"), [
        ("pro3em/status/em:0", b"{", "malformed JSON"),
        ("pro3em/status/em:0", b'{"total_act_power":"high"}', "non-numeric value for em:0.total_act_power"),
        ("pro3em/status/emdata:0", b'{"id":0,"errors":["phase_sequence"]}', "emdata:0 status has no energy total"),
    ])
    def test_malformed_gen2_payloads_say_why(self, topic: str, payload: bytes, reason: str) -> None:
        with pytest.raises(PayloadError, match=reason):
            parse(topic, payload)


# -- Zigbee2MQTT ----------------------------------------------------------------------------------

class TestZigbee2mqtt:
    def test_plug_energy_kwh_and_power_w(self) -> None:
        readings = parse("zigbee2mqtt/lave-linge", fixture("zigbee2mqtt_plug.json"))
        assert_all(readings, source="lave-linge", time=RECEIVED)
        assert by_quantity(readings) == {Q.ENERGY_INDEX_KWH: 12.34, Q.POWER_W: 56.0}

    def test_zlinky_hchp_tiers_are_offpeak_and_peak(self) -> None:
        readings = parse("zigbee2mqtt/linky", fixture("zigbee2mqtt_zlinky_hchp.json"))
        assert by_quantity(readings) == {
            Q.ENERGY_INDEX_OFFPEAK_KWH: 9058.688,  # current_tier1_summ_delivered = HCHC
            Q.ENERGY_INDEX_PEAK_KWH: 9752.846,  # current_tier2_summ_delivered = HCHP
            Q.ENERGY_INDEX_KWH: pytest.approx(9058.688 + 9752.846),
            Q.APPARENT_POWER_VA: 2470.0,  # apparent_power: VA, not W
        }

    def test_zlinky_base_current_summ_delivered_is_the_total(self) -> None:
        readings = parse("zigbee2mqtt/linky", fixture("zigbee2mqtt_zlinky_base.json"))
        assert by_quantity(readings) == {Q.ENERGY_INDEX_KWH: 7970.903, Q.APPARENT_POWER_VA: 420.0}

    def test_device_without_metering_stores_nothing(self) -> None:
        assert parse("zigbee2mqtt/porte-entree", fixture("zigbee2mqtt_door_sensor.json")) == []

    def test_null_values_are_skipped(self) -> None:
        assert parse("zigbee2mqtt/plug", b'{"energy":null,"power":12}') == [
            Reading("plug", RECEIVED, Q.POWER_W, 12.0)]

    def test_non_numeric_energy_says_which_field(self) -> None:
        with pytest.raises(PayloadError, match="non-numeric value for energy: '12 kWh'"):
            parse("zigbee2mqtt/plug", b'{"energy":"12 kWh"}')

    def test_availability_topic_is_not_a_device(self) -> None:
        with pytest.raises(PayloadError, match="unknown topic"):
            parse("zigbee2mqtt/plug/availability", b'{"state":"online"}')


# -- ESPHome --------------------------------------------------------------------------------------

class TestESPHome:
    @pytest.mark.parametrize(("object_id", "payload", "quantity", "value"), [
        ("total_energy", b"1234.567", Q.ENERGY_INDEX_KWH, 1234.567),
        ("house_energy_wh", b"1234567", Q.ENERGY_INDEX_KWH, 1234.567),
        ("power", b"812.4", Q.POWER_W, 812.4),
        ("heat_pump_power_kw", b"1.5", Q.POWER_W, 1500.0),
        ("linky_apparent_power", b"780", Q.APPARENT_POWER_VA, 780.0),
        ("water_meter", b"123.456", Q.VOLUME_INDEX_M3, 123.456),
        ("water_total_l", b"123456", Q.VOLUME_INDEX_M3, 123.456),
        ("gas_volume", b"4321.1", Q.VOLUME_INDEX_M3, 4321.1),
    ])
    def test_object_id_convention(self, object_id: str, payload: bytes, quantity: Quantity, value: float) -> None:
        readings = parse(f"esphome/compteur-b12/sensor/{object_id}/state", payload)
        assert readings == [Reading("compteur-b12", RECEIVED, quantity, pytest.approx(value))]  # type: ignore[arg-type]

    @pytest.mark.parametrize("object_id", ["temperature", "wifi_signal", "uptime", "total_daily_energy",
                                           "energy_today"])
    def test_sensors_outside_the_convention_are_not_stored(self, object_id: str) -> None:
        assert quantity_for(object_id) is None
        assert parse(f"esphome/node/sensor/{object_id}/state", b"12.5") == []

    def test_nan_means_no_value_yet(self) -> None:
        assert parse("esphome/node/sensor/power/state", b"nan") == []

    def test_non_numeric_state_says_where(self) -> None:
        with pytest.raises(PayloadError, match="non-numeric value for esphome/node/sensor/power/state"):
            parse("esphome/node/sensor/power/state", b"unavailable")


# -- routing --------------------------------------------------------------------------------------

@pytest.mark.parametrize("topic", [
    "coopwatt/m1/status", "tele/plug/STATE", "stat/plug/RESULT", "shellies/x/light/0/power",
    "esphome/node/binary_sensor/door/state", "pro3em/status/switch:0", "random", "",
])
def test_unknown_topics_are_refused_with_the_topic_named(topic: str) -> None:
    with pytest.raises(PayloadError, match="unknown topic"):
        parse(topic, b"{}")


def test_every_time_returned_is_timezone_aware() -> None:
    cases = [
        ("coopwatt/m/reading", "native_reading.json"), ("tele/t/SENSOR", "tasmota_tic_historique.json"),
        ("teleinfo/1", "teleinfo_standard.json"), ("d/status/em:0", "shelly_gen2_em.json"),
        ("zigbee2mqtt/z", "zigbee2mqtt_plug.json"),
    ]
    for topic, name in cases:
        for reading in parse(topic, fixture(name)):
            assert reading.time.utcoffset() is not None
            assert math.isfinite(reading.value)


# -- ESPHome's default topic layout (issue 11) ----------------------------------------------------

@pytest.mark.parametrize("topic", ["compteur-b12/sensor/house_energy_wh/state", "esphome/compteur-b12/sensor/house_energy_wh/state"])
def test_esphome_default_and_prefixed_topics_read_the_same(topic: str) -> None:
    assert parse(topic, b"1234.5") == [Reading("compteur-b12", RECEIVED, Q.ENERGY_INDEX_KWH, pytest.approx(1.2345))]  # type: ignore[arg-type]


def test_esphome_default_topic_error_names_the_topic_as_sent() -> None:
    with pytest.raises(PayloadError, match="non-numeric value for node/sensor/power/state"):
        parse("node/sensor/power/state", b"unavailable")


@pytest.mark.parametrize("topic", ["node/binary_sensor/door/state", "node/sensor/power", "/sensor/power/state",
                                   "node/sensor//state", "a/node/sensor/power/state"])
def test_other_esphome_like_topics_stay_unknown(topic: str) -> None:
    with pytest.raises(PayloadError, match="unknown topic"):
        parse(topic, b"1")


def test_shelly_gen1_emeter_total_is_the_index_and_energy_is_not_a_second_one() -> None:
    assert parse("shellies/em/emeter/1/total", b"2500") == [
        Reading("em/emeter/1", RECEIVED, Q.ENERGY_INDEX_KWH, pytest.approx(2.5))]  # type: ignore[arg-type]
    assert parse("shellies/em/emeter/1/energy", b"600") == []
    assert parse("shellies/plug/relay/0/energy", b"600") == [
        Reading("plug/relay/0", RECEIVED, Q.ENERGY_INDEX_KWH, pytest.approx(0.01))]  # type: ignore[arg-type]
