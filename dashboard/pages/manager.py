"""The building-manager view ("/manager"): open alerts to acknowledge or resolve, silent meters,
building daily curves against degree-days, and savings measured after renovations.

Alert ids and building ids come from the browser; the actions module and the
callbacks check each against the manager's buildings on the server.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

import dash
import dash_bootstrap_components as dbc
import flask
import psycopg
from babel.dates import format_datetime, format_timedelta
from dash import MATCH, Input, Output, State, callback, ctx, dcc, html

from analytics.notify.messages import evidence_sentences
from dashboard import access, actions, alert_queries, context, queries, staff_queries
from dashboard.access_view import staff_notice
from dashboard.auth import session_language
from dashboard.figures import building_curve_figure, manager_alert_sentence
from dashboard.household_analytics import SEVERITY_COLOURS
from dashboard.page_notices import staff_only
from dashboard.i18n import format_day, format_fraction_percent, format_quantity, locale_of, t
from dashboard.downloads import DAILY_PATH, READINGS_PATH
from dashboard.scope import (
    Role, Scope, ScopeDenied, building_allowed, building_meters_allowed, current_scope, parse_id,
)

dash.register_page(__name__, path="/manager", title="coopwatt · gestionnaire", name="Gestionnaire / Manager")

BUILDING_PICK = "manager-building"
KIND_PICK = "manager-kind"
CURVE = "manager-curve"
CURVE_NOTE = "manager-curve-note"
BUILDING_DAILY = "manager-building-daily"
BUILDING_READINGS = "manager-building-readings"
ACK = "alert-acknowledge"
RESOLVE = "alert-resolve"
COMMENT = "alert-comment"
STATUS = "alert-status"

# A meter with no consumption for this long is listed as silent (the analytics job raises the alert itself).
SILENT_AFTER = timedelta(hours=24)
# Resolved alerts listed under the open ones, most recently resolved first.
HISTORY_SHOWN = 20
# Anomaly runs that have judged nothing for longer than this have stopped: silence is then judged at the wall clock.
JUDGED_STALE_AFTER = timedelta(days=2)
CURVE_DAYS = 90
# French degree-days (DJU) are counted from 18 °C; the baseline's own balance point is per dwelling.
DEGREE_DAY_BASE_C = 18.0


def manager_buildings(conn: psycopg.Connection, scope: Scope) -> list[int]:
    """The buildings a manager looks after; an admin sees every building; nobody else any."""
    if scope.role is Role.MANAGER:
        return sorted(scope.building_ids)
    if scope.role is Role.ADMIN:
        return [row[0] for row in conn.execute("SELECT id FROM building ORDER BY id").fetchall()]
    return []


def layout(**_query: Any) -> Any:
    """Alerts, silent meters, the daily curve and savings of the manager's buildings."""
    lang = session_language()
    scope = current_scope()
    if scope.role is Role.HOUSEHOLD:
        return staff_only("manager", lang, "manager-denied")
    settings = context.current().settings
    today = datetime.now(settings.tz).date()
    with context.current().connection() as conn:
        buildings = manager_buildings(conn, scope)
        if not buildings:
            return dbc.Alert(t("manager.no_buildings", lang), color="warning", id="manager-denied")
        named = staff_queries.buildings_named(conn, buildings)
        # Only the kinds the first building has meters of (no "Chauffage collectif" without collective heating).
        first_kinds = staff_queries.building_kinds(conn, named[0][0]) if named else []
        alerts = alert_queries.open_alerts_of_buildings(conn, buildings)
        history = alert_queries.resolved_alerts_of_buildings(conn, buildings, limit=HISTORY_SHOWN)
        done = alert_queries.alert_actions(conn, [alert.id for alert in [*alerts, *history]])
        silent = staff_queries.silent_meters(conn, buildings, _silence_clock(conn, datetime.now(settings.tz)) - SILENT_AFTER)
        savings = staff_queries.savings_of_buildings(conn, buildings)
        # A home's alert shown with its evidence is an access to that home's data.
        access.log_alert_access(conn, scope, [alert.id for alert in [*alerts, *history]])
    return html.Div([
        html.H1(t("manager.title", lang), className="h3 mb-3"),
        staff_notice(lang),
        dbc.Row([
            dbc.Col(dbc.Card(dbc.CardBody([
                html.H2(t("manager.alerts", lang), className="h5 card-title"),
                html.Div([_alert_card(alert, lang, settings.tz, today, done.get(alert.id, []))
                          for alert in alerts], id="manager-alerts")
                if alerts else html.P(t("manager.alerts_none", lang), className="text-success mb-0",
                                      id="manager-alerts-none"),
                html.H2(t("manager.history", lang), className="h5 card-title mt-3"),
                html.Div([_history_item(alert, lang, settings.tz, today, done.get(alert.id, []))
                          for alert in history], id="manager-history")
                if history else html.P(t("manager.history_none", lang), className="text-body-secondary small mb-0",
                                       id="manager-history-none"),
            ]), className="h-100 shadow-sm"), xs=12, lg=7, className="mb-3"),
            dbc.Col(dbc.Card(dbc.CardBody([
                html.H2(t("manager.silent", lang), className="h5 card-title"),
                html.Ul([html.Li(t("manager.silent_row", lang, meter=source, kind=t(f"kind.{kind}", lang),
                                   dwelling=f" · {code}" if code else "",
                                   last=format_day(last.astimezone(settings.tz).date(), lang) if last
                                   else t("manager.never", lang)), className="silent-meter")
                         for source, kind, code, last in silent], className="small mb-0 ps-3", id="manager-silent")
                if silent else html.P(t("manager.silent_none", lang), className="text-success mb-0"),
                html.H2(t("manager.savings", lang), className="h5 card-title mt-3"),
                html.Ul([html.Li(_savings_text(row, lang), className="savings-row") for row in savings],
                        className="small mb-0 ps-3", id="manager-savings")
                if savings else html.P(t("manager.savings_none", lang), className="text-body-secondary small mb-0"),
            ]), className="h-100 shadow-sm"), xs=12, lg=5, className="mb-3"),
        ]),
        dbc.Card(dbc.CardBody([
            html.H2(t("manager.curve", lang), className="h5 card-title"),
            dbc.Row([
                dbc.Col([dbc.Label(t("manager.building", lang), html_for=BUILDING_PICK,
                                   className="small text-body-secondary mb-0"),
                         dbc.Select(id=BUILDING_PICK, value=str(named[0][0]),
                                    options=[{"label": name, "value": str(b_id)} for b_id, name in named])],
                        xs=12, sm=6, lg=4, className="mb-2"),
                dbc.Col([dbc.Label(t("adviser.filter.kind", lang), html_for=KIND_PICK,
                                   className="small text-body-secondary mb-0"),
                         dbc.Select(id=KIND_PICK, value=first_kinds[0] if first_kinds else None,
                                    options=_kind_options(first_kinds, lang))],
                        xs=12, sm=6, lg=3, className="mb-2"),
            ], className="g-2"),
            dcc.Loading(dcc.Graph(id=CURVE, config={"displayModeBar": False, "responsive": True},
                                  style={"height": "320px"})),
            html.P(id=CURVE_NOTE, className="small text-body-secondary mb-0"),
            # The building's own meters only: no household's data is downloaded here (docs/operations.md).
            html.Div([
                html.A(t("manager.download_daily", lang), id=BUILDING_DAILY, download="",
                       href=building_download(DAILY_PATH, named[0][0]), className="btn btn-outline-success btn-sm me-2"),
                html.A(t("manager.download_readings", lang), id=BUILDING_READINGS, download="",
                       href=building_download(READINGS_PATH, named[0][0]), className="btn btn-outline-success btn-sm"),
            ], className="mt-2"),
        ]), className="mb-3 shadow-sm"),
    ])


