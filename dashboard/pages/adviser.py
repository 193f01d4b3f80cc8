"""The adviser view ("/adviser"): high consumers ranked against similar homes, filters, a dwelling drill-down.

Every filter value and the drill-down dwelling come from the browser: each is
checked against the adviser's residences on the server before any query runs.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

import dash
import dash_bootstrap_components as dbc
import flask
import psycopg
from dash import ALL as ALL_IDS, Input, Output, State, callback, clientside_callback, dcc, html

from dashboard import access, actions, alert_queries, context, queries, ranking_queries, staff_queries, verdicts
from dashboard.access_view import staff_notice
from dashboard.adviser_text import baseline_text, breakable_unit, period_label, period_rule, use_unit
from dashboard.page_notices import staff_only
from dashboard.auth import session_language
from dashboard.figures import load_curve_figure
from dashboard.i18n import (
    MESSAGES, format_day, format_money_eur, format_number, format_quantity, language_or_default, t,
)
from dashboard.scope import Role, Scope, ScopeDenied, building_allowed, current_scope, parse_id, resolve_dwelling

dash.register_page(__name__, path="/adviser", title="coopwatt · conseiller", name="Conseiller / Adviser")

RESIDENCE_FILTER = "adviser-residence"
BUILDING_FILTER = "adviser-building"
HEATING_FILTER = "adviser-heating"
KIND_FILTER = "adviser-kind"
PERIOD_FILTER = "adviser-period"
RANKING = "adviser-ranking"
DRILL_STORE = "adviser-dwelling"
FOLLOW_STATUS = "adviser-follow-status"
FOLLOW_NOTE = "adviser-follow-note"
FOLLOW_SAVE = "adviser-follow-save"
FOLLOW_RESULT = "adviser-follow-result"

DRILL_KINDS = "drilldown-kinds"
DRILL_PANEL = "drilldown-panel"
DRILL_PANEL_ID = "adviser-drilldown"
DRILL_BODY = "adviser-drilldown-body"
OPEN_DWELLING = "ranking-open"
OPENED = "adviser-opened"
URL_SYNC = "adviser-url-sync"

HEATING_TYPES = ("electric", "gas", "collective", "heat_pump", "district", "other")
CURVE_DAYS = 14
ALL = "all"


def scope_residences(conn: psycopg.Connection, scope: Scope) -> list[int]:
    """The residences an adviser (or admin) may rank; nobody else gets any."""
    if scope.role is Role.ADVISER:
        return sorted(scope.residence_ids)
    if scope.role is Role.ADMIN:
        return [row[0] for row in conn.execute("SELECT id FROM residence ORDER BY id").fetchall()]
    return []


def _dropdown(component_id: str, label: str, options: list[dict[str, Any]], lang: str) -> dbc.Col:
    # A native <select>: labelled, keyboard- and screen-reader-friendly, the phone's own picker, and no
    # English "Search" text (Dash's dropdown has one in every language).
    return dbc.Col([
        dbc.Label(label, html_for=component_id, className="small text-body-secondary mb-0"),
        dbc.Select(id=component_id, options=[{"label": t("adviser.filter.all", lang), "value": ALL}, *options],
                   value=ALL),
    ], xs=12, sm=6, lg=True, className="mb-2")


def period_value(period: tuple[date, date]) -> str:
    """A ranking period as the filter's value: "2025-11-01/2026-11-01" (local days [start, end))."""
    return f"{period[0].isoformat()}/{period[1].isoformat()}"


def parse_period(value: object) -> tuple[date, date]:
    """A ranking period from the browser's filter value; anything malformed is refused.

    Well-formed is not enough: the caller also checks it is one of the periods it offers.
    """
    if not isinstance(value, str) or len(value) != 21 or value[10] != "/":
        raise ScopeDenied("not a period")
    try:
        start, end = date.fromisoformat(value[:10]), date.fromisoformat(value[11:])
    except ValueError as error:
        raise ScopeDenied("not a period") from error
    return start, end


