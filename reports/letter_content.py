"""One household's monthly letter as content: every sentence and figure it will show, in its language.

Read from the same store and with the same rules as the household page (dashboard/queries.py):
the month's use and cost, the month against the same month last year (on days measured both
years, weather-normalised when the home's baseline allows, else saying why), the published
similar-homes figures only, one chart, the most valuable suggestion with the home's own
evidence, open alerts in words and the residence's collective progress. The result is plain JSON
(stored in ``letter.content``) that reports.render lays out as e-mail and as PDF.
"""

from __future__ import annotations

import math
from datetime import date, datetime, timedelta
from typing import Any

import psycopg

from coopwatt.settings import Settings
from dashboard import alert_queries, queries, standby_text
from dashboard.figures import (
    Tariffs, anomaly_sentence, comparison_verdict, shown_kwh_per_m2, similar_homes_explained, year_on_year,
)
from dashboard.i18n import format_day, format_fraction_percent, format_money_eur, format_period, format_quantity, t
from dashboard.verdicts import going_cold
from reports.chart import MonthAmount, month_bars
from reports.letter_days import DwellingDays, read_days
from reports.letter_days import months as month_totals
from reports.letter_days import paired as paired_days
from reports.progress_store import ProgressRow, progress_of_residence
from reports.texts import signed_percent, tr

# The same thresholds as the household page's year-on-year card.
MIN_COMPARABLE_DAY_FRACTION = 0.8
MIN_WEATHER_DAY_FRACTION = 0.8
STABLE_FRACTION = 0.03
CHART_MONTHS = 13
_EVIDENCE_PERCENT = {"offpeak_share", "saving_fraction_per_c"}
_EVIDENCE_KWH = {"heating_kwh_per_year", "previous_normal_year_kwh", "current_normal_year_kwh"}


def next_month(month: date) -> date:
    """The first day of the month after ``month``."""
    return date(month.year + (month.month == 12), 1 if month.month == 12 else month.month + 1, 1)


def previous_month(today: date) -> date:
    """The first day of the last complete month before ``today``."""
    first = today.replace(day=1)
    return (first - timedelta(days=1)).replace(day=1)


def _evidence(kind: str, evidence: dict[str, Any], lang: str) -> str | None:
    """The suggestion's own-home evidence in words; group figures are never quoted."""
    key = f"evidence.{kind}"
    try:
        values = {}
        for name, value in evidence.items():
            if not isinstance(value, int | float):
                continue
            if name in _EVIDENCE_PERCENT:
                values[name] = format_fraction_percent(float(value), lang)
            elif name in _EVIDENCE_KWH:
                values[name] = format_quantity(float(value), "kWh", lang, digits=0)
            else:
                values[name] = format_quantity(float(value), "", lang, digits=0).strip()
        return tr(key, lang, **values)
    except KeyError:
        return None


def _month_section(periods: dict[str, queries.PeriodUse | None], month: date, tariffs: Tariffs, lang: str) -> dict:
    days_in_month = (next_month(month) - month).days
    lines, total_eur = [], 0.0
    for kind, period in periods.items():
        if period is None:
            continue
        unit = queries.UNIT_OF_KIND[kind]
        eur = period.amount * tariffs.eur_per_unit(kind)
        total_eur += eur
        coverage = [tr("month.coverage", lang, days=period.days, total=days_in_month)] if period.days < days_in_month else []
        if period.estimated_days:
            coverage.append(tr("month.estimated", lang, days=period.estimated_days))
        lines.append({"text": tr("month.line", lang, kind=t(f"kind.{kind}", lang),
                                 amount=format_quantity(period.amount, unit, lang, digits=0 if period.amount >= 100 else 1),
                                 eur=format_money_eur(round(eur, 2), lang)),
                      "note": ", ".join(coverage)})
    return {"title": tr("month.title", lang), "lines": lines,
            "total": tr("month.total", lang, eur=format_money_eur(round(total_eur, 2), lang)) if lines else "",
            "none": "" if lines else tr("month.none", lang)}