def _silence_clock(conn: psycopg.Connection, now: datetime) -> datetime:
    """When silence is judged: when the anomaly runs last judged the data, unless they have stopped.

    The same as now in production (a run every 15 minutes); in the demo, whose meters replay the past day at
    speed, the simulated clock, where the wall clock would call every meter silent until they catch up.
    """
    judged = staff_queries.anomalies_judged_until(conn)
    if judged is None or judged > now or now - judged > JUDGED_STALE_AFTER:
        return now
    return judged


def _savings_text(row: staff_queries.SavingsRow, lang: str) -> str:
    unit = queries.UNIT_OF_KIND.get(row.energy_kind, "kWh")
    return t("manager.savings_row", lang, description=row.description, building=row.building_name,
             date=format_day(row.day, lang), kind=t(f"kind.{row.energy_kind}", lang),
             avoided=format_quantity(row.avoided_kwh, unit, lang, digits=0), days=row.reporting_days,
             fraction=format_fraction_percent(row.avoided_fraction, lang, digits=1),
             band=format_quantity(row.band_kwh, unit, lang, digits=0),
             confidence=format_fraction_percent(row.confidence, lang))


def _evidence(alert: alert_queries.AlertRow, lang: str) -> list[str]:
    numbers = {k: float(v) for k, v in alert.evidence.items() if isinstance(v, int | float)}
    return evidence_sentences(alert.kind, alert.meter_kind, numbers, lang)


def _moment(when: datetime, lang: str, tz: Any) -> str:
    return format_datetime(when.astimezone(tz), "d MMM y, HH:mm", locale=locale_of(lang))


