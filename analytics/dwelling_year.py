"""One dwelling's year, as the nightly run sees it: baselines, normalised use by month, base load, own suggestions.

Contract
--------
``analyse_dwelling(inputs, settings)`` is pure. :class:`DwellingInputs` carries, for
ONE dwelling:

* ``daily``: per energy kind, kWh per local day (naive midnight index) over the
  two years before ``today`` (NaN = day not fully measured);
* ``temperature_c``: the residence's mean °C per local day over the same days;
* ``normal_c``: a normal year of daily °C (index: day of year 1–365);
* ``hourly``: recent hourly electricity (``energy_kwh``, tz-aware local index)
  for the standby (night base load, :mod:`analytics.standby`); may be None;
* ``electric_heating``: the registry says the home is heated by electricity;
* ``outdoor_c``: the residence's outdoor °C by time (tz-aware) over ``hourly``: a heated home's unheated hours;
* ``hour_of_day``: the last year's measured electricity by local hour of the day and
  ``contracts`` (dated supply contracts) for the off-peak check (:mod:`analytics.offpeak`).

It returns :class:`DwellingYear`: per kind a :class:`KindYear` (the current
year's model or the reasons it could not be fitted, last year's model when one
fits, normalised yearly kWh for both, and weather-normalised kWh for each
complete month, and the kWh it used over the year, scaled to 365 days from its
measured days) plus the standby and the suggestions that need no neighbours
(off-peak tariff, year-on-year drift). A home whose electricity heats has its
standby measured on unheated hours only, or not at all: the electricity
baseline's reasons then say why (non-blocking ``standby_not_measured``). Suggestions that compare with
similar homes (base load, heating set-point) are made later, across dwellings.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import date

import numpy as np
import pandas as pd

from analytics.baseline import (
    BaselineSettings, DailyBaselineModel, DailyModelParams, normalised_annual_kwh, predict_daily_kwh,
)
from analytics.errors import InsufficientDataError
from analytics.ranking_periods import model_for, normalised_use_kwh
from analytics.sufficiency import Reason
from analytics.offpeak import HourOfDayUse, suggest_offpeak_tariff
from analytics.standby import Standby, StandbySettings, heated_below_c, measure_standby, standby_reason
from analytics.suggestions import Suggestion, SuggestionThresholds, suggest_drift
from coopwatt.tariffs import DEFAULT_OFFPEAK_HOURS, SupplyContract, TariffGrid, contract_on, grid_on

# A month is compared only when nearly every day of it was measured (the rest is scaled up from the mean).
MIN_MONTH_COVERAGE = 0.9


@dataclass(frozen=True)
class DwellingInputs:
    """What the nightly run reads for one dwelling."""

    dwelling_id: int
    today: date  # first day NOT analysed (local)
    daily: dict[str, pd.Series]
    temperature_c: pd.Series
    normal_c: pd.Series | None
    hourly: pd.DataFrame | None = None
    hour_of_day: HourOfDayUse | None = None
    contracts: tuple[SupplyContract, ...] = ()
    electric_heating: bool = False
    outdoor_c: pd.Series | None = None
    # Per energy kind, the model type of the baseline stored last night (kept unless clearly beaten).
    previous_model_types: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class KindYear:
    """One energy kind of one dwelling: this year's baseline, last year's, normalised use."""

    kind: str
    period_start: date
    period_end: date
    params: DailyModelParams | None
    reasons: tuple[Reason, ...]
    normalised_kwh_per_year: float | None
    previous_params: DailyModelParams | None = None
    previous_normalised_kwh_per_year: float | None = None
    monthly_normalised_kwh: dict[date, float] = field(default_factory=dict)  # month start → kWh
    # Advisers' other ranking periods (season, calendar year): (start, end) → (normal-weather kWh over the
    # period, heating kWh per degree-day of the model used); a period without enough measured days is absent.
    period_use: dict[tuple[date, date], tuple[float, float]] = field(default_factory=dict)
    used_kwh_per_year: float | None = None  # measured over the year judged, scaled to 365 days (None: no day)

    @property
    def qualified(self) -> bool:
        """A model was fitted for the current year."""
        return self.params is not None

    @property
    def drift_fraction(self) -> float:
        """Normalised use this year over last year, minus one (NaN without both)."""
        if not self.normalised_kwh_per_year or not self.previous_normalised_kwh_per_year:
            return float("nan")
        return self.normalised_kwh_per_year / self.previous_normalised_kwh_per_year - 1.0


@dataclass(frozen=True)
class DwellingYear:
    """The nightly result for one dwelling."""

    dwelling_id: int
    kinds: dict[str, KindYear]
    standby: Standby | None
    suggestions: tuple[Suggestion, ...]

    @property
    def base_load_w(self) -> float | None:
        """The standby power (W), when it was measured."""
        return None if self.standby is None else self.standby.power_w


def fit_window(daily: pd.Series, temperature_c: pd.Series, start: date, end: date, settings: BaselineSettings,
               previous_model_type: str | None = None) -> tuple[DailyModelParams | None, tuple[Reason, ...]]:
    """Fit the daily model on local days [start, end); the reasons when the data do not qualify."""
    days = pd.date_range(pd.Timestamp(start), pd.Timestamp(end), freq="D", inclusive="left")
    frame = pd.DataFrame({"energy_kwh": daily.reindex(days), "temperature_c": temperature_c.reindex(days)})
    try:
        model = DailyBaselineModel(settings).fit(frame, previous_model_type)
    except InsufficientDataError as exc:
        return None, tuple(exc.reasons)
    return model.params, tuple(model.warnings)


def normal_temperature_for(days: pd.DatetimeIndex, normal_c: pd.Series) -> np.ndarray:
    """The normal year's °C for each of these days (29 February takes 28 February's)."""
    day_of_year = np.minimum(days.day_of_year.to_numpy(), 365)
    # normal_c is indexed by day of year 1–365, in order.
    return normal_c.to_numpy(dtype=float)[day_of_year - 1]


def monthly_normalised_kwh(daily: pd.Series, temperature_c: pd.Series, normal_c: pd.Series,
                           params: DailyModelParams, months: list[date]) -> dict[date, float]:
    """Each complete month's use as it would have been in normal weather (own model's weather share swapped)."""
    if not months:
        return {}
    first = pd.Timestamp(months[0])
    days = pd.date_range(first, pd.Timestamp(months[-1]) + pd.offsets.MonthBegin(1), freq="D", inclusive="left")
    energy = daily.reindex(days).to_numpy(dtype=float)
    actual_c = temperature_c.reindex(days).to_numpy(dtype=float)
    normalised = (energy + predict_daily_kwh(params, normal_temperature_for(days, normal_c))
                  - predict_daily_kwh(params, actual_c))
    known = np.isfinite(normalised)
    month_of_day = (days.year.to_numpy() - first.year) * 12 + days.month.to_numpy() - first.month
    out = {}
    for month in months:
        position = (month.year - first.year) * 12 + month.month - first.month
        in_month = month_of_day == position
        measured = known & in_month
        if measured.sum() < MIN_MONTH_COVERAGE * in_month.sum():
            continue
        out[month] = float(normalised[measured].mean() * in_month.sum())
    return out


def complete_months(today: date, count: int) -> list[date]:
    """First days of the ``count`` complete local months before ``today``, oldest first."""
    last = pd.Timestamp(today).to_period("M") - 1
    return [(last - i).to_timestamp().date() for i in reversed(range(count))]


def analyse_dwelling(
    inputs: DwellingInputs, *, months: int = 12, grids: tuple[TariffGrid, ...] = (),
    offpeak_hours: tuple[int, ...] = DEFAULT_OFFPEAK_HOURS,
    baseline: BaselineSettings = BaselineSettings(), thresholds: SuggestionThresholds = SuggestionThresholds(),
    prices_eur_per_kwh: dict[str, float] | None = None, periods: tuple[tuple[date, date], ...] = (),
    standby: StandbySettings = StandbySettings(),
) -> DwellingYear:
    """Baselines (this year and last), normalised use by month, base load and own suggestions for one dwelling."""
    today = pd.Timestamp(inputs.today)
    year_start = (today - pd.Timedelta(days=365)).date()
    previous_start = (today - pd.Timedelta(days=730)).date()
    month_list = complete_months(inputs.today, months)
    prices = prices_eur_per_kwh or {}
    kinds: dict[str, KindYear] = {}
    suggestions: list[Suggestion] = []
    for kind, daily in sorted(inputs.daily.items()):
        params, reasons = fit_window(daily, inputs.temperature_c, year_start, inputs.today, baseline,
                                     inputs.previous_model_types.get(kind))
        previous, _ = fit_window(daily, inputs.temperature_c, previous_start, year_start, baseline)
        normal = inputs.normal_c
        normalised = normalised_annual_kwh(params, normal) if params is not None and normal is not None else None
        previous_normalised = (normalised_annual_kwh(previous, normal)
                               if previous is not None and normal is not None else None)
        monthly = (monthly_normalised_kwh(daily, inputs.temperature_c, normal, params, month_list)
                   if params is not None and normal is not None else {})
        fitted = [((year_start, inputs.today), params), ((previous_start, year_start), previous)]
        period_use = _period_use(daily, inputs.temperature_c, normal, fitted, periods) if normal is not None else {}
        kinds[kind] = KindYear(kind, year_start, inputs.today, params, reasons, normalised, previous,
                               previous_normalised, monthly, period_use,
                               used_kwh_per_year(daily, year_start, inputs.today))
        if params is not None and previous is not None and normal is not None and kind in prices:
            drift = suggest_drift(inputs.dwelling_id, previous, params, normal, prices[kind], thresholds)
            if drift is not None:
                suggestions.append(_with_kind(drift, kind))
    electricity = kinds.get("electricity")
    measured = measure_standby(
        inputs.hourly, inputs.outdoor_c,
        heated_below_c(inputs.electric_heating, electricity.params if electricity else None, standby), standby)
    reason = standby_reason(measured, _window_days(inputs.hourly))
    if electricity is not None and electricity.qualified and reason is not None:
        # Only beside a fitted model: an unqualified baseline's reasons say why it has no model.
        kinds["electricity"] = replace(electricity, reasons=(*electricity.reasons, reason))
    last_day = (today - pd.Timedelta(days=1)).date()
    grid = grid_on(grids, last_day)
    if inputs.hour_of_day is not None and grid is not None:
        offpeak = suggest_offpeak_tariff(inputs.dwelling_id, inputs.hour_of_day,
                                         contract_on(inputs.contracts, last_day), grid, offpeak_hours, thresholds)
        if offpeak is not None:
            suggestions.append(_with_kind(offpeak, "electricity"))
    return DwellingYear(inputs.dwelling_id, kinds, measured, tuple(suggestions))


def used_kwh_per_year(daily: pd.Series, start: date, end: date) -> float | None:
    """kWh used over local days [start, end), the unmeasured days at the measured days' mean (None: none measured)."""
    days = pd.date_range(pd.Timestamp(start), pd.Timestamp(end), freq="D", inclusive="left")
    values = daily.reindex(days).to_numpy(dtype=float)
    known = values[np.isfinite(values)]
    if not len(known):
        return None
    return float(known.mean() * 365.0)


