"""The household view ("/"): my consumption in kWh and €, my data, and the places analytics will fill.

Staff (adviser, manager, admin) reach a dwelling in their scope with
``/?dwelling=<id>``; that id is a request that the server checks against the
session's scope in the layout and again in every callback.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import dash
import dash_bootstrap_components as dbc
import flask
from dash import Input, Output, State, callback, dcc, html

from dashboard import access, actions, context, history_controls, household_analytics, household_insights, queries
from dashboard.access_view import access_card, staff_notice
from dashboard.auth import session_language
from dashboard.consent_panel import consent_card
from dashboard.export_controls import export_controls
from dashboard.progress_panel import progress_card
from dashboard.figures import Tariffs, consumption_figure, consumption_summary
from dashboard.history_controls import WINDOW_STORE, window_of
from dashboard.history_queries import consumption_between
from dashboard.history_view import hour_view
from dashboard.history_window import GRANULARITIES
from dashboard.i18n import format_day, format_money_eur, format_quantity, t
from dashboard.scope import Role, ScopeDenied, current_scope, may_download_readings, resolve_dwelling

dash.register_page(__name__, path="/", title="coopwatt", name="household")

# Component ids.
DWELLING_STORE = "household-dwelling"
KIND_RADIO = "household-kind"
GRANULARITY_RADIO = "household-granularity"
MEASURE_RADIO = "household-measure"
CONSUMPTION_GRAPH = "household-consumption-graph"
CONSUMPTION_SUMMARY = "household-consumption-summary"
CONSUMPTION_SOURCE = "household-consumption-source"
ERASE_BUTTON = "household-erase"
ERASE_COLLAPSE = "household-erase-collapse"
ERASE_CONFIRM = "household-erase-confirm"
ERASE_STATUS = "household-erase-status"
# Filled from the analytics results (tables of migration 0003) by update_analytics.
SIMILAR_HOMES_SLOT = "household-similar-homes"
LAST_YEAR_SLOT = "household-last-year"
ANOMALIES_SLOT = "household-anomalies"
SUGGESTIONS_SLOT = "household-suggestions"


def _button_radio(component_id: str, options: list[dict[str, str]], value: str) -> dbc.RadioItems:
    """Radio items drawn as a row of small buttons (easy to hit on a phone)."""
    return dbc.RadioItems(
        id=component_id, options=options, value=value, inline=True,
        className="btn-group flex-wrap", inputClassName="btn-check",
        labelClassName="btn btn-outline-success btn-sm", labelCheckedClassName="active",
    )


def _analytics_card(slot_id: str, title_key: str, lang: str) -> dbc.Col:
    """A card whose body the analytics callback fills (id "<slot>-body")."""
    return dbc.Col(
        dbc.Card(dbc.CardBody([
            html.H2(t(title_key, lang), className="h6 card-title"),
            dcc.Loading(html.Div(id=slot_id + "-body")),
        ]), id=slot_id, className="h-100 shadow-sm"),
        xs=12, md=6, className="mb-3",
    )


# The staff views each role may open; the pages check the role again on the server.
STAFF_VIEWS: dict[Role, tuple[str, ...]] = {
    Role.ADVISER: ("adviser",),
    Role.MANAGER: ("manager",),
    Role.ADMIN: ("adviser", "manager"),
}


def staff_landing(role: Role, lang: str) -> html.Div:
    """Links to the views this role may open, and to no other."""
    links = [
        dbc.ListGroupItem([
            html.Div(t(f"landing.{view}", lang), className="fw-semibold text-success"),
            html.Div(t(f"landing.{view}_about", lang), className="small text-body-secondary"),
        ], href=f"/{view}", id=f"landing-{view}", action=True, className="py-3")
        for view in STAFF_VIEWS.get(role, ())
    ]
    return html.Div([dbc.Alert(t("home.staff", lang), color="success"), dbc.ListGroup(links, id="staff-landing", tag="div")])


def layout(dwelling: str | None = None, **_query: Any) -> html.Div:
    """The household page for the session's dwelling (or a dwelling in a staff member's scope)."""
    lang = session_language()
    scope = current_scope()
    ctx = context.current()
    try:
        with ctx.connection() as conn:
            dwelling_id = resolve_dwelling(conn, scope, dwelling)
            info = queries.dwelling_info(conn, dwelling_id)
            erasure_at = queries.open_erasure_request(conn, scope.account_id)
            own_data = scope.role is Role.HOUSEHOLD
            # The household's own list, or (staff) this view recorded in it.
            accesses = access_card(conn, dwelling_id, lang, ctx.settings) if own_data else staff_notice(lang)
            if info is not None:
                access.log_staff_access(conn, scope, [dwelling_id], "household_page")
            consents = consent_card(conn, dwelling_id, lang, ctx.settings, own_data=scope.role is Role.HOUSEHOLD)
    except ScopeDenied:
        if scope.role is not Role.HOUSEHOLD and dwelling is None:
            return staff_landing(scope.role, lang)
        return dbc.Alert(t("home.no_access", lang), color="warning", id="household-denied")
    if info is None:
        return dbc.Alert(t("home.no_access", lang), color="warning", id="household-denied")
    kinds = list(info.kinds) or ["electricity"]
    heating = t(f"heating.{info.heating_type}", lang)
    area = format_quantity(info.floor_area_m2, "m²", lang, digits=0)
    return html.Div([
        None if own_data else accesses,
        # Only a request: callbacks check it against the session's scope again.
        dcc.Store(id=DWELLING_STORE, data=None if own_data else dwelling_id),
        html.Div([
            html.H1(t("home.greeting", lang), className="h3 mb-1") if own_data else None,
            html.P(t("home.dwelling", lang, code=info.code, residence=info.residence_name),
                   className="mb-0 fw-semibold"),
            html.P(t("home.dwelling_details", lang, area=area, heating=heating),
                   className="text-body-secondary small mb-1"),
            html.P(t("home.encourage", lang), className="mb-0") if own_data else None,
        ], className="mb-3"),
        dbc.Card(dbc.CardBody([
            html.H2(t("consumption.title" if own_data else "consumption.title_staff", lang), className="h5 card-title"),
            dbc.Row([
                dbc.Col([html.Div(t("consumption.kind", lang), className="small text-body-secondary"),
                         _button_radio(KIND_RADIO, [{"label": t(f"kind.{k}", lang), "value": k} for k in kinds], kinds[0])],
                        xs=12, lg="auto"),
                dbc.Col([html.Div(t("consumption.granularity", lang), className="small text-body-secondary"),
                         _button_radio(GRANULARITY_RADIO, [{"label": t(f"granularity.{g}", lang), "value": g}
                                                           for g in GRANULARITIES], "month")],
                        xs="auto"),
                dbc.Col([html.Div(t("consumption.measure", lang), className="small text-body-secondary"),
                         _button_radio(MEASURE_RADIO, [{"label": "kWh / m³", "value": "amount"},
                                                       {"label": "€", "value": "cost"}], "amount")],
                        xs="auto"),
            ], className="g-2 gx-4 mb-2"),
            history_controls.navigation(lang, datetime.now(ctx.settings.tz).date()),
            html.Div(id=CONSUMPTION_SUMMARY, className="my-2"),
            dcc.Loading(dcc.Graph(id=CONSUMPTION_GRAPH, config={"displayModeBar": False, "responsive": True},
                                  style={"height": "320px"})),
            html.P(id=CONSUMPTION_SOURCE, className="small text-body-secondary mb-0"),
        ]), className="mb-3 shadow-sm"),
        household_insights.cards_row(lang),
        dbc.Row([
            _analytics_card(SIMILAR_HOMES_SLOT, "soon.title.similar", lang),
            _analytics_card(LAST_YEAR_SLOT, "soon.title.last_year", lang),
            _analytics_card(ANOMALIES_SLOT, "soon.title.anomalies", lang),
            _analytics_card(SUGGESTIONS_SLOT, "soon.title.suggestions", lang),
        ]),
        progress_card(dwelling_id, lang, own_data=own_data),
        _data_card(lang, own_data, dwelling_id, erasure_at, readings=may_download_readings(scope)),
        consents,
        accesses if own_data else None,
    ])


def _data_card(lang: str, own_data: bool, dwelling_id: int, erasure_at: datetime | None, *,
               readings: bool) -> dbc.Card:
    erase: list[Any] = []
    if own_data:
        erase = [
            dbc.Button(t("data.erase", lang), id=ERASE_BUTTON, color="link", className="px-0 text-danger-emphasis",
                       disabled=erasure_at is not None),
            dbc.Collapse(dbc.Alert([
                html.P(t("data.erase_explain", lang), className="mb-2"),
                dbc.Button(t("data.erase_confirm", lang), id=ERASE_CONFIRM, color="danger", size="sm"),
            ], color="light", className="mb-0"), id=ERASE_COLLAPSE, is_open=False),
            html.Div(t("data.erase_recorded", lang, date=format_day(erasure_at.date(), lang)) if erasure_at else "",
                     id=ERASE_STATUS, className="small text-success mt-2"),
        ]
    staff = "" if own_data else "_staff"
    today = datetime.now(context.current().settings.tz).date()
    return dbc.Card(dbc.CardBody([
        html.H2(t("data.title" + staff, lang), className="h5 card-title"),
        html.P(t("data.intro" + staff, lang), className="text-body-secondary"),
        export_controls(lang, own_data, dwelling_id, readings=readings, today=today),
        *erase,
    ]), className="mb-3 shadow-sm")


def _empty_figure() -> dict[str, Any]:
    return {"data": [], "layout": {"height": 320, "xaxis": {"visible": False}, "yaxis": {"visible": False},
                                   "plot_bgcolor": "white", "paper_bgcolor": "white",
                                   "margin": {"l": 8, "r": 8, "t": 8, "b": 8}}}


def _stat(label: str, value: str, stat_id: str) -> dbc.Col:
    return dbc.Col(html.Div([
        html.Div(label, className="small text-body-secondary"),
        html.Div(value, className="stat-value fw-semibold", id=stat_id),
    ]), xs=4, className="mb-2")


@callback(
    Output(CONSUMPTION_GRAPH, "figure"),
    Output(CONSUMPTION_SUMMARY, "children"),
    Output(CONSUMPTION_SOURCE, "children"),
    Input(KIND_RADIO, "value"),
    Input(GRANULARITY_RADIO, "value"),
    Input(MEASURE_RADIO, "value"),
    Input(WINDOW_STORE, "data"),
    State(DWELLING_STORE, "data"),
    # The first drawing waits for the navigation to set the window (else every page load read twice).
    prevent_initial_call=True,
)
def update_consumption(kind: str, granularity: str, measure: str, window_data: object,
                       requested_dwelling: object) -> tuple[Any, Any, Any]:
    """Redraw the consumption chart and its figures for the session's dwelling, over the window asked for."""
    lang = session_language()
    ctx = context.current()
    settings = ctx.settings
    if kind not in queries.KINDS or granularity not in GRANULARITIES or measure not in ("amount", "cost"):
        raise dash.exceptions.PreventUpdate
    today = datetime.now(settings.tz).date()
    # Days only, checked again here: a window the navigation would refuse gives the default one.
    window = window_of(window_data, granularity, today)
    tariffs = Tariffs.from_settings(settings)
    try:
        scope = current_scope()
        with ctx.connection() as conn:
            dwelling_id = resolve_dwelling(conn, scope, requested_dwelling)
            access.log_staff_access(conn, scope, [dwelling_id], "household_page")
            if granularity == "hour":
                if not may_download_readings(scope):
                    # A home's hours are its load curve: never a manager's (docs/operations.md, "Who sees what").
                    return _empty_figure(), dbc.Alert(t("history.hours_not_for_role", lang), color="light",
                                                      className="mb-0", id="consumption-hours-refused"), ""
                return hour_view(conn, dwelling_id, kind, measure, window, lang, settings, _stat)
            periods = consumption_between(conn, dwelling_id, kind, granularity, window.first, window.end,
                                          tz=settings.tz, gas_kwh_per_m3=settings.gas_kwh_per_m3)
    except ScopeDenied:
        flask.current_app.logger.warning("scope denied in update_consumption")
        return _empty_figure(), dbc.Alert(t("error.denied", lang), color="danger", id="consumption-denied"), ""
    summary = consumption_summary(periods, kind=kind, granularity=granularity, measure=measure, lang=lang,
                                  tariffs=tariffs, today=today)
    if summary is None:
        empty = t("history.empty_window", lang, first=format_day(window.first, lang), last=format_day(window.last, lang))
        return _empty_figure(), dbc.Alert(empty, color="light", className="mb-0", id="consumption-empty"), ""
    figure = consumption_figure(periods, kind=kind, granularity=granularity, measure=measure, lang=lang,
                                tariffs=tariffs, today=today)
    stats = dbc.Row([
        _stat(t("consumption.total", lang), summary.total, "consumption-total"),
        _stat(f"{t('consumption.latest', lang)} ({summary.latest_label})", summary.latest, "consumption-latest"),
        _stat(t("consumption.average", lang), summary.average, "consumption-average"),
    ])
    source = t("consumption.source", lang, days=summary.days, estimated=summary.estimated_days)
    if summary.suspect_days:
        source += " " + t("consumption.suspect", lang, days=summary.suspect_days)
    if summary.partial:
        key = "consumption.partial_year" if granularity == "year" else "consumption.partial"
        source += " " + t(key, lang, periods="; ".join(summary.partial))
    if measure == "cost":
        unit = queries.UNIT_OF_KIND[kind]
        price = format_money_eur(tariffs.eur_per_unit(kind), lang) + "/" + unit
        source += " " + t("consumption.cost_note", lang, tariff=price)
    return figure, stats, source


