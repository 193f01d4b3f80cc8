"""Figures and figure summaries built by pure functions: data in, Plotly figure or text out.

Figures are plain Plotly dicts (``{"data": [...], "layout": {...}}``), which ``dcc.Graph``
takes as they are: building a ``go.Figure`` validates every property and cost about 8 ms per
figure, most of a callback's time under load. Tests load them into ``go.Figure`` to check them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
import calendar
from datetime import date, datetime
from typing import Any

from babel.dates import format_date, format_datetime

from analytics.verdict import comparison_word
from coopwatt.settings import Settings
from dashboard import i18n_household  # noqa: F401 - adds the estimated-hours hover text
from dashboard.i18n import (
    MESSAGES, format_money_eur, format_period, format_quantity, language_or_default, locale_of, round_as_shown, t,
)
from dashboard.queries import UNIT_OF_KIND, PeriodUse

Figure = dict[str, Any]  # a Plotly figure as JSON-ready data

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


def period_length_days(start: date, granularity: str) -> int:
    """How many local days the period that starts on `start` has (a month's or a year's own length)."""
    if granularity == "day":
        return 1
    if granularity == "week":
        return 7
    if granularity == "month":
        return calendar.monthrange(start.year, start.month)[1]
    if granularity == "year":
        return 366 if calendar.isleap(start.year) else 365
    raise ValueError(f"unknown granularity {granularity!r}")


def period_partial(period: PeriodUse, granularity: str, today: date | None) -> bool:
    """True when a period's bar does not hold all its days: still in progress, or days without data
    (readings that began or stopped inside it); such a bar is not comparable with a whole one."""
    if today is not None and period_in_progress(period.start, granularity, today):
        return True
    return period.days < period_length_days(period.start, granularity)


def partial_description(period: PeriodUse, granularity: str, today: date | None, lang: str) -> str:
    """A partial period named with its coverage: "oct. 2025 (10 j sur 31)", "2026 (so far, 339 of 365 days)"."""
    label = format_period(period.start, granularity, lang)
    key = ("period.partial_in_progress" if today is not None and period_in_progress(period.start, granularity, today)
           else "period.partial")
    return t(key, lang, period=label, days=period.days, length=period_length_days(period.start, granularity))


@dataclass(frozen=True)
class Summary:
    """The figures beside the chart, already formatted for the language."""

    total: str
    latest: str
    latest_label: str
    average: str
    days: int
    estimated_days: int
    suspect_days: int = 0
    # The partial periods (see period_partial), described with their coverage; left out of `average`.
    partial: tuple[str, ...] = ()


def consumption_summary(
    periods: Sequence[PeriodUse], *, kind: str, granularity: str, measure: str, lang: str, tariffs: Tariffs,
    today: date | None = None,
) -> Summary | None:
    """Total, latest period and average per whole period, or None when there is nothing yet.

    The average leaves partial periods out (a first month with 10 days of readings, the month in
    progress): with none whole, it is "—".
    """
    if not periods:
        return None
    values = values_shown(periods, kind, measure, tariffs)
    total = sum(values)
    latest_label = format_period(periods[-1].start, granularity, lang)
    if today is not None and period_in_progress(periods[-1].start, granularity, today):
        latest_label = t("period.in_progress", lang, period=latest_label)
    partial = [period_partial(period, granularity, today) for period in periods]
    whole = [value for value, is_partial in zip(values, partial, strict=True) if not is_partial]
    return Summary(
        total=format_value(total, kind, measure, lang),
        latest=format_value(values[-1], kind, measure, lang),
        latest_label=latest_label,
        average=format_value(sum(whole) / len(whole), kind, measure, lang) if whole else "—",
        days=sum(period.days for period in periods),
        estimated_days=sum(period.estimated_days for period in periods),
        suspect_days=sum(period.suspect_days for period in periods),
        partial=tuple(partial_description(period, granularity, today, lang)
                      for period, is_partial in zip(periods, partial, strict=True) if is_partial),
    )


def consumption_figure(
    periods: Sequence[PeriodUse], *, kind: str, granularity: str, measure: str, lang: str, tariffs: Tariffs,
    today: date | None = None,
) -> Figure:
    """Bars of consumption per period, labelled in the language, with the value on hover.

    A partial period (in progress on `today`, or with days without data) is drawn lighter and says
    so on hover, so a short bar does not read as a drop; one holding suspect days (frozen index,
    counter reset, spike) is hatched and says so on hover; one holding estimated hours is outlined in grey.
    """
    values = [round_as_shown(v, CONSUMPTION_DIGITS) for v in values_shown(periods, kind, measure, tariffs)]
    partial = [period_partial(period, granularity, today) for period in periods]
    opacity = [0.45 if is_partial else 1.0 for is_partial in partial]
    labels = [format_period(period.start, granularity, lang) for period in periods]
    texts = [format_value(value, kind, measure, lang) for value in values]
    notes = ["<br>".join(
        ([partial_description(period, granularity, today, lang)] if is_partial else [])
        + ([t("consumption.suspect_hover", lang, days=period.suspect_days)] if period.suspect_days else [])
        + ([t("consumption.estimated_hover", lang, days=period.estimated_days)] if period.estimated_days else []))
        for period, is_partial in zip(periods, partial, strict=True)]
    # A period holding estimated hours gets a grey outline: still counted, but not all measured.
    outline = ["#6c757d" if period.estimated_days else KIND_COLOURS[kind] for period in periods]
    hatches = ["/" if period.suspect_days else "" for period in periods]
    unit = "€" if measure == "cost" else UNIT_OF_KIND[kind]
    return {
        "data": [{
            "type": "bar", "x": labels, "y": values, "customdata": texts, "name": t(f"kind.{kind}", lang),
            "marker": {"color": KIND_COLOURS[kind], "opacity": opacity, "pattern": {"shape": hatches},
                       "line": {"color": outline, "width": [2 if period.estimated_days else 0 for period in periods]}},
            "hovertext": notes,
            "hovertemplate": "%{x}<br><b>%{customdata}</b><br>%{hovertext}<extra></extra>",
        }],
        "layout": {
            "margin": {"l": 48, "r": 8, "t": 8, "b": 40},
            "height": 320,
            "bargap": 0.25,
            "plot_bgcolor": "white",
            "paper_bgcolor": "white",
            "separators": ",\u202f" if lang == "fr" else ".,",
            "yaxis": {"title": {"text": unit, "standoff": 8}, "automargin": True, "gridcolor": "#e9ecef",
                      "rangemode": "tozero"},
            "xaxis": {"type": "category", "tickangle": 0 if len(labels) <= 12 else -45, "automargin": True},
            "showlegend": False,
            "dragmode": False,
        },
    }


# --- Analytics figures: comparison with similar homes, last year, anomalies, curves. ---

VERDICTS = ("efficient", "below_average", "near_average", "above_average")
# Within this fraction above the group average a home is "close to" it, not above it.
def comparison_verdict(own_kwh_per_m2: float, average_kwh_per_m2: float, efficient_kwh_per_m2: float | None) -> str:
    """Where a home stands among similar homes, as one of VERDICTS (the dwelling verdict's thresholds)."""
    return comparison_word(own_kwh_per_m2, average_kwh_per_m2, efficient_kwh_per_m2)


def similar_homes_explained(group_key: str, lang: str) -> str:
    """Who "similar homes" are, from the group key ("residence:3|55-75|gas" or "district:Croix-Rousse|...")."""
    scope_part, _, rest = group_key.partition(":")
    parts = rest.split("|")
    band = parts[1] if len(parts) > 1 else ""
    heating = parts[2] if len(parts) > 2 else ""
    low, _, high = band.partition("-")
    if high in ("inf", ""):
        area = t("similar.area_above", lang, low=low or "0")
    else:
        area = t("similar.area_between", lang, low=low, high=high)
    heating_text = t(f"heating.{heating}", lang) if f"heating.{heating}" in _known_keys(lang) else heating
    where = t("similar.where_district" if scope_part == "district" else "similar.where_residence", lang)
    return t("similar.who", lang, where=where, area=area, heating=heating_text)


def _known_keys(lang: str) -> dict[str, str]:
    return MESSAGES[language_or_default(lang)]


# Digits the browser gets, the same as the page shows (text and hover): a figure's data carries no more.
COMPARISON_DIGITS = 1
CONSUMPTION_DIGITS = 2  # the cents of a cost; amounts are shown with at most one decimal
LOAD_CURVE_DIGITS = 2
BUILDING_CURVE_DIGITS = 1


def shown_kwh_per_m2(value: float) -> float:
    """A comparison figure (kWh/m²) rounded as the similar-homes card shows it."""
    return round_as_shown(value, COMPARISON_DIGITS)


def _rounded(values: Sequence[float | None], digits: int) -> list[float | None]:
    return [None if v is None else round_as_shown(v, digits) for v in values]


def comparison_figure(own_kwh_per_m2: float, average_kwh_per_m2: float, efficient_kwh_per_m2: float | None,
                      lang: str) -> Figure:
    """Three horizontal bars in kWh/m²: this home, the similar homes' average, the efficient ones (lowest 20 %)."""
    labels = [t("similar.you", lang), t("similar.average", lang)]
    values = [shown_kwh_per_m2(own_kwh_per_m2), shown_kwh_per_m2(average_kwh_per_m2)]
    colours = ["#2a9d8f", "#adb5bd"]
    if efficient_kwh_per_m2 is not None:
        labels.append(t("similar.efficient", lang))
        values.append(shown_kwh_per_m2(efficient_kwh_per_m2))
        colours.append("#8ac926")
    texts = [format_quantity(v, "kWh/m²", lang, digits=1) for v in values]
    return {
        "data": [{
            "type": "bar", "y": labels, "x": values, "orientation": "h", "marker": {"color": colours}, "text": texts,
            "textposition": "auto", "hovertemplate": "%{y}<br><b>%{text}</b><extra></extra>",
        }],
        "layout": {
            "height": 180, "margin": {"l": 8, "r": 8, "t": 8, "b": 24}, "plot_bgcolor": "white",
            "paper_bgcolor": "white", "separators": ",\u202f" if lang == "fr" else ".,", "showlegend": False,
            "dragmode": False,
            # automargin + standoff: the title gets room of its own below the ticks (it read "kWh/m²3" on a phone).
            "xaxis": {"gridcolor": "#e9ecef", "rangemode": "tozero", "title": {"text": "kWh/m²", "standoff": 10},
                      "automargin": True},
            "yaxis": {"autorange": "reversed", "automargin": True},
        },
    }


@dataclass(frozen=True)
class YearOnYear:
    """This period against the same period last year, in the kind's unit."""

    this_period: float
    last_year: float
    last_year_normalised: float | None  # last year's use had the weather been this year's (None: cannot tell)
    change_fraction: float  # against the normalised figure when there is one, else the raw one
    weather_normalised: bool


def year_on_year(this_period: float, last_year: float, *, degree_days_this: float | None,
                 degree_days_last: float | None, heating_kwh_per_degree_day: float | None) -> YearOnYear | None:
    """Compare two periods, removing the weather with the baseline's heating slope when every input is known.

    last year normalised = last year + slope × (degree-days this year − degree-days last year).
    """
    normalised: float | None = None
    if heating_kwh_per_degree_day is not None and degree_days_this is not None and degree_days_last is not None:
        normalised = last_year + heating_kwh_per_degree_day * (degree_days_this - degree_days_last)
    reference = normalised if normalised is not None and normalised > 0 else last_year
    if reference <= 0:
        return None
    return YearOnYear(this_period, last_year, normalised, this_period / reference - 1,
                      normalised is not None and normalised > 0)


def anomaly_sentence(kind: str, meter_kind: str, started_local: datetime, lang: str) -> str:
    """An alert in plain words, e.g. "L'eau coule en continu depuis mardi 02:00"."""
    since = format_datetime(started_local, "EEEE HH:mm", locale=locale_of(lang))
    key = f"anomaly.{kind}"
    messages = _known_keys(lang)
    template = messages.get(key, messages["anomaly.other"])
    return template.format(since=since, kind=t(f"kind.{meter_kind}", lang).lower())


# A weekday names a moment of the past week only; anything older gets its date.
_WEEKDAY_DAYS = 7
# Building names often carry the word already ("Bâtiment A"); it is said once.
_BUILDING_WORDS = ("bâtiment ", "batiment ", "bât. ", "bat. ", "building ")
# A name this short is a code ("A", "B2"): "building A", not "A building".
_BUILDING_CODE_LENGTH = 3


def _since_text(started_local: datetime, lang: str, today: date | None) -> str:
    locale = locale_of(lang)
    if today is None or 0 <= (today - started_local.date()).days < _WEEKDAY_DAYS:
        return format_datetime(started_local, "EEEE HH:mm", locale=locale)
    return t("manager.since_date", lang, date=format_date(started_local.date(), "medium", locale=locale),
             time=format_datetime(started_local, "HH:mm", locale=locale))


def building_phrase(name: str, lang: str) -> str:
    """A building named in a sentence: "bâtiment Les Lilas", "Les Lilas building", "building A"."""
    bare = name.strip()
    for word in _BUILDING_WORDS:
        if bare.lower().startswith(word):
            bare = bare[len(word):].strip()
            break
    key = "manager.building_coded" if len(bare) <= _BUILDING_CODE_LENGTH else "manager.building_named"
    return t(key, lang, name=bare)


def manager_alert_sentence(kind: str, meter_kind: str, started_local: datetime, lang: str, *,
                           dwelling_code: str | None, building_name: str | None, today: date | None = None) -> str:
    """An alert for a building manager, in the third person, naming the dwelling (or the building's own meter).

    e.g. "Logement B-12 (bâtiment Les Lilas) : l'eau coule en continu depuis mardi 02:00". With
    `today`, an alert that started a week or more before it gets its date instead of a weekday.
    """
    messages = _known_keys(lang)
    template = messages.get(f"manager.anomaly.{kind}", messages["manager.anomaly.other"])
    what = template.format(since=_since_text(started_local, lang, today),
                           kind=t(f"kind.{meter_kind}", lang).lower())
    building = building_phrase(building_name, lang) if building_name else "—"
    if dwelling_code:
        subject = t("manager.subject.dwelling", lang, code=dwelling_code, building=building)
    else:
        subject = t("manager.subject.building", lang, building=building)
    return t("manager.alert_sentence", lang, subject=subject, what=what)


def reason_text(reason: object, lang: str) -> str:
    """A stored reason (analytics Reason dict, or plain text) in the language."""
    if isinstance(reason, dict):
        text = reason.get(f"message_{lang}") or reason.get("message_fr") or reason.get("code")
        return str(text)
    return str(reason)


# Plotly spells month names in English only (no locale bundle is served): numeric dates read in both languages.
DATE_TICKS = "%d/%m"


def load_curve_figure(points: Sequence[tuple[datetime, float]], unit: str, lang: str,
                      baseline_per_hour: float | None = None) -> Figure:
    """A dwelling's hourly load curve, with its baseline's base load as a dashed line when known."""
    traces: list[dict[str, Any]] = [{
        # A lone hour draws no line: it gets a marker so it is not an empty chart.
        "type": "scatter", "x": [p[0] for p in points], "y": _rounded([p[1] for p in points], LOAD_CURVE_DIGITS),
        "mode": "lines" if len(points) > 1 else "markers",
        "line": {"color": "#2a9d8f", "width": 1.5}, "marker": {"color": "#2a9d8f"},
        "name": t("adviser.curve", lang), "hovertemplate": "%{x}<br><b>%{y:.2f} " + unit + "</b><extra></extra>",
    }]
    if baseline_per_hour is not None and points:
        baseline_per_hour = round_as_shown(baseline_per_hour, LOAD_CURVE_DIGITS)
        traces.append({
            "type": "scatter", "x": [points[0][0], points[-1][0]], "y": [baseline_per_hour, baseline_per_hour],
            "mode": "lines", "line": {"color": "#6c757d", "dash": "dash"}, "name": t("adviser.base_load", lang),
        })
    return {"data": traces, "layout": {
        "height": 280, "margin": {"l": 48, "r": 8, "t": 8, "b": 32}, "plot_bgcolor": "white", "paper_bgcolor": "white",
        "separators": ",\u202f" if lang == "fr" else ".,", "dragmode": False,
        "legend": {"orientation": "h", "y": -0.2},
        # Each point is one hour's energy: its unit is kWh (or m³), the hour is in the chart's title ("kWh/h" is
        # no unit anyone reads, and "kW/h" would be a wrong one).
        "yaxis": {"title": {"text": unit, "standoff": 8}, "automargin": True, "gridcolor": "#e9ecef",
                  "rangemode": "tozero"},
        "xaxis": {"tickformat": DATE_TICKS + " %Hh", "hoverformat": "%d/%m %H:%M"},
    }}


def building_curve_figure(days: Sequence[tuple[date, float, float | None]], unit: str, lang: str) -> Figure:
    """A building's daily use (bars) against heating degree-days (line, right axis); no axes when there are no days."""
    if not days:
        # A true empty state: no axes running from -1 to 6 around nothing; the note under the chart says why.
        return {"data": [], "layout": {
            "height": 40, "margin": {"l": 8, "r": 8, "t": 8, "b": 8}, "plot_bgcolor": "white",
            "paper_bgcolor": "white", "xaxis": {"visible": False}, "yaxis": {"visible": False},
        }}
    return {"data": [
        {"type": "bar", "x": [d[0] for d in days], "y": _rounded([d[1] for d in days], BUILDING_CURVE_DIGITS),
         "name": t("manager.daily_use", lang),
         "marker": {"color": "#2a9d8f"}, "hovertemplate": "%{x}<br><b>%{y:.1f} " + unit + "</b><extra></extra>"},
        {"type": "scatter", "x": [d[0] for d in days], "y": _rounded([d[2] for d in days], BUILDING_CURVE_DIGITS),
         "name": t("manager.degree_days", lang), "yaxis": "y2", "mode": "lines",
         "line": {"color": "#c8553d", "width": 2}, "connectgaps": False,
         "hovertemplate": "%{x}<br><b>%{y:.1f} DJU</b><extra></extra>" if lang == "fr" else
         "%{x}<br><b>%{y:.1f} HDD</b><extra></extra>"},
    ], "layout": {
        "height": 320, "margin": {"l": 48, "r": 48, "t": 8, "b": 32}, "plot_bgcolor": "white", "paper_bgcolor": "white",
        "separators": ",\u202f" if lang == "fr" else ".,", "dragmode": False, "bargap": 0.15,
        "legend": {"orientation": "h", "y": -0.15},
        "yaxis": {"title": {"text": unit, "standoff": 8}, "automargin": True, "gridcolor": "#e9ecef",
                  "rangemode": "tozero"},
        "yaxis2": {"title": {"text": t("manager.degree_days_unit", lang), "standoff": 8}, "automargin": True,
                   "overlaying": "y", "side": "right",
                   "rangemode": "tozero", "showgrid": False, "tickformat": ",.0f"},
        "xaxis": {"tickformat": DATE_TICKS, "hoverformat": "%d/%m/%Y"},
    }}