def _action_lines(done: list[alert_queries.AlertActionRow], lang: str, tz: Any) -> html.Ul:
    """Who acknowledged, resolved or commented, when, and what they wrote."""
    return html.Ul([
        html.Li(t(f"manager.action.{row.action}", lang, who=row.username or t("manager.deleted_account", lang),
                  when=_moment(row.acted_at, lang, tz))
                + (t("manager.action.said", lang, comment=row.comment) if row.comment else ""),
                className="alert-action-line")
        for row in done
    ], className="small text-body-secondary mb-1 ps-3 alert-actions")


def _history_item(alert: alert_queries.AlertRow, lang: str, tz: Any, today: date,
                  done: list[alert_queries.AlertActionRow]) -> html.Div:
    """A resolved alert: what, where, from when to when and for how long, its evidence and who did what."""
    end = alert.ended_at or alert.resolved_at or alert.started_at
    duration = format_timedelta(end - alert.started_at, threshold=1.5, locale=locale_of(lang))
    return html.Div([
        html.Div([
            dbc.Badge(t(f"severity.{alert.severity}", lang), color="secondary", className="me-2"),
            html.Span(manager_alert_sentence(alert.kind, alert.meter_kind, alert.started_at.astimezone(tz), lang,
                                             dwelling_code=alert.dwelling_code, building_name=alert.building_name,
                                             today=today)),
        ]),
        html.Div(t("manager.history_span", lang, start=_moment(alert.started_at, lang, tz),
                   end=_moment(end, lang, tz), duration=duration), className="small history-span"),
        html.Ul([html.Li(line) for line in _evidence(alert, lang)], className="small mb-1 alert-evidence"),
        _action_lines(done, lang, tz) if done else html.Div(t("manager.history_auto", lang),
                                                            className="small text-body-secondary mb-1"),
    ], className="border-top pt-2 mb-2 history-item", **{"data-alert": str(alert.id)})


def _alert_card(alert: alert_queries.AlertRow, lang: str, tz: Any, today: date,
                done: list[alert_queries.AlertActionRow] | None = None) -> html.Div:
    acknowledged = (t("manager.acknowledged", lang, date=format_day(alert.acknowledged_at.astimezone(tz).date(), lang))
                    if alert.acknowledged_at else "")
    return html.Div(dbc.Card(dbc.CardBody([
        html.Div([
            dbc.Badge(t(f"severity.{alert.severity}", lang), color=SEVERITY_COLOURS.get(alert.severity, "secondary"),
                      className="me-2"),
            html.Span(manager_alert_sentence(alert.kind, alert.meter_kind, alert.started_at.astimezone(tz), lang,
                                             dwelling_code=alert.dwelling_code, building_name=alert.building_name,
                                             today=today), className="alert-sentence"),
        ]),
        html.Div(t("manager.alert_where", lang, meter=alert.meter_source,
                   date=format_day(alert.detected_at.astimezone(tz).date(), lang)),
                 className="small text-body-secondary mb-1"),
        # The numbers behind the alert, in the same words as its e-mail: a manager can judge it before acting.
        html.Ul([html.Li(line) for line in _evidence(alert, lang)], className="small mb-2 alert-evidence"),
        html.Div(t("manager.reopened", lang, date=_moment(alert.reopens_resolved_at, lang, tz)),
                 className="small text-warning-emphasis mb-1 alert-reopened") if alert.reopens_resolved_at else None,
        _action_lines(done, lang, tz) if done else None,
        dbc.Row([
            dbc.Col(dbc.Input(id={"type": COMMENT, "alert": alert.id}, placeholder=t("manager.comment", lang),
                              maxLength=2000, size="sm"), xs=12, md=True, className="mb-1"),
            dbc.Col([
                dbc.Button(t("manager.acknowledge", lang), id={"type": ACK, "alert": alert.id}, size="sm",
                           color="success", className="me-1", disabled=alert.acknowledged_at is not None),
                dbc.Button(t("manager.resolve", lang), id={"type": RESOLVE, "alert": alert.id}, size="sm",
                           color="outline-secondary"),
            ], xs="auto", className="mb-1"),
        ], className="g-2"),
        html.Div(acknowledged, id={"type": STATUS, "alert": alert.id}, className="small text-success"),
    ]), className="mb-2"), className="alert-card", **{"data-alert": str(alert.id)})


