"""Unit conversion to canonical units: every accepted unit, W kept apart from VA, clear errors."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from coopwatt.quantities import Quantity
from ingest.reading import PayloadError
from ingest.units import canonical_unit, to_canonical

Q = Quantity


@pytest.mark.parametrize(
    ("value", "unit", "quantity", "expected"),
    [
        (920_750, "Wh", Q.ENERGY_INDEX_KWH, 920.75),
        (1234.5, "kWh", Q.ENERGY_INDEX_KWH, 1234.5),
        (2, "MWh", Q.ENERGY_KWH, 2000),
        (60_000, "watt-minute", Q.ENERGY_INDEX_KWH, 1.0),  # 60 000 W·min = 1000 W·h
        (600, "Wmin", Q.ENERGY_INDEX_OFFPEAK_KWH, 0.01),
        (1500, "W", Q.POWER_W, 1500),
        (1.5, "kW", Q.POWER_W, 1500),
        (170, "VA", Q.APPARENT_POWER_VA, 170),
        (9, "kVA", Q.APPARENT_POWER_VA, 9000),
        (1.25, "m³", Q.VOLUME_INDEX_M3, 1.25),
        (1.25, "m3", Q.VOLUME_M3, 1.25),
        (98_765, "L", Q.VOLUME_INDEX_M3, 98.765),
        (-3.5, "°C", Q.TEMPERATURE_C, -3.5),
        (21, "degC", Q.TEMPERATURE_C, 21),
        (50, "°F", Q.TEMPERATURE_C, 10),
    ],
)
def test_converts_to_canonical_unit(value: float, unit: str, quantity: Quantity, expected: float) -> None:
    assert to_canonical(value, unit, quantity) == pytest.approx(expected, rel=1e-12, abs=1e-9)


def test_wh_to_kwh_keeps_decimal_indices_exact() -> None:
    # Indices are compared and differenced later; 920750 Wh must be exactly 920.75 kWh, not 920.7500000000001.
    assert to_canonical(920_750, "Wh", Q.ENERGY_INDEX_KWH) == 920.75
    assert to_canonical(2_275_613, "Wh", Q.ENERGY_INDEX_PEAK_KWH) == 2275.613


def test_apparent_power_is_never_turned_into_active_power() -> None:
    with pytest.raises(PayloadError, match="apparent power, not active power"):
        to_canonical(170, "VA", Q.POWER_W)
    with pytest.raises(PayloadError, match="active power, not apparent power"):
        to_canonical(170, "W", Q.APPARENT_POWER_VA)
    with pytest.raises(PayloadError, match="apparent power"):
        to_canonical(1, "kVA", Q.POWER_W)


@pytest.mark.parametrize(
    ("unit", "quantity", "reason"),
    [
        ("kWh", Q.VOLUME_INDEX_M3, "is energy, not volume"),
        ("m³", Q.ENERGY_INDEX_KWH, "is volume, not energy"),
        ("W", Q.ENERGY_INDEX_KWH, "is active power, not energy"),
        ("°C", Q.POWER_W, "is temperature, not active power"),
        ("furlong", Q.POWER_W, "unknown unit 'furlong'"),
        ("kvar", Q.POWER_W, "unknown unit 'kvar'"),
        ("", Q.POWER_W, "missing unit"),
    ],
)
def test_unknown_or_incompatible_unit_is_a_payload_error(unit: str, quantity: Quantity, reason: str) -> None:
    with pytest.raises(PayloadError, match=reason):
        to_canonical(1.0, unit, quantity)


def test_a_cached_failure_still_fails_every_time() -> None:
    for _ in range(3):
        with pytest.raises(PayloadError, match="unknown unit 'parsec'"):
            to_canonical(1.0, "parsec", Q.ENERGY_KWH)


def test_canonical_unit_names() -> None:
    assert [canonical_unit(q) for q in (Q.ENERGY_INDEX_KWH, Q.POWER_W, Q.APPARENT_POWER_VA,
                                        Q.VOLUME_M3, Q.TEMPERATURE_C)] == ["kWh", "W", "VA", "m³", "°C"]


@given(st.floats(min_value=0, max_value=1e9, allow_nan=False))
def test_wh_and_kwh_agree(value_wh: float) -> None:
    assert to_canonical(value_wh, "Wh", Q.ENERGY_INDEX_KWH) == pytest.approx(
        to_canonical(value_wh / 1000, "kWh", Q.ENERGY_INDEX_KWH), rel=1e-12, abs=1e-12)


@given(st.floats(min_value=-1e6, max_value=1e6, allow_nan=False))
def test_litres_are_thousandths_of_cubic_metres(value_l: float) -> None:
    assert to_canonical(value_l, "L", Q.VOLUME_M3) == pytest.approx(value_l / 1000, rel=1e-12, abs=1e-12)
