"""Out-of-sample judgement of the daily model's terms: blocked cross-validation of the whole grid search.

Contract
--------
``cross_validate(y, hdd, cdd, heat_bp, cool_bp, settings) -> dict[str, OutOfFold]`` takes the clean daily
energy (kWh/day, shape (n,)) and the degree-days of every balance point of the grids (``hdd`` (n, kh),
``cdd`` (n, kc), K·day) with the grids themselves (°C). Days are dealt into ``settings.cv_folds`` folds by
blocks of ``settings.cv_block_days`` consecutive days (block b goes to fold b mod K), so every fold spans the
year's seasons and keeps a week's weekday pattern and day-to-day correlation together. For each model type
(``intercept_only``, ``heating``, ``cooling``, ``heating_cooling``) the WHOLE fitting procedure is repeated on
each fold's training days — balance points chosen by the grid search there, with the same positive-slope and
significance rules as the full fit — and judged on the fold's held-out days. Searching 29 × 25 balance points
therefore costs a weather term its own optimism: noise that one balance point happens to fit on the training
days does not repeat on the held-out week. Everything is computed from per-fold sums (no loop over balance
points). Returns, per model type, the out-of-fold sum of squared errors and of errors (kWh).

``choose_model_type(scores, candidates, previous, settings)`` applies the selection rule: the lowest
out-of-sample RMSE after raising it by ``min_cv_improvement`` per degree-day term (a weather term must lower
the held-out error by that fraction to be kept); and yesterday's type, when it is still a candidate, stays
until tonight's choice beats it by ``stability_margin`` more (hysteresis: the model changes between nights
only when the data changed enough, in either direction).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Protocol

import numpy as np
from numpy.typing import NDArray

from analytics.student_t import t_critical

Arr = NDArray[np.float64]
MODEL_TYPES = ("intercept_only", "heating", "cooling", "heating_cooling")
PARAMETERS = {"intercept_only": 1, "heating": 2, "cooling": 2, "heating_cooling": 3}


class SelectionSettings(Protocol):
    """The parts of BaselineSettings this module reads."""

    max_p_value: float
    min_degree_day_days: int
    min_total_degree_days: float
    cv_folds: int
    cv_block_days: int
    min_cv_improvement: float
    stability_margin: float


@dataclass(frozen=True)
class OutOfFold:
    """One model type's errors on held-out days: Σ(y − ŷ)² (kWh²) and Σ(y − ŷ) (kWh) over ``n`` days."""

    sse: float
    bias: float
    n: int

    @property
    def rmse_kwh(self) -> float:
        """Root mean squared out-of-sample error, kWh/day."""
        return math.sqrt(self.sse / self.n) if self.n else math.nan


