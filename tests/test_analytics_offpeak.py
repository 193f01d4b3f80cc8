"""The off-peak (heures creuses) suggestion knows the household's contract and compares whole yearly bills."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from analytics.offpeak import HourOfDayUse, suggest_offpeak_tariff
from analytics.suggestions import SuggestionKind
from coopwatt.settings import SettingsError, load_settings
from coopwatt.tariffs import (
    DEFAULT_OFFPEAK_HOURS, SupplyContract, TariffFileError, contract_on, grid_on, load_tariff_grids,
    parse_offpeak_hours,
)

GRIDS = load_tariff_grids()
GRID = grid_on(GRIDS, date(2026, 11, 30))
NIGHT_HEAVY = tuple(3.0 if h in DEFAULT_OFFPEAK_HOURS else 0.5 for h in range(24))  # kWh per day at each hour


def _use(days: int, per_hour_kwh: tuple[float, ...] = NIGHT_HEAVY) -> HourOfDayUse:
    return HourOfDayUse(tuple(kwh * days for kwh in per_hour_kwh), tuple([days] * 24))


def test_bundled_grids_are_dated_with_their_source() -> None:
    """The regulated grid in force is the latest started one; each says where its figures come from."""
    assert GRID is not None and GRID.valid_from == date(2025, 8, 1)
    assert grid_on(GRIDS, date(2025, 3, 1)).valid_from == date(2025, 2, 1)  # type: ignore[union-attr]
    assert grid_on(GRIDS, date(2024, 1, 1)) is None
    assert all(g.source for g in GRIDS)
    assert GRID.subscription_eur_per_year("base", 6) == pytest.approx(15.47 * 12)
    assert GRID.subscription_eur_per_year("hphc", 36) is None


def test_no_switch_suggested_to_a_household_already_on_heures_creuses_or_tempo() -> None:
    """Today's rule told a home already on heures creuses to switch to it."""
    assert GRID is not None
    use = _use(365)
    on_base = suggest_offpeak_tariff(1, use, SupplyContract(date(2024, 1, 1), "base", 6), GRID)
    assert on_base is not None and on_base.kind == SuggestionKind.OFFPEAK_TARIFF
    hphc = SupplyContract(date(2024, 1, 1), "hphc", 6, DEFAULT_OFFPEAK_HOURS)
    assert suggest_offpeak_tariff(1, use, hphc, GRID) is None
    assert suggest_offpeak_tariff(1, use, SupplyContract(date(2024, 1, 1), "tempo", 6), GRID) is None


def test_whole_yearly_bills_include_the_subscription_difference() -> None:
    """Today's rule counted 0 € of extra subscription; the HP/HC subscription costs more than Base's."""
    assert GRID is not None
    contract = SupplyContract(date(2024, 1, 1), "base", 9)
    suggestion = suggest_offpeak_tariff(1, _use(365), contract, GRID)
    assert suggestion is not None
    offpeak_kwh = 3.0 * 8 * 365
    peak_kwh = 0.5 * 16 * 365
    base = (offpeak_kwh + peak_kwh) * GRID.base_eur_per_kwh + 19.39 * 12
    hphc = peak_kwh * GRID.hp_eur_per_kwh + offpeak_kwh * GRID.hc_eur_per_kwh + 19.81 * 12
    assert suggestion.cost_eur_per_year == pytest.approx(base - hphc)
    evidence = suggestion.evidence
    assert evidence["offpeak_subscription_eur_per_year"] - evidence["base_subscription_eur_per_year"] == \
        pytest.approx((19.81 - 19.39) * 12)
    assert evidence["subscribed_kva"] == 9 and evidence["contract_known"] == 1
    assert evidence["extrapolated"] == 0 and evidence["covered_days"] == 365


def test_a_few_weeks_are_said_to_be_extrapolated_and_from_how_many_days() -> None:
    """Eight autumn weeks stood for a year without a word; now the evidence carries it for the page."""
    assert GRID is not None
    suggestion = suggest_offpeak_tariff(1, _use(56), None, GRID)
    assert suggestion is not None
    assert suggestion.evidence["extrapolated"] == 1 and suggestion.evidence["covered_days"] == 56
    assert suggestion.evidence["contract_known"] == 0
    assert suggest_offpeak_tariff(1, _use(20), None, GRID) is None  # too few days to say anything


def test_the_subscription_can_tip_the_balance_and_unknown_powers_are_not_guessed() -> None:
    """A flat curve gains too little from cheaper nights to pay the dearer subscription."""
    assert GRID is not None
    flat = tuple([0.4] * 24)
    assert suggest_offpeak_tariff(1, _use(365, flat), None, GRID) is None
    assert suggest_offpeak_tariff(1, _use(365), SupplyContract(date(2024, 1, 1), "base", 36), GRID) is None


def test_a_missing_hour_of_the_day_is_not_read_as_no_use() -> None:
    """Nights never measured would make every night look empty: no verdict rather than a wrong one."""
    assert GRID is not None
    use = _use(365)
    hours = list(use.hours)
    hours[23] = 0
    assert suggest_offpeak_tariff(1, HourOfDayUse(use.kwh, tuple(hours)), None, GRID) is None


def test_contracts_are_dated() -> None:
    """A household that changed option is priced with the contract of the day."""
    old = SupplyContract(date(2023, 5, 1), "base", 6)
    new = SupplyContract(date(2026, 3, 1), "hphc", 9, parse_offpeak_hours("22-6"))
    assert contract_on([old, new], date(2025, 1, 1)) == old
    assert contract_on([old, new], date(2026, 3, 1)) == new
    assert contract_on([old, new], date(2020, 1, 1)) is None
    assert parse_offpeak_hours("22-6") == (22, 23, 0, 1, 2, 3, 4, 5)
    assert parse_offpeak_hours("1-6+12-14") == (1, 2, 3, 4, 5, 12, 13)
    for bad in ("25-3", "22-22", "a", "1,1"):
        with pytest.raises(ValueError):
            parse_offpeak_hours(bad)
    with pytest.raises(ValueError):
        SupplyContract(date(2024, 1, 1), "base", 6, (22, 23))


def test_a_tariff_file_can_replace_the_bundled_one_and_a_wrong_one_stops_start_up(tmp_path: Path) -> None:
    """The grid is overridable (COOPWATT_TARIFF_FILE); a wrong file names itself and the entry."""
    own = tmp_path / "tariffs.toml"
    own.write_text('[[grid]]\nvalid_from = 2026-02-01\nsource = "offre coopérative"\nbase_eur_per_kwh = 0.19\n'
                   'hp_eur_per_kwh = 0.2\nhc_eur_per_kwh = 0.15\n[grid.subscription_eur_per_month.base]\n6 = 12.0\n',
                   encoding="utf-8")
    settings = load_settings({"COOPWATT_TARIFF_FILE": str(own)})
    assert settings.tariff_grids()[0].hc_eur_per_kwh == 0.15
    bad = tmp_path / "bad.toml"
    bad.write_text('[[grid]]\nvalid_from = 2026-02-01\nsource = "x"\nbase_eur_per_kwh = "cher"\n'
                   'hp_eur_per_kwh = 0.2\nhc_eur_per_kwh = 0.15\n', encoding="utf-8")
    with pytest.raises(TariffFileError, match="grid 1: base_eur_per_kwh"):
        load_tariff_grids(bad)
    with pytest.raises(SettingsError, match="TARIFF_FILE"):
        load_settings({"COOPWATT_TARIFF_FILE": str(bad)})
