"""The household page's export controls: a range of days and the two CSV links that follow it.

The links are plain URLs with ``from``/``to``: the download route checks the scope and the
range again (dashboard/downloads.py), so nothing here is trusted.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any
from urllib.parse import urlencode

import dash
from dash import Input, Output, State, callback, dcc, html

from dashboard import context, i18n_household  # noqa: F401 - i18n_household adds the texts
from dashboard.auth import session_language
from dashboard.date_range import RangeRefused, day_range
from dashboard.downloads import DAILY_PATH, DEFAULT_DAYS, MAX_DAYS, READINGS_PATH, refusal_text
from dashboard.history_controls import date_inputs
from dashboard.i18n import t

DOWNLOAD_READINGS_LINK = "household-download-readings"
DOWNLOAD_DAILY_LINK = "household-download-daily"
EXPORT_START = "household-export-start"
EXPORT_END = "household-export-end"
EXPORT_LINKS = "household-export-links"
EXPORT_STORE = "household-export-target"
EXPORT_PROBLEM = "household-export-problem"


def _href(path: str, base_query: dict[str, str], first: str | None, last: str | None) -> str:
    query = dict(base_query)
    if first:
        query["from"] = first
    if last:
        query["to"] = last
    return path + ("?" + urlencode(query) if query else "")


def links(lang: str, base_query: dict[str, str], *, readings: bool, staff: bool,
          first: str | None = None, last: str | None = None) -> list[Any]:
    """The download links for a range (None: the route's default range)."""
    suffix = "_staff" if staff else ""
    return [
        # A manager gets no raw readings of a home (the download refuses them too).
        html.A(t("data.download_readings" + suffix, lang), href=_href(READINGS_PATH, base_query, first, last),
               id=DOWNLOAD_READINGS_LINK, className="btn btn-outline-success btn-sm me-2 mb-2",
               download="") if readings else None,
        html.A(t("data.download_daily" + suffix, lang), href=_href(DAILY_PATH, base_query, first, last),
               id=DOWNLOAD_DAILY_LINK, className="btn btn-outline-success btn-sm mb-2", download=""),
    ]


def export_controls(lang: str, own_data: bool, dwelling_id: int, *, readings: bool, today: date) -> html.Div:
    """The range picker, the note on defaults and formats, and the links."""
    base_query = {} if own_data else {"dwelling": str(dwelling_id)}
    return html.Div([
        dcc.Store(id=EXPORT_STORE, data={"query": base_query, "readings": readings, "staff": not own_data}),
        html.Div([
            html.Span(t("export.range", lang), className="small text-body-secondary me-2"),
            *date_inputs(EXPORT_START, EXPORT_END, lang, today),
        ], className="d-flex align-items-center flex-wrap gap-1 mb-2", role="group",
            **{"aria-label": t("export.range", lang)}),
        html.Div(id=EXPORT_PROBLEM, className="small text-danger-emphasis", role="status"),
        html.P(t("export.range_note", lang), className="small text-body-secondary mb-2"),
        html.Div(links(lang, base_query, readings=readings, staff=not own_data), id=EXPORT_LINKS),
    ])


@callback(
    Output(EXPORT_LINKS, "children"),
    Output(EXPORT_PROBLEM, "children"),
    Input(EXPORT_START, "value"),
    Input(EXPORT_END, "value"),
    State(EXPORT_STORE, "data"),
    prevent_initial_call=True,
)
def follow_range(start: object, end: object, target: object) -> tuple[list[Any], str]:
    """Point the links at the chosen days, and say at once what the download would refuse."""
    if not isinstance(target, dict) or not isinstance(target.get("query"), dict):
        raise dash.exceptions.PreventUpdate
    lang = session_language()
    today = datetime.now(context.current().settings.tz).date()
    # The fields send "YYYY-MM-DD" (empty when cleared); anything else is refused by day_range with the reason.
    first = start[:10] if isinstance(start, str) else None
    last = end[:10] if isinstance(end, str) else None
    problem = ""
    kinds = ("readings", "daily") if target.get("readings") else ("daily",)
    for kind in kinds:
        try:
            day_range(first, last, today=today, default_days=DEFAULT_DAYS[kind], max_days=MAX_DAYS[kind])
        except RangeRefused as refused:
            problem = refusal_text(refused, kind, lang)
            break
    query = {str(k): str(v) for k, v in target["query"].items()}
    return links(lang, query, readings=bool(target.get("readings")), staff=bool(target.get("staff")),
                 first=first, last=last), problem
