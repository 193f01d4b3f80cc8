"""The household view's analytics cards: similar homes, last year, anomalies and suggestions.

Read from the analytics results (migration 0003) and the daily rollup; the
caller has already resolved the dwelling against the session's scope.
"""

from __future__ import annotations

import math
from datetime import date, datetime, timedelta
from typing import Any

import dash_bootstrap_components as dbc
import psycopg
from dash import dcc, html

from analytics.verdict import Verdict
from coopwatt.settings import Settings
from dashboard import alert_queries, household_comparison, queries, standby_text, verdicts
from dashboard.figures import (
    Tariffs, anomaly_sentence, comparison_figure, shown_kwh_per_m2, similar_homes_explained, year_on_year,
)
from dashboard.i18n import MESSAGES, format_day, format_money_eur, format_quantity, language_or_default, t

# The "this period" window compared with the same days a year earlier.
YEAR_ON_YEAR_DAYS = 30
# "The same days a year earlier": 365 days back, so weekdays shift by one (as before).
YEAR_SHIFT_DAYS = 365
# Fewer days measured on both sides than this share of the window, and no verdict is given.
MIN_COMPARABLE_DAY_FRACTION = 0.8
# Degree-days need most days of temperature to mean anything.
MIN_WEATHER_DAY_FRACTION = 0.8
SEVERITY_COLOURS = {"critical": "danger", "warning": "warning", "info": "info"}


def cards(conn: psycopg.Connection, dwelling_id: int, kind: str, lang: str, settings: Settings) -> tuple[Any, ...]:
    """The four cards' contents for one dwelling and energy kind, all from the one verdict of the dwelling."""
    today = datetime.now(settings.tz).date()
    verdict = verdicts.dwelling_verdict(conn, dwelling_id)
    return (
        similar_homes(conn, dwelling_id, kind, lang, min_group_size=settings.comparison_min_group_size,
                      verdict=verdict, tariffs=Tariffs.from_settings(settings)),
        last_year(conn, dwelling_id, kind, lang, settings, today, verdict=verdict),
        anomalies(conn, dwelling_id, lang, settings),
        suggestions(conn, dwelling_id, lang, verdict=verdict, today=today),
    )


def similar_homes(conn: psycopg.Connection, dwelling_id: int, kind: str, lang: str, *, min_group_size: int,
                  verdict: Verdict | None = None, tariffs: Tariffs | None = None) -> Any:
    """Use per m² beside similar homes, with a kind verdict; only a kind line when the group is below k.

    No praise when the dwelling's verdict has a concern (an open alert, a high ranking).

    k (`min_group_size`, the comparison_min_group_size setting) is the analytics job's too: a
    group it published when k was smaller is still hidden here once k has grown.
    """
    comparison = queries.latest_comparison(conn, dwelling_id, kind, min_group_size=min_group_size)
    if comparison is None:
        return household_comparison.no_comparison(conn, dwelling_id, kind, lang)
    if not comparison.published or comparison.average_kwh_per_m2 is None:
        return html.P(t("similar.withheld", lang, k=min_group_size), className="text-body-secondary small mb-0",
                      id="similar-withheld")
    # Rounded here, as shown, before anything is built from them: the browser never gets more digits
    # than the page shows (full precision let two households subtract their way to a third's use).
    own, average = shown_kwh_per_m2(comparison.own_kwh_per_m2), shown_kwh_per_m2(comparison.average_kwh_per_m2)
    efficient = (None if comparison.efficient_kwh_per_m2 is None
                 else shown_kwh_per_m2(comparison.efficient_kwh_per_m2))
    verdict = verdict or verdicts.dwelling_verdict(conn, dwelling_id)
    return html.Div([
        html.P(verdicts.comparison_sentence(own, average, efficient, verdict, lang), className="fw-semibold mb-1",
               id="similar-verdict"),
        # The same comparison in the household's own kWh and € (from the figures as shown).
        household_comparison.own_terms(comparison, _floor_area_m2(conn, dwelling_id), tariffs, lang)
        if tariffs is not None else None,
        dcc.Graph(figure=comparison_figure(own, average, efficient, lang),
                  config={"displayModeBar": False, "responsive": True}, style={"height": "180px"},
                  id="similar-graph"),
        # The group's period is local days [start, end): the last day shown is the one before `end`.
        html.P(t("similar.period", lang, start=format_day(comparison.period_start, lang),
                 end=format_day(comparison.period_end - timedelta(days=1), lang)),
               className="small text-body-secondary mb-0", id="similar-period"),
        html.P(similar_homes_explained(comparison.group_key, lang),
               className="small text-body-secondary mb-0", id="similar-who"),
        html.P(t("similar.efficient_rule", lang, k=min_group_size, twice_k=2 * min_group_size),
               className="small text-body-secondary mb-0", id="similar-efficient-rule"),
        html.P(verdicts.comparison_thresholds(lang), className="small text-body-secondary mb-0",
               id="similar-thresholds"),
    ])


