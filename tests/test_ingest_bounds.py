"""Bounded inputs, in the pure core: every crafted payload is a PayloadError with a reason, never another exception."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from coopwatt.quantities import Quantity
from coopwatt.settings import SettingsError, load_settings
from ingest.adapters import AdapterState, InputLimits, parse_message
from ingest.adapters.teleinfo import TicStates
from ingest.batch import Message, build_rows, first_seen, parse_batch
from ingest.reading import PayloadError, Reading
from ingest.units import to_canonical
from ingest.validate import MeterInfo, ValidationLimits, check_reading
from ingest.writer import input_limits

Q = Quantity
NOW = datetime(2026, 1, 5, 12, tzinfo=UTC)
ELEC = MeterInfo(meter_id=7, kind="electricity", mode="index", installed_at=datetime(2020, 1, 1, tzinfo=UTC))
WATER = MeterInfo(meter_id=8, kind="water", mode="index", installed_at=datetime(2020, 1, 1, tzinfo=UTC))


def parse(topic: str, payload: bytes, state: AdapterState | None = None) -> list[Reading]:
    return parse_message(topic, payload, NOW, state if state is not None else AdapterState(), UTC)


def native(value: str, unit: str | None = None, quantity: str = "power") -> bytes:
    unit_part = f', "unit": {json.dumps(unit)}' if unit is not None else ""
    return f'{{"readings": [{{"quantity": "{quantity}", "value": {value}{unit_part}}}]}}'.encode()


# The payloads that stopped the ingester (issue 11), each on a format that reads it, with the reason it gets.
POISON = [
    ("coopwatt/m1/reading", native("9" * 400), "more than 40 digits"),
    ("coopwatt/m1/reading", native("9" * 5000), "more than 40 digits"),
    ("tele/plug/SENSOR", b'{"ENERGY": {"Total": ' + b"7" * 5000 + b"}}", "more than 40 digits"),
    ("zigbee2mqtt/plug", b'{"energy": ' + b"1" * 5000 + b"}", "more than 40 digits"),
    ("teleinfo/0218", b'{"EAST": {"raw": "1", "value": ' + b"5" * 400 + b"}}", "more than 40 digits"),
    ("shellies/em/emeter/0/total", b"9" * 400, "more than 40 digits"),
    ("dev/status/em:0", b'{"total_act_power": ' + b"9" * 400 + b"}", "more than 40 digits"),
    ("esphome/n/sensor/energy/state", b"9" * 5000, "more than 40 digits"),
    ("coopwatt/m1/reading", b"[" * 5000, "nested 5000 levels deep"),
    ("zigbee2mqtt/plug", b'{"a":' * 3000 + b"1" + b"}" * 3000, "nested 3000 levels deep"),
    ("coopwatt/m1/reading", native("1", "W)"), "unknown unit 'W)'"),
    ("coopwatt/m1/reading", native("1", "((("), "unknown unit '((('"),
    ("coopwatt/m1/reading", native("1", "W/0"), "unknown unit 'W/0'"),
    ("coopwatt/R1/temperature", b'{"value": 3, "unit": "delta_degC"}', "unknown unit 'delta_degC'"),
    ("coopwatt/m1/reading", native("3", "delta_degC", "temperature"), "unknown unit 'delta_degC'"),
    ("coopwatt/m1/reading", native("1", "V*A", "apparent_power"), "unknown unit 'V*A'"),
    ("coopwatt/m1/reading", native("1", "V*A"), "unknown unit 'V*A'"),
    ("coopwatt/m1/reading", native("1", "volt*ampere"), "unknown unit 'volt*ampere'"),
    ("coopwatt/m1/reading", native("100", "percent*W"), "unknown unit 'percent*W'"),
    ("coopwatt/m1/reading", native("1", "1_000"), "unknown unit '1_000'"),
    ("coopwatt/m1/reading", b'{"readings": [{"quantity": "power", "value": 1, "unit": ["W"]}]}', "must be a text"),
    ("coopwatt/m1/reading", b'{"readings": [' + b",".join([b'{"quantity":"power","value":1}'] * 1001) + b"]}",
     "1001 readings in one message"),
    ("coopwatt/m1/reading", b" " * 70_000, "larger than 65536 bytes"),
    ("teleinfo/0218", b'{"HCHC": {"raw": "1_000", "value": "1_000"}}', "non-numeric value for TIC label HCHC"),
    ("shellies/em/emeter/0/power", b"1_000", "non-numeric value"),
    ("shellies/em/emeter/0/power", "١٢٣".encode(), "non-numeric value"),
]


@pytest.mark.parametrize(("topic", "payload", "reason"), POISON, ids=[f"{i}-{p[0]}" for i, p in enumerate(POISON)])
def test_each_crafted_payload_is_a_payload_error_with_its_reason(topic: str, payload: bytes, reason: str) -> None:
    with pytest.raises(PayloadError, match=re.escape(reason)):
        parse(topic, payload)


def test_a_topic_longer_than_the_limit_is_refused() -> None:
    with pytest.raises(PayloadError, match="topic of 301 characters"):
        parse("coopwatt/" + "d" * 284 + "/reading", native("1"))


def test_brackets_inside_strings_are_not_nesting() -> None:
    # Many brackets, but all in texts: the depth scan skips strings (escaped quotes included).
    text = json.dumps("[[[[" * 10 + '\\"' + "{{{{" * 10)
    payload = f'{{"time": {text}, "readings": []}}'.encode()
    with pytest.raises(PayloadError, match="not an ISO 8601 timestamp"):
        parse("coopwatt/m1/reading", payload)


def test_limits_come_from_settings_and_apply() -> None:
    limits = input_limits(load_settings({}, ingest_max_json_depth=4, ingest_max_number_digits=20,
                                        ingest_max_readings_per_message=2, ingest_max_payload_bytes=2048))
    assert limits == InputLimits(max_payload_bytes=2048, max_json_depth=4, max_number_digits=20,
                                 max_text_chars=256, max_readings=2)
    state = AdapterState(limits=limits)
    with pytest.raises(PayloadError, match="3 readings in one message"):
        parse("coopwatt/m1/reading",
              b'{"readings": [' + b",".join([b'{"quantity":"power","value":1}'] * 3) + b"]}", state)
    with pytest.raises(PayloadError, match="more than 20 digits"):
        parse("coopwatt/m1/reading", native("1" * 21), state)
    with pytest.raises(PayloadError, match="nested 5 levels"):
        parse("zigbee2mqtt/x", b'{"a": [[[[1]]]], "b": {}, "c": {}}', state)
    assert parse("coopwatt/m1/reading", native("1" * 20), state)[0].value == float("1" * 20)


@pytest.mark.parametrize(("unit", "quantity", "expected"), [
    ("J", Q.ENERGY_KWH, 1 / 3.6e6), ("MJ", Q.ENERGY_INDEX_KWH, 1 / 3.6), ("GJ", Q.ENERGY_KWH, 1e9 / 3.6e6),
    ("K", Q.TEMPERATURE_C, 1 - 273.15), ("ºF", Q.TEMPERATURE_C, (1 - 32) * 5 / 9),
])
def test_units_meters_send_beyond_the_old_list(unit: str, quantity: Quantity, expected: float) -> None:
    assert to_canonical(1.0, unit, quantity) == pytest.approx(expected, rel=1e-12)


@pytest.mark.parametrize("unit", ["V*A", "volt*ampere", "percent*W", "1_000", "kW*h", "kilowatt_hour", "W/0",
                                  "W)", "(((", "delta_degC", "meter**3", "watt", "mW", "Wh/h"])
def test_unit_expressions_outside_the_allow_list_are_refused(unit: str) -> None:
    for quantity in Q:
        with pytest.raises(PayloadError, match="unknown unit"):
            to_canonical(1.0, unit, quantity)


def test_a_refused_unit_names_what_is_accepted() -> None:
    with pytest.raises(PayloadError, match=r"accepted for apparent power: VA, kVA\)"):
        to_canonical(1.0, "V*A", Q.APPARENT_POWER_VA)


# -- memory: per-device TIC state ---------------------------------------------------------------------

def _big_frame(n_labels: int) -> bytes:
    frame = {f"L{i:05d}": {"raw": "x" * 40, "value": "x" * 40} for i in range(n_labels)}
    frame["OPTARIF"] = {"raw": "HC.." + "y" * 500, "value": "HC.." + "y" * 500}
    frame["HCHC"] = {"raw": "000001000", "value": 1000}
    return json.dumps(frame).encode()


def test_tic_state_is_kept_only_for_devices_the_writer_keeps() -> None:
    registered = {"0218"}
    state = AdapterState(tic=TicStates(max_devices=100, keep=registered.__contains__))
    for n in range(300):
        parse(f"teleinfo/new{n}", _big_frame(50), state)
    assert len(state.tic) == 0
    parse("teleinfo/0218", _big_frame(50), state)
    assert len(state.tic) == 1
    kept = state.tic.for_device("0218")
    # Only the labels that make readings are remembered, the tariff name cut short.
    assert kept.numbers == {"HCHC": 1000.0}
    assert set(kept.texts) == {"OPTARIF"} and len(kept.texts["OPTARIF"]) <= 32


def test_tic_state_is_bounded_in_count_least_recent_first() -> None:
    state = AdapterState(tic=TicStates(max_devices=10))
    for n in range(25):
        parse(f"tele/d{n}/SENSOR", b'{"TIC": {"HCHC": 1, "HCHP": 2, "OPTARIF": "HC.."}}', state)
        parse("tele/d0/SENSOR", b'{"TIC": {"PAPP": 100}}', state)  # d0 is heard all the time
    assert len(state.tic) == 10
    assert "d0" in state.tic and "d24" in state.tic and "d1" not in state.tic


def test_a_device_not_kept_still_gives_the_readings_of_a_full_frame() -> None:
    state = AdapterState(tic=TicStates(keep=lambda source: False))
    readings = parse("tele/d/SENSOR", b'{"TIC": {"ADCO": "1", "OPTARIF": "BASE", "BASE": 7970903, "PAPP": 780}}',
                     state)
    assert {r.quantity: r.value for r in readings} == {Q.ENERGY_INDEX_KWH: 7970.903, Q.APPARENT_POWER_VA: 780.0}


# -- physical limits ------------------------------------------------------------------------------------

LIMITS = ValidationLimits(max_power_w=36_000, max_energy_kwh_per_year=20_000, max_volume_m3_per_year=500,
                          max_index_kwh=1e6, max_index_m3=1e5, min_temperature_c=-30, max_temperature_c=45)


def _check(quantity: Quantity, value: float, meter: MeterInfo | None = ELEC, previous: Reading | None = None,
           source: str = "dev") -> str | None:
    return check_reading(Reading(source, NOW - timedelta(minutes=1), quantity, value), meter, previous, NOW, LIMITS)


def test_an_index_beyond_any_register_is_refused_even_as_a_first_reading() -> None:
    assert _check(Q.ENERGY_INDEX_KWH, 999_999.0) is None
    reason = _check(Q.ENERGY_INDEX_KWH, 1.7e305)
    assert reason is not None and "largest index a meter can show" in reason
    reason = _check(Q.VOLUME_INDEX_M3, 2e5, WATER)
    assert reason is not None and "largest index" in reason


def test_interval_values_above_a_year_of_use_are_refused() -> None:
    assert _check(Q.ENERGY_KWH, 19_000) is None
    assert "a year's plausible consumption" in (_check(Q.ENERGY_KWH, 21_000) or "")
    assert "a year's plausible consumption" in (_check(Q.VOLUME_M3, 501, WATER) or "")


def test_a_long_silence_allows_a_year_of_growth_per_year_not_the_power_limit() -> None:
    # 200 days silent: 36 kW for 200 days would allow 172,800 kWh; a year's limit is 20,000 kWh.
    previous = Reading("dev", NOW - timedelta(days=200), Q.ENERGY_INDEX_KWH, 1000.0)
    assert _check(Q.ENERGY_INDEX_KWH, 1000.0 + 19_000, previous=previous) is None
    reason = _check(Q.ENERGY_INDEX_KWH, 1000.0 + 25_000, previous=previous)
    assert reason is not None and "more than 20000 kWh a year" in reason
    # Two years and a day silent: three started years of growth.
    previous = Reading("dev", NOW - timedelta(days=731), Q.ENERGY_INDEX_KWH, 1000.0)
    assert _check(Q.ENERGY_INDEX_KWH, 1000.0 + 59_000, previous=previous) is None
    water = Reading("dev", NOW - timedelta(days=400), Q.VOLUME_INDEX_M3, 10.0)
    assert _check(Q.VOLUME_INDEX_M3, 10.0 + 999, WATER, water) is None
    assert "m³ a year" in (_check(Q.VOLUME_INDEX_M3, 10.0 + 1001, WATER, water) or "")


def test_outdoor_temperature_range_comes_from_the_limits() -> None:
    assert _check(Q.TEMPERATURE_C, 44, None, source="residence:R1") is None
    assert "outside -30…45" in (_check(Q.TEMPERATURE_C, 50, None, source="residence:R1") or "")


@pytest.mark.parametrize(("overrides", "named"), [
    ({"ingest_min_temperature_c": 10, "ingest_max_temperature_c": 5}, "COOPWATT_INGEST_MIN_TEMPERATURE_C"),
    ({"ingest_max_energy_kwh_per_year": 2e9}, "COOPWATT_INGEST_MAX_ENERGY_KWH_PER_YEAR"),
    ({"ingest_max_volume_m3_per_year": 10, "ingest_max_index_m3": 5}, "COOPWATT_INGEST_MAX_VOLUME_M3_PER_YEAR"),
    ({"ingest_max_json_depth": 1}, "COOPWATT_INGEST_MAX_JSON_DEPTH"),
    ({"ingest_max_number_digits": 5}, "COOPWATT_INGEST_MAX_NUMBER_DIGITS"),
    ({"ingest_max_payload_bytes": 10}, "COOPWATT_INGEST_MAX_PAYLOAD_BYTES"),
    ({"ingest_max_index_kwh": 0}, "COOPWATT_INGEST_MAX_INDEX_KWH"),
])
def test_a_wrong_limit_stops_start_up_naming_it(overrides: dict[str, float], named: str) -> None:
    with pytest.raises(SettingsError, match=named):
        load_settings({}, **overrides)


def test_limits_read_from_the_environment() -> None:
    settings = load_settings({"COOPWATT_INGEST_MAX_ENERGY_KWH_PER_YEAR": "30000",
                              "COOPWATT_INGEST_MAX_TEMPERATURE_C": "50"})
    assert settings.ingest_max_energy_kwh_per_year == 30_000 and settings.ingest_max_temperature_c == 50


# -- the batch: the last resort, and the look-up of last values ----------------------------------------

def test_an_unforeseen_exception_costs_only_its_message(monkeypatch: pytest.MonkeyPatch) -> None:
    from ingest.adapters import zigbee2mqtt

    real = zigbee2mqtt.parse

    def defective(name: str, payload: bytes, received_at: datetime) -> list[Reading]:
        if name == "trap":
            raise ZeroDivisionError("a defect nobody foresaw")
        return real(name, payload, received_at)

    monkeypatch.setattr(zigbee2mqtt, "parse", defective)
    messages = [Message("zigbee2mqtt/trap", b'{"energy": 1}', NOW), Message("zigbee2mqtt/plug", b'{"energy": 2}', NOW)]
    parsed = parse_batch(messages, AdapterState(), UTC)
    rows = build_rows(parsed, {"plug": ELEC}, {}, {}, NOW, LIMITS)
    assert rows.readings == [(7, int(Q.ENERGY_INDEX_KWH), NOW, 2.0)]
    assert len(rows.dead_letters) == 1 and "ZeroDivisionError" in rows.dead_letters[0][3]


def test_dead_letter_reasons_are_always_storable_text() -> None:
    # A label with NUL and a lone surrogate (both legal in JSON) lands in the reason: escaped, never raw.
    parsed = parse_batch([Message("teleinfo/x", b'{"EA\\u0000\\ud800ST": 3}', NOW)], AdapterState(), UTC)
    reason = build_rows(parsed, {}, {}, {}, NOW, LIMITS).dead_letters[0][3]
    assert "\x00" not in reason
    reason.encode("utf-8")  # a lone surrogate would raise here, and in the COPY


def test_last_values_are_looked_up_once_per_meter_and_quantity() -> None:
    messages = [Message("coopwatt/a/reading", native("5", "kWh", "energy_index"), NOW),
                Message("coopwatt/a/reading", native("6", "kWh", "energy_index"), NOW),
                Message("coopwatt/a/reading", native("100", "W"), NOW),
                Message("coopwatt/stranger/reading", native("6", "kWh", "energy_index"), NOW)]
    parsed = parse_batch(messages, AdapterState(), UTC)
    assert first_seen(parsed, {"a": ELEC}, set()) == {(7, int(Q.ENERGY_INDEX_KWH))}  # power is not cumulative
    assert first_seen(parsed, {"a": ELEC}, {(7, int(Q.ENERGY_INDEX_KWH))}) == set()


@pytest.mark.timeout(20)  # the scan is linear (milliseconds); the quadratic one it replaced took 75 s here
@pytest.mark.parametrize("payload", [
    b"[" * 20 + b'"' + b'\\"' * 30_000,  # one string never closed, full of escaped quotes
    b"[" * 20 + b'"' + b"\\\n" * 30_000,  # escaped line breaks
    b"[" * 20 + b'"\\"' * 20_000 + b"\\",
])
def test_the_depth_scan_stays_linear_on_crafted_strings(payload: bytes) -> None:
    with pytest.raises(PayloadError, match="nested 20 levels deep"):
        parse("zigbee2mqtt/x", payload)


@pytest.mark.parametrize(("topic", "payload"), [
    ("coopwatt/m1/reading", native("9" * 400)),
    ("zigbee2mqtt/plug", b'{"energy": ' + b"9" * 400 + b"}"),
    ("teleinfo/0218", b'{"EAST": {"raw": "' + b"9" * 400 + b'", "value": "' + b"9" * 400 + b'"}}'),
    ("shellies/em/emeter/0/total", b"9" * 400),
])
def test_with_the_digit_limit_raised_a_number_beyond_any_float_is_still_a_reason(topic: str, payload: bytes) -> None:
    state = AdapterState(limits=InputLimits(max_number_digits=4000))
    with pytest.raises(PayloadError, match="is too large"):
        parse(topic, payload, state)


TRICKY_TEXT = st.text(alphabet='[]{}"\\\n ab\u00e9', max_size=12)
JSON_TREES = st.recursive(st.one_of(st.integers(), TRICKY_TEXT, st.none()),
                          lambda inner: st.one_of(st.lists(inner, max_size=3),
                                                  st.dictionaries(TRICKY_TEXT, inner, max_size=3)),
                          max_leaves=40)


def _true_depth(value: object) -> int:
    if isinstance(value, list):
        return 1 + max((_true_depth(v) for v in value), default=0)
    if isinstance(value, dict):
        return 1 + max((_true_depth(v) for v in value.values()), default=0)
    return 0


@given(JSON_TREES, st.booleans())
def test_the_depth_scan_agrees_with_the_json_structure(value: object, ascii_only: bool) -> None:
    from ingest.adapters.bounds import _json_depth

    assert _json_depth(json.dumps(value, ensure_ascii=ascii_only).encode()) == _true_depth(value)
