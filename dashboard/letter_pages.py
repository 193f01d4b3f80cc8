"""Pages served without Dash for the monthly letters: the hall's progress page (public) and "My letters" (a household's form).

Plain HTML with no script (the Content-Security-Policy allows none inline). The hall page is the
one public page with data: only a residence's published collective figures (at least k homes), by
residence code. "My letters" edits the session's own dwelling only (no id comes from the browser),
by a POST form carrying the session's CSRF token.
"""

from __future__ import annotations

from datetime import timedelta

import flask
from markupsafe import escape

from dashboard import context, plain_pages
from dashboard.auth import csrf_token, csrf_valid, session_language
from dashboard.i18n import LANGUAGES, format_day, t
from dashboard.scope import Role, current_scope
from reports.letter_content import building_lines, progress_section
from reports.preferences import (
    DELIVERIES, MAX_ADDRESS_CHARS, MAX_EMAIL_CHARS, MAX_NAME_CHARS, LetterPreference, PreferenceError, bounced,
    load_preference, save_preference,
)
from reports.progress_store import progress_of_residence
from reports.texts import signed_percent, tr

HALL_ENDPOINT = "hall"  # public: listed in dashboard/auth.py's _PUBLIC_ENDPOINTS by this name
PREFERENCES_PATH = "/letters"
# A hall screen reloads the page itself (no script needed) to show the latest figures.
HALL_REFRESH_S = 3600


def _hall_language() -> str:
    requested = flask.request.args.get("lang")
    return requested if requested in LANGUAGES else session_language()


def hall_page(code: str) -> flask.Response:
    """The residence's collective progress for a screen in the hall: no login, collective figures only."""
    lang = _hall_language()
    settings = context.current().settings
    k = settings.comparison_min_group_size
    with context.current().connection() as conn:
        row = conn.execute("SELECT id FROM residence WHERE code = %s", (code,)).fetchone()
        rows = progress_of_residence(conn, int(row[0]), min_group_size=k) if row else []
    if row is None:
        body = f'<h1 class="h3 text-success">{escape(tr("hall.title", lang))}</h1><p id="hall-none">{escape(tr("hall.none", lang))}</p>'
        return flask.Response(plain_pages._page(lang, tr("hall.title", lang), body), status=404, mimetype="text/html")
    section = progress_section(rows, None, lang, k)
    lines = "".join(f"<p class=\"fs-5\">{escape(line)}</p>" for line in section["lines"])
    residence = rows[0] if rows else None
    headline = (f'<p class="display-2 fw-bold text-success mb-2" id="hall-change">'
                f'{escape(signed_percent(residence.change_fraction, lang))}</p>'
                if residence is not None and residence.published and residence.change_fraction is not None else "")
    buildings = "".join(f"<li>{escape(line)}</li>" for line in building_lines(rows, lang))
    updated = (f'<p class="small text-body-secondary">{escape(tr("hall.updated", lang, start=format_day(rows[0].season_start, lang), end=format_day(rows[0].period_end - timedelta(days=1), lang)))}</p>'
               if rows else "")
    other = [code_ for code_ in LANGUAGES if code_ != lang]
    switch = "".join(f' <a href="?lang={c}" lang="{c}" class="small">{c.upper()}</a>' for c in other)
    body = f"""  <div class="d-flex justify-content-between align-items-baseline mb-3">
    <h1 class="h3 text-success fw-bold mb-0">{escape(tr("hall.title", lang))}</h1><nav>{switch}</nav>
  </div>
  <div class="card shadow-sm"><div class="card-body p-4" id="hall-progress">
    <h2 class="h4">{escape(section["title"])}</h2>
    {headline}
    {lines}
    {f'<ul class="fs-5" id="hall-buildings">{buildings}</ul>' if buildings else ""}
    {updated}
    <p class="small text-body-secondary mb-0">{escape(section["private"])}</p>
  </div></div>"""
    # A hall screen is wide: the hall-page width instead of the login form's narrow column.
    html = plain_pages._page(lang, tr("hall.title", lang), body).replace(
        "<head>", f'<head>\n<meta http-equiv="refresh" content="{HALL_REFRESH_S}">', 1).replace(
        "plain-page", "hall-page", 1)
    return flask.Response(html, mimetype="text/html")


def _radio(name: str, value: str, checked: bool, label: str) -> str:
    return (f'<div class="form-check"><input class="form-check-input" type="radio" name="{name}" id="{name}-{value}"'
            f' value="{value}"{" checked" if checked else ""}><label class="form-check-label" for="{name}-{value}">'
            f'{escape(label)}</label></div>')


