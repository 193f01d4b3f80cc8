"""The household page's pictures: the year as a calendar, the typical day (against similar homes'), the latest readings.

Each follows the energy chosen and the last day of the chart's window; the dwelling is
resolved against the session's scope in the callback, as everywhere.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

import dash
import dash_bootstrap_components as dbc
import flask
from dash import Input, Output, State, callback, dcc, html

from analytics.peer_day import MIN_DAYS_PER_HOUR, WINDOW_DAYS
from dashboard import access, context, history_queries, i18n_household  # noqa: F401 - i18n_household adds the texts
from dashboard import peer_day_queries, peer_day_view
from dashboard.auth import session_language
from dashboard.history_controls import WINDOW_STORE, window_of
from dashboard.history_figures import calendar_figure, typical_day_figure
from dashboard.i18n import format_day, format_number, format_quantity, t
from dashboard.queries import KINDS, UNIT_OF_KIND
from dashboard.scope import ScopeDenied, current_scope, may_download_readings, resolve_dwelling

CALENDAR_SLOT = "household-calendar"
TYPICAL_DAY_SLOT = "household-typical-day"
LATEST_SLOT = "household-latest"
CALENDAR_DAYS = 365
# Eight weeks, and at least a week of measured days behind each hour: the same as similar homes' (analytics).
TYPICAL_DAY_DAYS = WINDOW_DAYS
MIN_TYPICAL_DAYS = MIN_DAYS_PER_HOUR
_GRAPH_CONFIG = {"displayModeBar": False, "responsive": True}
_UNIT_SHOWN = {"W": "W", "VA": "VA", "kWh": "kWh", "m3": "m³"}


def _card(slot_id: str, title_key: str, lang: str, md: int) -> dbc.Col:
    return dbc.Col(dbc.Card(dbc.CardBody([
        html.H2(t(title_key, lang), className="h6 card-title"),
        dcc.Loading(html.Div(id=slot_id + "-body")),
    ]), id=slot_id, className="h-100 shadow-sm"), xs=12, md=md, className="mb-3")


def cards_row(lang: str) -> dbc.Row:
    """The calendar across the page, then the typical day and the latest readings side by side."""
    return dbc.Row([
        _card(CALENDAR_SLOT, "history.calendar_title", lang, 12),
        _card(TYPICAL_DAY_SLOT, "history.typical_title", lang, 7),
        _card(LATEST_SLOT, "history.latest_title", lang, 5),
    ])


def calendar(conn: Any, dwelling_id: int, kind: str, last: date, lang: str) -> Any:
    """The year to `last` as a calendar of days, with what its marks mean."""
    settings = context.current().settings
    first = last - timedelta(days=CALENDAR_DAYS - 1)
    days = history_queries.daily_use(conn, dwelling_id, kind, first, last + timedelta(days=1), tz=settings.tz,
                                     gas_kwh_per_m3=settings.gas_kwh_per_m3)
    if not days:
        return html.P(t("history.calendar_empty", lang, first=format_day(first, lang), last=format_day(last, lang)),
                      className="text-body-secondary small mb-0", id="calendar-empty")
    return html.Div([
        # A year of weeks needs ~760 px: narrower screens scroll it, starting at the latest weeks (rtl box).
        html.Div(dcc.Graph(figure=calendar_figure(days, kind=kind, lang=lang, first=first, last=last),
                           config=_GRAPH_CONFIG, id="calendar-graph",
                           style={"height": "250px", "minWidth": "760px", "direction": "ltr"}),
                 style={"overflowX": "auto", "direction": "rtl"}, id="calendar-scroll", tabIndex="0", role="region",
                 **{"aria-label": t("history.calendar_title", lang)}),
        html.P(t("history.calendar_scroll", lang), className="small text-body-secondary mb-1 d-md-none"),
        html.P(t("history.calendar_note", lang, first=format_day(first, lang), last=format_day(last, lang),
                 days=len(days), estimated=sum(1 for d in days if d.estimated_hours and not d.suspect_hours),
                 suspect=sum(1 for d in days if d.suspect_hours)),
               className="small text-body-secondary mb-0", id="calendar-note"),
    ])


def typical_day(conn: Any, dwelling_id: int, kind: str, last: date, lang: str) -> Any:
    """The household's own typical day against similar homes' (their group's published mean), or why not."""
    settings = context.current().settings
    first = last - timedelta(days=TYPICAL_DAY_DAYS - 1)
    peer = peer_day_queries.peer_day_of(conn, dwelling_id, kind)
    drawn = peer if peer is not None and peer.published and last >= peer.period_end - timedelta(days=1) else None
    if drawn is not None:
        # The window reaches the peers' last day: the home's day over exactly the peers' days.
        first, last = drawn.period_start, drawn.period_end - timedelta(days=1)
    profile = history_queries.typical_day(conn, dwelling_id, kind, first, last + timedelta(days=1), tz=settings.tz,
                                          gas_kwh_per_m3=settings.gas_kwh_per_m3)
    peers_text = peer_day_view.peers_sentence(peer, drawn is not None, first, last, lang,
                                              k=settings.comparison_min_group_size)
    enough = [row for row in profile if row[2] >= MIN_TYPICAL_DAYS]
    if len(enough) < len(profile) or len(profile) < 24:
        return html.Div([html.P(t("history.typical_short", lang, days=MIN_TYPICAL_DAYS, first=format_day(first, lang),
                                  last=format_day(last, lang)),
                                className="text-body-secondary small mb-1", id="typical-short"), peers_text])
    peak_hour, peak, _ = max(profile, key=lambda row: row[1])
    low_hour, low, _ = min(profile, key=lambda row: row[1])
    unit = UNIT_OF_KIND[kind]
    figure = typical_day_figure(
        profile, kind=kind, lang=lang, peers=drawn.mean_by_hour if drawn is not None else None,
        peers_name=t("history.typical_peers_name", lang, count=drawn.member_count) if drawn is not None else "")
    return html.Div([
        html.P(t("history.typical_summary", lang, peak_hour=peak_hour, peak=format_quantity(peak, unit, lang, digits=2),
                 low_hour=low_hour, low=format_quantity(low, unit, lang, digits=2)), className="mb-1",
               id="typical-summary"),
        dcc.Graph(figure=figure, config=_GRAPH_CONFIG, id="typical-graph",
                  style={"height": "250px" if drawn is not None else "220px"}),
        html.P(t("history.typical_note", lang, first=format_day(first, lang), last=format_day(last, lang)),
               className="small text-body-secondary mb-0"),
        peers_text,
    ])


def latest(conn: Any, dwelling_id: int, kind: str, lang: str) -> Any:
    """The newest power and index readings of the kind's meters, with their local time."""
    settings = context.current().settings
    now = datetime.now(settings.tz)
    rows = history_queries.latest_readings(conn, dwelling_id, kind, now)
    if not rows:
        when = history_queries.last_reading_time(conn, dwelling_id, kind)
        text = (t("history.latest_none", lang, days=history_queries.RECENT_READINGS_DAYS) if when is None else
                t("history.latest_old", lang, day=format_day(when.astimezone(settings.tz).date(), lang)))
        return html.P(text, className="text-body-secondary small mb-0", id="latest-none")
    items = []
    for row in rows:
        at = row.time.astimezone(settings.tz)
        when = (at.strftime("%H:%M") if at.date() == now.date()
                else f"{format_day(at.date(), lang)} {at:%H:%M}")
        unit = _UNIT_SHOWN.get(row.unit, row.unit)
        digits = 0 if unit in ("W", "VA") else 3
        items.append(html.Li([
            html.Span(t(f"quantity.{row.quantity}", lang).capitalize(), className="text-body-secondary"),
            html.Span(f" {format_number(row.value, lang, digits=digits)} {unit}", className="fw-semibold"),
            html.Span(" · " + t("history.latest_at", lang, when=when), className="small text-body-secondary"),
        ], className="mb-1 latest-reading"))
    return html.Div([html.Ul(items, className="list-unstyled mb-1", id="latest-list"),
                     html.P(t("history.latest_note", lang), className="small text-body-secondary mb-0")])


def register(kind_radio: str, dwelling_store: str) -> None:
    """Add the callback that fills the three cards."""

    @callback(
        Output(CALENDAR_SLOT + "-body", "children"),
        Output(TYPICAL_DAY_SLOT + "-body", "children"),
        Output(LATEST_SLOT + "-body", "children"),
        Input(kind_radio, "value"),
        Input(WINDOW_STORE, "data"),
        State(dwelling_store, "data"),
        prevent_initial_call=True,  # drawn once the navigation has set the window
    )
    def update_insights(kind: str, window: object, requested_dwelling: object) -> tuple[Any, Any, Any]:
        """Fill the calendar, typical day and latest readings for the session's dwelling."""
        if kind not in KINDS:
            raise dash.exceptions.PreventUpdate
        lang = session_language()
        app = context.current()
        today = datetime.now(app.settings.tz).date()
        # Only the day matters here; the navigation callback checked the window already, and junk gives today.
        last = window_of(window, "year", today).last
        try:
            scope = current_scope()
            with app.connection() as conn:
                dwelling_id = resolve_dwelling(conn, scope, requested_dwelling)
                access.log_staff_access(conn, scope, [dwelling_id], "household_page")
                if not may_download_readings(scope):
                    # Hours and raw readings are a home's load curve: never a manager's; its days are.
                    refused = html.P(t("history.hours_not_for_role", lang), className="text-body-secondary small mb-0")
                    return calendar(conn, dwelling_id, kind, last, lang), refused, refused
                return (calendar(conn, dwelling_id, kind, last, lang), typical_day(conn, dwelling_id, kind, last, lang),
                        latest(conn, dwelling_id, kind, lang))
        except ScopeDenied:
            flask.current_app.logger.warning("scope denied in update_insights")
            denied = dbc.Alert(t("error.denied", lang), color="danger", className="mb-0")
            return denied, denied, denied
