"""Login, logout and the guard in front of every route: argon2 passwords, the login throttle
(dashboard/throttle.py), CSRF tokens, sessions that logout really ends, and the session's scope
loaded per request."""

from __future__ import annotations

import hmac
import logging
import secrets
from dataclasses import dataclass
from datetime import timedelta
from urllib.parse import quote, unquote, urlsplit

import flask
import psycopg
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from coopwatt.settings import Settings
from coopwatt.users import normalise_username
from dashboard import context, plain_pages, rejections, throttle
from dashboard.client_address import TrustedProxies, parse_networks
from dashboard.i18n import LANGUAGES, language_or_default, t
from dashboard.scope import load_scope

log = logging.getLogger(__name__)

_HASHER = PasswordHasher()
# Verifying against this when the user does not exist keeps the answer time the same either way.
_DUMMY_HASH = _HASHER.hash("coopwatt-no-such-user")

# Routes anyone may fetch, by endpoint (so /loginx or /lang/fr/x, which reach Dash's catch-all,
# are not public): the login form, logout, the language switch, the health check and the static CSS.
# The hall page (dashboard/letter_pages.py) shows a residence's published collective figures only.
_PUBLIC_ENDPOINTS = frozenset({"login", "logout", "language", "healthz", "_dash_assets.static", "hall"})
_MAX_REDIRECT_LENGTH = 2000
_MAX_USERNAME_KEPT = 65
MAX_REQUEST_BYTES = 8 * 1024 * 1024


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
    """What a login attempt gave: an account id, or a refusal (paused by the throttle, or wrong credentials)."""

    account_id: int | None
    rate_limited: bool = False
    retry_after_s: float = 0.0


def attempt_login(
    conn: psycopg.Connection, settings: Settings, username: str, password: str, remote_addr: str,
) -> LoginOutcome:
    """Check credentials under the login throttle and record the attempt; the caller commits."""
    # No account name is longer than 64 characters or holds a NUL (which PostgreSQL text refuses): a
    # crafted one is cut to a length no account has and kept as a failure, never a server error.
    name = normalise_username(username)[:_MAX_USERNAME_KEPT].replace("\x00", "\ufffd")
    # Serialise attempts on one name and on one address across workers so the counts cannot be raced.
    throttle.lock_attempts(conn, name, remote_addr)
    wait = throttle.login_wait_s(conn, settings, name, remote_addr)
    if wait > 0:
        # Refused without looking at the password, and not counted: hammering does not lengthen the pause.
        throttle.record_attempt(conn, name, remote_addr, succeeded=False, refused=True)
        return LoginOutcome(None, rate_limited=True, retry_after_s=wait)
    account_id: int | None = None
    row = conn.execute("SELECT id, password_hash FROM account WHERE username = %s", (name,)).fetchone()
    if row is None:
        verify_password(_DUMMY_HASH, password)
    elif verify_password(row[1], password):
        account_id = row[0]
        if _HASHER.check_needs_rehash(row[1]):
            conn.execute("UPDATE account SET password_hash = %s WHERE id = %s", (hash_password(password), row[0]))
        conn.execute("UPDATE account SET last_login_at = now() WHERE id = %s", (row[0],))
    throttle.record_attempt(conn, name, remote_addr, succeeded=account_id is not None, refused=False)
    return LoginOutcome(account_id)


def end_sessions(conn: psycopg.Connection, account_id: int) -> None:
    """End every session of an account (each cookie carries the version this raises)."""
    conn.execute("UPDATE account SET session_version = session_version + 1 WHERE id = %s", (account_id,))


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


def _unsafe_redirect_text(text: str) -> bool:
    """True when a path could leave this site: protocol-relative, a backslash, whitespace or a control character."""
    return (not text.startswith("/") or text[1:2] in ("/", "\\") or "\\" in text
            or any(c.isspace() or not c.isprintable() for c in text))