def _last_year_item(conn: psycopg.Connection, days: DwellingDays, dwelling_id: int, kind: str, month: date,
                    settings: Settings, lang: str, alert_open: bool, has_idea: bool, going_cold: bool = False) -> dict:
    """One kind's month against the same month last year, or why there is no comparison."""
    end = next_month(month)
    shift_days = (month - date(month.year - 1, month.month, 1)).days
    name = t(f"kind.{kind}", lang)
    paired = paired_days(days, kind, month, end, shift_days)
    if not paired.days:
        return {"verdict": tr("lastyear.none", lang, kind=name), "details": []}
    needed = math.ceil(MIN_COMPARABLE_DAY_FRACTION * paired.window_days)
    if len(paired.days) < needed:
        return {"verdict": tr("lastyear.incomparable", lang, kind=name, days=len(paired.days),
                              total=paired.window_days, needed=needed), "details": []}
    baseline = queries.baselines(conn, dwelling_id).get(kind)
    slope = baseline.heating_kwh_per_degree_day if baseline and baseline.qualified else None
    why, dd_this, dd_last = "lastyear.why_no_baseline", None, None
    if slope is not None and baseline is not None and kind != "water":
        balance_c = baseline.heating_balance_point_c if baseline.heating_balance_point_c is not None else 18.0
        weather = {"timezone": settings.timezone, "balance_point_c": balance_c}
        this_dd = queries.degree_days_by_day(conn, dwelling_id, month, end, **weather)
        shift = timedelta(days=shift_days)
        last_dd = queries.degree_days_by_day(conn, dwelling_id, month - shift, end - shift, **weather)
        kept = [day for day in paired.days if day in this_dd and day - shift in last_dd]
        if len(kept) >= MIN_WEATHER_DAY_FRACTION * len(paired.days):
            dd_this, dd_last = sum(this_dd[d] for d in kept), sum(last_dd[d - shift] for d in kept)
        else:
            why = "lastyear.why_no_weather"
    result = year_on_year(paired.this_period, paired.last_year, degree_days_this=dd_this, degree_days_last=dd_last,
                          heating_kwh_per_degree_day=slope)
    if result is None:
        return {"verdict": tr("lastyear.none", lang, kind=name), "details": []}
    unit = queries.UNIT_OF_KIND[kind]
    independent = kind == "water" or (baseline is not None and baseline.qualified
                                      and not baseline.heating_kwh_per_degree_day)
    change = format_fraction_percent(abs(result.change_fraction), lang)
    suffix = "" if result.weather_normalised else "_raw"
    if abs(result.change_fraction) < STABLE_FRACTION:
        verdict = tr("lastyear.same", lang, kind=name, stable=format_fraction_percent(STABLE_FRACTION, lang))
    elif result.change_fraction > 0:
        verdict = tr("lastyear.higher" + suffix, lang, kind=name, change=change,
                     help=tr("lastyear.help" if has_idea else "lastyear.help_none", lang))
    else:
        # No praise beside an open alert (the lower figure may be the fault's), nor for a home on the advisers'
        # hardship list (it may be going cold): the plain figure then.
        ending = "_with_alert" if alert_open else "_plain" if going_cold else ""
        verdict = tr("lastyear.lower" + suffix + ending, lang, kind=name, change=change)
    details = [tr("lastyear.figures", lang, this=format_quantity(result.this_period, unit, lang),
                  last=format_quantity(result.last_year, unit, lang), days=len(paired.days))]
    if result.weather_normalised:
        details.append(tr("lastyear.normalised", lang,
                          normalised=format_quantity(result.last_year_normalised or 0.0, unit, lang)))
    elif independent:
        details.append(tr("lastyear.weather_independent", lang))
    else:
        details.append(tr("lastyear.not_normalised", lang, why=tr(why, lang)))
    return {"verdict": verdict, "details": details}


def _similar_item(conn: psycopg.Connection, dwelling_id: int, kind: str, lang: str, k: int) -> dict | None:
    """The published similar-homes figures (rounded as shown), a withheld notice, or None."""
    comparison = queries.latest_comparison(conn, dwelling_id, kind, min_group_size=k)
    name = t(f"kind.{kind}", lang)
    if comparison is None:
        return None
    if not comparison.published or comparison.average_kwh_per_m2 is None:
        return {"verdict": "", "line": tr("similar.withheld", lang, kind=name, k=k), "details": []}
    own = shown_kwh_per_m2(comparison.own_kwh_per_m2)
    average = shown_kwh_per_m2(comparison.average_kwh_per_m2)
    efficient = None if comparison.efficient_kwh_per_m2 is None else shown_kwh_per_m2(comparison.efficient_kwh_per_m2)
    parts = [tr("similar.line", lang, kind=name, own=format_quantity(own, "kWh/m²", lang),
                average=format_quantity(average, "kWh/m²", lang))]
    if efficient is not None:
        parts.append(tr("similar.efficient", lang, efficient=format_quantity(efficient, "kWh/m²", lang)))
    period = tr("similar.period", lang, start=format_day(comparison.period_start, lang),
                end=format_day(comparison.period_end - timedelta(days=1), lang))
    return {"verdict": t(f"verdict.{comparison_verdict(own, average, efficient)}", lang),
            "line": "; ".join(parts) + f" ({period}).", "details": [similar_homes_explained(comparison.group_key, lang)]}