def layout(dwelling: str | None = None, **_query: Any) -> Any:
    """Filters and ranking of the adviser's residences, and the drill-down of a requested dwelling."""
    lang = session_language()
    scope = current_scope()
    if scope.role is Role.HOUSEHOLD:
        return staff_only("adviser", lang, "adviser-denied")
    with context.current().connection() as conn:
        residences = scope_residences(conn, scope)
        if not residences:
            return dbc.Alert(t("home.no_access", lang), color="warning", id="adviser-denied")
        places = staff_queries.residences_and_buildings(conn, residences)
        periods = ranking_queries.offered_periods(conn, residences)
        drill = _drilldown(conn, scope, dwelling, lang) if dwelling else None
    residence_options = sorted({(r_id, r_name) for r_id, r_name, _, _ in places}, key=lambda r: r[1])
    return html.Div([
        html.H1(t("adviser.title", lang), className="h3 mb-1"),
        html.P(t("adviser.intro", lang), className="text-body-secondary"),
        staff_notice(lang),
        dbc.Row([
            _dropdown(RESIDENCE_FILTER, t("adviser.filter.residence", lang),
                      [{"label": name, "value": str(r_id)} for r_id, name in residence_options], lang),
            _dropdown(BUILDING_FILTER, t("adviser.filter.building", lang),
                      [{"label": f"{b_name} ({r_name})", "value": str(b_id)} for _, r_name, b_id, b_name in places], lang),
            _dropdown(HEATING_FILTER, t("adviser.filter.heating", lang),
                      [{"label": t(f"heating.{h}", lang), "value": h} for h in HEATING_TYPES], lang),
            _dropdown(KIND_FILTER, t("adviser.filter.kind", lang),
                      [{"label": t(f"kind.{k}", lang), "value": k} for k in queries.KINDS], lang),
            # One period at a time (the last twelve months first, the default): a dwelling is ranked once per period.
            dbc.Col([
                dbc.Label(t("adviser.filter.period", lang), html_for=PERIOD_FILTER,
                          className="small text-body-secondary mb-0"),
                dbc.Select(id=PERIOD_FILTER,
                           options=[{"label": period_label(p, lang), "value": period_value((p.start, p.end))}
                                    for p in periods],
                           value=period_value((periods[0].start, periods[0].end)) if periods else None,
                           disabled=len(periods) < 2, style={"maxWidth": "40rem"}),
                # One period only: the select is shown (what is ranked) but says why there is no other yet.
                html.Div(t("adviser.period_only_one", lang), className="small text-body-secondary",
                         id="adviser-period-note") if len(periods) == 1 else None,
            ], xs=12, className="mb-2"),  # a row of its own: "Saison de chauffe 2025-2026 : du … au …" is read whole
        ], className="g-2 mb-2"),
        html.P(t("adviser.rule", lang), className="small text-body-secondary mb-2", id="adviser-rule"),
        dbc.Card(dbc.CardBody(dcc.Loading(html.Div(id=RANKING))), className="mb-3 shadow-sm"),
        html.P(t("adviser.pick", lang), className="small text-body-secondary"),
        # The drill-down opens beside the ranking, where the click happened (Escape or × closes it).
        dcc.Store(id=OPENED, data=None), dcc.Store(id=URL_SYNC, data=None),
        dbc.Offcanvas(html.Div(drill, id=DRILL_BODY), id=DRILL_PANEL_ID, is_open=drill is not None,
                      placement="end", title=html.Span(t("adviser.drilldown_title", lang), id=DRILL_PANEL_ID + "-title"),
                      labelledby=DRILL_PANEL_ID + "-title", scrollable=True,
                      class_name="adviser-drill-panel"),
    ])


