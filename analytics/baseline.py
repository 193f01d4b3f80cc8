"""Weather-normalised baseline per dwelling: a CalTRACK-style daily model and an hour-of-week profile.

Contract
--------
``DailyBaselineModel(settings).fit(daily) -> self`` takes a *daily frame*
(see :mod:`analytics.sufficiency`): DatetimeIndex of local days, columns
``energy_kwh`` (kWh/day) and ``temperature_c`` (mean outdoor °C). It first
checks data sufficiency and raises :class:`InsufficientDataError` (with coded
reasons) rather than fit a bad model; non-blocking reasons are kept in
``model.warnings``. The fit is

    energy_kwh = intercept + heating_slope·HDD(heating_balance) + cooling_slope·CDD(cooling_balance)

where every balance point of the grids is tried at once (closed-form least
squares on numpy arrays, no per-candidate loop). A degree-day term is a
candidate only when its slope is positive and significant (two-sided
p < ``max_p_value``), and it is KEPT only when it predicts days the fit did not
see: the whole grid search is cross-validated (:mod:`analytics.model_selection`)
and a weather term must lower the out-of-sample RMSE by ``min_cv_improvement``.
Searching 29 × 25 balance points makes some p < 0.1 on pure noise; held-out
days do not repeat that luck. ``fit(daily, previous_model_type)`` keeps
yesterday's model type until another beats it by ``stability_margin`` more,
so the terms change between nights only when the data changed enough.

``model.predict(frame)`` takes a frame with ``temperature_c`` (and optionally
``energy_kwh``) indexed by day and returns a new frame with ``predicted_kwh``,
``base_kwh``, ``heating_kwh``, ``cooling_kwh`` and, when ``energy_kwh`` was
given, ``observed_kwh`` and ``residual_kwh`` (observed − predicted).
``model.params`` (:class:`DailyModelParams`) holds coefficients and fit
quality (out-of-sample CV(RMSE) and NMBE as fractions, ``cv_folds`` saying how
they were measured); ``DailyBaselineModel.from_params``
rebuilds a model from stored parameters.

``HourOfWeekProfile().fit(intervals) -> self`` takes an *interval frame*:
tz-aware DatetimeIndex of interval starts in the dwelling's local time zone
(regular 30- or 60-minute steps, as in ``consumption_hourly.hour``) and
``energy_kwh`` per interval. ``profile.distribute(daily_kwh, index)`` spreads
daily kWh (e.g. ``predicted_kwh``) over the intervals of ``index`` by each
weekday's share per time slot, returning a frame with ``predicted_kwh``.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from analytics.degree_days import cooling_degree_days, heating_degree_days
from analytics.errors import InsufficientDataError, NotFittedError
from analytics.frames import require_columns, require_datetime_index, typical_step
from analytics.local_clock import LocalClock
from analytics.metrics import Guideline14Thresholds, assess_fit
from analytics.model_selection import choose_model_type, cross_validate, fold_count
from analytics.student_t import t_critical, t_two_sided_p
from analytics.sufficiency import Reason, SufficiencyThresholds, check_daily_data


def _grid(start_c: float, stop_c: float, step_c: float) -> tuple[float, ...]:
    return tuple(float(x) for x in np.round(np.arange(start_c, stop_c + step_c / 2, step_c), 3))


@dataclass(frozen=True)
class BaselineSettings:
    """Grid of balance points and the rules for keeping a degree-day term."""

    # French dwellings heat from about 12–18 °C outdoors; the grid is wide on purpose.
    heating_balance_c: tuple[float, ...] = field(default_factory=lambda: _grid(8.0, 22.0, 0.5))
    cooling_balance_c: tuple[float, ...] = field(default_factory=lambda: _grid(16.0, 28.0, 0.5))
    max_p_value: float = 0.10  # CalTRACK's significance level for degree-day terms
    # Out-of-sample term selection (analytics.model_selection): 10 folds of 7-day blocks dealt round-robin.
    cv_folds: int = 10
    cv_block_days: int = 7
    # A weather term is kept only if it lowers the out-of-sample RMSE by this fraction (2 %: measured in
    # bench/baseline_terms.py, docs/benchmarks.md "Weather terms that are in the data").
    min_cv_improvement: float = 0.02
    # Yesterday's model type stays until another beats it by this fraction more (hysteresis between nights).
    stability_margin: float = 0.02
    min_degree_day_days: int = 10  # days with non-zero degree-days needed to estimate a slope
    min_total_degree_days: float = 20.0  # K·day over the fitting period, ditto
    sufficiency: SufficiencyThresholds = SufficiencyThresholds()
    guideline14: Guideline14Thresholds = Guideline14Thresholds()


@dataclass(frozen=True)
class DailyModelParams:
    """A fitted daily model: coefficients (kWh/day, kWh per K·day), balance points (°C) and fit quality."""

    model_type: str  # "intercept_only", "heating", "cooling" or "heating_cooling"
    intercept_kwh: float
    heating_kwh_per_degree_day: float
    heating_balance_c: float | None
    cooling_kwh_per_degree_day: float
    cooling_balance_c: float | None
    heating_p_value: float | None
    cooling_p_value: float | None
    n_days: int
    n_params: int
    mean_kwh: float  # mean observed daily use over the fitted days
    rmse_kwh: float  # sqrt(SSE / (n − p)), kWh/day
    cv_rmse: float  # fraction; out of sample (cross-validated) unless cv_folds is 0
    nmbe: float  # fraction; ditto (in sample it is 0 by construction of least squares)
    adjusted_r2: float
    lag1_autocorrelation: float  # of residuals on consecutive days; widens savings bands
    usable: bool  # Guideline 14 limits met
    # Covariance of (intercept, heating slope?, cooling slope?) in the order of design_matrix(); units kWh², (kWh/K·day)².
    covariance: tuple[tuple[float, ...], ...] = ()
    # How cv_rmse and nmbe were measured: folds of the blocked cross-validation (0: in sample, as stored before).
    cv_folds: int = 0
    in_sample_cv_rmse: float | None = None  # fraction, with n − p as Guideline 14 writes it
    # Out-of-sample CV(RMSE) of every model type that qualified in sample: the evidence for the kept terms.
    candidate_cv_rmse: dict[str, float] = field(default_factory=dict)

    def to_dict(self) -> dict[str, object]:
        """Plain-dict form for storage as JSON."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, object]) -> DailyModelParams:
        """Rebuild from :meth:`to_dict` output (JSON turns tuples into lists)."""
        fields = dict(data)
        fields["covariance"] = tuple(tuple(float(v) for v in row) for row in fields.get("covariance", ()))  # type: ignore[union-attr]
        return cls(**fields)  # type: ignore[arg-type]


