"""The headers every answer carries: a strict Content-Security-Policy Dash works under, and the rest.

Scripts: only files from this server plus the few inline scripts Dash writes into its page
(the renderer start-up and client-side callbacks), allowed one by one by their SHA-256
(``app.csp_hashes()``); no 'unsafe-inline', no 'unsafe-eval'.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import flask


def content_security_policy(script_hashes: Sequence[str]) -> str:
    """The policy, given the hashes of the inline scripts the Dash page carries."""
    directives = {
        "default-src": ["'self'"],
        "script-src": ["'self'", *script_hashes],
        # 'unsafe-inline' for styles only, and only because it is needed: Plotly.js writes <style>
        # elements into the page at run time (its hover labels and mode bar), and Dash components set
        # style attributes. Inline styles cannot run code; scripts stay locked down.
        "style-src": ["'self'", "'unsafe-inline'"],
        # data: for the small SVG icons inside Bootstrap's CSS (check boxes, selects, close buttons).
        "img-src": ["'self'", "data:"],
        "font-src": ["'self'"],
        "connect-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'none'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
    }
    return "; ".join(f"{name} {' '.join(values)}" for name, values in directives.items())


def install(server: flask.Flask, script_hashes: Callable[[], Sequence[str]]) -> None:
    """Add the policy and the other security headers to every answer.

    The hashes are asked for at each answer: Dash adds an inline script of its own (the
    pages' title updater) only when it serves its first request, after the app is built.
    """

    def add_headers(response: flask.Response) -> flask.Response:
        # Personal data must not linger in shared caches.
        if flask.g.get("scope") is not None:
            response.headers["Cache-Control"] = "no-store"
        response.headers.setdefault("Content-Security-Policy", content_security_policy(script_hashes()))
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("X-Frame-Options", "DENY")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        return response

    server.after_request(add_headers)
