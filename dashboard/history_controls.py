"""The household chart's navigation: previous / next window, back to the latest, and a chosen range of days.

The window lives in a store the consumption callback reads; it is only a request (days, not
ids): the consumption callback checks the scope and reads nothing but the session's dwelling.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

import dash
import dash_bootstrap_components as dbc
from babel.dates import format_skeleton
from dash import Input, Output, State, callback, ctx, dcc, html

from dashboard import context, i18n_household  # noqa: F401 - adds the texts
from dashboard.auth import session_language
from dashboard.date_range import DayRange, RangeRefused
from dashboard.history_window import GRANULARITIES, chosen, shifted, window_ending
from dashboard.i18n import format_day, locale_of, t

WINDOW_STORE = "household-window"
PREV_BUTTON = "household-window-prev"
NEXT_BUTTON = "household-window-next"
LATEST_BUTTON = "household-window-latest"
RANGE_START = "household-window-start"
RANGE_END = "household-window-end"
WINDOW_LABEL = "household-window-label"
RANGE_PROBLEM = "household-window-problem"


def date_inputs(start_id: str, end_id: str, lang: str, today: date) -> list[Any]:
    """Two labelled native date fields (the browser's own, localised, keyboard-usable picker)."""
    fields: list[Any] = []
    for field_id, key in ((start_id, "export.start"), (end_id, "export.end")):
        fields += [
            html.Label(t(key, lang), htmlFor=field_id, className="small mb-0"),
            # The HTML date type: dcc's date pickers put ARIA attributes where they are not allowed (axe-core).
            dbc.Input(id=field_id, type="date", max=today.isoformat(), size="sm", debounce=True,
                      style={"width": "10.5rem"}),
        ]
    return fields


def navigation(lang: str, today: date) -> html.Div:
    """The row under the chart's choices: ‹ label › , "latest", and the date picker."""
    return html.Div([
        dcc.Store(id=WINDOW_STORE),
        html.Div([
            # Plain buttons: a screen reader says their label, not the arrow.
            html.Button("‹", id=PREV_BUTTON, className="btn btn-outline-success px-3", title=t("history.prev", lang),
                        **{"aria-label": t("history.prev", lang)}),
            html.Button("›", id=NEXT_BUTTON, className="btn btn-outline-success px-3", title=t("history.next", lang),
                        **{"aria-label": t("history.next", lang)}),
        ], className="btn-group me-2", role="group"),
        html.Span(id=WINDOW_LABEL, className="fw-semibold me-3", role="status", **{"aria-live": "polite"}),
        dbc.Button(t("history.latest", lang), id=LATEST_BUTTON, color="link", size="sm", className="px-1 me-2"),
        html.Div([
            html.Span(t("history.choose", lang), className="small text-body-secondary me-2"),
            *date_inputs(RANGE_START, RANGE_END, lang, today),
        ], className="d-inline-flex align-items-center flex-wrap gap-1", role="group",
            **{"aria-label": t("history.choose", lang)}),
        html.Div(id=RANGE_PROBLEM, className="small text-danger-emphasis", role="status"),
    ], className="d-flex align-items-center flex-wrap gap-1 mb-2", id="household-window-nav")


def window_of(data: object, granularity: str, today: date) -> DayRange:
    """The window a store holds, or the default one ending today (junk, or a window past today, is ignored)."""
    if isinstance(data, dict):
        try:
            first, last = date.fromisoformat(str(data.get("first"))), date.fromisoformat(str(data.get("last")))
            return chosen(first.isoformat(), min(last, today).isoformat(), granularity, today)
        except (ValueError, RangeRefused):
            pass
    return window_ending(today, granularity)


def window_label(window: DayRange, granularity: str, lang: str) -> str:
    """"sam. 5 déc. 2026" for a day of hours, "5 nov. 2026 – 5 déc. 2026" otherwise."""
    if window.first == window.last:
        return format_skeleton("yMMMEd", window.first, locale=locale_of(lang))
    return t("history.window", lang, first=format_day(window.first, lang), last=format_day(window.last, lang))


def register(granularity_radio: str) -> None:
    """Add the navigation callback, reading the page's granularity choice."""

    @callback(
        Output(WINDOW_STORE, "data"),
        Output(RANGE_START, "value"),
        Output(RANGE_END, "value"),
        Output(WINDOW_LABEL, "children"),
        Output(RANGE_PROBLEM, "children"),
        Output(NEXT_BUTTON, "disabled"),
        Input(granularity_radio, "value"),
        Input(PREV_BUTTON, "n_clicks"),
        Input(NEXT_BUTTON, "n_clicks"),
        Input(LATEST_BUTTON, "n_clicks"),
        Input(RANGE_START, "value"),
        Input(RANGE_END, "value"),
        State(WINDOW_STORE, "data"),
    )
    def navigate(granularity: str, _prev: object, _next: object, _latest: object, start: object, end: object,
                 stored: object) -> tuple[Any, ...]:
        """Move or set the chart's window; a range that cannot be shown is refused with the reason."""
        if granularity not in GRANULARITIES:
            raise dash.exceptions.PreventUpdate
        lang = session_language()
        today = datetime.now(context.current().settings.tz).date()
        trigger = ctx.triggered_id
        problem = ""
        window = window_of(stored, granularity, today)
        if trigger == granularity_radio:
            # Changing granularity keeps the last day in view: month bars around the day one was looking at
            # (read with the longest limit: the store still holds the previous granularity's window).
            window = window_ending(window_of(stored, "year", today).last, granularity)
        elif trigger == PREV_BUTTON:
            window = shifted(window, granularity, -1, today)
        elif trigger == NEXT_BUTTON:
            window = shifted(window, granularity, 1, today)
        elif trigger == LATEST_BUTTON or trigger is None:
            window = window_ending(today, granularity)
        elif trigger in (RANGE_START, RANGE_END):
            if not (isinstance(start, str) and isinstance(end, str)):
                raise dash.exceptions.PreventUpdate  # the second day is still to be picked
            try:
                window = chosen(start[:10], end[:10], granularity, today)
            except RangeRefused as refused:
                problem = t(refused.key, lang, **refused.values)
        data = {"granularity": granularity, "first": window.first.isoformat(), "last": window.last.isoformat()}
        return (data, window.first.isoformat(), window.last.isoformat(), window_label(window, granularity, lang),
                problem, window.last >= today)