def _chart(by_kind: dict[str, list[queries.PeriodUse]], month: date, lang: str, tariffs: Tariffs) -> dict | None:
    """The main energy kind (the one that cost most this month) over the last 13 months."""
    best: tuple[float, str, list[queries.PeriodUse]] | None = None
    first = date(month.year - 1, month.month, 1)
    for kind, all_periods in by_kind.items():
        periods = [p for p in all_periods if first <= p.start <= month]
        this = next((p for p in periods if p.start == month), None)
        cost = this.amount * tariffs.eur_per_unit(kind) if this else -1.0
        if periods and (best is None or cost > best[0]):
            best = (cost, kind, periods)
    if best is None:
        return None
    _, kind, periods = best
    months = [MonthAmount(p.start, p.amount, p.days >= (next_month(p.start) - p.start).days and not p.estimated_days
                          and not p.suspect_days) for p in periods]
    bars = month_bars(months, month, lang)
    return {"title": tr("chart.title", lang, kind=t(f"kind.{kind}", lang), unit=queries.UNIT_OF_KIND[kind]),
            "bars": bars, "this_month": tr("chart.this_month", lang), "last_year": tr("chart.last_year", lang),
            "partial": tr("chart.partial", lang) if any(not m.complete for m in months) else ""}


def _suggestion(conn: psycopg.Connection, dwelling_id: int, lang: str) -> dict:
    rows = queries.suggestions(conn, dwelling_id)  # most valuable first
    # A home heated by electricity whose standby could not be measured on nights without heating: say why.
    note = standby_text.not_measured_sentence(queries.baselines(conn, dwelling_id), lang) or ""
    if not rows:
        return {"title": tr("suggestion.title", lang), "none": tr("suggestion.none", lang), "note": note}
    row = rows[0]
    key = f"suggestion.{row.kind}"
    try:
        text = t(key, lang)
    except KeyError:
        text = t("suggestion.other", lang)
    value = tr("suggestion.value", lang, eur=format_money_eur(round(row.cost_eur_per_year), lang))
    if row.energy_kwh_per_year > 0:
        value += " · " + tr("suggestion.energy", lang,
                            amount=format_quantity(row.energy_kwh_per_year, "kWh", lang, digits=0))
    evidence = _evidence(row.kind, row.evidence, lang) or ""
    measured_on = standby_text.measured_on_sentence(row.evidence, lang) if row.kind == "base_load" else None
    if evidence and measured_on:
        evidence += " " + measured_on
    return {"title": tr("suggestion.title", lang), "none": "", "text": text, "value": value,
            "evidence": evidence, "source": tr("suggestion.source", lang), "note": note}


def progress_section(rows: list[ProgressRow], building_id: int | None, lang: str, k: int) -> dict:
    """The residence's (and the home's building's) published progress in words."""
    if not rows:
        return {"title": tr("panel.title", lang), "lines": [tr("progress.none", lang)], "private": ""}
    residence = rows[0]
    title = tr("progress.title", lang, residence=residence.residence_name)
    private = tr("progress.private", lang, k=k)
    if not residence.published or residence.change_fraction is None:
        return {"title": title, "lines": [tr("progress.withheld", lang, k=k)], "private": private}
    baseline = f"{residence.baseline_start.year}-{residence.baseline_start.year + 1}"
    lines = [tr("progress.line", lang, start=format_day(residence.season_start, lang),
                change=signed_percent(residence.change_fraction, lang), baseline=baseline),
             tr("progress.improved", lang, share=format_fraction_percent(residence.improved_fraction or 0.0, lang)),
             tr("progress.goal", lang, goal=signed_percent(residence.goal_fraction, lang)),
             tr("progress.goal_reached" if residence.change_fraction <= residence.goal_fraction else "progress.goal_ahead",
                lang)]
    for row in rows[1:]:
        if row.building_id == building_id and row.published and row.change_fraction is not None:
            lines.append(tr("progress.building", lang, building=row.building_name,
                            change=signed_percent(row.change_fraction, lang),
                            share=format_fraction_percent(row.improved_fraction or 0.0, lang)))
    return {"title": title, "lines": lines, "private": private}