@callback(
    Output(ERASE_COLLAPSE, "is_open"),
    Input(ERASE_BUTTON, "n_clicks"),
    State(ERASE_COLLAPSE, "is_open"),
    prevent_initial_call=True,
)
def toggle_erasure(n_clicks: int | None, is_open: bool) -> bool:
    """Show or hide the erasure confirmation."""
    return not is_open


@callback(
    Output(ERASE_STATUS, "children"),
    Output(ERASE_BUTTON, "disabled"),
    Output(ERASE_COLLAPSE, "is_open", allow_duplicate=True),
    Input(ERASE_CONFIRM, "n_clicks"),
    prevent_initial_call=True,
)
def confirm_erasure(n_clicks: int | None) -> tuple[str, bool, bool]:
    """Record the erasure request of the session's own account (no id comes from the browser)."""
    if not n_clicks:
        raise dash.exceptions.PreventUpdate
    lang = session_language()
    try:
        scope = current_scope()
    except ScopeDenied:
        return t("error.denied", lang), True, False
    if scope.role is not Role.HOUSEHOLD:
        return t("error.denied", lang), True, False
    with context.current().connection() as conn:
        requested_at = actions.request_erasure(conn, scope)
    local_day = requested_at.astimezone(context.current().settings.tz).date()
    return t("data.erase_recorded", lang, date=format_day(local_day, lang)), True, False


