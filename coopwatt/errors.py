"""The one base of failures a person can act on: the command line prints their message, without a traceback."""

from __future__ import annotations


class CoopwattError(RuntimeError):
    """An expected failure (a service unreachable, a migration that failed) whose message says what and where."""