def building_lines(rows: list[ProgressRow], lang: str) -> list[str]:
    """Each published building's progress in words (the hall page lists them all)."""
    return [tr("progress.building_hall", lang, building=row.building_name,
               change=signed_percent(row.change_fraction, lang),
               share=format_fraction_percent(row.improved_fraction or 0.0, lang))
            for row in rows[1:] if row.published and row.change_fraction is not None]


def build_content(conn: psycopg.Connection, dwelling_id: int, month: date, settings: Settings, lang: str, *,
                  recipient_name: str | None = None, postal_address: str | None = None,
                  progress_cache: dict[int, list[ProgressRow]] | None = None) -> dict | None:
    """The letter of one dwelling for the month starting ``month``, or None when the dwelling is gone.

    ``progress_cache`` keeps each residence's progress rows across the letters of one run.
    """
    info = queries.dwelling_info(conn, dwelling_id)
    if info is None:
        return None
    k = settings.comparison_min_group_size
    tariffs = Tariffs.from_settings(settings)
    kinds = [kind for kind in queries.KINDS if kind in info.kinds]
    # One read of the dwelling's days: the chart's 13 months hold this month and the same month last year.
    days = read_days(conn, dwelling_id, [(date(month.year - 1, month.month, 1), next_month(month))],
                     timezone=settings.timezone, gas_kwh_per_m3=settings.gas_kwh_per_m3)
    by_kind = {kind: month_totals(days, kind) for kind in kinds}
    periods = {kind: next((p for p in found if p.start == month), None) for kind, found in by_kind.items()}
    alerts = alert_queries.open_alerts_of_dwelling(conn, dwelling_id)
    suggestion = _suggestion(conn, dwelling_id, lang)
    month_name = format_period(month, "month", lang)
    last_month_name = format_period(date(month.year - 1, month.month, 1), "month", lang)
    similar = [item for kind in kinds if kind != "water" and (item := _similar_item(conn, dwelling_id, kind, lang, k))]
    place = conn.execute("SELECT b.residence_id, b.id FROM dwelling d JOIN building b ON b.id = d.building_id"
                         " WHERE d.id = %s", (dwelling_id,)).fetchone()
    residence_id, building_id = place if place else (None, None)
    cache = progress_cache if progress_cache is not None else {}
    if residence_id is not None and residence_id not in cache:
        cache[residence_id] = progress_of_residence(conn, residence_id, min_group_size=k)
    progress_rows = cache.get(residence_id, []) if residence_id is not None else []
    return {
        "lang": lang, "month": month.isoformat(), "dwelling_code": info.code,
        "subject": tr("subject", lang, month=month_name),
        "greeting": tr("greeting", lang, name=recipient_name) if recipient_name else tr("greeting_anonymous", lang),
        "intro": tr("intro", lang, code=info.code, residence=info.residence_name, month=month_name),
        "recipient": {"name": recipient_name or "", "address": postal_address or ""},
        "month_use": _month_section(periods, month, tariffs, lang),
        "last_year": {"title": tr("lastyear.title", lang, month=last_month_name),
                      "items": [_last_year_item(conn, days, dwelling_id, kind, month, settings, lang, bool(alerts),
                                                       not suggestion["none"], going_cold(conn, dwelling_id))
                                for kind in kinds]},
        "similar": {"title": tr("similar.title", lang), "items": similar},
        "chart": _chart(by_kind, month, lang, tariffs),
        "suggestion": suggestion,
        "alerts": {"title": tr("alerts.title", lang),
                   "items": [anomaly_sentence(a.kind, a.meter_kind, a.started_at.astimezone(settings.tz), lang)
                             for a in alerts],
                   "none": "" if alerts else tr("alerts.none", lang)},
        "progress": progress_section(progress_rows, building_id, lang, k),
        "closing": tr("closing", lang), "signature": tr("signature", lang), "sender": settings.letters_sender_name,
        "footer": tr("footer.choice", lang),
        "built_at": datetime.now(settings.tz).isoformat(timespec="seconds"),
    }
