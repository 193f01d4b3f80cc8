"""The household page's consent panel: each consent with its date and who recorded it; withdraw in two clicks.

Withdrawing is the button, then one of the confirmations (which also says what becomes of the data already
collected); giving an agreement again is one click. Only the household's own account can change its
consents, and the dwelling is always the session's (never an id from the browser). Staff see the panel
read-only: a paper form is recorded with ``coopwatt consent`` (coopwatt/consent_cli.py).
"""

from __future__ import annotations

from typing import Any

import dash
import dash_bootstrap_components as dbc
import flask
import psycopg
from dash import ALL, MATCH, Input, Output, State, callback, html

from coopwatt import consent
from coopwatt.consent_data import apply_withdrawal
from coopwatt.consent_texts import consent_text
from coopwatt.settings import Settings
from dashboard import context
from dashboard.auth import session_language
from dashboard.consent_messages import ct
from dashboard.i18n import format_day
from dashboard.scope import Role, ScopeDenied, current_scope

# Component ids.
CONSENT_CARD = "consent-card"
CONSENT_BODY = "consent-body"
CONSENT_STATUS = "consent-status"
WITHDRAW_BUTTON = "consent-withdraw"
WITHDRAW_AREA = "consent-withdraw-area"
CONFIRM_BUTTON = "consent-confirm"
GRANT_BUTTON = "consent-grant"


def choices_for(flow: str) -> tuple[str, ...]:
    """What a household may choose for a flow's data when it withdraws (a use of data has nothing to delete)."""
    if flow == consent.LOAD_CURVE:
        return ("aggregate", "delete", "keep")
    return ("delete", "keep") if flow in consent.METER_FLOWS else ("keep",)


def _recorded_by(record: consent.ConsentRecord, lang: str) -> str:
    if record.recorded_by == "staff":
        return ct("by.staff", lang, who=record.recorded_username, form=record.paper_form) if record.recorded_username \
            else ct("by.staff_unknown", lang, form=record.paper_form)
    return ct(f"by.{record.recorded_by}", lang)


def _state(flow: str, latest: consent.ConsentRecord | None, settings: Settings, lang: str) -> str:
    """One line: given / refused / withdrawn on which local day, and by whom."""
    if latest is None:
        return ct("none", lang)
    if latest.in_force:
        day = format_day(latest.decided_at.astimezone(settings.tz).date(), lang)
        return ct("given", lang, date=day) + " " + _recorded_by(latest, lang)
    if latest.withdrawn_at is not None:
        return ct("withdrawn", lang, date=format_day(latest.withdrawn_at.astimezone(settings.tz).date(), lang))
    return ct("refused", lang, date=format_day(latest.decided_at.astimezone(settings.tz).date(), lang)) + \
        " " + _recorded_by(latest, lang)


def _confirmations(flow: str, lang: str) -> dbc.Collapse:
    meter_flow = flow in consent.METER_FLOWS
    buttons = [dbc.Button(ct(f"confirm.{choice}" if meter_flow else "confirm.use", lang),
                          id={"type": CONFIRM_BUTTON, "flow": flow, "choice": choice},
                          color="danger" if choice == "delete" else "outline-danger", size="sm", className="me-2 mb-1")
               for choice in choices_for(flow)]
    return dbc.Collapse(dbc.Alert([
        html.P(ct("confirm.intro" if meter_flow else "confirm.intro_use", lang), className="mb-2 small"),
        html.Div(buttons),
    ], color="light", className="mb-0 mt-2"), id={"type": WITHDRAW_AREA, "flow": flow}, is_open=False)


def panel_body(conn: psycopg.Connection, dwelling_id: int, lang: str, settings: Settings, *,
               own_data: bool) -> list[Any]:
    """One row per data flow: its state, its text on demand, and (for the household) its buttons."""
    history = consent.consent_history(conn, dwelling_id)
    latest = {}
    for record in history:  # latest first
        latest.setdefault(record.flow, record)
    rows = []
    for flow in consent.FLOWS:
        text = consent_text(flow, lang, settings)
        record = latest.get(flow)
        in_force = record is not None and record.in_force
        actions: list[Any] = []
        if own_data and in_force:
            actions = [dbc.Button(ct("withdraw", lang), id={"type": WITHDRAW_BUTTON, "flow": flow}, color="link",
                                  size="sm", className="px-0 text-danger-emphasis"), _confirmations(flow, lang)]
        elif own_data:
            actions = [dbc.Button(ct("grant", lang), id={"type": GRANT_BUTTON, "flow": flow},
                                  color="outline-success", size="sm")]
        rows.append(dbc.ListGroupItem([
            html.Div([html.Span(text.title, className="fw-semibold"),
                      dbc.Badge("✓" if in_force else "–", color="success" if in_force else "secondary",
                                className="ms-2")]),
            html.Div(_state(flow, record, settings, lang), className="small text-body-secondary consent-state",
                     id=f"consent-state-{flow}"),
            html.Details([html.Summary(ct("details", lang), className="small"),
                          *[html.P(p, className="small mb-1") for p in text.paragraphs()],
                          html.P(ct("version", lang, version=record.text_version if record else consent.TEXT_VERSION),
                                 className="small text-body-secondary mb-0")]),
            *actions,
        ], className="consent-flow", id=f"consent-flow-{flow}"))
    return [dbc.ListGroup(rows, flush=True)]


