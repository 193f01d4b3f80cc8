"""The nightly run: baselines, neighbourhood comparisons, high-consumer rankings, suggestions and savings.

Dwellings are read and analysed in chunks (``analytics_chunk_dwellings``) so memory stays
bounded; only a few numbers per dwelling are kept for the steps across dwellings
(comparisons, rankings, suggestions against similar homes). One dwelling that fails is
logged in analytics_failure and skipped; a failing step across dwellings is recorded in
the run's detail and the others still run.
"""

from __future__ import annotations

import json
import logging
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone

import numpy as np
import pandas as pd
import psycopg

from analytics.anomalies import Anomaly, AnomalyKind, Severity
from analytics.comparison import ComparisonSettings, compare_dwellings
from analytics.degree_days import normal_year_temperature_c
from analytics.dwelling_year import DwellingInputs, DwellingYear, analyse_dwelling, complete_months
from analytics.errors import InsufficientDataError
from analytics.neighbour_suggestions import neighbour_suggestions
from analytics.ranking import RankingSettings, rank_high_consumers
from analytics.ranking_periods import LAST_12_MONTHS, PREVIOUS_12_MONTHS, RankingPeriod, adviser_periods
from analytics.savings import SavingsSettings, estimate_savings
from analytics.suggestion_guard import within_use
from analytics.suggestions import Suggestion, Tariffs, suggest_leak_repair
from analytics.job import hardship_step, peer_day_step
from analytics.job import nightly_load as load
from analytics.job.load import outdoor_hourly
from analytics.job import nightly_store as store
from analytics.job.run import ELECTRIC_HEATING, mark_abandoned_runs, start_run
from coopwatt.consent import COMPARISONS, dwellings_consenting
from coopwatt.db import connect
from coopwatt.settings import Settings

log = logging.getLogger(__name__)

JOB = "nightly"
HOURLY_DAYS = 56  # eight weeks of hourly electricity: the standby (night base load)
_YEAR_KINDS = (LAST_12_MONTHS, PREVIOUS_12_MONTHS)


@dataclass
class NightlySummary:
    """What a nightly run did, for logs, the run log and the demo."""

    run_id: int
    status: str = "running"
    dwellings_processed: int = 0
    failures: int = 0
    baselines_qualified: int = 0
    baselines_unqualified: int = 0
    groups_published: int = 0
    groups_withheld: int = 0
    groups_unchanged: int = 0  # published on an earlier night: their figures never change
    ranked: int = 0
    high_consumers: int = 0
    suggestions: int = 0
    suggestions_refused: int = 0  # would save more than the home used over the year: not made
    savings: int = 0
    hardship_flags: int = 0
    peer_days_published: int = 0
    peer_days_withheld: int = 0
    step_errors: dict[str, str] = field(default_factory=dict)
    skipped: Counter[str] = field(default_factory=Counter)
    step_seconds: dict[str, float] = field(default_factory=dict)  # where a night's time goes, for sizing

    def detail(self) -> dict[str, object]:
        """The run-log detail."""
        return {"baselines_qualified": self.baselines_qualified, "baselines_unqualified": self.baselines_unqualified,
                "groups_published": self.groups_published, "groups_withheld": self.groups_withheld,
                "groups_unchanged": self.groups_unchanged,
                "ranked": self.ranked, "high_consumers": self.high_consumers, "suggestions": self.suggestions,
                "suggestions_refused": self.suggestions_refused,
                "savings": self.savings, "hardship_flags": self.hardship_flags,
                "peer_days_published": self.peer_days_published, "peer_days_withheld": self.peer_days_withheld,
                "step_errors": self.step_errors, "skipped": dict(self.skipped),
                "step_seconds": {name: round(seconds, 2) for name, seconds in self.step_seconds.items()}}


def tariffs_from(settings: Settings) -> Tariffs:
    """The cooperative's prices as the suggestion rules take them."""
    return Tariffs(
        electricity_base_eur_per_kwh=settings.tariff_electricity_eur_per_kwh,
        gas_eur_per_kwh=settings.tariff_gas_eur_per_kwh,
        heat_eur_per_kwh=settings.tariff_heat_eur_per_kwh,
        water_eur_per_m3=settings.tariff_water_eur_per_m3,
    )


def prices_from(settings: Settings) -> dict[str, float]:
    """€ per kWh by energy kind."""
    return {"electricity": settings.tariff_electricity_eur_per_kwh, "gas": settings.tariff_gas_eur_per_kwh,
            "heat": settings.tariff_heat_eur_per_kwh}


