"""One verdict per dwelling: what may be said about it, from its open alerts, its ranking and its suggestions.

Contract
--------
``judge(alerts, standings, suggestion_kinds, settings)`` is pure. It takes what the analytics
stored about ONE dwelling — its open alerts (:class:`OpenAlert`), its place in the advisers'
ranking per energy kind (:class:`Standing`) and the kinds of its stored suggestions (with the
energy kind each is about) — and returns a :class:`Verdict`: the concerns (each open alert, each
energy it is ranked high for), whether any sentence may praise the household (never beside a
concern: the figures may be the fault's, and a home at the top of its group is not "on the right
track"), and the concerns no stored suggestion answers, for which the page adds an action.

The household page, the advisers' ranking ("Pourquoi") and the alert e-mails all call it, so
they cannot disagree. The wording thresholds (stable year on year, near the average) are here
too, and every page states them beside the sentence.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from analytics.ranking import RankingSettings

# Alert kinds a household can act on, and the stored suggestion kinds that answer each.
ANSWERED_BY: Mapping[str, frozenset[str]] = {
    "water_leak": frozenset({"leak"}),
    "base_load_rise": frozenset({"base_load"}),
    "above_baseline": frozenset({"base_load", "heating_setpoint", "drift"}),
}
# Suggestions that lower an energy's use (a tariff change does not), so they answer a high ranking.
ENERGY_SAVING = frozenset({"base_load", "heating_setpoint", "drift"})
# Meter faults: no saving to suggest (the cooperative's staff fix them), but no praise either.
METER_FAULTS = frozenset({"meter_silent", "frozen_index", "counter_reset", "spike"})


@dataclass(frozen=True)
class VerdictSettings:
    """The thresholds behind the words; each is stated to the reader beside the sentence it shapes."""

    high_ratio: float = RankingSettings.high_ratio  # kWh/m² over the reference median: the ranking's "high"
    top_min_ratio: float = 1.1  # first of its ranking and above the median by this much: ranked high too
    stable_fraction: float = 0.03  # year on year: a change smaller than this either way is "stable"
    near_average_fraction: float = 0.10  # among similar homes: up to this much above average is "near"


@dataclass(frozen=True)
class OpenAlert:
    """An open alert on one of the dwelling's meters."""

    kind: str
    severity: str
    meter_kind: str
    evidence: Mapping[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class Standing:
    """The dwelling's place in the advisers' latest ranking for one energy kind."""

    energy_kind: str
    rank: int  # 1 = highest ratio of the ranking
    ratio: float | None  # kWh/m² over the reference group's median; None without a reference group
    reason_count: int = 0  # the ranking's own reasons stored with it


@dataclass(frozen=True)
class Concern:
    """Something wrong or high about the dwelling: an open alert, or an energy it is ranked high for."""

    code: str  # "alert" or "ranked_high"
    subject: str  # the alert's kind, or the energy kind ranked high
    severity: str  # the alert's; "warning" for a high ranking
    evidence: Mapping[str, float] = field(default_factory=dict)
    meter_kind: str = ""


@dataclass(frozen=True)
class Verdict:
    """What may be said about one dwelling."""

    concerns: tuple[Concern, ...]
    unanswered: tuple[Concern, ...]  # concerns no stored suggestion answers: the page adds an action for each
    # Heating far below similar homes and below its own last winter (the advisers' hardship signal): low use may
    # be a household going cold, not thrift. Never praised; the household is told the plain figures, nothing more
    # (the signal itself is for advisers only).
    restrained: bool = False

    @property
    def praise(self) -> bool:
        """Whether a sentence may praise the household: nothing open, nothing ranked high, no sign of going cold."""
        return not self.concerns and not self.restrained

    def ranked_high(self, energy_kind: str) -> bool:
        """Whether the dwelling is ranked high for this energy."""
        return any(c.code == "ranked_high" and c.subject == energy_kind for c in self.concerns)


def is_ranked_high(standing: Standing, settings: VerdictSettings = VerdictSettings()) -> bool:
    """High: far above similar homes, or first of its ranking and clearly above them."""
    if standing.ratio is None or standing.ratio != standing.ratio:  # no reference group (or NaN)
        return False
    return standing.ratio >= settings.high_ratio or (standing.rank == 1 and standing.ratio >= settings.top_min_ratio)


def judge(alerts: Iterable[OpenAlert], standings: Iterable[Standing],
          suggestions: Iterable[tuple[str, str | None]], settings: VerdictSettings = VerdictSettings(),
          *, restrained: bool = False) -> Verdict:
    """The dwelling's verdict from its open alerts, its rankings and its (suggestion kind, energy kind) pairs."""
    stored = list(suggestions)
    concerns: list[Concern] = [Concern("alert", a.kind, a.severity, dict(a.evidence), a.meter_kind) for a in alerts]
    concerns += [Concern("ranked_high", s.energy_kind, "warning", {"ratio": float(s.ratio or 0.0), "rank": float(s.rank)})
                 for s in standings if is_ranked_high(s, settings)]
    unanswered = tuple(c for c in concerns if not _answered(c, stored))
    return Verdict(tuple(concerns), unanswered, restrained)


def _answered(concern: Concern, stored: list[tuple[str, str | None]]) -> bool:
    if concern.code == "alert":
        if concern.subject in METER_FAULTS:
            return True  # nothing for the household to do; the alert card says the staff are on it
        kinds = ANSWERED_BY.get(concern.subject, frozenset())
        return any(kind in kinds and (energy in (None, concern.meter_kind) or kind == "leak") for kind, energy in stored)
    return any(kind in ENERGY_SAVING and energy in (None, concern.subject) for kind, energy in stored)


def year_on_year_word(change_fraction: float, settings: VerdictSettings = VerdictSettings()) -> str:
    """``same``, ``higher`` or ``lower``: stable within ``stable_fraction`` either way."""
    if abs(change_fraction) < settings.stable_fraction:
        return "same"
    return "higher" if change_fraction > 0 else "lower"


def comparison_word(own_kwh_per_m2: float, average_kwh_per_m2: float, efficient_kwh_per_m2: float | None,
                    settings: VerdictSettings = VerdictSettings()) -> str:
    """Where a home stands among similar homes: efficient, below_average, near_average or above_average."""
    if efficient_kwh_per_m2 is not None and own_kwh_per_m2 <= efficient_kwh_per_m2:
        return "efficient"
    if own_kwh_per_m2 <= average_kwh_per_m2:
        return "below_average"
    if own_kwh_per_m2 <= average_kwh_per_m2 * (1 + settings.near_average_fraction):
        return "near_average"
    return "above_average"
