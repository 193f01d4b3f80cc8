"""The adviser page's words, as pure functions: the baseline told in plain sentences, units that wrap cleanly."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from dash import html

from analytics.ranking_periods import (
    CALENDAR_YEAR, HEATING_SEASON, LAST_12_MONTHS, MIN_PERIOD_COVERAGE, MIN_SEASON_TO_DATE_DAYS, PREVIOUS_12_MONTHS,
    SEASON_TO_DATE,
)
from dashboard import queries
from dashboard.figures import reason_text
from dashboard.i18n import format_day, format_fraction_percent, format_quantity, format_ranking_period, t
from dashboard.ranking_queries import OfferedPeriod

YEAR_PERIODS = (LAST_12_MONTHS, PREVIOUS_12_MONTHS)


def breakable_unit(text: str) -> list[Any]:
    """A unit like "kWh/m²/an" that may wrap after a slash on a phone (never inside "kWh")."""
    parts: list[Any] = []
    for i, piece in enumerate(text.split("/")):
        parts += ([html.Wbr()] if i else []) + [("/" if i else "") + piece]
    return parts


def baseline_text(baseline: queries.BaselineRow | None, unit: str, lang: str) -> str:
    """A dwelling's baseline for advisers: background use, heating per degree-day, reliability (each if known)."""
    if baseline is None:
        return t("adviser.baseline_none", lang)
    if not baseline.qualified:
        return t("adviser.baseline_unqualified", lang,
                 reasons="; ".join(reason_text(r, lang) for r in baseline.reasons) or "—")

    # Plain sentences, each only when its value exists (never "— par degré-jour · équilibre à —").
    sentences = []
    if baseline.base_kwh_per_day is not None:
        sentences.append(t("adviser.baseline_base", lang,
                           base=format_quantity(baseline.base_kwh_per_day, unit, lang, digits=1)))
    slope = baseline.heating_kwh_per_degree_day
    if slope:
        amount = format_quantity(slope, unit, lang, digits=2)
        balance = baseline.heating_balance_point_c
        sentences.append(t("adviser.baseline_heating", lang, slope=amount,
                           balance=format_quantity(balance, "°C", lang, digits=0))
                         if balance is not None else t("adviser.baseline_heating_unknown", lang, slope=amount))
    elif slope is not None:
        sentences.append(t("adviser.baseline_no_heating", lang))
    if baseline.cv_rmse is not None:
        sentences.append(t("adviser.baseline_quality", lang, cv=format_fraction_percent(baseline.cv_rmse, lang)))
        # Older fits measured their error in sample (and their NMBE was 0 by construction): say which.
        sentences.append(t("adviser.baseline_in_sample", lang) if not baseline.cv_folds or baseline.nmbe is None
                         else t("adviser.baseline_out_of_sample", lang,
                                nmbe=format_fraction_percent(baseline.nmbe, lang, digits=1)))
    return " ".join(sentences) or t("adviser.baseline_none", lang)


def period_label(period: OfferedPeriod, lang: str) -> str:
    """A ranking period named as advisers think of it, with its first and last days."""
    if period.kind in YEAR_PERIODS or period.kind not in (SEASON_TO_DATE, HEATING_SEASON, CALENDAR_YEAR):
        return format_ranking_period(period.start, period.end, lang)
    first, last = format_day(period.start, lang), format_day(period.end - timedelta(days=1), lang)
    if period.kind == CALENDAR_YEAR:
        return t("adviser.period.calendar_year", lang, year=period.start.year, start=first, end=last)
    last_year = period.end - timedelta(days=1)
    return t(f"adviser.period.{period.kind}", lang, first_year=period.start.year,
             last_year=last_year.year if lang == "fr" else f"{last_year.year % 100:02d}", start=first, end=last)


def use_unit(period: OfferedPeriod | None, unit: str, lang: str) -> str:
    """The ranked figure's unit: per m² and year for the twelve-month periods, per m² over the period otherwise."""
    key = "adviser.col.use_unit" if period is None or period.kind in YEAR_PERIODS else "adviser.col.use_unit_period"
    return t(key, lang, unit=unit)


def period_rule(period: OfferedPeriod, lang: str) -> str:
    """How the period's figure is made and which homes it ranks."""
    label = period_label(period, lang)
    if period.kind in YEAR_PERIODS:
        return t("adviser.period_rule.year", lang, period=label)
    text = t("adviser.period_rule.days", lang, period=label, unit="kWh",
             coverage=format_fraction_percent(MIN_PERIOD_COVERAGE, lang))
    if period.kind == SEASON_TO_DATE:
        text += " " + t("adviser.period_rule.season_start", lang, days=MIN_SEASON_TO_DATE_DAYS)
    return text