class Accumulator:
    """The few numbers per dwelling and kind that the steps across dwellings need."""

    def __init__(self) -> None:
        self.rows: list[dict[str, object]] = []
        self.suggestions: list[Suggestion] = []
        self.processed: list[int] = []
        self.used_kwh_per_year: dict[tuple[int, str], float | None] = {}
        # Each dwelling's heating energy on measured days, for the hardship step (read with the chunk's days).
        self.heating_measured: dict[tuple[int, str], pd.Series] = {}

    def add(self, info: load.DwellingInfo, year: DwellingYear) -> None:
        """Keep one dwelling's figures (the chunk's frames are dropped after this)."""
        self.processed.append(info.dwelling_id)
        self.suggestions.extend(year.suggestions)
        standby = year.standby
        for kind in year.kinds.values():
            self.used_kwh_per_year[(info.dwelling_id, kind.kind)] = kind.used_kwh_per_year
            electricity = kind.kind == "electricity"
            self.rows.append({
                "dwelling_id": info.dwelling_id, "energy_kind": kind.kind, "residence_id": info.residence_id,
                "district": info.district, "floor_area_m2": info.floor_area_m2, "heating_type": info.heating_type,
                "normalised_energy_kwh": _nan(kind.normalised_kwh_per_year),
                "previous_normalised_energy_kwh": _nan(kind.previous_normalised_kwh_per_year),
                "base_load_w": _nan(year.base_load_w) if electricity else np.nan,
                "base_load_method": standby.method.value if electricity and standby is not None else None,
                "base_load_windows": float(standby.windows) if electricity and standby is not None else np.nan,
                "heating_kwh_per_degree_day": (kind.params.heating_kwh_per_degree_day
                                               if kind.params is not None else np.nan),
                "previous_heating_kwh_per_degree_day": (kind.previous_params.heating_kwh_per_degree_day
                                                        if kind.previous_params is not None else np.nan),
                "drift_fraction": kind.drift_fraction, "params": kind.params,
                "monthly": kind.monthly_normalised_kwh, "period_use": kind.period_use,
            })

    def frame(self) -> pd.DataFrame:
        """All kept rows of dwellings with a floor area (figures per m² need one)."""
        frame = pd.DataFrame(self.rows)
        if frame.empty:
            return frame
        area = pd.to_numeric(frame["floor_area_m2"], errors="coerce")
        return frame.loc[area.gt(0).fillna(False)].reset_index(drop=True)


def _nan(value: float | None) -> float:
    return float("nan") if value is None else float(value)


def run_nightly(url: str, settings: Settings, now: datetime | None = None) -> NightlySummary:
    """Run every nightly step over every dwelling; recorded as a 'nightly' run."""
    with connect(url, autocommit=True) as conn:
        mark_abandoned_runs(conn, JOB)
    summary = NightlySummary(run_id=start_run(url, JOB))
    tz = settings.timezone
    today = pd.Timestamp(now or datetime.now(timezone.utc)).tz_convert(tz).date()
    first_day = today - timedelta(days=730)
    acc = Accumulator()
    periods = adviser_periods(today, settings.progress_season_start_month, settings.progress_season_end_month)
    with connect(url) as conn:
        dwellings = load.list_dwellings(conn)
        residence_ids = sorted({d.residence_id for d in dwellings})
        temperatures = load.daily_temperatures(conn, residence_ids, first_day, today, tz)
        normals = {rid: _normal_year(series) for rid, series in temperatures.items()}
        conn.commit()
        size = settings.analytics_chunk_dwellings
        started = time.perf_counter()
        for offset in range(0, len(dwellings), size):
            chunk = dwellings[offset:offset + size]
            _analyse_chunk(conn, chunk, today, first_day, temperatures, normals, settings, summary, acc, periods)
        summary.step_seconds["dwellings"] = time.perf_counter() - started
        summary.dwellings_processed = len(acc.processed)
        frame = acc.frame()
        steps = (
            ("comparisons", lambda: _comparisons(conn, frame, today, settings, summary)),
            ("rankings", lambda: _rankings(conn, frame, periods, settings, summary)),
            ("suggestions", lambda: _suggestions(conn, frame, normals, acc, settings, summary)),
            ("savings", lambda: _savings(conn, temperatures, today, settings, summary)),
            ("hardship", lambda: _hardship(conn, dwellings, frame, temperatures, today, settings, summary, acc)),
            ("peer_days", lambda: _peer_days(conn, dwellings, today, settings, summary)),
        )
        for name, step in steps:
            started = time.perf_counter()
            try:
                step()
                conn.commit()
            except Exception as exc:  # one failing step never stops the others; the reason is kept
                conn.rollback()
                log.exception("analytics nightly: step %s failed", name)
                summary.step_errors[name] = f"{type(exc).__name__}: {exc}"
            summary.step_seconds[name] = time.perf_counter() - started
        summary.status = "partial" if summary.failures or summary.step_errors else "ok"
        conn.execute(
            """UPDATE analytics_run SET finished_at = now(), status = %s, dwellings_processed = %s, failures = %s,
                      detail = detail || %s WHERE id = %s""",
            (summary.status, summary.dwellings_processed, summary.failures, json.dumps(summary.detail()),
             summary.run_id),
        )
        conn.commit()
    return summary