def _window_days(hourly: pd.DataFrame | None) -> int:
    """Days the hourly window spans (for the reason's wording)."""
    if hourly is None or not len(hourly):
        return 0
    return int(np.ceil((hourly.index.max() - hourly.index.min()) / pd.Timedelta(days=1)))


def _period_use(daily: pd.Series, temperature_c: pd.Series, normal_c: pd.Series,
                fitted: list[tuple[tuple[date, date], DailyModelParams | None]],
                periods: tuple[tuple[date, date], ...]) -> dict[tuple[date, date], tuple[float, float]]:
    """Normal-weather use over each period with the baseline whose year covers it best (absent: too few days)."""
    out = {}
    for start, end in periods:
        params = model_for((start, end), fitted)
        if params is None:
            continue
        days = pd.date_range(pd.Timestamp(start), pd.Timestamp(end), freq="D", inclusive="left")
        kwh = normalised_use_kwh(daily, temperature_c, normal_temperature_for(days, normal_c), params, start, end)
        if kwh is not None:
            slope = params.heating_kwh_per_degree_day if params.heating_balance_c is not None else float("nan")
            out[(start, end)] = (kwh, float(slope))
    return out


def _with_kind(suggestion: Suggestion, kind: str) -> Suggestion:
    """The suggestion with its energy kind in the evidence (the household view names it)."""
    return replace(suggestion, evidence={**suggestion.evidence, "energy_kind": kind})