@callback(
    Output({"type": STATUS, "alert": MATCH}, "children"),
    Output({"type": ACK, "alert": MATCH}, "disabled"),
    Input({"type": ACK, "alert": MATCH}, "n_clicks"),
    Input({"type": RESOLVE, "alert": MATCH}, "n_clicks"),
    State({"type": COMMENT, "alert": MATCH}, "value"),
    prevent_initial_call=True,
)
def act_on_alert(ack_clicks: int | None, resolve_clicks: int | None, comment: object) -> tuple[str, bool]:
    """Acknowledge or resolve the alert whose button was pressed, if it belongs to the session's buildings."""
    triggered = ctx.triggered_id
    if not isinstance(triggered, dict) or not (ack_clicks or resolve_clicks):
        raise dash.exceptions.PreventUpdate
    lang = session_language()
    action = "acknowledge" if triggered.get("type") == ACK else "resolve"
    try:
        scope = current_scope()
        if scope.role not in actions.ALERT_ROLES:
            raise ScopeDenied("only managers act on alerts")
        alert_id = parse_id(triggered.get("alert"))
        if alert_id is None:
            raise ScopeDenied("no alert")
        with context.current().connection() as conn:
            done = actions.act_on_alert(conn, scope, alert_id, action, comment if isinstance(comment, str) else "")
    except ScopeDenied:
        done = False
    if not done:
        flask.current_app.logger.warning("alert action refused")
        return t("error.denied", lang), False
    return t("manager.resolved_done" if action == "resolve" else "manager.action_done", lang), True


def building_download(path: str, building_id: int) -> str:
    """The download link of a building's own meters."""
    return f"{path}?building={building_id}"


@callback(
    Output(BUILDING_DAILY, "href"),
    Output(BUILDING_READINGS, "href"),
    Input(BUILDING_PICK, "value"),
    prevent_initial_call=True,
)
def update_downloads(building: object) -> tuple[str | None, str | None]:
    """The chosen building's download links, if the building is the session's (the download checks again)."""
    try:
        scope = current_scope()
        building_id = parse_id(building)
        if building_id is None:
            raise ScopeDenied("no building")
        with context.current().connection() as conn:
            if not building_meters_allowed(conn, scope, building_id):
                raise ScopeDenied("building outside the scope")
    except ScopeDenied:
        flask.current_app.logger.warning("scope denied in update_downloads")
        return None, None
    return building_download(DAILY_PATH, building_id), building_download(READINGS_PATH, building_id)


def _kind_options(kinds: list[str], lang: str) -> list[dict[str, str]]:
    return [{"label": t(f"kind.{k}", lang), "value": k} for k in kinds]


@callback(
    Output(KIND_PICK, "options"),
    Output(KIND_PICK, "value"),
    Input(BUILDING_PICK, "value"),
    State(KIND_PICK, "value"),
    prevent_initial_call=True,
)
def update_kinds(building: object, current: object) -> tuple[list[dict[str, str]], str | None]:
    """The energy kinds the chosen building has meters of; the current one is kept when the building has it."""
    lang = session_language()
    try:
        scope = current_scope()
        building_id = parse_id(building)
        if building_id is None:
            raise ScopeDenied("no building")
        with context.current().connection() as conn:
            if scope.role not in (Role.MANAGER, Role.ADMIN) or not building_allowed(conn, scope, building_id):
                raise ScopeDenied("building outside the scope")
            kinds = staff_queries.building_kinds(conn, building_id)
    except ScopeDenied:
        flask.current_app.logger.warning("scope denied in update_kinds")
        return [], None
    return _kind_options(kinds, lang), (current if current in kinds else (kinds[0] if kinds else None))


@callback(
    Output(CURVE, "figure"),
    Output(CURVE_NOTE, "children"),
    Input(BUILDING_PICK, "value"),
    Input(KIND_PICK, "value"),
)
def update_curve(building: object, kind: object) -> tuple[Any, str]:
    """The chosen building's daily use against degree-days, if the building is the session's."""
    lang = session_language()
    settings = context.current().settings
    if kind is None:  # the building has no meter at all: nothing to draw, and nothing to refuse
        return building_curve_figure([], "kWh", lang), t("manager.curve_empty", lang)
    try:
        scope = current_scope()
        building_id = parse_id(building)
        if building_id is None or kind not in queries.KINDS:
            raise ScopeDenied("bad request")
        with context.current().connection() as conn:
            if scope.role not in (Role.MANAGER, Role.ADMIN) or not building_allowed(conn, scope, building_id):
                raise ScopeDenied("building outside the scope")
            days = staff_queries.building_daily(
                conn, building_id, str(kind), datetime.now(settings.tz).date() - timedelta(days=CURVE_DAYS),
                timezone=settings.timezone, gas_kwh_per_m3=settings.gas_kwh_per_m3, balance_point_c=DEGREE_DAY_BASE_C,
            )
    except ScopeDenied:
        flask.current_app.logger.warning("scope denied in update_curve")
        return building_curve_figure([], "kWh", lang), t("error.denied", lang)
    unit = queries.UNIT_OF_KIND[str(kind)]
    if not days:
        return building_curve_figure([], unit, lang), t("manager.curve_empty", lang)
    total = sum(day[1] for day in days)
    note = t("manager.curve_note", lang, days=len(days), total=format_quantity(total, unit, lang, digits=0))
    return building_curve_figure(days, unit, lang), note