def _normal_year(daily_c: pd.Series) -> pd.Series | None:
    try:
        return normal_year_temperature_c(daily_c)
    except InsufficientDataError:
        return None  # no temperature yet: every baseline of the residence says so in its reasons


def _analyse_chunk(conn: psycopg.Connection, chunk: list[load.DwellingInfo], today: date, first_day: date,
                   temperatures: dict[int, pd.Series], normals: dict[int, pd.Series | None], settings: Settings,
                   summary: NightlySummary, acc: Accumulator, periods: list[RankingPeriod]) -> None:
    """Read one chunk's rollups, analyse each dwelling, store its baselines."""
    # The twelve-month periods are the baselines' own years; the others are normalised day by day.
    other_periods = tuple((p.start, p.end) for p in periods if p.kind not in _YEAR_KINDS)
    tz = settings.timezone
    ids = [d.dwelling_id for d in chunk]
    daily, measured = load.daily_use_and_measured(conn, chunk, first_day, today, tz, settings.gas_kwh_per_m3,
                                                  hardship_step.first_day(today, settings))
    for info in chunk:
        key = (info.dwelling_id, hardship_step.HEATING_KIND.get(info.heating_type or ""))
        if key in measured:
            acc.heating_measured[key] = measured[key]
    until = load.local_midnight(today, tz)
    hourly = load.hourly_electricity(conn, ids, until - timedelta(days=HOURLY_DAYS), until, tz)
    # Hourly °C over the same weeks: a home whose electricity heats has its standby measured on unheated hours.
    outdoor = outdoor_hourly(conn, sorted({d.residence_id for d in chunk}), until - timedelta(days=HOURLY_DAYS), tz)
    # The off-peak check compares whole yearly bills: a year of hours, summed by hour of the day in SQL.
    by_hour = load.hour_of_day_electricity(conn, ids, until - timedelta(days=365), until, tz)
    contracts = load.supply_contracts(conn, ids)
    model_types = load.stored_model_types(conn, ids)
    conn.commit()
    empty = pd.Series(np.nan, index=pd.date_range(pd.Timestamp(first_day), pd.Timestamp(today), freq="D",
                                                  inclusive="left"))
    prices, grids = prices_from(settings), settings.tariff_grids()
    results = []
    for info in chunk:
        kinds = {kind: daily.get((info.dwelling_id, kind), empty) for kind in load.ENERGY_KINDS if kind in info.meters}
        try:
            year = analyse_dwelling(
                DwellingInputs(info.dwelling_id, today, kinds, temperatures[info.residence_id],
                               normals.get(info.residence_id), hourly.get(info.dwelling_id),
                               by_hour.get(info.dwelling_id), contracts.get(info.dwelling_id, ()),
                               previous_model_types={kind: t for (d, kind), t in model_types.items()
                                                     if d == info.dwelling_id},
                               electric_heating=info.heating_type in ELECTRIC_HEATING,
                               outdoor_c=outdoor.get(info.residence_id)),
                months=settings.analytics_comparison_months, grids=grids,
                offpeak_hours=settings.tariff_offpeak_hours, prices_eur_per_kwh=prices, periods=other_periods,
            )
        except Exception as exc:  # one dwelling never stops the run; the reason is kept
            log.warning("analytics nightly: dwelling %s failed: %s", info.dwelling_id, exc)
            conn.execute("INSERT INTO analytics_failure (run_id, dwelling_id, reason) VALUES (%s, %s, %s)",
                         (summary.run_id, info.dwelling_id, f"{type(exc).__name__}: {exc}"))
            conn.commit()
            summary.failures += 1
            continue
        results.append(year)
        acc.add(info, year)
        if info.dwelling_id not in hourly and np.isfinite(kinds.get("electricity", empty).to_numpy()).any():
            # Daily data only (utility exports): baselines and comparisons ran on it, but the night base load,
            # leaks, the hour-of-week profile and the off-peak check need hours; counted, never guessed.
            summary.skipped["hourly_features_no_hourly_data"] += 1
        for kind in year.kinds.values():
            if kind.qualified:
                summary.baselines_qualified += 1
            else:
                summary.baselines_unqualified += 1
    store.write_baselines(conn, results)
    conn.commit()


