"""How the household page and the letter speak of the standby figure: measured outside the heating period, or why not."""

from __future__ import annotations

from collections.abc import Mapping

from analytics.standby import STANDBY_NOT_MEASURED
from dashboard import queries
from dashboard.i18n import t


def measured_on_sentence(evidence: Mapping[str, object], lang: str) -> str | None:
    """A standby suggestion of a home heated by electricity: on how many days without heating it was measured."""
    days = evidence.get("unheated_days")
    if not isinstance(days, int | float):
        return None
    return t("standby.unheated", lang, days=int(days))


def not_measured_sentence(baselines: Mapping[str, queries.BaselineRow], lang: str) -> str | None:
    """Why a home heated by electricity has no standby figure (None: it has one, or it is not heated that way)."""
    electricity = baselines.get("electricity")
    if electricity is None or not electricity.qualified:
        return None
    for reason in electricity.reasons:
        if reason.get("code") != STANDBY_NOT_MEASURED:
            continue
        found = reason.get("evidence")
        evidence = found if isinstance(found, dict) else {}
        return t("standby.not_measured", lang, window=int(evidence.get("window_days", 0)),
                 days=int(evidence.get("unheated_days", 0)), needed=int(evidence.get("needed_days", 0)))
    return None
