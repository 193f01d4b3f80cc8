"""Data sufficiency: coded reasons with evidence, and which days a model may use."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from analytics import synthetic
from analytics.errors import FrameContractError
from analytics.sufficiency import SufficiencyThresholds, check_daily_data


def _year(seed: int = 1) -> pd.DataFrame:
    return synthetic.daily_frame(synthetic.daily_index("2025-01-01", 365), seed)


def test_a_clean_year_qualifies_without_reasons() -> None:
    report = check_daily_data(_year())
    assert report.qualified
    assert report.reasons == ()
    assert report.valid.all()


def test_missing_rows_count_as_missing_days() -> None:
    daily = _year().drop(index=_year().index[50:100])
    report = check_daily_data(daily)
    assert report.span_days == 365
    coverage = next(r for r in report.reasons if r.code == "low_data_coverage")
    assert coverage.blocking
    assert coverage.evidence["valid_fraction"] == pytest.approx(315 / 365)
    gap = next(r for r in report.reasons if r.code == "long_gap")
    assert gap.evidence["longest_gap_days"] == 50
    assert not report.qualified


def test_negative_days_are_left_out_with_a_warning() -> None:
    daily = _year()
    daily.iloc[[3, 4, 5], 0] = -2.0
    report = check_daily_data(daily)
    negative = next(r for r in report.reasons if r.code == "negative_energy")
    assert negative.evidence["days"] == 3 and not negative.blocking
    assert not report.valid[[3, 4, 5]].any()
    assert report.qualified


def test_extreme_days_are_reported() -> None:
    daily = _year()
    daily.iloc[200, 0] = 900.0
    report = check_daily_data(daily)
    extreme = next(r for r in report.reasons if r.code == "extreme_values")
    assert extreme.evidence["days"] == 1 and extreme.evidence["max_kwh"] == 900.0


def test_no_data_and_thresholds_are_parameters() -> None:
    empty = _year().iloc[0:0]
    assert [r.code for r in check_daily_data(empty).reasons] == ["no_data"]
    short = _year().iloc[:200]
    assert not check_daily_data(short).qualified
    assert check_daily_data(short, SufficiencyThresholds(min_span_days=180)).qualified


def test_flat_temperature_is_a_warning() -> None:
    daily = _year()
    daily["temperature_c"] = 20.0 + np.linspace(0, 1, len(daily))
    report = check_daily_data(daily)
    assert any(r.code == "narrow_temperature_range" and not r.blocking for r in report.reasons)


def test_a_broken_contract_names_the_column() -> None:
    with pytest.raises(FrameContractError, match="temperature_c"):
        check_daily_data(_year().drop(columns=["temperature_c"]))
