"""Pure figure builders for the household's history: hourly bars of a day, the calendar of a year, the typical day.

Estimated and suspect data are marked in every chart (lighter, hatched, or a ring on the day),
and every value sent to the browser is rounded as the page shows it.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from babel.dates import format_skeleton, get_day_names

from dashboard import i18n_household  # noqa: F401 - adds the texts
from dashboard.figures import KIND_COLOURS, Figure, Tariffs, format_value
from dashboard.history_queries import DayUse, HourUse
from dashboard.i18n import format_day, format_quantity, locale_of, round_as_shown, t
from dashboard.queries import UNIT_OF_KIND

# Two decimals for every value, sent and shown alike (no figure of the app shows more: tests/attack_support.py).
HOUR_DIGITS = 2
DAY_DIGITS = 2
# The calendar's colour scale, light to dark in the kind's hue family (readable without colour too: hover says the value).
_CALENDAR_SCALE = [[0.0, "#f1f7f6"], [0.5, "#7cc3b8"], [1.0, "#1d5f57"]]
_SUSPECT_COLOUR = "#b02a37"
_ESTIMATED_COLOUR = "#6c757d"


def _base_layout(lang: str, height: int) -> dict[str, Any]:
    return {"height": height, "margin": {"l": 48, "r": 8, "t": 8, "b": 40}, "plot_bgcolor": "white",
            "paper_bgcolor": "white", "separators": ",\u202f" if lang == "fr" else ".,", "dragmode": False,
            "showlegend": False}


def hourly_figure(hours: Sequence[HourUse], *, kind: str, measure: str, lang: str, tariffs: Tariffs,
                  tz: ZoneInfo) -> Figure:
    """One bar per hour (local time on the axis); estimated hours lighter, suspect ones hatched, both said on hover."""
    price = tariffs.eur_per_unit(kind) if measure == "cost" else 1.0
    values = [round_as_shown(hour.amount * price, 2 if measure == "cost" else HOUR_DIGITS) for hour in hours]
    local = [hour.hour.astimezone(tz) for hour in hours]
    # Category labels: the autumn hour that happens twice stays two bars ("02:00", "02:00 (+01:00)").
    labels, seen = [], set()
    for at in local:
        label = format_skeleton("Hm", at, locale=locale_of(lang)) if len({a.date() for a in local}) == 1 \
            else format_skeleton("MMMdHm", at, locale=locale_of(lang))
        if label in seen:
            offset = at.strftime("%z")
            label += f" (UTC{offset[:3]}:{offset[3:]})"
        seen.add(label)
        labels.append(label)
    notes = [t("history.suspect_hour", lang) if hour.suspect else t("history.estimated_hour", lang) if hour.estimated
             else "" for hour in hours]
    unit = "€" if measure == "cost" else UNIT_OF_KIND[kind]
    layout = _base_layout(lang, 320)
    layout.update({"bargap": 0.15, "yaxis": {"title": {"text": unit}, "gridcolor": "#e9ecef", "rangemode": "tozero"},
                   # A label every 6 hours (every midnight over several days) stays legible on a phone.
                   "xaxis": {"type": "category", "automargin": True, "tickangle": 0,
                             "tickvals": labels[::6 if len(labels) <= 25 else 24]}})
    return {"data": [{
        "type": "bar", "x": labels, "y": values, "name": t(f"kind.{kind}", lang),
        "customdata": [format_value(v, kind, measure, lang) if measure == "cost" else _small(v, kind, lang)
                       for v in values],
        "hovertext": notes, "hovertemplate": "%{x}<br><b>%{customdata}</b><br>%{hovertext}<extra></extra>",
        "marker": {"color": KIND_COLOURS[kind],
                   "opacity": [0.45 if hour.estimated and not hour.suspect else 1.0 for hour in hours],
                   "pattern": {"shape": ["/" if hour.suspect else "" for hour in hours]}},
    }], "layout": layout}


def _small(value: float, kind: str, lang: str) -> str:
    """An hour's or a day's amount with the two decimals its data carries ("0,15 m³", "27,19 kWh")."""
    return format_quantity(value, UNIT_OF_KIND[kind], lang, digits=HOUR_DIGITS)


def calendar_figure(days: Sequence[DayUse], *, kind: str, lang: str, first: date, last: date) -> Figure:
    """A year as a calendar: one square per day (weeks across, Monday to Sunday down), darker for more use.

    Days with estimated hours get a grey ring, suspect days a red cross; days without data stay blank.
    """
    monday = first - timedelta(days=first.weekday())
    weeks = (last - monday).days // 7 + 1
    z: list[list[float | None]] = [[None] * weeks for _ in range(7)]
    text: list[list[str]] = [[""] * weeks for _ in range(7)]
    unit = UNIT_OF_KIND[kind]
    by_day = {day.day: day for day in days}
    marks: dict[str, list[Any]] = {"ex": [], "ey": [], "sx": [], "sy": []}
    for offset in range((last - monday).days + 1):
        day = monday + timedelta(days=offset)
        if day < first:
            continue
        week, weekday = offset // 7, day.weekday()
        use = by_day.get(day)
        if use is None:
            text[weekday][week] = f"{format_day(day, lang)}<br>{t('history.no_data_day', lang)}"
            continue
        value = round_as_shown(use.amount, DAY_DIGITS)
        z[weekday][week] = value
        note = (t("history.suspect_day", lang) if use.suspect_hours else
                t("history.estimated_day", lang, hours=use.estimated_hours) if use.estimated_hours else "")
        text[weekday][week] = f"{format_day(day, lang)}<br><b>{_small(value, kind, lang)}</b>" + (
            f"<br>{note}" if note else "")
        if use.suspect_hours:
            marks["sx"].append(week)
            marks["sy"].append(weekday)
        elif use.estimated_hours:
            marks["ex"].append(week)
            marks["ey"].append(weekday)
    day_names = get_day_names("abbreviated", locale=locale_of(lang))
    # Month names at the week where each month begins.
    tickvals, ticktext = [], []
    month = date(first.year, first.month, 1)
    while month <= last:
        if month >= first or month.month == first.month:
            start = max(month, first)
            tickvals.append((start - monday).days // 7)
            ticktext.append(format_skeleton("MMM", month, locale=locale_of(lang)))
        month = date(month.year + month.month // 12, month.month % 12 + 1, 1)
    data: list[dict[str, Any]] = [{
        "type": "heatmap", "z": z, "text": text, "hoverinfo": "text", "hovertemplate": "%{text}<extra></extra>",
        "colorscale": _CALENDAR_SCALE, "xgap": 2, "ygap": 2, "showscale": True,
        "colorbar": {"title": {"text": unit}, "thickness": 10, "len": 0.9}, "hoverongaps": False,
    }]
    if marks["ex"]:
        data.append({"type": "scatter", "mode": "markers", "x": marks["ex"], "y": marks["ey"], "hoverinfo": "skip",
                     "name": t("history.estimated_legend", lang),
                     "marker": {"symbol": "circle-open", "size": 9, "color": _ESTIMATED_COLOUR, "line": {"width": 2}}})
    if marks["sx"]:
        data.append({"type": "scatter", "mode": "markers", "x": marks["sx"], "y": marks["sy"], "hoverinfo": "skip",
                     "name": t("history.suspect_legend", lang),
                     "marker": {"symbol": "x-thin-open", "size": 9, "color": _SUSPECT_COLOUR, "line": {"width": 2}}})
    layout = _base_layout(lang, 250)
    layout.update({
        "margin": {"l": 40, "r": 8, "t": 28, "b": 8},
        "xaxis": {"tickvals": tickvals, "ticktext": ticktext, "showgrid": False, "zeroline": False,
                  "range": [-0.5, weeks - 0.5], "side": "top"},
        "yaxis": {"tickvals": list(range(7)), "ticktext": [day_names[i] for i in range(7)], "autorange": "reversed",
                  "showgrid": False, "zeroline": False, "scaleanchor": "x", "fixedrange": True},
    })
    return {"data": data, "layout": layout}


def typical_day_figure(profile: Sequence[tuple[int, float, int]], *, kind: str, lang: str,
                       peers: Sequence[float] | None = None, peers_name: str = "") -> Figure:
    """The household's mean use per hour of the day (measured hours only) as bars over 0 h – 23 h, and similar
    homes' published mean per hour as a line of dots when given (24 values, already rounded as shown)."""
    unit = UNIT_OF_KIND[kind]
    values = [round_as_shown(mean, HOUR_DIGITS) for _, mean, _ in profile]
    layout = _base_layout(lang, 220)
    layout.update({"margin": {"l": 48, "r": 8, "t": 8, "b": 32},
                   "yaxis": {"title": {"text": unit + "/h"}, "gridcolor": "#e9ecef", "rangemode": "tozero"},
                   "xaxis": {"tickvals": [0, 6, 12, 18, 23], "ticktext": ["0 h", "6 h", "12 h", "18 h", "23 h"],
                             "range": [-0.5, 23.5]}})
    data: list[dict[str, Any]] = [{
        # Bars, not a smoothed line: a spline would draw use between hours that nobody measured.
        "type": "bar", "x": [hour for hour, _, _ in profile], "y": values, "marker": {"color": KIND_COLOURS[kind]},
        "customdata": [[_small(v, kind, lang), n] for v, (_, _, n) in zip(values, profile, strict=True)],
        "name": t("history.typical_you", lang),
        "hovertemplate": "%{x} h<br><b>%{customdata[0]}</b><br>" + t("history.typical_days", lang)
                         + "<extra></extra>",
    }]
    if peers is not None:
        shown = [round_as_shown(v, HOUR_DIGITS) for v in peers]
        # Straight segments between the hours' dots, dark and dashed: told apart from the bars without colour.
        data.append({
            "type": "scatter", "mode": "lines+markers", "x": list(range(len(shown))), "y": shown,
            "line": {"color": "#212529", "dash": "dash", "width": 2}, "marker": {"color": "#212529", "size": 5},
            "customdata": [_small(v, kind, lang) for v in shown], "name": peers_name,
            "hovertemplate": "%{x} h<br><b>%{customdata}</b><br>" + peers_name + "<extra></extra>",
        })
        layout.update({"showlegend": True, "height": 250, "margin": {"l": 48, "r": 8, "t": 8, "b": 32},
                       "legend": {"orientation": "h", "x": 0, "y": -0.18, "yanchor": "top"}})
        layout["margin"]["b"] = 64
    return {"data": data, "layout": layout}
