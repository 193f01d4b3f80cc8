"""The adviser page's words, as pure functions: the baseline told in plain sentences, units that wrap cleanly."""

from __future__ import annotations

from typing import Any

from dash import html

from dashboard import queries
from dashboard.figures import reason_text
from dashboard.i18n import format_fraction_percent, format_quantity, t


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
    return " ".join(sentences) or t("adviser.baseline_none", lang)
