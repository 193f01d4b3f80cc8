"""The hardship signal on synthetic series: who is flagged, who is not, and on which data."""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd
import pytest

from analytics.hardship import (
    AFTER_TARIFF_RISE, HIGH_COST, UNDER_HEATING, HardshipSettings, flag_hardship, heating_figures, settings_from,
)
from analytics.synthetic import daily_frame, daily_index, temperature_c
from coopwatt.settings import SettingsError, load_settings

TODAY = date(2026, 3, 1)
DAYS = daily_index("2024-03-01", 730)
TEMPS = temperature_c(DAYS, seed=7)
NAIVE = DAYS.tz_localize(None)


def _home(seed: int, slope: float, *, cut_from: str | None = None, keep: float = 1.0) -> pd.DataFrame:
    """A 60 m² electrically heated home; from ``cut_from`` its heating is ``keep`` of what it was."""
    frame = daily_frame(DAYS, seed, intercept_kwh=6.0, heating_kwh_per_degree_day=slope, noise_kwh=0.5,
                        temperatures_c=TEMPS)
    if cut_from is not None:
        after = NAIVE >= pd.Timestamp(cut_from)
        heating = slope * np.maximum(16.0 - TEMPS, 0.0)
        frame.loc[after, "energy_kwh"] -= heating[after] * (1 - keep)
    return frame


def _row(dwelling_id: int, frame: pd.DataFrame, settings: HardshipSettings, cost: float = np.nan) -> dict:
    return {"dwelling_id": dwelling_id, "residence_id": 1, "district": "Bacalan", "floor_area_m2": 60.0,
            "heating_type": "electric", "figures": heating_figures(frame, TODAY, settings), "yearly_cost_eur": cost}


def _flags(frames: dict[int, pd.DataFrame], settings: HardshipSettings = HardshipSettings(),
           costs: dict[int, float] | None = None) -> dict[int, set[str]]:
    rows = [_row(i, f, settings, (costs or {}).get(i, np.nan)) for i, f in frames.items()]
    found: dict[int, set[str]] = {i: set() for i in frames}
    for flag in flag_hardship(pd.DataFrame(rows), settings):
        found[flag.dwelling_id].add(flag.signal)
    return found


def _peers() -> dict[int, pd.DataFrame]:
    return {i: _home(i, 2.6 + 0.05 * i) for i in range(1, 8)}


def test_a_home_that_lowered_its_heating_far_below_peers_and_its_last_winter_is_flagged_with_evidence():
    homes = _peers() | {100: _home(100, 2.7, cut_from="2025-11-15", keep=0.3)}
    rows = [_row(i, f, HardshipSettings()) for i, f in homes.items()]
    flags = [f for f in flag_hardship(pd.DataFrame(rows), HardshipSettings()) if f.dwelling_id == 100]
    assert [f.signal for f in flags] == [UNDER_HEATING]
    evidence = flags[0].evidence
    assert evidence["peer_ratio"] == pytest.approx(0.3, abs=0.08)
    assert evidence["own_ratio"] == pytest.approx(0.3, abs=0.08)
    assert evidence["peers"] == 7
    assert evidence["current"]["start"] == "2025-12-01" and evidence["current"]["end"] == "2026-03-01"
    assert evidence["previous"]["start"] == "2024-12-01"
    assert evidence["current"]["kwh_per_degree_day"] == pytest.approx(0.3 * 2.7, abs=0.2)
    assert not any(_flags(_peers()).values())  # no peer is flagged


def test_a_well_insulated_low_user_with_stable_use_is_not_flagged():
    found = _flags(_peers() | {100: _home(100, 0.8)})
    assert found[100] == set()


def test_a_home_whose_recent_days_are_estimated_or_suspect_is_not_flagged():
    frame = _home(100, 2.7, cut_from="2025-11-15", keep=0.3)
    recent = NAIVE >= pd.Timestamp("2025-12-01")
    # Estimated and suspect days reach the signal as NaN (nightly_load.daily_use(measured_only=True)).
    frame.loc[recent & (np.arange(len(frame)) % 3 != 0), "energy_kwh"] = np.nan
    found = _flags(_peers() | {100: frame})
    assert found[100] == set()
    figures = heating_figures(frame, TODAY, HardshipSettings())
    assert figures.current is not None and figures.current.kwh_per_degree_day is None
    assert figures.current.measured_cold_days < figures.current.cold_days


def test_without_enough_similar_homes_there_is_no_comparison_and_no_flag():
    homes = {i: _home(i, 2.6) for i in range(1, 4)} | {100: _home(100, 2.7, cut_from="2025-11-15", keep=0.3)}
    assert _flags(homes)[100] == set()


def test_a_sharp_fall_after_a_price_rise_is_flagged_when_similar_homes_did_not_fall():
    settings = HardshipSettings(tariff_rise_dates=(date(2026, 1, 1),))
    homes = _peers() | {100: _home(100, 2.7, cut_from="2026-01-01", keep=0.4)}
    found = _flags(homes, settings)
    assert AFTER_TARIFF_RISE in found[100]
    assert all(AFTER_TARIFF_RISE not in found[i] for i in range(1, 8))


def test_costs_far_above_similar_homes_are_flagged():
    costs = {i: 900.0 + 10 * i for i in range(1, 8)} | {100: 2000.0}
    found = _flags(_peers() | {100: _home(100, 2.6)}, costs=costs)
    assert found[100] == {HIGH_COST}
    assert all(HIGH_COST not in found[i] for i in range(1, 8))


def test_thresholds_come_from_the_settings(tmp_path):
    settings = load_settings({"COOPWATT_HARDSHIP_PEER_RATIO_MAX": "0.4",
                              "COOPWATT_HARDSHIP_TARIFF_RISE_DATES": "2026-01-01,2026-02-01"}, data_dir=tmp_path)
    hs = settings_from(settings)
    assert hs.peer_ratio_max == 0.4 and hs.tariff_rise_dates == (date(2026, 1, 1), date(2026, 2, 1))
    with pytest.raises(SettingsError, match="COOPWATT_HARDSHIP_TARIFF_RISE_DATES"):
        load_settings({"COOPWATT_HARDSHIP_TARIFF_RISE_DATES": "first of january"}, data_dir=tmp_path)
