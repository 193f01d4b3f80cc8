"""The pages served without Dash: the login form, the logout confirmation and the error page.

Plain HTML with no script at all (the Content-Security-Policy allows none inline); every
state change on them is a POST form carrying the session's CSRF token.
"""

from __future__ import annotations

from urllib.parse import quote

from markupsafe import escape

from dashboard.i18n import LANGUAGES, t


def language_switch(lang: str, csrf: str, next_path: str) -> str:
    """The language choice as one small POST form per other language (GET changes nothing)."""
    parts = []
    for code in LANGUAGES:
        if code == lang:
            parts.append(f"<strong>{code.upper()}</strong>")
            continue
        parts.append(
            f'<form method="post" action="/lang/{code}" class="d-inline">'
            f'<input type="hidden" name="csrf_token" value="{escape(csrf)}">'
            f'<input type="hidden" name="next" value="{escape(next_path)}">'
            f'<button type="submit" class="btn btn-link link-body-emphasis p-0 align-baseline small" lang="{code}" '
            f'id="lang-{code}">{code.upper()}</button></form>'
        )
    return " · ".join(parts)


def _page(lang: str, title: str, body: str) -> str:
    return f"""<!DOCTYPE html>
<html lang="{lang}">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{escape(title)} · coopwatt</title>
<link rel="stylesheet" href="/assets/bootstrap.min.css">
<link rel="stylesheet" href="/assets/coopwatt.css">
</head>
<body class="bg-body-tertiary">
<main class="container py-5 plain-page">
{body}
  <p class="text-center text-body-secondary small mt-4">{escape(t("app.tagline", lang))}</p>
</main>
</body>
</html>"""


def login_page(lang: str, csrf: str, next_path: str, message: str = "", kind: str = "danger") -> str:
    """The login form (with its language switch and an optional message)."""
    # The language switch comes back to this form, still headed where the member was going.
    back = "/login" if next_path == "/" else "/login?next=" + quote(next_path, safe="/")
    notice = ""
    if message:
        notice = f'<div class="alert alert-{kind}" role="alert" id="login-message">{escape(message)}</div>'
    body = f"""  <div class="d-flex justify-content-between align-items-baseline mb-4">
    <h1 class="h3 mb-0 text-success fw-bold">coopwatt</h1>
    <nav aria-label="{escape(t("nav.language", lang))}" class="small">{language_switch(lang, csrf, back)}</nav>
  </div>
  <div class="card shadow-sm">
    <div class="card-body p-4">
      <h2 class="h5 card-title">{escape(t("login.title", lang))}</h2>
      <p class="text-body-secondary">{escape(t("login.intro", lang))}</p>
      {notice}
      <form method="post" action="/login" id="login-form">
        <input type="hidden" name="csrf_token" value="{escape(csrf)}">
        <input type="hidden" name="next" value="{escape(next_path)}">
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
  </div>"""
    return _page(lang, t("login.title", lang), body)


def logout_page(lang: str, csrf: str) -> str:
    """What GET /logout shows: a button that logs out by POST (a link or image from elsewhere cannot)."""
    body = f"""  <h1 class="h3 mb-4 text-success fw-bold">coopwatt</h1>
  <div class="card shadow-sm">
    <div class="card-body p-4">
      <h2 class="h5 card-title">{escape(t("logout.title", lang))}</h2>
      <p class="text-body-secondary">{escape(t("logout.intro", lang))}</p>
      <form method="post" action="/logout" id="logout-form">
        <input type="hidden" name="csrf_token" value="{escape(csrf)}">
        <button type="submit" class="btn btn-success w-100 mb-2" id="logout-confirm">{escape(t("logout.submit", lang))}</button>
      </form>
      <a href="/" class="btn btn-outline-secondary w-100">{escape(t("logout.cancel", lang))}</a>
    </div>
  </div>"""
    return _page(lang, t("logout.title", lang), body)


def error_page(lang: str, title: str, message: str) -> str:
    """A refusal or error as a page in the member's language, with the way back home."""
    body = f"""  <h1 class="h3 mb-4 text-success fw-bold">coopwatt</h1>
  <div class="card shadow-sm" id="error-page">
    <div class="card-body p-4">
      <h2 class="h5 card-title">{escape(title)}</h2>
      <p class="text-body-secondary">{escape(message)}</p>
      <a href="/" class="btn btn-success w-100" id="error-home">{escape(t("error.home", lang))}</a>
    </div>
  </div>"""
    return _page(lang, title, body)