def design_matrix(params: DailyModelParams, temperature_c: NDArray[np.float64]) -> NDArray[np.float64]:
    """Regressors of the fitted model for these daily temperatures: [1, HDD?, CDD?] per day."""
    temps = np.asarray(temperature_c, dtype=float)
    columns = [np.ones(len(temps))]
    if params.heating_balance_c is not None:
        columns.append(heating_degree_days(temps, params.heating_balance_c))
    if params.cooling_balance_c is not None:
        columns.append(cooling_degree_days(temps, params.cooling_balance_c))
    return np.column_stack(columns)


class DailyBaselineModel:
    """Intercept + HDD + CDD daily model with balance points found by grid search."""

    def __init__(self, settings: BaselineSettings = BaselineSettings()) -> None:
        self.settings = settings
        self.params: DailyModelParams | None = None
        self.warnings: tuple[Reason, ...] = ()

    @classmethod
    def from_params(cls, params: DailyModelParams, settings: BaselineSettings = BaselineSettings()) -> DailyBaselineModel:
        """A ready-to-predict model from stored parameters."""
        model = cls(settings)
        model.params = params
        return model

    def fit(self, daily: pd.DataFrame, previous_model_type: str | None = None) -> DailyBaselineModel:
        """Check sufficiency, then fit on the valid days (keeping yesterday's terms unless clearly beaten); raises InsufficientDataError."""
        report = check_daily_data(daily, self.settings.sufficiency)
        if not report.qualified:
            raise InsufficientDataError(report.reasons)
        self.warnings = report.reasons
        energy = daily["energy_kwh"].to_numpy(dtype=float)[report.valid]
        temperature = daily["temperature_c"].to_numpy(dtype=float)[report.valid]
        self.params = fit_daily_arrays(energy, temperature, self.settings, previous_model_type)
        return self

    def predict(self, frame: pd.DataFrame) -> pd.DataFrame:
        """Predicted daily kWh (and its base/heating/cooling parts) for each row's temperature."""
        params = self._require_params()
        require_columns(frame, ("temperature_c",), "daily")
        base, heating, cooling = predict_parts_kwh(params, frame["temperature_c"].to_numpy(dtype=float))
        result = pd.DataFrame(
            {"predicted_kwh": base + heating + cooling, "base_kwh": base, "heating_kwh": heating, "cooling_kwh": cooling},
            index=frame.index.copy(),
        )
        if "energy_kwh" in frame.columns:
            observed = frame["energy_kwh"].to_numpy(dtype=float)
            result["observed_kwh"] = observed
            result["residual_kwh"] = observed - result["predicted_kwh"].to_numpy()
        return result

    def _require_params(self) -> DailyModelParams:
        if self.params is None:
            raise NotFittedError("fit() the model (or use from_params) before predicting")
        return self.params


