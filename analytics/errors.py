"""The one exception family of the analytics core.

Callers (the scheduled job) catch :class:`AnalyticsError` per dwelling so that
one bad dwelling never stops a run; the subclasses say what kind of problem it
was, and :class:`InsufficientDataError` carries the sufficiency reasons to
store instead of a model.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from analytics.sufficiency import Reason


class AnalyticsError(Exception):
    """Base class of every error raised by the analytics core."""


class FrameContractError(AnalyticsError, ValueError):
    """A frame given to the core does not follow its documented contract."""


class InsufficientDataError(AnalyticsError):
    """The data do not qualify for a model; ``reasons`` say why (codes and evidence)."""

    def __init__(self, reasons: Sequence[Reason]) -> None:
        self.reasons: tuple[Reason, ...] = tuple(reasons)
        codes = ", ".join(r.code for r in self.reasons) or "unknown"
        super().__init__(f"data do not qualify: {codes}")


class NotFittedError(AnalyticsError):
    """A model was used for prediction before ``fit`` succeeded."""
