"""One short log line per refused request, rate-limited so that nobody can flood the log.

Each process keeps a token bucket: ``BURST`` lines at once, then ``LINES_PER_S``; the
lines beyond it are counted, and the next line that gets through first says how many
were left out. Refused requests never write a traceback (they are the client's fault);
an unexpected error in a callback does, through the same bucket.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

import flask
from werkzeug.exceptions import HTTPException

log = logging.getLogger(__name__)

BURST = 20
LINES_PER_S = 0.5
_MAX_FIELD = 160


class LogBucket:
    """A token bucket for log lines, shared by the threads of one process."""

    def __init__(self, burst: int = BURST, per_s: float = LINES_PER_S,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.burst = burst
        self.per_s = per_s
        self._clock = clock
        self._tokens = float(burst)
        self._at = clock()
        self._suppressed = 0
        self._lock = threading.Lock()

    def take(self) -> int | None:
        """None when this line must be left out; else how many lines were left out since the last one logged."""
        with self._lock:
            now = self._clock()
            self._tokens = min(float(self.burst), self._tokens + (now - self._at) * self.per_s)
            self._at = now
            if self._tokens < 1.0:
                self._suppressed += 1
                return None
            self._tokens -= 1.0
            suppressed, self._suppressed = self._suppressed, 0
            return suppressed


_BUCKET = LogBucket()


def _printable(text: str) -> str:
    """Text from the request made safe for one log line (no newline can forge another line)."""
    cleaned = "".join(c if c.isprintable() else f"\\x{ord(c):02x}" for c in text)
    return cleaned if len(cleaned) <= _MAX_FIELD else cleaned[:_MAX_FIELD] + "…"


def _emit(level: int, message: str, *, exc_info: BaseException | None = None) -> None:
    suppressed = _BUCKET.take()
    if suppressed is None:
        return
    if suppressed:
        log.warning("%d similar lines suppressed", suppressed)
    log.log(level, "%s", message, exc_info=exc_info)


def note(status: int, reason: str) -> None:
    """Log one line for a request refused with this status (method, path, client address and why)."""
    request = flask.request
    _emit(logging.WARNING, f"refused {status} {request.method} {_printable(request.path)} "
                           f"from {_printable(request.remote_addr or '?')}: {_printable(reason)}")


def refuse(status: int, reason: str, body: str | None = None) -> flask.Response:
    """Log the refusal and answer it with a short plain-text body."""
    note(status, reason)
    return flask.Response(body or reason, status, mimetype="text/plain")


def _handle_error(error: Exception) -> flask.Response | HTTPException:
    """Every error a request raised: HTTP refusals get one line, anything else one line with its traceback."""
    if isinstance(error, HTTPException):
        if error.code is not None and 400 <= error.code < 500 and error.code != 404:
            note(error.code, error.description or error.name)
        return error
    request = flask.request
    _emit(logging.ERROR, f"error {type(error).__name__} in {request.method} {_printable(request.path)} "
                         f"from {_printable(request.remote_addr or '?')}", exc_info=error)
    return flask.Response("internal error", 500, mimetype="text/plain")


def install(server: flask.Flask) -> None:
    """Route every error of the server through the rate-limited log."""
    server.register_error_handler(Exception, _handle_error)