def safe_redirect_path(target: object) -> str:
    """A redirect target that can only be a path of this site, else "/" (no open redirect).

    The target is checked as given and once more percent-decoded (browsers drop tabs and
    newlines from URLs and read a backslash as a slash, so "/%09/evil" or "/\\evil" could
    become "//evil"), and it is returned unchanged: never re-assembled by a URL parser.
    """
    if not isinstance(target, str) or not target or len(target) > _MAX_REDIRECT_LENGTH:
        return "/"
    if _unsafe_redirect_text(target) or _unsafe_redirect_text(unquote(target)):
        return "/"
    return target


def _client_address() -> str:
    return flask.request.remote_addr or "unknown"


def _cookie_hint() -> str:
    """Why a browser may not have kept the session cookie, for the log."""
    settings = context.current().settings
    if settings.dashboard_cookie_secure and flask.request.scheme != "https":
        return (" (COOPWATT_DASHBOARD_COOKIE_SECURE is on but this request came over plain HTTP: the browser"
                " keeps no session cookie; serve the dashboard over HTTPS or set it to false)")
    return ""


def _login_page(message_key: str | None = None, status: int = 200, *, kind: str = "danger",
                next_path: str = "/") -> flask.Response:
    lang = session_language()
    message = t(message_key, lang) if message_key else ""
    html = plain_pages.login_page(lang, csrf_token(), safe_redirect_path(next_path), message, kind)
    response = flask.make_response(html, status)
    response.headers["Cache-Control"] = "no-store"
    return response


def _login() -> flask.Response:
    request = flask.request
    if request.method == "GET":
        return _login_page("login.logged_out" if request.args.get("bye") else None, kind="success",
                           next_path=request.args.get("next", "/"))
    next_path = request.form.get("next") or request.args.get("next") or "/"
    if not csrf_valid(request.form.get("csrf_token")):
        rejections.note(400, "login form without this session's CSRF token" + _cookie_hint())
        return _login_page("login.csrf", 400, next_path=next_path)
    ctx = context.current()
    remote_addr = _client_address()
    with ctx.connection() as conn:
        outcome = attempt_login(conn, ctx.settings, request.form.get("username", ""),
                                request.form.get("password", ""), remote_addr)
        scope = load_scope(conn, outcome.account_id) if outcome.account_id is not None else None
    if outcome.rate_limited:
        rejections.note(429, f"login paused for {outcome.retry_after_s:.0f} s")
        response = _login_page("login.limited", 429, next_path=next_path)
        response.headers["Retry-After"] = str(max(1, round(outcome.retry_after_s)))
        return response
    if scope is None:
        rejections.note(401, "login failed for " + normalise_username(request.form.get("username", ""))[:64])
        return _login_page("login.failed", 401, next_path=next_path)
    chosen_language = flask.session.get("lang")
    # A fresh session on login: nothing from before the login survives (no session fixation).
    flask.session.clear()
    flask.session.permanent = True
    flask.session["account_id"] = scope.account_id
    flask.session["pw"] = scope.password_changed_at
    flask.session["sv"] = scope.session_version
    flask.session["lang"] = language_or_default(chosen_language or scope.language)
    # A new token now, with the session: made later by one of the page's parallel requests, it could be
    # overwritten by another's answer (each refreshes the cookie with the session it read) and the
    # page's buttons would carry a token the session no longer has.
    csrf_token()
    log.info("login: %s (%s)", scope.username, scope.role)
    return flask.redirect(safe_redirect_path(next_path))


def _logout() -> flask.Response:
    """GET shows a confirmation (a link or an image from another site logs nobody out); POST logs out."""
    if flask.request.method == "GET":
        if flask.g.get("scope") is None:
            return flask.redirect("/login")
        response = flask.make_response(plain_pages.logout_page(session_language(), csrf_token()))
        response.headers["Cache-Control"] = "no-store"
        return response
    if not csrf_valid(flask.request.form.get("csrf_token")):
        return rejections.refuse(400, "logout without this session's CSRF token")
    scope = flask.g.get("scope")
    if scope is not None:
        with context.current().connection() as conn:
            end_sessions(conn, scope.account_id)
        log.info("logout: %s", scope.username)
    language = session_language()
    flask.session.clear()
    flask.session["lang"] = language
    return flask.redirect("/login?bye=1")


