"""The day view of the household chart: hourly bars over one to seven days, and the figures beside them."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import dash_bootstrap_components as dbc
import psycopg
from babel.dates import format_skeleton

from coopwatt.settings import Settings
from dashboard import history_queries, i18n_household  # noqa: F401 - i18n_household adds the texts
from dashboard.date_range import DayRange
from dashboard.figures import Tariffs, format_value
from dashboard.history_figures import HOUR_DIGITS, hourly_figure
from dashboard.i18n import format_day, format_money_eur, format_quantity, locale_of, t
from dashboard.queries import UNIT_OF_KIND

# Night hours (local) whose mean is the home's always-on use: everyone asleep, little heating or cooking.
NIGHT_HOURS = range(1, 5)


def _amount(value: float, kind: str, measure: str, lang: str) -> str:
    if measure == "cost":
        return format_value(value, kind, measure, lang)
    return format_quantity(value, UNIT_OF_KIND[kind], lang, digits=HOUR_DIGITS)


def hour_view(conn: psycopg.Connection, dwelling_id: int, kind: str, measure: str, window: DayRange, lang: str,
              settings: Settings, stat: Callable[[str, str, str], Any]) -> tuple[Any, Any, str]:
    """Figure, figures beside it and source line for the hours of the window (the dwelling is already resolved)."""
    tz = settings.tz
    tariffs = Tariffs.from_settings(settings)
    hours = history_queries.hourly_use(conn, dwelling_id, kind, window.first, window.end, tz=tz,
                                       gas_kwh_per_m3=settings.gas_kwh_per_m3)
    if not hours:
        empty = t("history.empty_window", lang, first=format_day(window.first, lang), last=format_day(window.last, lang))
        return ({"data": [], "layout": {"height": 320, "xaxis": {"visible": False}, "yaxis": {"visible": False}}},
                dbc.Alert(empty, color="light", className="mb-0", id="consumption-empty"), "")
    price = tariffs.eur_per_unit(kind) if measure == "cost" else 1.0
    total = sum(hour.amount for hour in hours) * price
    peak = max(hours, key=lambda hour: hour.amount)
    peak_at = format_skeleton("Hm" if window.days == 1 else "MMMdHm", peak.hour.astimezone(tz), locale=locale_of(lang))
    night = [hour.amount for hour in hours if hour.hour.astimezone(tz).hour in NIGHT_HOURS and not hour.suspect]
    stats = dbc.Row([
        stat(t("history.hour_total", lang), format_value(total, kind, measure, lang), "consumption-total"),
        stat(f"{t('history.hour_peak', lang)} ({peak_at})", _amount(peak.amount * price, kind, measure, lang),
             "consumption-latest"),
        stat(t("history.hour_night", lang),
             _amount(sum(night) / len(night) * price, kind, measure, lang) if night else "—", "consumption-average"),
    ])
    source = t("history.hour_source", lang, hours=len(hours), estimated=sum(1 for h in hours if h.estimated),
               suspect=sum(1 for h in hours if h.suspect))
    if measure == "cost":
        price_text = format_money_eur(tariffs.eur_per_unit(kind), lang) + "/" + UNIT_OF_KIND[kind]
        source += " " + t("consumption.cost_note", lang, tariff=price_text)
    return hourly_figure(hours, kind=kind, measure=measure, lang=lang, tariffs=tariffs, tz=tz), stats, source
