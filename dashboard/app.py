"""The Dash app: ``create_app(settings)`` builds it; ``server`` is the Flask server for gunicorn.

``gunicorn 'dashboard.app:server'`` reads the settings from the environment
when it first touches ``server``; tests and ``coopwatt dashboard`` call
``create_app`` with settings of their own.
"""

from __future__ import annotations

import secrets
from pathlib import Path
from typing import Any
from urllib.parse import quote

import dash
import dash_bootstrap_components as dbc
import flask
from dash import Input, Output, dcc, html

from coopwatt.settings import Settings, SettingsError, load_settings
from dashboard import auth, callback_guard, downloads, index_page, rejections, security_headers
from dashboard.callback_requests import callback_request_problem
from dashboard.context import CONFIG_KEY, AppContext
from dashboard.i18n import LANGUAGES, t

_HERE = Path(__file__).resolve().parent
NAVBAR_ID = "navbar"
LOGOUT_ID = "logout-link"
UPDATE_COMPONENT_PATH = "/_dash-update-component"


def require_secret_key(settings: Settings) -> str:
    """The session-signing secret; start-up stops with a clear message when it is missing."""
    if not settings.dashboard_secret_key:
        raise SettingsError(
            "COOPWATT_DASHBOARD_SECRET_KEY: not set (expected 32+ random characters, e.g. from "
            "`python -c 'import secrets; print(secrets.token_urlsafe(48))'`; only `coopwatt demo` makes one up)"
        )
    return settings.dashboard_secret_key


def demo_settings(settings: Settings) -> Settings:
    """Settings for the demo: plain HTTP on this machine (so no Secure cookie), a random secret when none is set."""
    update: dict[str, Any] = {"dashboard_cookie_secure": False}
    if not settings.dashboard_secret_key:
        update["dashboard_secret_key"] = secrets.token_urlsafe(48)
    return settings.model_copy(update=update)


def _post_button(label: str, action: str, button_id: str, class_name: str, **extra: str) -> html.Form:
    """A button that POSTs to ``action`` with the session's CSRF token (carried as the button's own value)."""
    return html.Form(
        html.Button(label, type="submit", id=button_id, name="csrf_token", value=auth.csrf_token(),
                    className=class_name, **extra),
        method="post", action=action, id=button_id + "-form",
    )


def language_action(code: str, next_path: str) -> str:
    """Where a language button posts: the switch, then back to the page being read."""
    return f"/lang/{code}?next={quote(next_path, safe='')}"


def _navbar() -> dbc.Navbar:
    lang = auth.session_language()
    scope = flask.g.get("scope")
    path = flask.request.path if flask.request.path.startswith("/") and not flask.request.path.startswith("/_") else "/"
    # State changes are POST forms with the CSRF token: a link or an image on another site cannot switch
    # the language stored on the account or log anyone out.
    switch = [
        _post_button(code.upper(), language_action(code, path), f"lang-{code}",
                     "nav-link btn btn-link px-2" + (" active fw-bold" if code == lang else ""), lang=code)
        for code in LANGUAGES
    ]
    right: list[Any] = [html.Div(switch, className="d-flex", **{"aria-label": t("nav.language", lang)})]
    if scope is not None:
        right.append(_post_button(t("nav.logout", lang), "/logout", LOGOUT_ID, "btn btn-outline-light btn-sm ms-2"))
    return dbc.Navbar(
        dbc.Container([
            html.A([html.Span("coop", className="fw-light"), html.Span("watt", className="fw-bold")],
                   href="/", className="navbar-brand fs-4"),
            html.Div(right, className="d-flex align-items-center"),
        ], fluid="md"),
        color="success", dark=True, className="mb-3", id=NAVBAR_ID,
    )


def _layout() -> html.Div:
    """The frame around every page, built per request (language and account come from the session)."""
    return html.Div([
        _navbar(),
        dbc.Container(dash.page_container, fluid="md", className="pb-5"),
        dcc.Store(id="session-language", data=auth.session_language()),
    ])


def create_app(settings: Settings) -> dash.Dash:
    """Build the Dash app with login, access control, downloads and every page."""
    secret_key = require_secret_key(settings)
    database_url = settings.database_url
    if database_url is None:
        raise SettingsError("COOPWATT_DATABASE_URL: not set (the dashboard reads the coopwatt database)")
    server = flask.Flask("dashboard")
    server.config[CONFIG_KEY] = AppContext(settings=settings, database_url=database_url)
    auth.install(server, settings, secret_key)
    callback_guard.install(server)
    downloads.install(server)
    app = dash.Dash(
        "dashboard",
        server=server,
        use_pages=True,
        pages_folder=str(_HERE / "pages"),
        assets_folder=str(_HERE / "assets"),
        title="coopwatt",
        update_title=None,
        suppress_callback_exceptions=True,
        # Everything is served from here: no CDN, so it works without internet.
        serve_locally=True,
        meta_tags=[{"name": "viewport", "content": "width=device-width, initial-scale=1"}],
    )
    app.layout = _layout
    # The page before the scripts run: in the session's language, with a translated loading notice.
    app.interpolate_index = index_page.install(app.interpolate_index, auth.session_language)  # type: ignore[method-assign]
    # The language buttons come back to the page being read, query string included (a drill-down stays open).
    app.clientside_callback(
        """function (pathname, search) {
            const next = encodeURIComponent((pathname || "/") + (search || ""));
            return LANGUAGES.map(code => "/lang/" + code + "?next=" + next);
        }""".replace("LANGUAGES", str(list(LANGUAGES))),
        [Output(f"lang-{code}-form", "action") for code in LANGUAGES],
        Input("_pages_location", "pathname"),
        Input("_pages_location", "search"),
    )
    _refuse_malformed_callbacks(app)
    # Dash learns which component scripts it may serve only when it renders the index page, and each gunicorn
    # worker learns it alone: a worker asked for a script before it has rendered an index answers 500 and the
    # page stays on "Loading..." (seen in the browser tests). Render it once here, in every process.
    with server.test_request_context("/"):
        app.index()
    # The policy allows exactly the inline scripts Dash writes into its page (client-side callbacks included).
    security_headers.install(server, app.csp_hashes)
    return app


def _refuse_malformed_callbacks(app: dash.Dash) -> None:
    """A callback request whose shape no page of this app sends is a 400 with one log line, before Dash reads it."""

    def check() -> flask.Response | None:
        request = flask.request
        if request.path != UPDATE_COMPONENT_PATH or request.method != "POST" or flask.g.get("scope") is None:
            return None
        body = request.get_json(silent=True)
        problem = callback_request_problem(body, app.callback_map)
        if problem is not None:
            return rejections.refuse(400, problem)
        return None

    # Registered after Dash's own set-up hook, so the pages' callbacks are in callback_map by now.
    app.server.before_request(check)


def _server_from_environment() -> flask.Flask:
    return create_app(load_settings()).server


_SERVER: flask.Flask | None = None


def __getattr__(name: str) -> Any:
    """``server`` is built on first access, so importing this module needs no settings."""
    global _SERVER
    if name == "server":
        if _SERVER is None:
            _SERVER = _server_from_environment()
        return _SERVER
    raise AttributeError(name)