@callback(
    Output(SIMILAR_HOMES_SLOT + "-body", "children"),
    Output(LAST_YEAR_SLOT + "-body", "children"),
    Output(ANOMALIES_SLOT + "-body", "children"),
    Output(SUGGESTIONS_SLOT + "-body", "children"),
    Input(KIND_RADIO, "value"),
    State(DWELLING_STORE, "data"),
)
def update_analytics(kind: str, requested_dwelling: object) -> tuple[Any, Any, Any, Any]:
    """Fill the similar-homes, last-year, anomalies and suggestions cards for the session's dwelling."""
    lang = session_language()
    if kind not in queries.KINDS:
        raise dash.exceptions.PreventUpdate
    ctx = context.current()
    try:
        scope = current_scope()
        with ctx.connection() as conn:
            dwelling_id = resolve_dwelling(conn, scope, requested_dwelling)
            access.log_staff_access(conn, scope, [dwelling_id], "household_page")
            return household_analytics.cards(conn, dwelling_id, kind, lang, ctx.settings)
    except ScopeDenied:
        flask.current_app.logger.warning("scope denied in update_analytics")
        denied = dbc.Alert(t("error.denied", lang), color="danger", className="analytics-denied mb-0")
        return denied, denied, denied, denied


history_controls.register(GRANULARITY_RADIO)
household_insights.register(KIND_RADIO, DWELLING_STORE)