def consent_card(conn: psycopg.Connection, dwelling_id: int, lang: str, settings: Settings, *,
                 own_data: bool) -> dbc.Card:
    """The panel as the household page shows it."""
    staff = "" if own_data else "_staff"
    return dbc.Card(dbc.CardBody([
        html.H2(ct("title" + staff, lang), className="h5 card-title"),
        html.P(ct("intro" + staff, lang), className="text-body-secondary"),
        html.Div(panel_body(conn, dwelling_id, lang, settings, own_data=own_data), id=CONSENT_BODY),
        html.Div(id=CONSENT_STATUS, className="small text-success mt-2", role="status"),
    ]), className="mb-3 shadow-sm", id=CONSENT_CARD)


@callback(
    Output({"type": WITHDRAW_AREA, "flow": MATCH}, "is_open"),
    Input({"type": WITHDRAW_BUTTON, "flow": MATCH}, "n_clicks"),
    State({"type": WITHDRAW_AREA, "flow": MATCH}, "is_open"),
    prevent_initial_call=True,
)
def toggle_withdrawal(n_clicks: int | None, is_open: bool) -> bool:
    """Show or hide the confirmations of one withdrawal (the first click)."""
    if not n_clicks:
        raise dash.exceptions.PreventUpdate
    return not is_open


def _asked() -> tuple[str, str] | None:
    """(flow, choice) of the button that fired, when it is a real click on a button the panel draws."""
    trigger = dash.ctx.triggered_id
    fired = dash.ctx.triggered[0].get("value") if dash.ctx.triggered else None
    if not isinstance(trigger, dict) or not isinstance(fired, int) or isinstance(fired, bool) or fired < 1:
        return None
    flow = trigger.get("flow")
    if not isinstance(flow, str) or flow not in consent.FLOWS:
        return None
    if trigger.get("type") == GRANT_BUTTON:
        return flow, "grant"
    choice = trigger.get("choice")
    if trigger.get("type") == CONFIRM_BUTTON and isinstance(choice, str) and choice in choices_for(flow):
        return flow, choice
    return None


@callback(
    Output(CONSENT_BODY, "children"),
    Output(CONSENT_STATUS, "children"),
    Input({"type": CONFIRM_BUTTON, "flow": ALL, "choice": ALL}, "n_clicks"),
    Input({"type": GRANT_BUTTON, "flow": ALL}, "n_clicks"),
    prevent_initial_call=True,
)
def change_consent(_confirms: object, _grants: object) -> tuple[Any, str]:
    """Withdraw (the second click) or give an agreement, for the session's own dwelling only."""
    asked = _asked()
    if asked is None:
        raise dash.exceptions.PreventUpdate
    flow, action = asked
    lang = session_language()
    try:
        scope = current_scope()
    except ScopeDenied:
        raise dash.exceptions.PreventUpdate from None
    if scope.role is not Role.HOUSEHOLD or scope.dwelling_id is None:
        # Staff never change a household's consents from its page (paper forms: `coopwatt consent`).
        flask.current_app.logger.warning("consent change refused to a %s account", scope.role.value)
        raise dash.exceptions.PreventUpdate
    ctx = context.current()
    with ctx.connection() as conn:
        try:
            if action == "grant":
                consent.record_decision(conn, scope.dwelling_id, flow, True, recorded_by="household",
                                        account_id=scope.account_id)
                done = ct("done.granted", lang)
            else:
                consent.withdraw(conn, scope.dwelling_id, flow, by="household", account_id=scope.account_id,
                                 choice=action)  # type: ignore[arg-type]
                apply_withdrawal(conn, scope.dwelling_id, flow, action, ctx.settings.timezone)  # type: ignore[arg-type]
                done = ct("done.withdrawn", lang)
        except consent.ConsentError:
            conn.rollback()  # a double click: already withdrawn, or already given
            done = ""
        body = panel_body(conn, scope.dwelling_id, lang, ctx.settings, own_data=True)
    return body, done
