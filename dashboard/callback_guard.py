"""Refuses, before Dash sees it, a callback request whose page location is not text.

Dash's own pages callback reads ``_pages_location.pathname`` and ``.search`` as
strings: a crafted request with a number, a boolean or an empty path there made it
raise, a 500 and a traceback per request. The browser only ever sends text starting
with "/" (pathname) and text or nothing (search, hash, href); anything else is a
tampered request and gets a 400 here.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import flask

CALLBACK_PATH = "/_dash-update-component"
LOCATION_IDS = ("_pages_location",)


def _entries(body: dict[str, Any]) -> Iterator[Any]:
    for key in ("inputs", "state"):
        values = body.get(key)
        for value in values if isinstance(values, list) else []:
            # A pattern input with ALL comes as a list of entries.
            yield from value if isinstance(value, list) else [value]


def location_value_ok(prop: object, value: object) -> bool:
    """Whether a page-location prop holds what a browser sends: a path from "/", or text (or nothing) elsewhere."""
    if prop == "pathname":
        return isinstance(value, str) and value.startswith("/")
    return value is None or isinstance(value, str)


def check_request() -> flask.Response | None:
    """Before a callback request: a 400 when its page location was tampered with, else nothing."""
    if flask.request.path != CALLBACK_PATH or flask.request.method != "POST":
        return None
    body = flask.request.get_json(silent=True)
    if not isinstance(body, dict):
        return None  # Dash answers malformed bodies itself
    for entry in _entries(body):
        if isinstance(entry, dict) and entry.get("id") in LOCATION_IDS \
                and not location_value_ok(entry.get("property"), entry.get("value")):
            flask.current_app.logger.warning("callback refused: page location is not a path")
            return flask.Response("bad request", 400, mimetype="text/plain")
    return None


def install(server: flask.Flask) -> None:
    """Check callback requests after the login guard (anonymous requests are refused before)."""
    server.before_request(check_request)