@callback(
    Output(RANKING, "children"),
    Input(RESIDENCE_FILTER, "value"),
    Input(BUILDING_FILTER, "value"),
    Input(HEATING_FILTER, "value"),
    Input(KIND_FILTER, "value"),
    Input(PERIOD_FILTER, "value"),
)
def update_ranking(residence: object, building: object, heating: object, kind: object, period: object) -> Any:
    """The ranking for the filters, every one checked against the session's scope first."""
    lang = session_language()
    ctx = context.current()
    try:
        scope = current_scope()
        with ctx.connection() as conn:
            allowed = scope_residences(conn, scope)
            residence_id = None if residence == ALL else parse_id(residence)
            building_id = None if building == ALL else parse_id(building)
            if not allowed or (residence_id is not None and residence_id not in allowed):
                raise ScopeDenied("residence outside the scope")
            if building_id is not None and not building_allowed(conn, scope, building_id):
                raise ScopeDenied("building outside the scope")
            if heating != ALL and heating not in HEATING_TYPES:
                raise ScopeDenied("unknown heating type")
            if kind != ALL and kind not in queries.KINDS:
                raise ScopeDenied("unknown energy kind")
            offered = ranking_queries.offered_periods(conn, allowed)
            if not offered:
                return html.P(t("adviser.periods_none", lang), className="text-body-secondary mb-0",
                              id="ranking-empty")
            # The period is checked against those offered in this scope, recomputed here: never taken on trust.
            asked = (offered[0].start, offered[0].end) if period is None else parse_period(period)
            chosen = next((p for p in offered if (p.start, p.end) == asked), None)
            if chosen is None:
                raise ScopeDenied("period not offered")
            rows = staff_queries.high_consumers(
                conn, allowed, residence_id=residence_id, building_id=building_id,
                heating_type=None if heating == ALL else str(heating), energy_kind=None if kind == ALL else str(kind),
                period=asked,
            )
            alerts = alert_queries.open_alerts_of_dwellings(conn, [row.dwelling_id for row in rows])
    except ScopeDenied:
        flask.current_app.logger.warning("scope denied in update_ranking")
        return dbc.Alert(t("error.denied", lang), color="danger", id="ranking-denied", className="mb-0")
    rule = html.P(period_rule(chosen, lang), className="small text-body-secondary mb-2", id="ranking-period-rule")
    if not rows:
        return html.Div([rule, html.P(t("adviser.none", lang), className="text-body-secondary mb-0",
                                      id="ranking-empty")])
    return html.Div([rule, ranking_sections(rows, alerts, lang, chosen)])


def ranking_sections(rows: list[staff_queries.HighConsumerRow], alerts: dict[int, list[alert_queries.AlertRow]],
                     lang: str, period: ranking_queries.OfferedPeriod) -> html.Div:
    """One ranking per energy kind (never interleaved), ranks 1, 2, 3… within what the filters kept."""
    by_kind: dict[str, list[staff_queries.HighConsumerRow]] = {}
    for row in rows:  # rows come best stored rank first: the order within a kind is kept
        by_kind.setdefault(row.energy_kind, []).append(row)
    kinds = [k for k in queries.KINDS if k in by_kind] + sorted(k for k in by_kind if k not in queries.KINDS)
    return html.Div([
        html.Section([
            html.H2(t("adviser.section", lang, kind=_kind_name(kind, lang), count=len(by_kind[kind])),
                    className="h6 mt-2", id=f"ranking-title-{kind}"),
            ranking_table(by_kind[kind], kind, alerts, lang, period),
        ], className="ranking-section", **{"aria-labelledby": f"ranking-title-{kind}"})
        for kind in kinds
    ], id="ranking-table")


def _kind_name(kind: str, lang: str) -> str:
    return t(f"kind.{kind}", lang) if kind in queries.KINDS else kind


