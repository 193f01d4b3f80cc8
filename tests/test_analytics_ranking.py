"""High consumers for advisers, ranked by weather-normalised kWh/m²/year against similar homes."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from analytics.ranking import rank_high_consumers


def _scope() -> pd.DataFrame:
    rng = np.random.default_rng(3)
    n = 12
    frame = pd.DataFrame({
        "dwelling_id": np.arange(1, n + 1),
        "residence_id": 1,
        "district": "Nord",
        "floor_area_m2": rng.uniform(58, 72, n),
        "heating_type": "gas",
        "base_load_w": rng.uniform(90, 130, n),
        "heating_kwh_per_degree_day": rng.uniform(0.9, 1.1, n),
        "drift_fraction": rng.uniform(-0.03, 0.03, n),
    })
    frame["normalised_energy_kwh"] = frame["floor_area_m2"] * rng.uniform(140, 160, n)
    return frame


def test_the_heavy_user_comes_first_with_its_reasons() -> None:
    scope = _scope()
    scope.loc[4, "normalised_energy_kwh"] = scope.loc[4, "floor_area_m2"] * 300
    scope.loc[4, "base_load_w"] = 400.0
    scope.loc[4, "drift_fraction"] = 0.2
    before = scope.copy(deep=True)
    ranking = rank_high_consumers(scope)
    pd.testing.assert_frame_equal(scope, before)
    top = ranking.iloc[0]
    assert top["dwelling_id"] == 5 and top["rank"] == 1 and top["high"]
    assert top["ratio"] == pytest.approx(300 / ranking["reference_kwh_per_m2_year"].iloc[0])
    codes = {r.code for r in top["reasons"]}
    assert codes == {"intensity_above_similar", "base_load_above_similar", "upward_drift"}
    assert not ranking.iloc[1:]["high"].any()
    assert list(ranking["rank"]) == list(range(1, 13))
    assert ranking["ratio"].is_monotonic_decreasing


def test_small_groups_fall_back_to_a_wider_reference() -> None:
    scope = _scope()
    scope.loc[:2, "residence_id"] = 2  # three homes alone in their residence, district pool too small
    scope.loc[:2, "district"] = "Sud"
    ranking = rank_high_consumers(scope)
    assert (ranking["reference_size"] >= 5).all()
    small = ranking[ranking["dwelling_id"].isin([1, 2, 3])]
    assert small["reference_group"].str.startswith("scope|").all()


def test_heating_sensitivity_reason() -> None:
    scope = _scope()
    scope.loc[7, "heating_kwh_per_degree_day"] = 2.0
    ranking = rank_high_consumers(scope)
    row = ranking[ranking["dwelling_id"] == 8].iloc[0]
    assert "heating_sensitivity_above_similar" in {r.code for r in row["reasons"]}


def test_a_home_with_no_big_enough_reference_says_why() -> None:
    scope = _scope()
    scope.loc[:3, "heating_type"] = "electric"  # four electric homes: no group of five anywhere
    ranking = rank_high_consumers(scope)
    alone = ranking[ranking["dwelling_id"].isin([1, 2, 3, 4])]
    assert alone["ratio"].isna().all() and (alone["rank"] > 8).all()  # ranked after every compared home
    assert all({r.code for r in reasons} == {"no_reference_group"} for reasons in alone["reasons"])
    reason = alone["reasons"].iloc[0][0]
    assert "Moins de 5 logements" in reason.message_fr and "Fewer than 5 homes" in reason.message_en
    compared = ranking[~ranking["dwelling_id"].isin([1, 2, 3, 4])]
    assert not any("no_reference_group" in {r.code for r in reasons} for reasons in compared["reasons"])
