"""The dwelling verdict in words: the household page, the adviser's ranking and drill-down all speak through here.

:func:`verdict_from` turns what the views read (open alerts, standings, suggestions) into
:func:`analytics.verdict.judge`'s input; the ``*_sentence`` functions are pure and say only
what the verdict allows: no praise beside an open alert or a high ranking, an action for every
concern no stored suggestion answers, and the thresholds behind "stable", "near" and "high".
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import psycopg

from analytics.notify.messages import alert_title, evidence_sentences
from analytics.verdict import Concern, Standing, Verdict, VerdictSettings, comparison_word, judge, year_on_year_word
from analytics.verdict import OpenAlert as VerdictAlert
from coopwatt.tariffs import SupplyContract
from dashboard import alert_queries, queries
from dashboard.figures import reason_text
from dashboard.i18n import format_day, format_fraction_percent, format_money_eur, format_number, format_quantity, t

SETTINGS = VerdictSettings()
_PRAISING_COMPARISONS = ("efficient", "below_average", "near_average")
HOURS_PER_YEAR = 8760


def verdict_from(alerts: Sequence[alert_queries.AlertRow], standings: Sequence[Standing],
                 suggestions: Sequence[queries.SuggestionRow], *, restrained: bool = False) -> Verdict:
    """The verdict of one dwelling from what the views read about it."""
    return judge(
        [VerdictAlert(a.kind, a.severity, a.meter_kind, _numbers(a.evidence)) for a in alerts], standings,
        [(s.kind, _energy_kind(s.evidence)) for s in suggestions], SETTINGS, restrained=restrained)


def going_cold(conn: psycopg.Connection, dwelling_id: int) -> bool:
    """Whether the advisers' hardship list holds a live under-heating case for the dwelling (its use is not praised)."""
    row = conn.execute(
        "SELECT EXISTS (SELECT 1 FROM hardship_case WHERE dwelling_id = %s AND status <> 'closed' AND still_flagged"
        " AND signal IN ('under_heating', 'after_tariff_rise'))", (dwelling_id,)).fetchone()
    return bool(row and row[0])


def dwelling_verdict(conn: psycopg.Connection, dwelling_id: int) -> Verdict:
    """Read one dwelling's open alerts, standings, suggestions and signs of going cold, and judge them."""
    return verdict_from(alert_queries.open_alerts_of_dwelling(conn, dwelling_id),
                        queries.standings_of_dwelling(conn, dwelling_id), queries.suggestions(conn, dwelling_id),
                        restrained=going_cold(conn, dwelling_id))


def _numbers(evidence: Mapping[str, object]) -> dict[str, float]:
    return {k: float(v) for k, v in evidence.items() if isinstance(v, int | float) and not isinstance(v, bool)}


def _energy_kind(evidence: Mapping[str, object]) -> str | None:
    kind = evidence.get("energy_kind")
    return kind if isinstance(kind, str) else None


def comparison_sentence(own: float, average: float, efficient: float | None, verdict: Verdict, lang: str) -> str:
    """Where the home stands among similar homes; a concern turns praise into plain facts."""
    word = comparison_word(own, average, efficient, SETTINGS)
    if not verdict.praise and word in _PRAISING_COMPARISONS:
        return t(f"verdict.{word}_with_concern" if verdict.concerns else f"verdict.{word}_plain", lang)
    return t(f"verdict.{word}", lang)


def comparison_thresholds(lang: str) -> str:
    """The "near the average" threshold, stated."""
    return t("verdict.thresholds", lang, near=format_fraction_percent(SETTINGS.near_average_fraction, lang))


def year_on_year_sentence(change_fraction: float, verdict: Verdict, lang: str) -> str:
    """Higher, lower or stable against last year; a lower use is praised only when nothing is open or high."""
    word = year_on_year_word(change_fraction, SETTINGS)
    change = format_fraction_percent(abs(change_fraction), lang)
    if word == "same":
        return t("lastyear.same", lang)
    if word == "higher":
        return t("lastyear.higher", lang, change=change)
    if verdict.praise:
        return t("lastyear.lower", lang, change=change)
    if not verdict.concerns:  # restrained: the figure, no cheering
        return t("lastyear.lower_plain", lang, change=change)
    if any(c.code == "alert" for c in verdict.concerns):
        return t("lastyear.lower_with_alert", lang, change=change)
    return t("lastyear.lower_ranked_high", lang, change=change)


def stable_threshold(lang: str) -> str:
    """The "stable" threshold, stated."""
    return t("lastyear.thresholds", lang, stable=format_fraction_percent(SETTINGS.stable_fraction, lang))


def no_suggestion_sentence(verdict: Verdict, lang: str) -> str:
    """What the suggestions card says when it lists nothing: praise only when nothing is open or high."""
    if verdict.praise:
        return t("suggestions.none", lang)
    return t("suggestions.none_with_concern" if verdict.concerns else "suggestions.none_plain", lang)


