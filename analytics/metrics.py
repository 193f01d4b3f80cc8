"""Goodness of fit per ASHRAE Guideline 14: CV(RMSE) and NMBE.

Contract
--------
``cv_rmse(observed, predicted, n_params)`` and ``nmbe(...)`` take two
equal-length arrays of the same quantity and unit (e.g. kWh per day) and the
number of model parameters p; NaN pairs are ignored. Both return a fraction
(0.12 means 12 %):

* CV(RMSE) = sqrt(Σ(y − ŷ)² / (n − p)) / ȳ
* NMBE     = Σ(y − ŷ) / ((n − p) · ȳ)   (positive: the model under-predicts)

``assess_fit`` compares them with Guideline 14's calibration limits for the
data's resolution. The guideline gives limits for hourly (30 % / ±10 %) and
monthly (15 % / ±5 %) data only; daily and sub-hourly fits are judged with the
hourly limits, the looser pair, because day-to-day scatter is closer to hourly
than to monthly scatter.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
from numpy.typing import ArrayLike

Resolution = Literal["monthly", "daily", "hourly", "half_hourly"]


@dataclass(frozen=True)
class Guideline14Thresholds:
    """ASHRAE Guideline 14 limits for a usable (calibrated) model, as fractions."""

    hourly_cv_rmse: float = 0.30
    hourly_nmbe: float = 0.10
    monthly_cv_rmse: float = 0.15
    monthly_nmbe: float = 0.05

    def limits(self, resolution: Resolution) -> tuple[float, float]:
        """(max CV(RMSE), max |NMBE|) for data of this resolution."""
        if resolution == "monthly":
            return self.monthly_cv_rmse, self.monthly_nmbe
        return self.hourly_cv_rmse, self.hourly_nmbe


@dataclass(frozen=True)
class FitQuality:
    """CV(RMSE) and NMBE of a fit, with whether Guideline 14 calls it usable."""

    cv_rmse: float
    nmbe: float
    n: int
    n_params: int
    resolution: Resolution
    usable: bool


def _paired(observed: ArrayLike, predicted: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    obs = np.asarray(observed, dtype=float)
    pred = np.asarray(predicted, dtype=float)
    if obs.shape != pred.shape:
        raise ValueError(f"observed and predicted differ in shape: {obs.shape} vs {pred.shape}")
    keep = np.isfinite(obs) & np.isfinite(pred)
    return obs[keep], pred[keep]


def cv_rmse(observed: ArrayLike, predicted: ArrayLike, n_params: int) -> float:
    """Coefficient of variation of the RMSE (fraction), Guideline 14 form with n − p."""
    obs, pred = _paired(observed, predicted)
    dof = len(obs) - n_params
    mean = obs.mean() if len(obs) else np.nan
    if dof <= 0 or not mean:
        return float("nan")
    return float(np.sqrt(np.sum((obs - pred) ** 2) / dof) / mean)


def nmbe(observed: ArrayLike, predicted: ArrayLike, n_params: int) -> float:
    """Normalised mean bias error (fraction), Guideline 14 form with n − p."""
    obs, pred = _paired(observed, predicted)
    dof = len(obs) - n_params
    mean = obs.mean() if len(obs) else np.nan
    if dof <= 0 or not mean:
        return float("nan")
    return float(np.sum(obs - pred) / (dof * mean))


def assess_fit(
    observed: ArrayLike,
    predicted: ArrayLike,
    n_params: int,
    resolution: Resolution,
    thresholds: Guideline14Thresholds = Guideline14Thresholds(),
) -> FitQuality:
    """CV(RMSE), NMBE and Guideline 14 usability of one fit."""
    obs, pred = _paired(observed, predicted)
    cv = cv_rmse(obs, pred, n_params)
    bias = nmbe(obs, pred, n_params)
    max_cv, max_nmbe = thresholds.limits(resolution)
    usable = bool(np.isfinite(cv) and cv <= max_cv and abs(bias) <= max_nmbe)
    return FitQuality(cv, bias, len(obs), n_params, resolution, usable)
