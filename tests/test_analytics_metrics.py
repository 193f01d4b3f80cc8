"""CV(RMSE) and NMBE per ASHRAE Guideline 14, on examples small enough to check by hand."""

from __future__ import annotations

import math

import numpy as np
import pytest

from analytics.metrics import Guideline14Thresholds, assess_fit, cv_rmse, nmbe
from analytics.student_t import t_critical, t_quantile, t_two_sided_p


def test_cv_rmse_and_nmbe_on_a_hand_checked_example() -> None:
    observed = [10.0, 12.0, 14.0, 16.0]  # mean 13
    predicted = [11.0, 11.0, 15.0, 15.0]  # residuals −1, +1, −1, +1: SSE 4, sum 0
    # With p = 1 parameter: n − p = 3.
    assert cv_rmse(observed, predicted, 1) == pytest.approx(math.sqrt(4 / 3) / 13)
    assert nmbe(observed, predicted, 1) == pytest.approx(0.0)


def test_nmbe_sign_and_size_on_a_biased_example() -> None:
    observed = [10.0, 12.0, 14.0, 16.0]
    predicted = [9.0, 11.0, 13.0, 15.0]  # the model under-predicts by 1 every time
    assert nmbe(observed, predicted, 1) == pytest.approx(4 / (3 * 13))
    assert cv_rmse(observed, predicted, 1) == pytest.approx(math.sqrt(4 / 3) / 13)
    assert nmbe(predicted, observed, 1) < 0


def test_missing_pairs_are_ignored() -> None:
    observed = [10.0, np.nan, 12.0, 14.0, 16.0]
    predicted = [11.0, 3.0, 11.0, 15.0, np.nan]
    assert cv_rmse(observed, predicted, 0) == pytest.approx(math.sqrt(3 / 3) / 12)


def test_guideline_14_limits_by_resolution() -> None:
    limits = Guideline14Thresholds()
    assert limits.limits("hourly") == (0.30, 0.10)
    assert limits.limits("monthly") == (0.15, 0.05)
    observed = np.full(100, 10.0) + np.tile([2.0, -2.0], 50)  # CV(RMSE) about 20 % against a flat 10
    predicted = np.full(100, 10.0)
    assert assess_fit(observed, predicted, 1, "hourly").usable
    assert not assess_fit(observed, predicted, 1, "monthly").usable
    biased = assess_fit(observed, predicted * 0.85, 1, "hourly")
    assert biased.nmbe > 0.10 and not biased.usable


def test_student_t_against_known_table_values() -> None:
    # Two-sided 10 % critical values from any t table.
    assert t_critical(0.10, 10) == pytest.approx(1.812, abs=0.005)
    assert t_critical(0.10, 30) == pytest.approx(1.697, abs=0.003)
    assert t_quantile(0.975, 20) == pytest.approx(2.086, abs=0.005)
    assert t_two_sided_p(2.086, 20) == pytest.approx(0.05, abs=0.003)
    assert t_two_sided_p(1.697, 30) == pytest.approx(0.10, abs=0.004)