def action_sentences(verdict: Verdict, lang: str) -> list[str]:
    """One action per concern that no stored suggestion answers (a leak, a standby rise, a high ranking)."""
    return [sentence for concern in verdict.unanswered if (sentence := _action(concern, lang)) is not None]


def _action(concern: Concern, lang: str) -> str | None:
    evidence = concern.evidence
    if concern.code == "ranked_high":
        return t("action.ranked_high", lang, kind=t(f"kind.{concern.subject}", lang).lower())
    if concern.subject == "water_leak":
        flow = evidence.get("min_flow_l_per_h")
        if not flow:
            return t("action.water_leak_plain", lang)
        return t("action.water_leak", lang, flow=f"{format_number(flow, lang, digits=1)} l/h",
                 volume=format_quantity(flow * HOURS_PER_YEAR / 1000.0, "m³", lang, digits=0))
    if concern.subject == "base_load_rise":
        if "reference_w" not in evidence or "base_load_w" not in evidence:
            return t("action.base_load_rise_plain", lang)
        return t("action.base_load_rise", lang, reference=f"{format_number(evidence['reference_w'], lang, digits=0)} W",
                 level=f"{format_number(evidence['base_load_w'], lang, digits=0)} W")
    if concern.subject == "above_baseline":
        return t("action.above_baseline", lang, kind=t(f"kind.{concern.meter_kind or 'electricity'}", lang).lower())
    return None


def ranking_reasons(stored: Sequence[object], alerts: Sequence[alert_queries.AlertRow], ratio: float | None, rank: int,
                    lang: str) -> list[str]:
    """The adviser's "why" for a ranked dwelling: the ranking's reasons, its open alerts, and why it is high."""
    lines = [reason_text(r, lang) for r in stored]
    for alert in alerts:
        detail = evidence_sentences(alert.kind, alert.meter_kind, _numbers(alert.evidence), lang)
        title = alert_title(alert.kind, lang) + (f" — {detail[0]}" if detail else "")
        lines.append(t("ranking.open_alert", lang, title=title))
    standing = Standing("", rank, ratio, len(stored))
    if not stored and judge([], [standing], [], SETTINGS).concerns:
        lines.append(t("ranking.ranked_high", lang, ratio=format_number(ratio or 0.0, lang, digits=1),
                       high=format_number(SETTINGS.high_ratio, lang, digits=1),
                       top=format_number(SETTINGS.top_min_ratio, lang, digits=1)))
    return lines


def hours_text(hours: Sequence[int]) -> str:
    """Off-peak hours as ranges: (22, 23, 0, …, 5) → "22 h – 6 h"."""
    chosen = set(hours)
    starts = sorted(h for h in chosen if (h - 1) % 24 not in chosen)
    if not starts:
        return "0 h – 24 h"
    ranges = []
    for start in starts:
        end = start
        while (end + 1) % 24 in chosen and (end + 1) % 24 != start:
            end = (end + 1) % 24
        ranges.append(f"{start} h – {(end + 1) % 24} h")
    return ", ".join(ranges)


def contract_sentence(contract: SupplyContract | None, lang: str) -> str:
    """The dwelling's electricity contract in one line, or that the cooperative has not given it."""
    if contract is None:
        return t("contract.unknown", lang)
    return t(f"contract.{contract.option}", lang, kva=contract.subscribed_kva, since=format_day(contract.valid_from, lang),
             hours=hours_text(contract.offpeak_hours or ()))


def offpeak_details(evidence: Mapping[str, object], lang: str) -> list[str]:
    """The off-peak suggestion's bills, and whether it stands on a full year or is extrapolated (and from what)."""
    numbers = _numbers(evidence)
    needed = ("base_cost_eur_per_year", "offpeak_tariff_cost_eur_per_year", "base_subscription_eur_per_year",
              "offpeak_subscription_eur_per_year", "covered_days", "subscribed_kva")
    if any(key not in numbers for key in needed):
        return []  # stored before contracts and whole bills (issue 13): nothing more to say than the saving
    kva = int(numbers["subscribed_kva"])
    lines = [t("offpeak.bills", lang, kva=kva, base=format_money_eur(round(numbers["base_cost_eur_per_year"]), lang),
               hphc=format_money_eur(round(numbers["offpeak_tariff_cost_eur_per_year"]), lang),
               extra=format_money_eur(numbers["offpeak_subscription_eur_per_year"]
                                      - numbers["base_subscription_eur_per_year"], lang))]
    days = int(round(numbers["covered_days"]))
    lines.append(t("offpeak.extrapolated" if numbers.get("extrapolated") else "offpeak.full_year", lang, days=days))
    if not numbers.get("contract_known"):
        lines.append(t("offpeak.assumed_contract", lang, kva=kva))
    return lines