def predict_parts_kwh(
    params: DailyModelParams, temperature_c: NDArray[np.float64],
) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64]]:
    """Base, heating and cooling kWh per day for these daily °C (arrays; NaN base where °C is unknown)."""
    temperature = np.asarray(temperature_c, dtype=float)
    base = np.where(np.isfinite(temperature), params.intercept_kwh, np.nan)
    heating = np.zeros_like(temperature)
    cooling = np.zeros_like(temperature)
    if params.heating_balance_c is not None:
        heating = params.heating_kwh_per_degree_day * heating_degree_days(temperature, params.heating_balance_c)
    if params.cooling_balance_c is not None:
        cooling = params.cooling_kwh_per_degree_day * cooling_degree_days(temperature, params.cooling_balance_c)
    return base, heating, cooling


def predict_daily_kwh(params: DailyModelParams, temperature_c: NDArray[np.float64]) -> NDArray[np.float64]:
    """Predicted kWh per day for these daily °C, without building frames (hot loops of the nightly run)."""
    base, heating, cooling = predict_parts_kwh(params, temperature_c)
    return base + heating + cooling


def normalised_annual_kwh(params: DailyModelParams, normal_temperature_c: pd.Series) -> float:
    """Weather-normalised yearly use: the model's prediction summed over a normal year's daily °C."""
    predicted = predict_daily_kwh(params, normal_temperature_c.to_numpy(dtype=float))
    # As Series.sum() adds them (unknown days count 0), without building the prediction's frame.
    return float(np.where(np.isnan(predicted), 0.0, predicted).sum())


