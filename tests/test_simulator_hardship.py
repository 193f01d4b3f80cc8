"""The simulator's under-heating households: ground truth that its flows follow, and the signal finds them."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime

import numpy as np
import pandas as pd
import pytest

from analytics.hardship import UNDER_HEATING, HardshipSettings, flag_hardship, heating_figures
from coopwatt.simulator.faults import write_ground_truth
from coopwatt.simulator.hardship import plan_under_heating
from coopwatt.simulator.profiles import dwelling_flows
from coopwatt.simulator.residence import make_residences
from coopwatt.simulator.weather import outdoor_temperature_c

START = datetime(2024, 3, 1, tzinfo=UTC)
CUT_FROM, CUT_TO = datetime(2025, 10, 1, tzinfo=UTC), datetime(2025, 11, 15, tzinfo=UTC)
TODAY = date(2026, 3, 1)


def _daily(seed: int, dwellings: int = 60) -> tuple[list, list[dict], pd.DataFrame, dict[str, pd.DataFrame]]:
    """Two years of hourly flows summed per day: each dwelling's heating energy and its residence's weather."""
    residences = make_residences(dwellings, seed=seed, per_residence=dwellings)
    truth = plan_under_heating(residences, CUT_FROM, CUT_TO, seed, share=0.15)
    homes = [d for r in residences for d in r.dwellings]
    times = pd.date_range(START, pd.Timestamp(TODAY, tz=UTC), freq="h", inclusive="right")
    weather = outdoor_temperature_c(times, seed, np.array([0]), "Europe/Paris")
    flows = dwelling_flows(homes, times, 3600, np.repeat(weather, len(homes), axis=0), seed)
    day = (times - pd.Timedelta(hours=1)).tz_convert("Europe/Paris").normalize()
    temps = pd.Series(weather[0], index=day).groupby(level=0).mean()
    frames = {}
    for n, home in enumerate(homes):
        energy = flows.electricity_kwh[n] if home.heating_type == "electric" else flows.gas_kwh[n]
        frames[home.code] = pd.DataFrame({"energy_kwh": pd.Series(energy, index=day).groupby(level=0).sum(),
                                          "temperature_c": temps}).iloc[1:-1]
    return residences, truth, homes, frames


def test_planned_households_heat_only_their_kept_share_from_their_day_and_the_ground_truth_says_so(tmp_path):
    residences, truth, homes, _ = _daily(seed=4, dwellings=30)
    assert truth and all(0.2 <= item["keep"] <= 0.4 for item in truth)
    cut = {item["dwelling_code"] for item in truth}
    times = pd.date_range("2025-12-01", periods=48, freq="h", tz=UTC)
    cold = np.full((len(homes), len(times)), 0.0)  # 0 °C everywhere
    flows = dwelling_flows(homes, times, 3600, cold, seed=4)
    plain = dwelling_flows([h.__class__(**{**h.__dict__, "under_heating_from_s": None}) for h in homes],
                           times, 3600, cold, seed=4)
    for n, home in enumerate(homes):
        ratio = flows.heating_kwh[n].sum() / plain.heating_kwh[n].sum()
        expected = home.under_heating_keep if home.code in cut else 1.0
        assert ratio == pytest.approx(expected, rel=1e-9)
    path = write_ground_truth(tmp_path / "truth.json", [], residences, seed=4, start=START, end=CUT_TO)
    dwellings = {d["code"]: d for d in json.loads(path.read_text())["dwellings"]}
    for item in truth:
        assert dwellings[item["dwelling_code"]]["under_heating_from_s"] == \
            datetime.fromisoformat(item["from"]).timestamp()


def test_the_signal_finds_the_simulators_under_heating_homes_without_false_alarms():
    # One residence of 400 homes so that each floor-area band and heating type has k similar homes.
    _, truth, homes, frames = _daily(seed=12, dwellings=400)
    settings = HardshipSettings()
    rows = [{"dwelling_id": n, "residence_id": 1, "district": "sim", "floor_area_m2": home.floor_area_m2,
             "heating_type": home.heating_type, "figures": heating_figures(frames[home.code], TODAY, settings),
             "yearly_cost_eur": np.nan} for n, home in enumerate(homes) if home.heating_type in ("electric", "gas")]
    flagged = {homes[f.dwelling_id].code for f in flag_hardship(pd.DataFrame(rows), settings)
               if f.signal == UNDER_HEATING}
    cut = {item["dwelling_code"] for item in truth}
    # Measured: 35 of 47 found, no false alarm among 265 (seed 12). The misses are homes of poor energy
    # labels whose cut still leaves them above half of similar homes' median: both conditions must hold.
    assert len(cut) >= 30 and len(flagged & cut) >= 0.7 * len(cut), (sorted(flagged), sorted(cut))
    assert flagged <= cut, sorted(flagged - cut)