def _comparisons(conn: psycopg.Connection, frame: pd.DataFrame, today: date, settings: Settings,
                 summary: NightlySummary) -> None:
    """Each complete month and kind: similar homes' figures, published only where k-anonymity allows."""
    if frame.empty:
        return
    cs = ComparisonSettings(min_group_size=settings.comparison_min_group_size)
    frame = _consenting(conn, frame)
    for month in complete_months(today, settings.analytics_comparison_months):
        period = (month, (pd.Timestamp(month) + pd.offsets.MonthBegin(1)).date())
        values = [m.get(month, np.nan) for m in frame["monthly"]]
        month_frame = frame.assign(normalised_energy_kwh=values)
        for kind, rows in month_frame.groupby("energy_kind", sort=True):
            rows = rows[np.isfinite(rows["normalised_energy_kwh"].to_numpy(dtype=float))]
            if rows.empty:
                continue
            before = load.published_members(conn, str(kind), period)
            result = compare_dwellings(rows.reset_index(drop=True), cs, before)
            published, withheld, unchanged = store.write_comparison(conn, str(kind), period, result, set(before))
            summary.groups_published += published
            summary.groups_withheld += withheld
            summary.groups_unchanged += unchanged


def _consenting(conn: psycopg.Connection, frame: pd.DataFrame) -> pd.DataFrame:
    """The rows of households that consent to neighbourhood comparisons: the others leave future groups.

    Groups already published stay as they were shown (k-anonymity freeze): a member gone makes a group's
    membership change, which compare_dwellings withholds rather than recomputes.
    """
    if frame.empty:
        return frame
    members = dwellings_consenting(conn, COMPARISONS)
    return frame[frame["dwelling_id"].isin(members)].reset_index(drop=True)


def _rankings(conn: psycopg.Connection, frame: pd.DataFrame, periods: list[RankingPeriod], settings: Settings,
              summary: NightlySummary) -> None:
    """High consumers per kind for each adviser period (ranking_periods.adviser_periods); other periods' rows go."""
    rs = RankingSettings(comparison=ComparisonSettings(min_group_size=settings.comparison_min_group_size))
    if frame.empty:
        store.forget_old_rankings(conn, [])
        return
    for period in periods:
        for kind, rows in frame.groupby("energy_kind", sort=True):
            scope = _period_scope(rows, period)
            if scope.empty:
                # A season or year stays the same for months: last night's rows must not outlive their homes.
                store.drop_ranking(conn, str(kind), (period.start, period.end))
                continue
            ranking = rank_high_consumers(scope.drop(columns=["params", "monthly", "period_use", "base_load_windows"])
                                          .reset_index(drop=True), rs)
            summary.ranked += store.write_rankings(conn, str(kind), (period.start, period.end), ranking, period.kind)
            if period.kind == LAST_12_MONTHS:
                summary.high_consumers += int(ranking["high"].sum())
    store.forget_old_rankings(conn, [(p.start, p.end) for p in periods])


def _period_scope(rows: pd.DataFrame, period: RankingPeriod) -> pd.DataFrame:
    """One kind's homes with their figures for the period; homes without a figure for it are left out."""
    if period.kind == LAST_12_MONTHS:
        scope = rows
    elif period.kind == PREVIOUS_12_MONTHS:
        scope = rows.assign(normalised_energy_kwh=rows["previous_normalised_energy_kwh"],
                            heating_kwh_per_degree_day=rows["previous_heating_kwh_per_degree_day"])
    else:
        use = [u.get((period.start, period.end), (np.nan, np.nan)) for u in rows["period_use"]]
        scope = rows.assign(normalised_energy_kwh=[u[0] for u in use], heating_kwh_per_degree_day=[u[1] for u in use])
    if period.kind != LAST_12_MONTHS:
        scope = scope.drop(columns=["drift_fraction", "base_load_w"])  # today's figures, not that period's
    return scope[np.isfinite(scope["normalised_energy_kwh"].to_numpy(dtype=float))]