def fit_daily_arrays(energy_kwh: NDArray[np.float64], temperature_c: NDArray[np.float64], settings: BaselineSettings,
                     previous_model_type: str | None = None) -> DailyModelParams:
    """Grid-search fit on clean arrays (no NaN), terms kept by out-of-sample error: the heart of the daily model."""
    y = np.asarray(energy_kwh, dtype=float)
    temps = np.asarray(temperature_c, dtype=float)
    n = len(y)
    if n < 4:
        raise InsufficientDataError([Reason("no_data", "Too few valid days.", "Trop peu de jours valides.", {"days": float(n)})])
    y_mean = y.mean()
    yc = y - y_mean
    syy = float(yc @ yc)

    heat_bp = np.asarray(settings.heating_balance_c, dtype=float)
    cool_bp = np.asarray(settings.cooling_balance_c, dtype=float)
    hdd = heating_degree_days(temps, heat_bp)  # (n, kh)
    cdd = cooling_degree_days(temps, cool_bp)  # (n, kc)
    h_ok = _degree_days_usable(hdd, settings)
    c_ok = _degree_days_usable(cdd, settings)
    h_mean = hdd.mean(axis=0)
    c_mean = cdd.mean(axis=0)
    hc = hdd - h_mean
    cc = cdd - c_mean
    shh = np.einsum("ij,ij->j", hc, hc)
    scc = np.einsum("ij,ij->j", cc, cc)
    shy = hc.T @ yc
    scy = cc.T @ yc

    # Best in-sample fit of each model type: (residual variance SSE/(n−p), heating index, cooling index).
    per_type: dict[str, tuple[float, int, int]] = {"intercept_only": (syy / (n - 1), -1, -1)}

    with np.errstate(divide="ignore", invalid="ignore"):
        # One degree-day term: slope = Sxy/Sxx for every balance point at once.
        for kind, sxx, sxy, ok in (("heating", shh, shy, h_ok), ("cooling", scc, scy, c_ok)):
            slope = sxy / sxx
            sse = syy - slope * sxy
            dof = n - 2
            t_stat = slope / np.sqrt(sse / dof / sxx)
            good = ok & (sxx > 0) & (slope > 0) & (t_stat > t_critical(settings.max_p_value, dof))
            if good.any():
                var = np.where(good, sse / dof, np.inf)
                j = int(np.argmin(var))
                per_type[kind] = (float(var[j]), j, -1) if kind == "heating" else (float(var[j]), -1, j)

        # Both terms: solve the 2×2 normal equations for every (heating, cooling) pair at once.
        if n > 3:
            shc = hc.T @ cc  # (kh, kc)
            det = shh[:, None] * scc[None, :] - shc**2
            b_h = (scc[None, :] * shy[:, None] - shc * scy[None, :]) / det
            b_c = (shh[:, None] * scy[None, :] - shc * shy[:, None]) / det
            sse = syy - b_h * shy[:, None] - b_c * scy[None, :]
            dof = n - 3
            s2 = sse / dof
            t_h = b_h / np.sqrt(s2 * scc[None, :] / det)
            t_c = b_c / np.sqrt(s2 * shh[:, None] / det)
            crit = t_critical(settings.max_p_value, dof)
            good = (
                h_ok[:, None] & c_ok[None, :]
                & (cool_bp[None, :] >= heat_bp[:, None])
                & (det > 1e-9 * shh[:, None] * scc[None, :])
                & (b_h > 0) & (b_c > 0) & (t_h > crit) & (t_c > crit)
            )
            if good.any():
                var = np.where(good, s2, np.inf)
                i, j = np.unravel_index(int(np.argmin(var)), var.shape)
                per_type["heating_cooling"] = (float(var[i, j]), int(i), int(j))

    # Which terms to keep is decided out of sample (the whole grid search cross-validated), not by in-sample fit.
    scores = cross_validate(y, hdd, cdd, heat_bp, cool_bp, settings)
    if scores:
        kind = choose_model_type(scores, set(per_type), previous_model_type, settings)
    else:  # too few days to hold any out: the in-sample rule (lowest residual variance)
        kind = min(per_type, key=lambda t: per_type[t][0])
    _, i, j = per_type[kind]
    best = (kind, i, j)
    kind, i, j = best
    columns = []
    if i >= 0:
        columns.append(hdd[:, i])
    if j >= 0:
        columns.append(cdd[:, j])
    # Re-solve the chosen model directly: cheap, and gives exact coefficients and standard errors.
    design = np.column_stack([np.ones(n), *columns])
    coef, *_ = np.linalg.lstsq(design, y, rcond=None)
    predicted = design @ coef
    residuals = y - predicted
    n_params = design.shape[1]
    dof = n - n_params
    sse = float(residuals @ residuals)
    covariance = np.linalg.pinv(design.T @ design) * (sse / dof) if dof > 0 else np.full((n_params, n_params), np.nan)
    p_values = _p_values(coef, covariance, dof)
    in_sample = assess_fit(y, predicted, n_params, "daily", settings.guideline14)
    chosen = scores.get(kind)
    if chosen is not None and y_mean:
        # Reported quality is what the model does on days it did not see: in-sample NMBE is 0 by construction.
        cv_oos = chosen.rmse_kwh / float(y_mean)
        nmbe_oos = chosen.bias / (chosen.n * float(y_mean))
        max_cv, max_nmbe = settings.guideline14.limits("daily")
        quality_cv, quality_nmbe = cv_oos, nmbe_oos
        usable = bool(math.isfinite(cv_oos) and cv_oos <= max_cv and abs(nmbe_oos) <= max_nmbe)
    else:
        quality_cv, quality_nmbe, usable = in_sample.cv_rmse, in_sample.nmbe, in_sample.usable
    adjusted_r2 = 1.0 - (sse / dof) / (syy / (n - 1)) if syy > 0 else 0.0

    heating_slope = float(coef[1]) if i >= 0 else 0.0
    cooling_slope = float(coef[-1]) if j >= 0 else 0.0
    return DailyModelParams(
        model_type=kind,
        intercept_kwh=float(coef[0]),
        heating_kwh_per_degree_day=heating_slope,
        heating_balance_c=float(heat_bp[i]) if i >= 0 else None,
        cooling_kwh_per_degree_day=cooling_slope,
        cooling_balance_c=float(cool_bp[j]) if j >= 0 else None,
        heating_p_value=p_values[1] if i >= 0 else None,
        cooling_p_value=p_values[-1] if j >= 0 else None,
        n_days=n,
        n_params=n_params,
        mean_kwh=float(y_mean),
        rmse_kwh=math.sqrt(sse / dof) if dof > 0 else float("nan"),
        cv_rmse=quality_cv,
        nmbe=quality_nmbe,
        adjusted_r2=float(adjusted_r2),
        lag1_autocorrelation=_lag1(residuals),
        usable=usable,
        covariance=tuple(tuple(float(v) for v in row) for row in covariance),
        cv_folds=fold_count(n, settings) if scores else 0,
        in_sample_cv_rmse=in_sample.cv_rmse if math.isfinite(in_sample.cv_rmse) else None,
        candidate_cv_rmse={t: s.rmse_kwh / float(y_mean) for t, s in scores.items() if t in per_type and y_mean},
    )


