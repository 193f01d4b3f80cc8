"""Figures and figure summaries built by pure functions: data in, Plotly figure or text out."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

import plotly.graph_objects as go

from coopwatt.settings import Settings
from dashboard.i18n import format_money_eur, format_period, format_quantity, t
from dashboard.queries import UNIT_OF_KIND, PeriodUse

# One calm colour per kind; the same in both languages and on every page.
KIND_COLOURS = {"electricity": "#2a9d8f", "gas": "#e9a03b", "water": "#3a86c8", "heat": "#c8553d"}
MEASURES = ("amount", "cost")


@dataclass(frozen=True)
class Tariffs:
    """Prices used to turn consumption into euros (standing charges excluded)."""

    electricity_eur_per_kwh: float
    gas_eur_per_kwh: float
    water_eur_per_m3: float
    heat_eur_per_kwh: float

    @classmethod
    def from_settings(cls, settings: Settings) -> Tariffs:
        """The tariffs configured for the cooperative."""
        return cls(
            settings.tariff_electricity_eur_per_kwh, settings.tariff_gas_eur_per_kwh,
            settings.tariff_water_eur_per_m3, settings.tariff_heat_eur_per_kwh,
        )

    def eur_per_unit(self, kind: str) -> float:
        """Euros per kWh (or per m³ for water) of a kind."""
        return {
            "electricity": self.electricity_eur_per_kwh, "gas": self.gas_eur_per_kwh,
            "water": self.water_eur_per_m3, "heat": self.heat_eur_per_kwh,
        }[kind]


def values_shown(periods: Sequence[PeriodUse], kind: str, measure: str, tariffs: Tariffs) -> list[float]:
    """The bar heights: the amount in the kind's unit, or its cost in euros."""
    if measure == "amount":
        return [period.amount for period in periods]
    if measure == "cost":
        price = tariffs.eur_per_unit(kind)
        return [period.amount * price for period in periods]
    raise ValueError(f"unknown measure {measure!r}")


def format_value(value: float, kind: str, measure: str, lang: str) -> str:
    """One shown value as text, with its unit or currency."""
    if measure == "cost":
        return format_money_eur(value, lang)
    return format_quantity(value, UNIT_OF_KIND[kind], lang, digits=1 if value < 1000 else 0)


def period_in_progress(start: date, granularity: str, today: date) -> bool:
    """True when the period that starts on `start` has not ended by `today` (its bar is still growing)."""
    if granularity == "day":
        return start == today
    if granularity == "week":
        return 0 <= (today - start).days < 7
    if granularity == "month":
        return (start.year, start.month) == (today.year, today.month)
    if granularity == "year":
        return start.year == today.year
    raise ValueError(f"unknown granularity {granularity!r}")


@dataclass(frozen=True)
class Summary:
    """The figures beside the chart, already formatted for the language."""

    total: str
    latest: str
    latest_label: str
    average: str
    days: int
    estimated_days: int


def consumption_summary(
    periods: Sequence[PeriodUse], *, kind: str, granularity: str, measure: str, lang: str, tariffs: Tariffs,
    today: date | None = None,
) -> Summary | None:
    """Total, latest period and average per period, or None when there is nothing yet."""
    if not periods:
        return None
    values = values_shown(periods, kind, measure, tariffs)
    total = sum(values)
    latest_label = format_period(periods[-1].start, granularity, lang)
    if today is not None and period_in_progress(periods[-1].start, granularity, today):
        latest_label = t("period.in_progress", lang, period=latest_label)
    return Summary(
        total=format_value(total, kind, measure, lang),
        latest=format_value(values[-1], kind, measure, lang),
        latest_label=latest_label,
        average=format_value(total / len(values), kind, measure, lang),
        days=sum(period.days for period in periods),
        estimated_days=sum(period.estimated_days for period in periods),
    )


def consumption_figure(
    periods: Sequence[PeriodUse], *, kind: str, granularity: str, measure: str, lang: str, tariffs: Tariffs,
    today: date | None = None,
) -> go.Figure:
    """Bars of consumption per period, labelled in the language, with the value on hover.

    A period still in progress on `today` is drawn lighter, so a short bar does not read as a drop.
    """
    values = values_shown(periods, kind, measure, tariffs)
    opacity = [
        0.45 if today is not None and period_in_progress(period.start, granularity, today) else 1.0
        for period in periods
    ]
    labels = [format_period(period.start, granularity, lang) for period in periods]
    texts = [format_value(value, kind, measure, lang) for value in values]
    unit = "€" if measure == "cost" else UNIT_OF_KIND[kind]
    figure = go.Figure(
        go.Bar(
            x=labels, y=values, customdata=texts, name=t(f"kind.{kind}", lang),
            marker_color=KIND_COLOURS[kind], marker_opacity=opacity,
            hovertemplate="%{x}<br><b>%{customdata}</b><extra></extra>",
        )
    )
    figure.update_layout(
        margin={"l": 48, "r": 8, "t": 8, "b": 40},
        height=320,
        bargap=0.25,
        plot_bgcolor="white",
        paper_bgcolor="white",
        separators=",\u202f" if lang == "fr" else ".,",
        yaxis={"title": {"text": unit}, "gridcolor": "#e9ecef", "rangemode": "tozero"},
        xaxis={"type": "category", "tickangle": 0 if len(labels) <= 12 else -45, "automargin": True},
        showlegend=False,
        dragmode=False,
    )
    return figure