def _suggestions(conn: psycopg.Connection, frame: pd.DataFrame, normals: dict[int, pd.Series | None],
                 acc: Accumulator, settings: Settings, summary: NightlySummary) -> None:
    """Own suggestions, those against similar homes, and leak repairs: the dwellings' list is replaced."""
    found = list(acc.suggestions)
    if not frame.empty:
        fitted = _consenting(conn, frame)
        # A boolean array, not a list: an empty list would select no columns instead of no rows.
        fitted = fitted[np.array([p is not None for p in fitted["params"]], dtype=bool)]
        fitted = fitted[np.isfinite(fitted["normalised_energy_kwh"].to_numpy(dtype=float))]
        if not fitted.empty:
            found += neighbour_suggestions(
                fitted.reset_index(drop=True), {rid: n for rid, n in normals.items() if n is not None},
                prices_from(settings), ComparisonSettings(min_group_size=settings.comparison_min_group_size))
    tariffs = tariffs_from(settings)
    processed = set(acc.processed)
    for dwelling_id, meter_id, started_at, evidence in load.open_leaks(conn):
        if dwelling_id not in processed:
            continue
        leak = Anomaly(AnomalyKind.WATER_LEAK, Severity.WARNING, meter_id, dwelling_id, pd.Timestamp(started_at),
                       pd.Timestamp(started_at), True, dict(evidence or {}))
        suggestion = suggest_leak_repair(dwelling_id, leak, tariffs)
        if suggestion is not None:
            found.append(suggestion)
    found, refused = within_use(found, acc.used_kwh_per_year)
    for suggestion in refused:
        log.warning("analytics nightly: %s suggestion for dwelling %s not made: it would save more than the"
                    " home used (%s)", suggestion.kind, suggestion.dwelling_id, suggestion.evidence)
    summary.suggestions_refused = len(refused)
    summary.suggestions = store.write_suggestions(conn, acc.processed, found)


def _savings(conn: psycopg.Connection, temperatures: dict[int, pd.Series], today: date, settings: Settings,
             summary: NightlySummary) -> None:
    """Weather-normalised savings of every intervention with a year before it and a month after."""
    ss = SavingsSettings()
    for item in load.interventions(conn):
        if item.day >= today:
            summary.skipped["savings_in_future"] += 1
            continue
        start = item.day - timedelta(days=ss.baseline_days)
        use = load.intervention_daily_use(conn, item, start, today, settings.timezone, settings.gas_kwh_per_m3)
        weather = temperatures.get(item.residence_id)
        if weather is None or weather.index.min() > pd.Timestamp(start):
            weather = load.daily_temperatures(conn, [item.residence_id], start, today, settings.timezone)[item.residence_id]
        for kind, daily in use.items():
            frame = pd.DataFrame({"energy_kwh": daily, "temperature_c": weather.reindex(daily.index)})
            try:
                result = estimate_savings(frame, pd.Timestamp(item.day), ss)
            except InsufficientDataError as exc:
                for reason in exc.reasons:
                    summary.skipped[f"savings_{reason.code}"] += 1
                continue
            store.write_savings(conn, item.intervention_id, kind, result)
            summary.savings += 1



def _hardship(conn: psycopg.Connection, dwellings: list[load.DwellingInfo], frame: pd.DataFrame,
              temperatures: dict[int, pd.Series], today: date, settings: Settings, summary: NightlySummary,
              acc: Accumulator) -> None:
    """Homes that may be in energy hardship, for the advisers' list (measured days only)."""
    flags = hardship_step.find_cases(conn, dwellings, frame, temperatures, today, settings, prices_from(settings),
                                     acc.heating_measured)
    summary.hardship_flags = hardship_step.write_cases(conn, summary.run_id, [d.dwelling_id for d in dwellings], flags)


def _peer_days(conn: psycopg.Connection, dwellings: list[load.DwellingInfo], today: date, settings: Settings,
               summary: NightlySummary) -> None:
    """Similar homes' typical day over the household card's window, per group of k or more homes."""
    summary.peer_days_published, summary.peer_days_withheld = peer_day_step.run(
        conn, dwellings, today, settings.timezone, settings.gas_kwh_per_m3,
        ComparisonSettings(min_group_size=settings.comparison_min_group_size))