def _degree_days_usable(dd: NDArray[np.float64], settings: BaselineSettings) -> NDArray[np.bool_]:
    """Balance points with enough non-zero days and total degree-days to estimate a slope."""
    return ((dd > 0).sum(axis=0) >= settings.min_degree_day_days) & (dd.sum(axis=0) >= settings.min_total_degree_days)


def _p_values(coef: NDArray[np.float64], covariance: NDArray[np.float64], dof: int) -> list[float]:
    """Two-sided p-value of each coefficient of an ordinary least-squares fit."""
    if dof <= 0:
        return [float("nan")] * len(coef)
    errors = np.sqrt(np.maximum(np.diag(covariance), 0.0))
    return [t_two_sided_p(float(c / e), dof) if e > 0 else 0.0 for c, e in zip(coef, errors, strict=True)]


def _lag1(residuals: NDArray[np.float64]) -> float:
    """Lag-1 autocorrelation of residuals (0 when undefined)."""
    if len(residuals) < 3:
        return 0.0
    r = residuals - residuals.mean()
    denominator = float(r @ r)
    return float(r[1:] @ r[:-1]) / denominator if denominator > 0 else 0.0


class HourOfWeekProfile:
    """Share of each weekday's energy falling in each time slot (hour or half-hour)."""

    def __init__(self, min_observations_per_slot: int = 2) -> None:
        self.min_observations_per_slot = min_observations_per_slot
        self.step_minutes: int | None = None
        self.shares: NDArray[np.float64] | None = None  # (7, slots per day); each row sums to 1

    def fit(self, intervals: pd.DataFrame) -> HourOfWeekProfile:
        """Learn the weekday × slot shares from an interval frame (energy_kwh per 30/60-minute interval)."""
        require_columns(intervals, ("energy_kwh",), "interval")
        index = require_datetime_index(intervals, "interval")
        if len(index) < 2:
            raise InsufficientDataError([_profile_reason(0)])
        step = int(round(typical_step(index) / pd.Timedelta(minutes=1)))
        if step <= 0 or 1440 % step:
            raise InsufficientDataError([Reason(
                "irregular_intervals", f"Interval step of {step} min does not divide a day.",
                f"Un pas de {step} min ne divise pas une journée.", {"step_minutes": float(step)})])
        per_day = 1440 // step
        energy = intervals["energy_kwh"].to_numpy(dtype=float)
        slot = _slot_of(LocalClock.of(index), step)
        ok = np.isfinite(energy) & (energy >= 0)
        sums = np.bincount(slot[ok], weights=energy[ok], minlength=7 * per_day).reshape(7, per_day)
        counts = np.bincount(slot[ok], minlength=7 * per_day).reshape(7, per_day)
        with np.errstate(divide="ignore", invalid="ignore"):
            means = sums / counts
            # A slot seen too rarely borrows the same time of day from the other weekdays.
            fallback = sums.sum(axis=0) / counts.sum(axis=0)
        sparse = counts < self.min_observations_per_slot
        means = np.where(sparse, fallback[None, :], means)
        if not np.isfinite(means).all():
            raise InsufficientDataError([_profile_reason(int(ok.sum()))])
        totals = means.sum(axis=1, keepdims=True)
        uniform = np.full_like(means, 1.0 / per_day)
        with np.errstate(divide="ignore", invalid="ignore"):
            self.shares = np.where(totals > 0, means / totals, uniform)
        self.step_minutes = step
        return self

    def distribute(self, daily_kwh: pd.Series, index: pd.DatetimeIndex) -> pd.DataFrame:
        """Spread daily kWh (indexed by local day) over the intervals of ``index`` (any step dividing or multiple of the profile's)."""
        if self.shares is None or self.step_minutes is None:
            raise NotFittedError("fit() the profile before distributing")
        if len(index) == 0:
            return pd.DataFrame({"predicted_kwh": np.zeros(0)}, index=index.copy())
        step = int(round(typical_step(index) / pd.Timedelta(minutes=1))) if len(index) > 1 else self.step_minutes
        shares = self._shares_for_step(step)
        clock = LocalClock.of(index)
        slot = _slot_of(clock, step)
        per_day = 1440 // step
        interval_share = shares.reshape(-1)[slot % (7 * per_day)]
        # Each interval takes its local day's kWh (NaN for a day not given), matched on local calendar days.
        days = pd.Index(LocalClock.of(pd.DatetimeIndex(daily_kwh.index)).day)
        if not days.is_unique:
            raise ValueError("cannot reindex on an axis with duplicate labels")
        position = days.get_indexer(clock.day)
        kwh = daily_kwh.to_numpy(dtype=float)
        day_kwh = np.where(position >= 0, kwh[position], np.nan) if len(kwh) else np.full(len(position), np.nan)
        return pd.DataFrame({"predicted_kwh": day_kwh * interval_share}, index=index.copy())

    def _shares_for_step(self, step: int) -> NDArray[np.float64]:
        assert self.shares is not None and self.step_minutes is not None
        own = self.step_minutes
        if step == own:
            return self.shares
        if step > own and step % own == 0:
            factor = step // own
            return self.shares.reshape(7, -1, factor).sum(axis=2)
        if step < own and own % step == 0:
            factor = own // step
            return np.repeat(self.shares / factor, factor, axis=1)
        raise ValueError(f"cannot map a {own}-minute profile onto {step}-minute intervals")


def predict_interval_kwh(
    model: DailyBaselineModel, profile: HourOfWeekProfile, daily_temperature: pd.DataFrame, index: pd.DatetimeIndex
) -> pd.DataFrame:
    """Baseline kWh per interval: the daily model's prediction spread by the hour-of-week profile."""
    daily = model.predict(daily_temperature)
    return profile.distribute(daily["predicted_kwh"], index)


def _slot_of(clock: LocalClock, step_minutes: int) -> NDArray[np.int64]:
    """Weekday × time-of-day slot number of each timestamp (local wall clock)."""
    per_day = 1440 // step_minutes
    return (clock.day_of_week * per_day + clock.minute // step_minutes).astype(np.int64)


def _profile_reason(observations: int) -> Reason:
    return Reason(
        "profile_too_little_data",
        "Not enough interval data to learn the weekly usage profile.",
        "Pas assez de données fines pour apprendre le profil hebdomadaire.",
        {"observations": float(observations)},
    )
