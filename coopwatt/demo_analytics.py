"""The demo's analytics stage: the nightly steps and an anomaly run, and what they found, in words."""

from __future__ import annotations

import time
from datetime import datetime

import psycopg

from coopwatt.demo_console import TopConsumer, alerts_line, count, high_consumer_line, say, suggestion_line
from coopwatt.demo_live import tally
from coopwatt.settings import Settings

FAULT_WINDOW_DAYS = 10  # faults are injected in the last days of history and during live


def analyse(settings: Settings, *, nightly: bool, now: datetime) -> None:
    """Analytics stage: `coopwatt analytics` runs (the nightly steps, then anomalies) and what they found.

    ``now`` is the simulated clock, not the wall clock: live meters replay the recent past at speed,
    so judged at the wall clock every meter would look silent since the end of the backfill.
    """
    from analytics.job.nightly import run_nightly
    from analytics.job.run import run_anomalies

    assert settings.database_url is not None
    if nightly:
        say("analyse de nuit (références météo, comparaisons, classement, pistes d'économie) …",
            "nightly analytics (weather baselines, comparisons, ranking, savings suggestions) …")
        started = time.monotonic()
        n = run_nightly(settings.database_url, settings, now)
        say(f"analyse de nuit en {time.monotonic() - started:.0f} s : {n.baselines_qualified} références météo "
            f"ajustées, {n.baselines_unqualified} sans assez de données ; {n.groups_published} groupes de logements "
            f"similaires publiés, {n.groups_withheld} retenus (moins de {settings.comparison_min_group_size}), "
            f"{n.groups_unchanged} déjà publiés inchangés ; "
            f"{count(n.suggestions, 'fr', 'piste', 'pistes')} d'économie ; "
            f"{count(n.savings, 'fr', 'mesure', 'mesures')} d'économies après travaux",
            f"nightly analytics: {n.baselines_qualified} weather baselines fitted, {n.baselines_unqualified} without "
            f"enough data; {n.groups_published} groups of similar homes published, {n.groups_withheld} withheld "
            f"(fewer than {settings.comparison_min_group_size}), {n.groups_unchanged} published before, unchanged; "
            f"{count(n.suggestions, 'en', 'savings suggestion', 'savings suggestions')}; "
            f"{count(n.savings, 'en', 'measured saving after works', 'measured savings after works')}")
        for line in _top_findings(settings.database_url, n.high_consumers):
            say(*line)
        # Advisers only: the console names no home, the page (behind an adviser's login) does.
        say(f"précarité énergétique : {count(n.hardship_flags, 'fr', 'signal', 'signaux')} pour les conseillers "
            "(/adviser/hardship)",
            f"energy hardship: {count(n.hardship_flags, 'en', 'signal', 'signals')} for the advisers "
            "(/adviser/hardship)")
    # The history was backfilled at once, never seen by a 15-minute run as it arrived: the raw readings of the
    # whole fault window are judged (a counter reset five days ago would be outside the usual 3 days).
    window = settings.model_copy(update={"analytics_index_lookback_days": max(
        settings.analytics_index_lookback_days, FAULT_WINDOW_DAYS + 1.0)})
    summary = run_anomalies(settings.database_url, window, now, full=True)  # the demo shows all it finds
    say(*alerts_line(tally(settings.database_url, summary),
                     prefix=(f"analyse de {summary.dwellings_processed} logements",
                             f"analytics of {summary.dwellings_processed} dwellings")))
    if summary.failures:
        say(f"{summary.failures} échec(s) d'analyse (voir le journal)", f"{summary.failures} analytics failure(s) (see the log)")


def _top_findings(url: str, high_consumers: int) -> list[tuple[str, str]]:
    """The most valuable suggestion and the ranking's news, one line each (French, English), agreeing with the count."""
    from analytics.ranking import RankingSettings

    lines = []
    with psycopg.connect(url) as conn:
        best = conn.execute(
            "SELECT d.code, s.kind, s.cost_eur_per_year FROM suggestion s JOIN dwelling d ON d.id = s.dwelling_id"
            " ORDER BY s.cost_eur_per_year DESC LIMIT 1").fetchone()
        top = conn.execute(
            "SELECT d.code, h.energy_kind, h.ratio_to_group FROM high_consumer h JOIN dwelling d ON d.id = h.dwelling_id"
            " WHERE h.rank = 1 AND h.ratio_to_group IS NOT NULL AND h.period_kind = 'last_12_months'"
            " ORDER BY h.period_end DESC, h.ratio_to_group DESC"
            " LIMIT 1").fetchone()
    if best is not None:
        lines.append(suggestion_line(best[0], best[1], best[2]))
    ranked = high_consumer_line(high_consumers, RankingSettings().high_ratio,
                                TopConsumer(top[0], top[1], top[2]) if top is not None else None)
    if ranked is not None:
        lines.append(ranked)
    return lines
