"""The advisers' hardship list ("/adviser/hardship"): plain HTML, no callbacks, each step a POST form with CSRF.

Only advisers (their residences) and admins get it: a manager or a household gets a 403,
an anonymous request the login (GET) or a 401 (POST) from the guard. The case id of a
form is only a request: its dwelling is checked against the scope before anything is written.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

import flask
from markupsafe import escape

from dashboard import auth, context, hardship_cases
from dashboard.hardship_i18n import TEXT  # noqa: F401 — registers the page's messages
from dashboard.i18n import format_day, format_fraction_percent, format_money_eur, format_number, t
from dashboard.plain_pages import language_switch
from dashboard.scope import current_scope, parse_id, ScopeDenied

PATH = "/adviser/hardship"
ACTION_PATH = "/adviser/hardship/action"


def nav_link(lang: str) -> tuple[str, str] | None:
    """(label, path) of the navbar link for a session that may see the list; None for everyone else."""
    scope = flask.g.get("scope")
    if scope is None or not hardship_cases.may_see(scope):
        return None
    return t("hardship.nav", lang), PATH


def _day(text: str, lang: str) -> str:
    return format_day(date.fromisoformat(text), lang)


def _when(moment: datetime, lang: str) -> str:
    return format_day(moment.astimezone(context.current().settings.tz).date(), lang)


def evidence_text(signal: str, e: dict[str, Any], lang: str) -> str:
    """The figures behind a signal, in words."""
    pct = lambda v: format_fraction_percent(float(v), lang)  # noqa: E731
    num = lambda v, d=3: format_number(float(v), lang, digits=d)  # noqa: E731
    if signal == "under_heating":
        cur, prev = e["current"], e["previous"]
        return t("hardship.under_heating", lang, start=_day(cur["start"], lang), end=_day(cur["end"], lang),
                 now=num(e["kwh_per_degree_day_per_m2"], 4), peer_ratio=pct(e["peer_ratio"]), peers=e["peers"],
                 median=num(e["peer_median_kwh_per_degree_day_per_m2"], 4), own_ratio=pct(e["own_ratio"]),
                 prev_start=_day(prev["start"], lang), prev_end=_day(prev["end"], lang),
                 measured=cur["measured_cold_days"], cold=cur["cold_days"])
    if signal == "after_tariff_rise":
        return t("hardship.after_tariff_rise", lang, rise=_day(e["rise"], lang), ratio=pct(e["ratio"]),
                 before=num(e["before"]["kwh_per_degree_day"], 2), after=num(e["after"]["kwh_per_degree_day"], 2),
                 peer_ratio=pct(e["peer_median_ratio"]), peers=e["peers"])
    return t("hardship.high_cost", lang, cost=format_money_eur(float(e["yearly_cost_eur"]), lang),
             per_m2=format_money_eur(float(e["eur_per_m2"]), lang), ratio=num(e["ratio"], 1), peers=e["peers"],
             median=format_money_eur(float(e["peer_median_eur_per_m2"]), lang))


def _case_html(case: hardship_cases.Case, lang: str, csrf: str) -> str:
    history = "".join(
        f"<li>{escape(t('hardship.history', lang, when=_when(a.acted_at, lang), who=a.username, action=t('hardship.status.' + a.action, lang)))}"
        + (f" — {escape(a.note)}" if a.note else "") + "</li>" for a in case.actions)
    options = "".join(f'<option value="{a}">{escape(t("hardship.status." + a, lang))}</option>'
                      for a in hardship_cases.ACTIONS)
    flagged = (t("hardship.flagged", lang, first=_when(case.first_flagged_at, lang), last=_when(case.last_flagged_at, lang))
               if case.still_flagged else t("hardship.no_longer", lang, last=_when(case.last_flagged_at, lang)))
    return f"""<article class="card shadow-sm mb-3 hardship-case" id="case-{case.case_id}" data-dwelling="{case.dwelling_id}">
  <div class="card-body">
    <h2 class="h5 card-title">{escape(t("hardship.dwelling", lang, code=case.dwelling_code, residence=case.residence_name))}</h2>
    <p class="fw-semibold mb-1 hardship-signal">{escape(t("hardship.signal." + case.signal, lang))}</p>
    <p class="mb-1 hardship-evidence">{escape(evidence_text(case.signal, case.evidence, lang))}</p>
    <p class="small text-body-secondary mb-2">{escape(flagged)}</p>
    <p class="mb-1 hardship-status">{escape(t("hardship.status", lang, status=t("hardship.status." + case.status, lang)))}</p>
    <ul class="small mb-2 hardship-history">{history}</ul>
    <form method="post" action="{ACTION_PATH}" class="row g-2 align-items-end hardship-form">
      <input type="hidden" name="csrf_token" value="{escape(csrf)}">
      <input type="hidden" name="case_id" value="{case.case_id}">
      <div class="col-auto"><label class="form-label small mb-0" for="action-{case.case_id}">{escape(t("hardship.action", lang))}</label>
        <select class="form-select" name="action" id="action-{case.case_id}">{options}</select></div>
      <div class="col"><label class="form-label small mb-0" for="note-{case.case_id}">{escape(t("hardship.note", lang))}</label>
        <input class="form-control" name="note" id="note-{case.case_id}" maxlength="2000"></div>
      <div class="col-auto"><button type="submit" class="btn btn-success" id="save-{case.case_id}">{escape(t("hardship.save", lang))}</button></div>
    </form>
  </div>