def fold_of_days(n: int, folds: int, block_days: int) -> NDArray[np.int64]:
    """Fold number of each of n consecutive days: blocks of ``block_days`` dealt round-robin."""
    return (np.arange(n) // block_days) % folds


def fold_count(n: int, settings: SelectionSettings) -> int:
    """How many folds n days give (0: too few blocks to cross-validate)."""
    blocks = -(-n // settings.cv_block_days)
    folds = min(settings.cv_folds, blocks)
    return folds if folds >= 2 else 0


def cross_validate(
    y: NDArray[np.float64], hdd: NDArray[np.float64], cdd: NDArray[np.float64],
    heat_bp: NDArray[np.float64], cool_bp: NDArray[np.float64], settings: SelectionSettings,
) -> dict[str, OutOfFold]:
    """Out-of-fold errors of each model type's whole fitting procedure (see the module's contract)."""
    n = len(y)
    folds = fold_count(n, settings)
    if not folds:
        return {}
    member = np.zeros((n, folds))
    member[np.arange(n), fold_of_days(n, folds, settings.cv_block_days)] = 1.0
    fold = _Sums.of(member, y, hdd, cdd)
    train = fold.complement()
    out: dict[str, OutOfFold] = {}
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        a0 = train.sy / train.n
        zero_h = np.zeros((folds,))
        out["intercept_only"] = _held_out(fold, a0, zero_h, zero_h, None, None)
        h_ok = _usable(train.nz_h, train.sh, settings)
        c_ok = _usable(train.nz_c, train.sc, settings)
        for kind, s_x, s_xx, s_xy, ok in (("heating", train.sh, train.shh, train.shy, h_ok),
                                          ("cooling", train.sc, train.scc, train.scy, c_ok)):
            a, b, j = _best_single(train, s_x, s_xx, s_xy, ok, settings)
            if kind == "heating":
                out[kind] = _held_out(fold, a, b, zero_h, j, None)
            else:
                out[kind] = _held_out(fold, a, zero_h, b, None, j)
        a, b_h, b_c, i, j = _best_pair(train, h_ok, c_ok, heat_bp, cool_bp, settings)
        out["heating_cooling"] = _held_out(fold, a, b_h, b_c, i, j)
    return out


def penalised_rmse(scores: dict[str, OutOfFold], model_type: str, settings: SelectionSettings) -> float:
    """Out-of-sample RMSE, raised by ``min_cv_improvement`` for each degree-day term the type adds."""
    return scores[model_type].rmse_kwh * (1.0 + settings.min_cv_improvement) ** (PARAMETERS[model_type] - 1)


def choose_model_type(scores: dict[str, OutOfFold], candidates: set[str], previous: str | None,
                      settings: SelectionSettings) -> str:
    """The kept model type among the in-sample candidates, by out-of-sample RMSE (see the module's contract)."""
    usable = [t for t in MODEL_TYPES if t in candidates and t in scores and math.isfinite(scores[t].sse)]
    if not usable:
        return "intercept_only"
    # Each term must lower the held-out error by min_cv_improvement: ties go to the simpler model.
    fresh = min(usable, key=lambda t: (penalised_rmse(scores, t, settings), PARAMETERS[t]))
    if previous in usable and previous != fresh:
        # Hysteresis: last night's terms stay until tonight's choice is better by stability_margin as well.
        if penalised_rmse(scores, fresh, settings) * (1.0 + settings.stability_margin) >= \
                penalised_rmse(scores, previous, settings):
            return previous
    return fresh


@dataclass(frozen=True)
class _Sums:
    """Per-fold sums (leading axis: fold) from which any least-squares fit and its errors follow."""

    n: NDArray[np.float64]
    sy: NDArray[np.float64]
    syy: NDArray[np.float64]
    sh: NDArray[np.float64]
    shh: NDArray[np.float64]
    shy: NDArray[np.float64]
    nz_h: NDArray[np.float64]
    sc: NDArray[np.float64]
    scc: NDArray[np.float64]
    scy: NDArray[np.float64]
    nz_c: NDArray[np.float64]
    shc: NDArray[np.float64]  # (K, kh, kc)

    @classmethod
    def of(cls, member: NDArray[np.float64], y: NDArray[np.float64], h: NDArray[np.float64],
           c: NDArray[np.float64]) -> _Sums:
        """Sums over each fold's days (``member``: (n, K) one-hot)."""
        m = member.T
        return cls(n=m.sum(axis=1), sy=m @ y, syy=m @ (y * y), sh=m @ h, shh=m @ (h * h), shy=m @ (h * y[:, None]),
                   nz_h=m @ (h > 0), sc=m @ c, scc=m @ (c * c), scy=m @ (c * y[:, None]), nz_c=m @ (c > 0),
                   # Σ h·c per balance-point pair, one small product per fold (a 4-index einsum is 30× slower).
                   shc=np.stack([h[member[:, k] > 0].T @ c[member[:, k] > 0] for k in range(member.shape[1])]))

    def complement(self) -> _Sums:
        """Sums over every day NOT in each fold: the training days."""
        return _Sums(*(getattr(self, f).sum(axis=0, keepdims=True) - getattr(self, f)
                       for f in self.__dataclass_fields__))


def _usable(nonzero: NDArray[np.float64], total: NDArray[np.float64], settings: SelectionSettings) -> NDArray[np.bool_]:
    return (nonzero >= settings.min_degree_day_days) & (total >= settings.min_total_degree_days)


def _best_single(train: _Sums, s_x: NDArray[np.float64], s_xx: NDArray[np.float64], s_xy: NDArray[np.float64],
                 ok: NDArray[np.bool_], settings: SelectionSettings) -> tuple[Arr, Arr, NDArray[np.int64]]:
    """Per fold: intercept, slope and balance-point index of the best qualifying one-term fit (−1: none, intercept only)."""
    n = train.n[:, None]
    sxx = s_xx - s_x**2 / n
    sxy = s_xy - s_x * train.sy[:, None] / n
    syy = train.syy - train.sy**2 / train.n
    slope = sxy / sxx
    sse = syy[:, None] - slope * sxy
    dof = n - 2
    t_stat = slope / np.sqrt(sse / dof / sxx)
    crit = np.array([t_critical(settings.max_p_value, d) for d in dof[:, 0]])[:, None]
    good = ok & (sxx > 0) & (slope > 0) & (t_stat > crit)
    score = np.where(good, sse, np.inf)
    j = np.argmin(score, axis=1)
    rows = np.arange(len(j))
    found = good[rows, j]
    b = np.where(found, slope[rows, j], 0.0)
    a = (train.sy - b * np.where(found, s_x[rows, j], 0.0)) / train.n
    return a, b, np.where(found, j, -1)


def _best_pair(train: _Sums, h_ok: NDArray[np.bool_], c_ok: NDArray[np.bool_], heat_bp: NDArray[np.float64],
               cool_bp: NDArray[np.float64], settings: SelectionSettings
               ) -> tuple[Arr, Arr, Arr, NDArray[np.int64], NDArray[np.int64]]:
    """Per fold: intercept, slopes and balance-point indices of the best qualifying two-term fit (−1: none)."""
    n = train.n[:, None, None]
    shh = (train.shh - train.sh**2 / train.n[:, None])[:, :, None]
    scc = (train.scc - train.sc**2 / train.n[:, None])[:, None, :]
    shc = train.shc - train.sh[:, :, None] * train.sc[:, None, :] / n
    shy = (train.shy - train.sh * train.sy[:, None] / train.n[:, None])[:, :, None]
    scy = (train.scy - train.sc * train.sy[:, None] / train.n[:, None])[:, None, :]
    syy = (train.syy - train.sy**2 / train.n)[:, None, None]
    det = shh * scc - shc**2
    b_h = (scc * shy - shc * scy) / det
    b_c = (shh * scy - shc * shy) / det
    sse = syy - b_h * shy - b_c * scy
    s2 = sse / (n - 3)
    t_h = b_h / np.sqrt(s2 * scc / det)
    t_c = b_c / np.sqrt(s2 * shh / det)
    crit = np.array([t_critical(settings.max_p_value, d) for d in train.n - 3])[:, None, None]
    good = (h_ok[:, :, None] & c_ok[:, None, :] & (cool_bp[None, None, :] >= heat_bp[None, :, None])
            & (det > 1e-9 * shh * scc) & (b_h > 0) & (b_c > 0) & (t_h > crit) & (t_c > crit))
    folds, _, kc = good.shape
    flat = np.where(good, sse, np.inf).reshape(folds, -1)
    best = np.argmin(flat, axis=1)
    rows = np.arange(folds)
    found = good.reshape(folds, -1)[rows, best]
    i, j = np.divmod(best, kc)
    bh = np.where(found, b_h.reshape(folds, -1)[rows, best], 0.0)
    bc = np.where(found, b_c.reshape(folds, -1)[rows, best], 0.0)
    a = (train.sy - bh * train.sh[rows, i] - bc * train.sc[rows, j]) / train.n
    return a, bh, bc, np.where(found, i, -1), np.where(found, j, -1)


def _held_out(fold: _Sums, a: NDArray[np.float64], b_h: NDArray[np.float64], b_c: NDArray[np.float64],
              i: NDArray[np.int64] | None, j: NDArray[np.int64] | None) -> OutOfFold:
    """Σ(y − a − b_h·h − b_c·c)² and Σ(y − ŷ) on each fold's own days, from its sums, added over folds."""
    rows = np.arange(len(a))
    zeros = np.zeros(len(a))
    ii = np.maximum(i, 0) if i is not None else None
    jj = np.maximum(j, 0) if j is not None else None
    sh = fold.sh[rows, ii] if ii is not None else zeros
    shh = fold.shh[rows, ii] if ii is not None else zeros
    shy = fold.shy[rows, ii] if ii is not None else zeros
    sc = fold.sc[rows, jj] if jj is not None else zeros
    scc = fold.scc[rows, jj] if jj is not None else zeros
    scy = fold.scy[rows, jj] if jj is not None else zeros
    shc = fold.shc[rows, ii, jj] if ii is not None and jj is not None else zeros
    sse = (fold.syy + fold.n * a**2 + b_h**2 * shh + b_c**2 * scc
           - 2 * a * fold.sy - 2 * b_h * shy - 2 * b_c * scy
           + 2 * a * b_h * sh + 2 * a * b_c * sc + 2 * b_h * b_c * shc)
    bias = fold.sy - a * fold.n - b_h * sh - b_c * sc
    return OutOfFold(float(np.maximum(sse, 0.0).sum()), float(bias.sum()), int(fold.n.sum()))