def _set_language(code: str) -> flask.Response:
    """Switch the language (POST with the CSRF token); a logged-in account also keeps it as its preference."""
    if flask.request.method != "POST":
        # Without this, Dash's catch-all would answer the GET with its page shell.
        response = rejections.refuse(405, "language switch by GET (only POST changes it)")
        response.headers["Allow"] = "POST"
        return response
    if code not in LANGUAGES:
        return rejections.refuse(404, "unknown language")
    if not csrf_valid(flask.request.form.get("csrf_token")):
        return rejections.refuse(400, "language switch without this session's CSRF token")
    flask.session["lang"] = code
    scope = flask.g.get("scope")
    if scope is not None:
        with context.current().connection() as conn:
            conn.execute("UPDATE account SET language = %s WHERE id = %s", (code, scope.account_id))
    return flask.redirect(safe_redirect_path(flask.request.form.get("next") or flask.request.args.get("next")))


def _session_scope() -> None:
    """Put the session's scope in flask.g, or forget an account whose session has ended."""
    account_id = flask.session.get("account_id")
    if not isinstance(account_id, int):
        return
    with context.current().connection() as conn:
        scope = load_scope(conn, account_id)
    # A removed account, a changed password or a logout (a new session version) ends every session of the account.
    if (scope is not None and scope.password_changed_at == flask.session.get("pw")
            and scope.session_version == flask.session.get("sv")):
        flask.g.scope = scope
        return
    for key in ("account_id", "pw", "sv"):
        flask.session.pop(key, None)


def _guard() -> flask.Response | None:
    """Before every request: load the session's scope, or let through only the public routes."""
    request = flask.request
    if request.method == "POST":
        origin = request.headers.get("Origin")
        # Defence in depth beside SameSite cookies and CSRF tokens: a cross-site POST carries a foreign Origin.
        if origin and urlsplit(origin).netloc != request.host:
            return rejections.refuse(403, "cross-site request", "cross-site request refused")
    _session_scope()
    if flask.g.get("scope") is not None:
        return None
    endpoint = request.url_rule.endpoint if request.url_rule is not None else None
    # A request no route accepts (405: GET /lang/en) gets its error answer and runs no view.
    if endpoint in _PUBLIC_ENDPOINTS or request.routing_exception is not None:
        return None
    if request.method == "GET" and not request.path.startswith(("/_dash", "/download")):
        path = request.path
        return flask.redirect("/login?next=" + quote(path, safe="/") if path != "/" else "/login")
    return rejections.refuse(401, "login required")


def install(server: flask.Flask, settings: Settings, secret_key: str) -> None:
    """Wire sessions, client addresses, the login/logout/language routes and the guard into the Flask server."""
    server.secret_key = secret_key
    server.config.update(
        SESSION_COOKIE_NAME="coopwatt_session",
        SESSION_COOKIE_HTTPONLY=True,
        # Lax, not Strict: a member following a link to the dashboard from an e-mail arrives logged in;
        # every state change is a POST (which Lax never sends cross-site) with a CSRF token.
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=settings.dashboard_cookie_secure,
        PERMANENT_SESSION_LIFETIME=timedelta(hours=settings.dashboard_session_hours),
        # The cookie is sent again only when the session changes (login, language, logout). Re-sent with every
        # answer, a callback that read the session just before a language switch answered after it and put the
        # old language back (seen on the household page, whose cards load in several callbacks).
        SESSION_REFRESH_EACH_REQUEST=False,
        # A callback request is a few kilobytes (a few hundred with a figure as state): a bigger body is
        # refused (413) before it is read into memory.
        MAX_CONTENT_LENGTH=MAX_REQUEST_BYTES,
    )
    server.wsgi_app = TrustedProxies(server.wsgi_app, parse_networks(settings.dashboard_trusted_proxies))  # type: ignore[method-assign]
    server.add_url_rule("/login", "login", _login, methods=["GET", "POST"])
    server.add_url_rule("/logout", "logout", _logout, methods=["GET", "POST"])
    server.add_url_rule("/lang/<code>", "language", _set_language, methods=["GET", "POST"])
    server.add_url_rule("/healthz", "healthz", lambda: flask.Response("ok", mimetype="text/plain"))
    server.before_request(_guard)
    rejections.install(server)
