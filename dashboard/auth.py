"""Login, logout and the guard in front of every route: argon2 passwords, a rate limit kept in the
database (so it holds across gunicorn workers), CSRF tokens, and the session's scope loaded per request."""

from __future__ import annotations

import hmac
import logging
import secrets
from dataclasses import dataclass
from datetime import timedelta
from urllib.parse import urlsplit

import flask
import psycopg
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from markupsafe import escape

from coopwatt.settings import Settings
from coopwatt.users import normalise_username
from dashboard import context
from dashboard.i18n import LANGUAGES, language_or_default, t
from dashboard.scope import load_scope

log = logging.getLogger(__name__)

_HASHER = PasswordHasher()
# Verifying against this when the user does not exist keeps the answer time the same either way.
_DUMMY_HASH = _HASHER.hash("coopwatt-no-such-user")

# Paths anyone may fetch: the login form, the language switch and the static CSS it uses.
_PUBLIC_PREFIXES = ("/login", "/logout", "/lang/", "/assets/", "/healthz")


def hash_password(password: str) -> str:
    """An argon2id hash (PHC string) of a password."""
    return _HASHER.hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    """True when the password matches the hash."""
    try:
        return _HASHER.verify(password_hash, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


@dataclass(frozen=True)
class LoginOutcome:
    """What a login attempt gave: an account id, or a refusal (rate-limited or wrong credentials)."""

    account_id: int | None
    rate_limited: bool = False


def attempt_login(
    conn: psycopg.Connection, settings: Settings, username: str, password: str, remote_addr: str,
) -> LoginOutcome:
    """Check credentials under the rate limit and record the attempt; the caller commits."""
    name = normalise_username(username)
    # Serialise attempts on one user name across workers so the count below cannot be raced.
    conn.execute("SELECT pg_advisory_xact_lock(hashtext('coopwatt-login:' || %s))", (name,))
    window = timedelta(seconds=settings.dashboard_login_window_s)
    failures = conn.execute(
        """
        SELECT count(*) FILTER (WHERE username = %(name)s), count(*) FILTER (WHERE remote_addr = %(addr)s)
        FROM login_attempt
        WHERE NOT succeeded AND attempted_at > now() - %(window)s
          AND (username = %(name)s OR remote_addr = %(addr)s)
        """,
        {"name": name, "addr": remote_addr, "window": window},
    ).fetchone()
    assert failures is not None
    # An address gets more room than a name: a household's flat-share may sit behind one address.
    limited = failures[0] >= settings.dashboard_login_max_failures or (
        failures[1] >= 4 * settings.dashboard_login_max_failures
    )
    account_id: int | None = None
    if not limited:
        row = conn.execute("SELECT id, password_hash FROM account WHERE username = %s", (name,)).fetchone()
        if row is None:
            verify_password(_DUMMY_HASH, password)
        elif verify_password(row[1], password):
            account_id = row[0]
            if _HASHER.check_needs_rehash(row[1]):
                conn.execute("UPDATE account SET password_hash = %s WHERE id = %s", (hash_password(password), row[0]))
            conn.execute("UPDATE account SET last_login_at = now() WHERE id = %s", (row[0],))
    conn.execute(
        "INSERT INTO login_attempt (username, remote_addr, succeeded) VALUES (%s, %s, %s)",
        (name, remote_addr, account_id is not None),
    )
    return LoginOutcome(account_id, rate_limited=limited)


def csrf_token() -> str:
    """This session's CSRF token (created on first use)."""
    token = flask.session.get("csrf")
    if not token:
        token = secrets.token_urlsafe(32)
        flask.session["csrf"] = token
    return token


def csrf_valid(submitted: str | None) -> bool:
    """True when a submitted form carries this session's CSRF token."""
    expected = flask.session.get("csrf")
    return bool(expected and submitted and hmac.compare_digest(expected, submitted))


def session_language() -> str:
    """The language chosen in this session (French until one is chosen)."""
    return language_or_default(flask.session.get("lang"))


def _safe_next(target: str | None) -> str:
    """Only local paths may be redirect targets (no open redirect)."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    parts = urlsplit(target)
    return parts.path + (("?" + parts.query) if parts.query else "")


def _login_page(message_key: str | None = None, status: int = 200, *, kind: str = "danger") -> flask.Response:
    lang = session_language()
    message = ""
    if message_key:
        message = f'<div class="alert alert-{kind}" role="alert" id="login-message">{escape(t(message_key, lang))}</div>'
    switch = " · ".join(
        f'<a href="/lang/{code}?next=/login" class="link-secondary" lang="{code}" id="lang-{code}">{code.upper()}</a>'
        if code != lang else f'<strong>{code.upper()}</strong>'
        for code in LANGUAGES
    )
    html = f"""<!DOCTYPE html>
<html lang="{lang}">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{escape(t("login.title", lang))} · coopwatt</title>
<link rel="stylesheet" href="/assets/bootstrap.min.css">
<link rel="stylesheet" href="/assets/coopwatt.css">
</head>
<body class="bg-body-tertiary">
<main class="container py-5" style="max-width: 28rem">
  <div class="d-flex justify-content-between align-items-baseline mb-4">
    <h1 class="h3 mb-0 text-success fw-bold">coopwatt</h1>
    <nav aria-label="{escape(t("nav.language", lang))}" class="small">{switch}</nav>
  </div>
  <div class="card shadow-sm">
    <div class="card-body p-4">
      <h2 class="h5 card-title">{escape(t("login.title", lang))}</h2>
      <p class="text-body-secondary">{escape(t("login.intro", lang))}</p>
      {message}
      <form method="post" action="/login" id="login-form">
        <input type="hidden" name="csrf_token" value="{escape(csrf_token())}">
        <div class="mb-3">
          <label for="username" class="form-label">{escape(t("login.username", lang))}</label>
          <input type="text" class="form-control" id="username" name="username" autocomplete="username"
                 autocapitalize="none" required maxlength="64">
        </div>
        <div class="mb-3">
          <label for="password" class="form-label">{escape(t("login.password", lang))}</label>
          <input type="password" class="form-control" id="password" name="password"
                 autocomplete="current-password" required maxlength="1024">
        </div>
        <button type="submit" class="btn btn-success w-100" id="login-submit">{escape(t("login.submit", lang))}</button>
      </form>
    </div>
  </div>
  <p class="text-center text-body-secondary small mt-4">{escape(t("app.tagline", lang))}</p>
</main>
</body>
</html>"""
    response = flask.make_response(html, status)
    response.headers["Cache-Control"] = "no-store"
    return response


def _login() -> flask.Response:
    if flask.request.method == "GET":
        return _login_page("login.logged_out" if flask.request.args.get("bye") else None, kind="success")
    if not csrf_valid(flask.request.form.get("csrf_token")):
        return _login_page("login.csrf", 400)
    ctx = context.current()
    remote_addr = flask.request.remote_addr or "unknown"
    with ctx.connection() as conn:
        outcome = attempt_login(
            conn, ctx.settings, flask.request.form.get("username", ""), flask.request.form.get("password", ""),
            remote_addr,
        )
        scope = load_scope(conn, outcome.account_id) if outcome.account_id is not None else None
    if outcome.rate_limited:
        return _login_page("login.limited", 429)
    if scope is None:
        return _login_page("login.failed", 401)
    chosen_language = flask.session.get("lang")
    # A fresh session on login: nothing from before the login survives (no session fixation).
    flask.session.clear()
    flask.session.permanent = True
    flask.session["account_id"] = scope.account_id
    flask.session["pw"] = scope.password_changed_at
    flask.session["lang"] = language_or_default(chosen_language or scope.language)
    log.info("login: %s (%s)", scope.username, scope.role)
    return flask.redirect(_safe_next(flask.request.args.get("next")))


def _logout() -> flask.Response:
    if flask.request.method == "POST" and not csrf_valid(flask.request.form.get("csrf_token")):
        return flask.redirect("/")
    language = session_language()
    flask.session.clear()
    flask.session["lang"] = language
    return flask.redirect("/login?bye=1")


def _set_language(code: str) -> flask.Response:
    """Switch the language; a logged-in account also keeps it as its preference."""
    if code not in LANGUAGES:
        flask.abort(404)
    flask.session["lang"] = code
    account_id = flask.session.get("account_id")
    if isinstance(account_id, int):
        with context.current().connection() as conn:
            conn.execute("UPDATE account SET language = %s WHERE id = %s", (code, account_id))
    return flask.redirect(_safe_next(flask.request.args.get("next")))


def _guard() -> flask.Response | None:
    """Before every request: load the session's scope, or let through only the public paths."""
    path = flask.request.path
    if flask.request.method == "POST":
        origin = flask.request.headers.get("Origin")
        # Defence in depth beside SameSite cookies: a cross-site POST carries a foreign Origin.
        if origin and urlsplit(origin).netloc != flask.request.host:
            return flask.Response("cross-site request refused", 403)
    account_id = flask.session.get("account_id")
    if isinstance(account_id, int):
        with context.current().connection() as conn:
            scope = load_scope(conn, account_id)
        # A removed account or a changed password ends every session of that account.
        if scope is not None and scope.password_changed_at == flask.session.get("pw"):
            flask.g.scope = scope
            return None
        flask.session.pop("account_id", None)
    if path.startswith(_PUBLIC_PREFIXES):
        return None
    if flask.request.method == "GET" and not path.startswith(("/_dash", "/download")):
        return flask.redirect("/login?next=" + path if path != "/" else "/login")
    return flask.Response("login required", 401, mimetype="text/plain")


def _no_store(response: flask.Response) -> flask.Response:
    """Personal data must not linger in shared caches."""
    if flask.g.get("scope") is not None:
        response.headers["Cache-Control"] = "no-store"
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("X-Frame-Options", "DENY")
    response.headers.setdefault("Referrer-Policy", "same-origin")
    return response


def install(server: flask.Flask, settings: Settings, secret_key: str) -> None:
    """Wire sessions, the login/logout/language routes and the guard into the Flask server."""
    server.secret_key = secret_key
    server.config.update(
        SESSION_COOKIE_NAME="coopwatt_session",
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=settings.dashboard_cookie_secure,
        PERMANENT_SESSION_LIFETIME=timedelta(hours=settings.dashboard_session_hours),
    )
    server.add_url_rule("/login", "login", _login, methods=["GET", "POST"])
    server.add_url_rule("/logout", "logout", _logout, methods=["GET", "POST"])
    server.add_url_rule("/lang/<code>", "language", _set_language)
    server.add_url_rule("/healthz", "healthz", lambda: flask.Response("ok", mimetype="text/plain"))
    server.before_request(_guard)
    server.after_request(_no_store)
