"""What the typical-day card says about similar homes: who they are and how many, or why their day is not drawn."""

from __future__ import annotations

from datetime import date, timedelta

from dash import html

from analytics.peer_day import MIN_DAYS_PER_HOUR, WINDOW_DAYS
from dashboard import i18n_household  # noqa: F401 - adds the texts
from dashboard.figures import similar_homes_explained
from dashboard.i18n import format_day, t
from dashboard.peer_day_queries import PeerDayRow


def peers_sentence(peer: PeerDayRow | None, drawn: bool, first: date, last: date, lang: str, *, k: int) -> html.P:
    """The sentence under the typical day: the similar homes drawn, or the true reason they are not."""
    if peer is not None and drawn:
        text = " ".join((similar_homes_explained(peer.group_key, lang),
                         t("history.typical_peers_note", lang, count=peer.member_count, k=k,
                           first=format_day(first, lang), last=format_day(last, lang))))
    elif peer is not None and peer.published:
        text = t("history.typical_peers_latest_only", lang, first=format_day(peer.period_start, lang),
                 last=format_day(peer.period_end - timedelta(days=1), lang))
    elif peer is not None and peer.withheld_reason == "group_too_small":
        text = " ".join((similar_homes_explained(peer.group_key, lang), t("history.typical_peers_too_few", lang, k=k)))
    elif peer is not None:
        text = t("history.typical_peers_changed", lang)
    else:
        text = t("history.typical_peers_none", lang, weeks=WINDOW_DAYS // 7, days=MIN_DAYS_PER_HOUR)
    return html.P(text, className="small text-body-secondary mb-0", id="typical-peers")