def _floor_area_m2(conn: psycopg.Connection, dwelling_id: int) -> float:
    info = queries.dwelling_info(conn, dwelling_id)
    return info.floor_area_m2 if info is not None else 0.0


def weather_independent(kind: str, baseline: queries.BaselineRow | None) -> bool:
    """Whether this use barely follows the weather, so a raw year-on-year comparison is already fair.

    Water never does; an energy does not when its qualified baseline kept no heating term (the
    electricity of a gas-heated home): saying "no reference model yet" there would be wrong.
    """
    if kind == "water":
        return True
    return baseline is not None and baseline.qualified and not baseline.heating_kwh_per_degree_day


def last_year(conn: psycopg.Connection, dwelling_id: int, kind: str, lang: str, settings: Settings,
              today: date, verdict: Verdict | None = None) -> Any:
    """The last 30 days against the same days a year earlier, weather-corrected when the baseline allows.

    Compared on the days measured on both sides only; with too few of them it says it cannot
    conclude. No praise beside an open alert on the dwelling: the figures may be the fault's.
    """
    end = today
    start = end - timedelta(days=YEAR_ON_YEAR_DAYS)
    last_start, last_end = start - timedelta(days=YEAR_SHIFT_DAYS), end - timedelta(days=YEAR_SHIFT_DAYS)
    paired = queries.paired_use(conn, dwelling_id, kind, start, end, shift_days=YEAR_SHIFT_DAYS,
                                timezone=settings.timezone, gas_kwh_per_m3=settings.gas_kwh_per_m3)
    period = html.P(t("lastyear.period", lang, start=format_day(start, lang), end=format_day(end - timedelta(days=1), lang)),
                    className="small text-body-secondary mb-0")
    if not paired.days:
        return html.P(t("lastyear.none", lang), className="text-body-secondary small mb-0", id="lastyear-none")
    needed = math.ceil(MIN_COMPARABLE_DAY_FRACTION * paired.window_days)
    if len(paired.days) < needed:
        return html.Div([
            html.P(t("lastyear.incomparable", lang, days=len(paired.days), total=paired.window_days, needed=needed),
                   className="mb-1", id="lastyear-incomparable"),
            period,
        ])
    baseline = queries.baselines(conn, dwelling_id).get(kind)
    slope = baseline.heating_kwh_per_degree_day if baseline and baseline.qualified else None
    why = "lastyear.why_no_baseline"
    dd_this = dd_last = None
    if slope is not None and baseline is not None and kind != "water":
        balance = baseline.heating_balance_point_c if baseline.heating_balance_point_c is not None else 18.0
        weather = {"timezone": settings.timezone, "balance_point_c": balance}
        by_day_this = queries.degree_days_by_day(conn, dwelling_id, start, end, **weather)
        by_day_last = queries.degree_days_by_day(conn, dwelling_id, last_start, last_end, **weather)
        # Degree-days over the compared days only, as the use is.
        shift = timedelta(days=YEAR_SHIFT_DAYS)
        with_weather = [day for day in paired.days if day in by_day_this and day - shift in by_day_last]
        if len(with_weather) >= MIN_WEATHER_DAY_FRACTION * len(paired.days):
            dd_this = sum(by_day_this[day] for day in with_weather)
            dd_last = sum(by_day_last[day - shift] for day in with_weather)
        else:
            why = "lastyear.why_no_weather"
    result = year_on_year(paired.this_period, paired.last_year, degree_days_this=dd_this, degree_days_last=dd_last,
                          heating_kwh_per_degree_day=slope)
    if result is None:
        return html.P(t("lastyear.none", lang), className="text-body-secondary small mb-0", id="lastyear-none")
    unit = queries.UNIT_OF_KIND[kind]
    sentence = verdicts.year_on_year_sentence(result.change_fraction,
                                              verdict or verdicts.dwelling_verdict(conn, dwelling_id), lang)
    if result.weather_normalised:
        note = t("lastyear.normalised", lang, normalised=format_quantity(result.last_year_normalised or 0, unit, lang))
    elif weather_independent(kind, baseline):
        note = t("lastyear.weather_independent", lang)
    else:
        note = t("lastyear.not_normalised", lang, why=t(why, lang))
    coverage = t("lastyear.coverage", lang, days=len(paired.days), total=paired.window_days)
    thresholds = verdicts.stable_threshold(lang)
    return html.Div([
        html.P(sentence, className="fw-semibold mb-1", id="lastyear-verdict"),
        html.P(t("lastyear.figures", lang, this=format_quantity(result.this_period, unit, lang),
                 last=format_quantity(result.last_year, unit, lang)), className="mb-1", id="lastyear-figures"),
        period,
        html.P(coverage, className="small text-body-secondary mb-0", id="lastyear-coverage"),
        html.P(note, className="small text-body-secondary mb-0", id="lastyear-note"),
        html.P(thresholds, className="small text-body-secondary mb-0", id="lastyear-thresholds"),
    ])


