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


def test_homes_without_a_peer_group_are_ranked_against_a_stated_wider_reference() -> None:
    scope = _scope()
    scope.loc[:3, "heating_type"] = "electric"  # four electric homes: no group of five with their heating
    scope.loc[0, "normalised_energy_kwh"] = scope.loc[0, "floor_area_m2"] * 400  # the biggest user of all
    ranking = rank_high_consumers(scope)
    electric = ranking[ranking["dwelling_id"].isin([1, 2, 3, 4])]
    # Compared with every home of a similar size (all 12 are 58-72 m²), not left at the end without a figure.
    assert electric["ratio"].notna().all() and (electric["reference_size"] == 12).all()
    assert ranking.iloc[0]["dwelling_id"] == 1 and ranking.iloc[0]["high"]
    for reasons in electric["reasons"]:
        wider = [r for r in reasons if r.code == "reference_wider"]
        assert len(wider) == 1 and "no_reference_group" not in {r.code for r in reasons}
        assert "12 logements de taille similaire du périmètre, tous chauffages" in wider[0].message_fr
        assert "12 homes of a similar size across the scope, any heating" in wider[0].message_en
    gas = ranking[~ranking["dwelling_id"].isin([1, 2, 3, 4])]
    assert not any("reference_wider" in {r.code for r in reasons} for reasons in gas["reasons"])
    assert list(ranking["rank"]) == list(range(1, 13))


def test_a_scope_too_small_for_any_reference_says_why() -> None:
    scope = _scope().iloc[:4]  # four homes in all: no group of five at any level
    ranking = rank_high_consumers(scope)
    assert ranking["ratio"].isna().all()
    assert all({r.code for r in reasons} == {"no_reference_group"} for reasons in ranking["reasons"])
    reason = ranking["reasons"].iloc[0][0]
    assert "Moins de 5 logements dans tout le périmètre" in reason.message_fr
    assert "Fewer than 5 homes in the whole scope" in reason.message_en


def test_french_reasons_write_numbers_with_a_decimal_comma() -> None:
    scope = _scope()
    scope.loc[4, "normalised_energy_kwh"] = scope.loc[4, "floor_area_m2"] * 290
    scope.loc[4, "drift_fraction"] = 0.25
    top = rank_high_consumers(scope).iloc[0]
    french = " ".join(r.message_fr for r in top["reasons"])
    ratio = f"{top['ratio']:.1f}"
    assert ratio.replace(".", ",") + " fois" in french and ratio not in french
    assert "25\u202f%" in french
    assert ratio + "×" in " ".join(r.message_en for r in top["reasons"])