def _preferences_form(lang: str, preference: LetterPreference, message: str, kind: str, bounced_email: bool) -> str:
    deliveries = "".join(_radio("delivery", d, preference.delivery == d, tr(f"prefs.delivery.{d}", lang))
                         for d in DELIVERIES)
    languages = "".join(_radio("language", code, (preference.language or lang) == code, code.upper())
                        for code in LANGUAGES)
    notice = f'<div class="alert alert-{kind}" id="letters-message">{escape(message)}</div>' if message else ""
    bounce = (f'<div class="alert alert-warning" id="letters-bounced">{escape(tr("prefs.bounced", lang, email=preference.email))}</div>'
              if bounced_email else "")
    return f"""  <h1 class="h3 mb-3 text-success fw-bold"><a href="/" class="text-reset text-decoration-none">coopwatt</a></h1>
  <div class="card shadow-sm"><div class="card-body p-4">
    <h2 class="h5 card-title">{escape(tr("prefs.title", lang))}</h2>
    <p class="text-body-secondary">{escape(tr("prefs.intro", lang))}</p>
    {notice}{bounce}
    <form method="post" action="{PREFERENCES_PATH}" id="letters-form">
      <input type="hidden" name="csrf_token" value="{escape(csrf_token())}">
      <fieldset class="mb-3"><legend class="form-label fs-6">{escape(tr("prefs.delivery", lang))}</legend>{deliveries}</fieldset>
      <div class="mb-3"><label for="email" class="form-label">{escape(tr("prefs.email", lang))}</label>
        <input type="email" class="form-control" id="email" name="email" maxlength="{MAX_EMAIL_CHARS}"
               value="{escape(preference.email or "")}" autocomplete="email"></div>
      <fieldset class="mb-3"><legend class="form-label fs-6">{escape(tr("prefs.language", lang))}</legend>{languages}</fieldset>
      <div class="mb-3"><label for="recipient_name" class="form-label">{escape(tr("prefs.name", lang))}</label>
        <input type="text" class="form-control" id="recipient_name" name="recipient_name" maxlength="{MAX_NAME_CHARS}"
               value="{escape(preference.recipient_name or "")}" autocomplete="name"></div>
      <div class="mb-3"><label for="postal_address" class="form-label">{escape(tr("prefs.address", lang))}</label>
        <textarea class="form-control" id="postal_address" name="postal_address" rows="3" maxlength="{MAX_ADDRESS_CHARS}"
                  autocomplete="street-address">{escape(preference.postal_address or "")}</textarea></div>
      <button type="submit" class="btn btn-success w-100" id="letters-save">{escape(tr("prefs.save", lang))}</button>
    </form>
  </div></div>"""


def preferences_page() -> flask.Response:
    """GET shows the household's letter choices; POST saves them (its own dwelling only)."""
    lang = session_language()
    scope = current_scope()
    if scope.role is not Role.HOUSEHOLD or scope.dwelling_id is None:
        body = f'<div class="alert alert-info" id="letters-staff">{escape(tr("prefs.staff_only", lang))}</div>'
        return flask.Response(plain_pages._page(lang, tr("prefs.title", lang), body), status=403, mimetype="text/html")
    message, kind, status = "", "success", 200
    with context.current().connection() as conn:
        preference = load_preference(conn, scope.dwelling_id) or LetterPreference(scope.dwelling_id, "paper")
        if flask.request.method == "POST":
            form = flask.request.form
            wanted = LetterPreference(scope.dwelling_id, form.get("delivery", ""), form.get("email"),
                                      form.get("language") or None, form.get("recipient_name"),
                                      form.get("postal_address"))
            if not csrf_valid(form.get("csrf_token")):
                message, kind, status = t("login.csrf", lang), "danger", 400
            else:
                try:
                    with conn.transaction():
                        preference = save_preference(conn, wanted, updated_by=scope.username)
                    message = tr("prefs.saved", lang)
                except PreferenceError as exc:
                    preference, message, kind, status = wanted, tr(exc.key, lang), "danger", 400
        is_bounced = preference.delivery == "email" and bounced(conn, preference.email)
    html = plain_pages._page(lang, tr("prefs.title", lang), _preferences_form(lang, preference, message, kind, is_bounced))
    return flask.Response(html, status=status, mimetype="text/html")


def install(server: flask.Flask) -> None:
    """Add the hall page (public, by endpoint name) and "My letters" (login required) to the Flask server."""
    server.add_url_rule("/hall/<code>", HALL_ENDPOINT, hall_page, methods=["GET"])
    server.add_url_rule(PREFERENCES_PATH, "letter_preferences", preferences_page, methods=["GET", "POST"])