def ranking_table(rows: list[staff_queries.HighConsumerRow], kind: str, alerts: dict[int, list[alert_queries.AlertRow]],
                  lang: str, period: ranking_queries.OfferedPeriod | None = None) -> dbc.Table:
    """One kind's ranked homes; on a phone the median and reasons columns fold under the home's name.

    The "why" is the dwelling verdict's: the ranking's reasons, every open alert, and why it
    counts as high when the ranking stored no reason (a top-ranked home never has an empty cell).
    """
    unit = queries.UNIT_OF_KIND.get(kind, "kWh")
    wide = "d-none d-md-table-cell"  # shown from 768 px; on a phone their content sits in the home's cell
    # Column classes give every kind's table the same column widths from 768 px (coopwatt.css).
    header = html.Thead(html.Tr([
        html.Th(t("adviser.col.rank", lang), scope="col", className="col-rank"),
        html.Th(t("adviser.col.dwelling", lang), scope="col", className="col-home"),
        html.Th(breakable_unit(use_unit(period, unit, lang)), scope="col", className="text-end col-use"),
        html.Th(t("adviser.col.median", lang), scope="col", className="text-end col-median " + wide),
        html.Th(t("adviser.col.ratio", lang), scope="col", className="text-end col-ratio"),
        html.Th(t("adviser.col.reasons", lang), scope="col", className="col-reasons " + wide),
        html.Th(t("adviser.col.follow_up", lang), scope="col", className="col-follow " + wide),
    ]))
    body = []
    for shown_rank, row in enumerate(rows, start=1):
        reasons = verdicts.ranking_reasons(row.reasons, alerts.get(row.dwelling_id, []), row.ratio_to_group,
                                           row.rank, lang)
        median = "—" if row.group_median_kwh_per_m2 is None else format_number(row.group_median_kwh_per_m2, lang, digits=1)
        body.append(html.Tr([
            html.Td(str(shown_rank), className="ranking-rank"),
            html.Td([
                html.Button(row.dwelling_code, type="button", id={"type": OPEN_DWELLING, "dwelling": row.dwelling_id},
                            className="btn btn-link p-0 fw-semibold align-baseline ranking-open",
                            **{"aria-haspopup": "dialog",
                               "aria-label": t("adviser.open_dwelling", lang, code=row.dwelling_code)}),
                html.Div(f"{row.building_name} · {row.residence_name}", className="small text-body-secondary"),
                html.Div([t("adviser.col.median", lang), " : " if lang == "fr" else ": ", median],
                         className="small text-body-secondary d-md-none"),
                html.Ul([html.Li(r) for r in reasons], className="mb-0 ps-3 small d-md-none") if reasons else None,
            ]),
            html.Td(format_number(row.normalised_kwh_per_m2, lang, digits=1), className="text-end text-nowrap ranking-use"),
            html.Td(median, className="text-end text-nowrap " + wide),
            html.Td("—" if row.ratio_to_group is None else "× " + format_number(row.ratio_to_group, lang, digits=1, fixed=True),
                    className="text-end text-nowrap"),
            html.Td(html.Ul([html.Li(r) for r in reasons], className="mb-0 ps-3 small"), className=wide),
            html.Td(t(f"follow_up.{row.follow_up_status}", lang) if row.follow_up_status else "—", className=wide),
        ], className="ranking-row", **{"data-dwelling": str(row.dwelling_id), "data-kind": kind}))
    return dbc.Table([header, html.Tbody(body)], hover=True, responsive=True, size="sm",
                     className="mb-2 align-middle ranking-kind-table", id=f"ranking-table-{kind}")


@callback(
    Output(DRILL_BODY, "children"),
    Output(DRILL_PANEL_ID, "is_open"),
    Output(OPENED, "data"),
    Input({"type": OPEN_DWELLING, "dwelling": ALL_IDS}, "n_clicks"),
    prevent_initial_call=True,
)
def open_dwelling(clicks: list[int | None]) -> tuple[Any, bool, int | None]:
    """The clicked home's drill-down in the side panel (its id is only a request: checked against the scope)."""
    if not any(clicks or []) or not isinstance(dash.ctx.triggered_id, dict):
        raise dash.exceptions.PreventUpdate
    lang = session_language()
    requested = dash.ctx.triggered_id.get("dwelling")
    try:
        scope = current_scope()
        if scope.role not in (Role.ADVISER, Role.ADMIN):
            raise ScopeDenied("drill-down outside the adviser role")
    except ScopeDenied:
        flask.current_app.logger.warning("scope denied in open_dwelling")
        return dbc.Alert(t("error.denied", lang), color="danger", id="drilldown-denied", className="mb-0"), True, None
    with context.current().connection() as conn:
        try:
            opened = resolve_dwelling(conn, scope, requested)
        except ScopeDenied:
            opened = None
        return _drilldown(conn, scope, requested, lang), True, opened


# The address follows the open panel (a reload, a shared link or a language switch reopens it), without
# Dash's page router re-rendering the page: history.replaceState, and the language forms' return address.
clientside_callback(
    """function (isOpen, dwelling) {
        const search = isOpen && dwelling ? "?dwelling=" + dwelling : "";
        window.history.replaceState(null, "", window.location.pathname + search);
        const next = encodeURIComponent(window.location.pathname + search);
        document.querySelectorAll("form[id^='lang-'][id$='-form']").forEach(form => {
            form.action = form.action.replace(/next=[^&]*/, "next=" + next);
        });
        return search;
    }""",
    Output(URL_SYNC, "data"),
    Input(DRILL_PANEL_ID, "is_open"),
    State(OPENED, "data"),
    prevent_initial_call=True,
)