def anomalies(conn: psycopg.Connection, dwelling_id: int, lang: str, settings: Settings) -> Any:
    """The dwelling's open alerts in plain words, most severe first."""
    alerts = alert_queries.open_alerts_of_dwelling(conn, dwelling_id)
    if not alerts:
        return html.P(t("anomalies.none", lang), className="text-success small mb-0", id="anomalies-none")
    return html.Ul([
        html.Li([
            dbc.Badge(t(f"severity.{alert.severity}", lang), color=SEVERITY_COLOURS.get(alert.severity, "secondary"),
                      className="me-2"),
            anomaly_sentence(alert.kind, alert.meter_kind, alert.started_at.astimezone(settings.tz), lang),
        ], className="mb-2 anomaly")
        for alert in alerts
    ], className="list-unstyled mb-0", id="anomalies-list")


def suggestions(conn: psycopg.Connection, dwelling_id: int, lang: str, *, verdict: Verdict | None = None,
                today: date | None = None) -> Any:
    """Savings suggestions with € per year, most valuable first, then an action for each unanswered concern.

    A stored off-peak suggestion is not shown once the contract of the day is no longer Base.
    """
    contract = queries.supply_contract(conn, dwelling_id, today or date.today())
    rows = [row for row in queries.suggestions(conn, dwelling_id)
            if row.kind != "offpeak_tariff" or contract is None or contract.option == "base"]
    verdict = verdict or verdicts.dwelling_verdict(conn, dwelling_id)
    actions = verdicts.action_sentences(verdict, lang)
    # Daily figures only (utility exports): the suggestions that need hours were not looked for; say so.
    hourly_note = (html.P(t("suggestions.daily_only", lang), className="text-body-secondary small mt-2 mb-0",
                          id="suggestions-daily-only") if queries.daily_data_only(conn, dwelling_id) else None)
    contract_line = html.P(verdicts.contract_sentence(contract, lang), className="text-body-secondary small mt-2 mb-0",
                           id="suggestions-contract")
    # A home heated by electricity whose standby could not be measured on nights without heating: say why.
    unmeasured = standby_text.not_measured_sentence(queries.baselines(conn, dwelling_id), lang)
    standby_note = (html.P(unmeasured, className="text-body-secondary small mt-2 mb-0", id="suggestions-standby")
                    if unmeasured else None)
    if not rows and not actions:
        none = html.P(verdicts.no_suggestion_sentence(verdict, lang), className="text-body-secondary small mb-0",
                      id="suggestions-none")
        return html.Div([none, standby_note, hourly_note, contract_line])
    items = [html.Li(html.Div(text), className="mb-2 suggestion suggestion-action") for text in actions]
    for row in rows:
        key = f"suggestion.{row.kind}"
        text = t(key, lang) if key in _messages(lang) else t("suggestion.other", lang)
        detail = [html.Span(t("suggestions.value", lang, eur=format_money_eur(round(row.cost_eur_per_year), lang)),
                            className="fw-semibold text-success suggestion-eur")]
        if row.energy_kwh_per_year > 0:
            detail.append(html.Span(" · " + t("suggestions.energy", lang,
                                              amount=format_quantity(row.energy_kwh_per_year, "kWh", lang, digits=0)),
                                    className="text-body-secondary"))
        extra = [html.Div(line, className="small text-body-secondary") for line in _details(row, lang)]
        items.append(html.Li([html.Div(text), html.Div(detail, className="small"), *extra], className="mb-2 suggestion"))
    return html.Div([html.Ol(items, className="ps-3 mb-0", id="suggestions-list"), standby_note, hourly_note,
                     contract_line])


def _details(row: queries.SuggestionRow, lang: str) -> list[str]:
    """The lines under a suggestion: the off-peak bills, or how a heated home's standby was measured."""
    if row.kind == "offpeak_tariff":
        return verdicts.offpeak_details(row.evidence, lang)
    if row.kind == "base_load":
        measured_on = standby_text.measured_on_sentence(row.evidence, lang)
        return [measured_on] if measured_on else []
    return []


def _messages(lang: str) -> dict[str, str]:
    return MESSAGES[language_or_default(lang)]
