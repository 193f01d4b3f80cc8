"""The HTML page Dash sends before its scripts run: in the session's language, with a light loading notice.

Dash writes ``<html>`` with no language and a bare English "Loading..." until React has
drawn the page; a French member under load read that for seconds. Screen readers also need
``lang`` to pronounce the page (axe-core's ``html-has-lang``).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from markupsafe import escape

from dashboard.i18n import language_or_default, t

_HTML_TAG = re.compile(r"<html(?![^>]*\blang=)([^>]*)>", re.IGNORECASE)


def loading_entry(lang: str) -> str:
    """Where Dash draws the app: until then, a short notice in the language (a status for screen readers)."""
    text = escape(t("app.loading", lang))
    return ('<div id="react-entry-point"><div class="_dash-loading coopwatt-loading" role="status">'
            f'<span class="coopwatt-loading-dot" aria-hidden="true"></span>{text}</div></div>')


def localised_index(page_html: str, lang: str) -> str:
    """Dash's index page with ``<html lang=…>`` set (an existing lang attribute is kept)."""
    code = language_or_default(lang)
    return _HTML_TAG.sub(lambda m: f'<html lang="{code}"{m.group(1)}>', page_html, count=1)


def install(interpolate: Callable[..., str], language: Callable[[], str]) -> Callable[..., str]:
    """Wrap Dash's ``interpolate_index``: the page in ``language()``, with the translated loading notice."""

    def interpolate_index(**parts: Any) -> str:
        lang = language()
        parts["app_entry"] = loading_entry(lang)
        return localised_index(interpolate(**parts), lang)

    return interpolate_index