def _drilldown(conn: psycopg.Connection, scope: Scope, requested: object, lang: str) -> Any:
    """A dwelling's load curve, baseline, suggestions and follow-up form, or a refusal outside the scope."""
    try:
        dwelling_id = resolve_dwelling(conn, scope, requested)
    except ScopeDenied:
        return dbc.Alert(t("home.no_access", lang), color="warning", id="drilldown-denied", className="mb-0")
    info = queries.dwelling_info(conn, dwelling_id)
    if info is None:
        return dbc.Alert(t("home.no_access", lang), color="warning", id="drilldown-denied", className="mb-0")
    settings = context.current().settings
    kinds = list(info.kinds) or ["electricity"]
    since = datetime.now(settings.tz) - timedelta(days=CURVE_DAYS)
    access.log_staff_access(conn, scope, [dwelling_id], "adviser_drilldown", {"curve_days": CURVE_DAYS, "kinds": kinds})
    fitted = queries.baselines(conn, dwelling_id)
    follow = staff_queries.latest_follow_up(conn, dwelling_id)
    stored = queries.suggestions(conn, dwelling_id)
    verdict = verdicts.verdict_from(alert_queries.open_alerts_of_dwelling(conn, dwelling_id),
                                    queries.standings_of_dwelling(conn, dwelling_id), stored)
    # The dwelling verdict's actions first: a concern no stored suggestion answers is never left without one.
    suggestion_items = [html.Li(text) for text in verdicts.action_sentences(verdict, lang)] + [
        html.Li(f"{t('suggestion.' + s.kind, lang) if 'suggestion.' + s.kind in _keys(lang) else s.kind} — "
                + t("suggestions.value", lang, eur=format_money_eur(round(s.cost_eur_per_year), lang)))
        for s in stored
    ]
    area = format_quantity(info.floor_area_m2, "m²", lang, digits=0)
    # One energy kind shown at a time, chosen with labelled radio buttons (arrow keys move between them);
    # a client-side callback hides the other panels (dbc.Tabs wrote aria-controls to panes that do not exist).
    tabs = html.Div([
        html.Div([
            html.Span(t("adviser.filter.kind", lang), className="small text-body-secondary me-2", id=DRILL_KINDS + "-label"),
            dbc.RadioItems(id=DRILL_KINDS, value=kinds[0], inline=True,
                           options=[{"label": t(f"kind.{kind}", lang), "value": kind} for kind in kinds],
                           className="btn-group flex-wrap", inputClassName="btn-check",
                           labelClassName="btn btn-outline-success btn-sm", labelCheckedClassName="active"),
        ], className="d-flex align-items-center flex-wrap mt-2", role="radiogroup",
            **{"aria-labelledby": DRILL_KINDS + "-label"}),
        *[html.Div(_kind_panel(staff_queries.hourly_curve(conn, dwelling_id, kind, since), fitted.get(kind), kind, lang),
                   id={"type": DRILL_PANEL, "kind": kind}, hidden=kind != kinds[0])
          for kind in kinds],
    ])
    return html.Div([
        dcc.Store(id=DRILL_STORE, data=dwelling_id),  # a request only: the save callback checks it again
        html.H2(t("adviser.drilldown", lang, code=info.code, building=info.building_name, residence=info.residence_name),
                className="h5"),
        html.P([t("home.dwelling_details", lang, area=area, heating=t(f"heating.{info.heating_type}", lang)), " · ",
                html.A(t("consumption.title_staff", lang), href=f"/?dwelling={dwelling_id}")],
               className="small text-body-secondary mb-0"),
        tabs,
        # Suggestions are stored per dwelling, not per energy kind: one list under the tabs.
        html.H3(t("adviser.suggestions_all", lang), className="h6 mt-3"),
        html.Ul(suggestion_items, className="small", id="drilldown-suggestions") if suggestion_items
        else html.P(verdicts.no_suggestion_sentence(verdict, lang), className="small text-body-secondary"),
        html.H3(t("adviser.follow_up", lang), className="h6"),
        html.P(t("adviser.follow_up_last", lang, status=t(f"follow_up.{follow[0]}", lang),
                 date=format_day(follow[2].astimezone(settings.tz).date(), lang), note=follow[1])
               if follow else "", className="small text-body-secondary", id="drilldown-follow-last"),
        dbc.Row([
            dbc.Col([dbc.Label(t("adviser.follow_up_status", lang), html_for=FOLLOW_STATUS, className="visually-hidden"),
                     dbc.Select(id=FOLLOW_STATUS, value=follow[0] if follow else "open",
                                options=[{"label": t(f"follow_up.{s}", lang), "value": s}
                                         for s in actions.FOLLOW_UP_STATUSES])], xs=12, md=3, className="mb-2"),
            dbc.Col([dbc.Label(t("adviser.follow_up_note", lang), html_for=FOLLOW_NOTE, className="visually-hidden"),
                     dbc.Input(id=FOLLOW_NOTE, placeholder=t("adviser.follow_up_note", lang), maxLength=2000)],
                    xs=12, md=6, className="mb-2"),
            dbc.Col(dbc.Button(t("adviser.follow_up_save", lang), id=FOLLOW_SAVE, color="success"), xs="auto"),
        ], className="g-2"),
        html.Div(id=FOLLOW_RESULT, className="small text-success"),
    ])