</article>"""


def page_html(cases: list[hardship_cases.Case], lang: str, csrf: str) -> str:
    """The whole page: intro, caution, thresholds, then one card per case."""
    s = context.current().settings
    pct = lambda v: format_fraction_percent(v, lang)  # noqa: E731
    thresholds = t("hardship.thresholds", lang, peer=pct(s.hardship_peer_ratio_max), own=pct(s.hardship_own_ratio_max),
                   tariff=pct(s.hardship_tariff_drop_ratio_max), cost=format_number(s.hardship_cost_ratio_min, lang))
    body = "".join(_case_html(c, lang, csrf) for c in cases) or (
        f'<p class="text-body-secondary" id="hardship-empty">{escape(t("hardship.empty", lang))}</p>')
    return f"""<!DOCTYPE html>
<html lang="{lang}">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{escape(t("hardship.title", lang))} · coopwatt</title>
<link rel="stylesheet" href="/assets/bootstrap.min.css">
<link rel="stylesheet" href="/assets/coopwatt.css">
</head>
<body class="bg-body-tertiary">
<main class="container py-4" id="hardship-page">
  <div class="d-flex justify-content-between align-items-baseline mb-3">
    <a href="/adviser" class="link-success" id="hardship-back">{escape(t("hardship.back", lang))}</a>
    <nav aria-label="{escape(t("nav.language", lang))}" class="small">{language_switch(lang, csrf, PATH)}</nav>
  </div>
  <h1 class="h3 mb-2">{escape(t("hardship.title", lang))}</h1>
  <p class="text-body-secondary">{escape(t("hardship.intro", lang))}</p>
  <div class="alert alert-warning" role="note" id="hardship-caution">{escape(t("hardship.caution", lang))}</div>
  <p class="small text-body-secondary" id="hardship-thresholds">{escape(thresholds)}</p>
  {body}
</main>
</body>
</html>"""


def _forbidden() -> flask.Response:
    return flask.Response("forbidden", 403, mimetype="text/plain")


def show() -> flask.Response:
    """GET: the list of the adviser's scope; 403 for any other role."""
    scope = current_scope()
    if not hardship_cases.may_see(scope):
        return _forbidden()
    with context.current().connection() as conn:
        cases = hardship_cases.open_cases(conn, scope)
    response = flask.Response(page_html(cases, auth.session_language(), auth.csrf_token()), mimetype="text/html")
    response.headers["Cache-Control"] = "no-store"  # identified homes: never kept by a browser or proxy
    return response


def act() -> flask.Response:
    """POST: record one follow-up step (CSRF token, role and scope checked); back to the list."""
    scope = current_scope()
    form = flask.request.form
    if not hardship_cases.may_see(scope):
        return _forbidden()
    if not auth.csrf_valid(form.get("csrf_token")):
        return flask.Response("invalid CSRF token", 400, mimetype="text/plain")
    try:
        case_id = parse_id(form.get("case_id"))
    except ScopeDenied:
        case_id = None
    note = form.get("note", "")
    with context.current().connection() as conn:
        done = case_id is not None and hardship_cases.record_action(conn, scope, case_id, form.get("action", ""), note)
    if not done:
        return flask.Response(t("hardship.refused", auth.session_language()), 403, mimetype="text/plain")
    return flask.redirect(f"{PATH}#case-{case_id}", code=303)


def install(server: flask.Flask) -> None:
    """Add the page and its form route (behind the login guard like every route)."""
    server.add_url_rule(PATH, "adviser_hardship", show, methods=["GET"])
    server.add_url_rule(ACTION_PATH, "adviser_hardship_action", act, methods=["POST"])
