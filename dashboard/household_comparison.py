"""The similar-homes card in the household's own terms: kWh and € over the compared period, and an honest reason when there is no comparison.

Only published, k-anonymous figures are used: the group's per-m² average as shown (rounded)
times the household's own floor area, which it knows; nothing finer about any neighbour.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import psycopg
from babel.numbers import format_currency
from dash import html

from dashboard import i18n_household  # noqa: F401 - adds the texts
from dashboard import queries
from dashboard.figures import Tariffs, reason_text, shown_kwh_per_m2
from dashboard.i18n import format_day, format_quantity, locale_of, t

# The kinds the nightly comparison covers (analytics.job.nightly_load.ENERGY_KINDS): energies per m².
COMPARED_KINDS = ("electricity", "gas", "heat")


def whole_euros(value_eur: float, lang: str) -> str:
    """An amount rounded to the euro ("449 €", "€449"): cents would claim a precision an estimate lacks."""
    return format_currency(round(value_eur), "EUR", format="¤#,##0" if lang == "en" else "#,##0\u00a0¤",
                           locale=locale_of(lang), currency_digits=False)


def own_terms(comparison: queries.Comparison, floor_area_m2: float, tariffs: Tariffs, lang: str) -> html.P | None:
    """"From 1 to 31 March, in normal weather: your home used about 312 kWh (≈ 62 €); similar homes about 290 kWh"."""
    if comparison.average_kwh_per_m2 is None or floor_area_m2 <= 0:
        return None
    # From the figures as shown (rounded per m²), so the page gives nothing finer than the chart.
    own_kwh = round(shown_kwh_per_m2(comparison.own_kwh_per_m2) * floor_area_m2)
    peer_kwh = round(shown_kwh_per_m2(comparison.average_kwh_per_m2) * floor_area_m2)
    price = tariffs.eur_per_unit(comparison.energy_kind)
    return html.P(t(
        "similar.own_terms", lang,
        start=format_day(comparison.period_start, lang), end=format_day(comparison.period_end - timedelta(days=1), lang),
        own=format_quantity(own_kwh, "kWh", lang, digits=0), own_eur=whole_euros(own_kwh * price, lang),
        peer=format_quantity(peer_kwh, "kWh", lang, digits=0), peer_eur=whole_euros(peer_kwh * price, lang),
        area=format_quantity(floor_area_m2, "m²", lang, digits=0),
    ), className="mb-1", id="similar-own-terms")


def no_comparison(conn: psycopg.Connection, dwelling_id: int, kind: str, lang: str) -> Any:
    """Why there is no comparison, as it is: not made for this kind, no reference model (and why), or not run yet."""
    if kind not in COMPARED_KINDS:
        return html.P(t("similar.not_compared", lang, kind=t(f"kind.{kind}", lang).lower()),
                      className="text-body-secondary small mb-0", id="similar-not-compared")
    baseline = queries.baselines(conn, dwelling_id).get(kind)
    if baseline is not None and not baseline.qualified:
        reasons = "; ".join(reason_text(reason, lang) for reason in baseline.reasons) or "—"
        return html.P(t("similar.no_model", lang, reasons=reasons), className="text-body-secondary small mb-0",
                      id="similar-no-model")
    if baseline is None:
        return html.P(t("similar.not_yet", lang), className="text-body-secondary small mb-0", id="similar-none")
    return html.P(t("similar.no_month", lang), className="text-body-secondary small mb-0", id="similar-no-month")