def _kind_panel(points: list[tuple[datetime, float]], baseline: queries.BaselineRow | None, kind: str,
                lang: str) -> html.Div:
    """One energy kind of the drill-down: its hourly load curve against the base load, and its baseline."""
    unit = queries.UNIT_OF_KIND[kind]
    base_per_hour = baseline.base_kwh_per_day / 24 if baseline and baseline.base_kwh_per_day is not None else None
    curve: Any = (
        dcc.Graph(figure=load_curve_figure(points, unit, lang, base_per_hour), id=f"drilldown-curve-{kind}",
                  className="drilldown-curve", config={"displayModeBar": False, "responsive": True},
                  style={"height": "280px"})
        if points else html.P(t("adviser.curve_empty", lang), className="small text-body-secondary",
                              id=f"drilldown-curve-{kind}")
    )
    return html.Div([
        html.H3(t("adviser.curve_title", lang), className="h6 mt-3"),
        curve,
        html.H3(t("adviser.baseline", lang), className="h6 mt-2"),
        html.P(baseline_text(baseline, unit, lang), className="small mb-0", id=f"drilldown-baseline-{kind}"),
    ])


def _keys(lang: str) -> dict[str, str]:
    return MESSAGES[language_or_default(lang)]


@callback(
    Output(FOLLOW_RESULT, "children"),
    Input(FOLLOW_SAVE, "n_clicks"),
    State(DRILL_STORE, "data"),
    State(FOLLOW_STATUS, "value"),
    State(FOLLOW_NOTE, "value"),
    prevent_initial_call=True,
)
def save_follow_up(n_clicks: int | None, requested_dwelling: object, status: object, note: object) -> str:
    """Record a follow-up mark on the drilled-down dwelling, if the session's scope covers it."""
    if not n_clicks:
        raise dash.exceptions.PreventUpdate
    lang = session_language()
    try:
        scope = current_scope()
        dwelling_id = parse_id(requested_dwelling)
        if dwelling_id is None or not isinstance(status, str):
            raise ScopeDenied("no dwelling")
        with context.current().connection() as conn:
            done = actions.mark_follow_up(conn, scope, dwelling_id, status, note if isinstance(note, str) else "")
    except ScopeDenied:
        done = False
    if not done:
        flask.current_app.logger.warning("follow-up refused")
        return t("error.denied", lang)
    return t("adviser.follow_up_saved", lang)


clientside_callback(
    """function (kind, ids) { return ids.map(id => id.kind !== kind); }""",
    Output({"type": DRILL_PANEL, "kind": ALL_IDS}, "hidden"),
    Input(DRILL_KINDS, "value"),
    State({"type": DRILL_PANEL, "kind": ALL_IDS}, "id"),
)
