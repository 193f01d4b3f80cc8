"""Validation: each reason a reading is refused, and what is deliberately let through."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from coopwatt.quantities import Quantity
from coopwatt.settings import load_settings
from ingest.reading import Reading
from ingest.validate import MeterInfo, ValidationLimits, check_reading, limits_from_settings

Q = Quantity
NOW = datetime(2025, 1, 31, 12, 0, tzinfo=UTC)
LIMITS = ValidationLimits(max_future_s=300, max_power_w=36_000, max_flow_m3_per_h=5)
ELEC = MeterInfo(meter_id=1, kind="electricity", mode="index", installed_at=datetime(2020, 1, 1, tzinfo=UTC))
WATER = MeterInfo(meter_id=2, kind="water", mode="index", installed_at=datetime(2020, 1, 1, tzinfo=UTC))


def reading(quantity: Quantity = Q.ENERGY_INDEX_KWH, value: float = 1000.0,
            time: datetime = NOW - timedelta(minutes=1), source: str = "dev") -> Reading:
    return Reading(source, time, quantity, value)


def check(r: Reading, meter: MeterInfo | None = ELEC, previous: Reading | None = None) -> str | None:
    return check_reading(r, meter, previous, NOW, LIMITS)


def test_a_plausible_reading_passes() -> None:
    assert check(reading()) is None
    assert check(reading(Q.POWER_W, 2300)) is None
    assert check(reading(Q.VOLUME_INDEX_M3, 12.5), WATER) is None


def test_unknown_meter() -> None:
    assert check(reading(source="tasmota_5A9AE8"), None) == "unknown device 'tasmota_5A9AE8'"


@pytest.mark.parametrize("value", [float("nan"), float("inf"), float("-inf")])
def test_nan_and_infinity(value: float) -> None:
    reason = check(reading(Q.POWER_W, value))
    assert reason is not None and "not a finite number" in reason


@pytest.mark.parametrize("quantity", [Q.ENERGY_INDEX_KWH, Q.ENERGY_INDEX_OFFPEAK_KWH, Q.ENERGY_INDEX_PEAK_KWH,
                                      Q.ENERGY_KWH, Q.POWER_W, Q.APPARENT_POWER_VA])
def test_negative_values_where_they_cannot_be(quantity: Quantity) -> None:
    reason = check(reading(quantity, -0.5))
    assert reason is not None and reason.startswith("negative ")


@pytest.mark.parametrize("quantity", [Q.VOLUME_INDEX_M3, Q.VOLUME_M3])
def test_negative_volume(quantity: Quantity) -> None:
    assert check(reading(quantity, -1), WATER) == f"negative {quantity.name.lower()[:-3]} (m³): -1"


def test_outdoor_temperature_may_be_negative_and_needs_no_meter() -> None:
    assert check(reading(Q.TEMPERATURE_C, -12.5, source="residence:les-tilleuls"), None) is None


def test_implausible_outdoor_temperature() -> None:
    reason = check(reading(Q.TEMPERATURE_C, 85, source="residence:les-tilleuls"), None)
    assert reason is not None and "outside" in reason


def test_timestamp_too_far_in_the_future() -> None:
    assert check(reading(time=NOW + timedelta(seconds=290))) is None
    reason = check(reading(time=NOW + timedelta(hours=1)))
    assert reason is not None and "3600 s in the future" in reason


def test_future_limit_applies_to_outdoor_temperature_too() -> None:
    reason = check(reading(Q.TEMPERATURE_C, 3, time=NOW + timedelta(days=1), source="residence:x"), None)
    assert reason is not None and "in the future" in reason


def test_timestamp_before_installation() -> None:
    meter = MeterInfo(3, "electricity", "index", installed_at=datetime(2024, 6, 1, tzinfo=UTC))
    reason = check(reading(time=datetime(2024, 5, 31, tzinfo=UTC)), meter)
    assert reason is not None and "before the meter was installed" in reason
    assert check(reading(time=datetime(2024, 6, 1, tzinfo=UTC)), meter) is None


def test_timestamp_after_removal() -> None:
    meter = MeterInfo(3, "electricity", "index", installed_at=datetime(2020, 1, 1, tzinfo=UTC),
                      removed_at=datetime(2024, 6, 1, tzinfo=UTC))
    reason = check(reading(time=datetime(2024, 6, 2, tzinfo=UTC)), meter)
    assert reason is not None and "after the meter was removed" in reason
    assert check(reading(time=datetime(2024, 5, 31, tzinfo=UTC)), meter) is None


@pytest.mark.parametrize(("kind", "quantity"), [
    ("water", Q.ENERGY_INDEX_KWH), ("water", Q.POWER_W), ("gas", Q.APPARENT_POWER_VA),
    ("electricity", Q.VOLUME_INDEX_M3), ("heat", Q.APPARENT_POWER_VA),
])
def test_quantity_that_does_not_fit_the_meter_kind(kind: str, quantity: Quantity) -> None:
    meter = MeterInfo(4, kind, "index", installed_at=datetime(2020, 1, 1, tzinfo=UTC))
    reason = check(reading(quantity, 1.0), meter)
    assert reason is not None and reason.endswith(f"does not fit a {kind} meter")


def test_temperature_from_a_meter_says_where_it_belongs() -> None:
    reason = check(reading(Q.TEMPERATURE_C, 4.0), ELEC)
    assert reason is not None and "coopwatt/<residence code>/temperature" in reason


@pytest.mark.parametrize(("kind", "quantity"), [
    ("gas", Q.VOLUME_INDEX_M3), ("gas", Q.ENERGY_INDEX_KWH), ("heat", Q.ENERGY_INDEX_KWH),
    ("heat", Q.VOLUME_M3), ("electricity", Q.APPARENT_POWER_VA), ("electricity", Q.ENERGY_INDEX_PEAK_KWH),
])
def test_quantities_that_fit(kind: str, quantity: Quantity) -> None:
    meter = MeterInfo(5, kind, "index", installed_at=datetime(2020, 1, 1, tzinfo=UTC))
    assert check(reading(quantity, 1.0), meter) is None


def test_instantaneous_power_above_the_limit() -> None:
    reason = check(reading(Q.APPARENT_POWER_VA, 90_000))
    assert reason is not None and "above the plausible" in reason


def test_absurd_energy_index_jump() -> None:
    previous = reading(value=1000.0, time=NOW - timedelta(hours=1, minutes=1))
    # +30 kWh in an hour = 30 kW on average: plausible under a 36 kW limit.
    assert check(reading(value=1030.0), previous=previous) is None
    # +500 kWh in an hour = 500 kW: a glitch.
    reason = check(reading(value=1500.0), previous=previous)
    assert reason is not None and reason.startswith("absurd jump") and "36000 W" in reason


def test_absurd_volume_index_jump() -> None:
    previous = reading(Q.VOLUME_INDEX_M3, 100.0, time=NOW - timedelta(hours=2, minutes=1))
    assert check(reading(Q.VOLUME_INDEX_M3, 104.0), WATER, previous) is None  # 2 m³/h
    reason = check(reading(Q.VOLUME_INDEX_M3, 150.0), WATER, previous)  # 25 m³/h
    assert reason is not None and reason.startswith("absurd jump") and "m³/h" in reason


def test_a_decreasing_index_is_not_rejected() -> None:
    # A counter reset or a replaced meter: consumption derivation handles it, validation lets it through.
    previous = reading(value=5000.0, time=NOW - timedelta(hours=1))
    assert check(reading(value=3.2), previous=previous) is None


def test_a_late_reading_is_not_judged_against_a_newer_one() -> None:
    previous = reading(value=1000.0, time=NOW - timedelta(minutes=1))
    late = reading(value=999.0, time=NOW - timedelta(hours=3))
    assert check(late, previous=previous) is None


def test_interval_energy_is_not_jump_checked_against_the_previous_value() -> None:
    previous = reading(Q.ENERGY_KWH, 0.1, time=NOW - timedelta(seconds=61))
    assert check(reading(Q.ENERGY_KWH, 0.5), previous=previous) is None


@given(increase_kwh=st.floats(min_value=0, max_value=1e6), minutes=st.integers(min_value=1, max_value=10_000))
def test_jump_verdict_follows_average_power(increase_kwh: float, minutes: int) -> None:
    start = NOW - timedelta(minutes=minutes + 1)
    previous = reading(value=100.0, time=start)
    current = reading(value=100.0 + increase_kwh, time=NOW - timedelta(minutes=1))
    average_w = (current.value - previous.value) * 1000 / (minutes / 60)
    reason = check(current, previous=previous)
    assert (reason is not None) == (average_w > LIMITS.max_power_w)


def test_limits_come_from_settings() -> None:
    settings = load_settings({}, ingest_max_future_s=60, ingest_max_power_w=12_000, ingest_max_flow_m3_per_h=3)
    assert limits_from_settings(settings) == ValidationLimits(60, 12_000, 3)
