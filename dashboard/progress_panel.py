"""The household page's small panel: the residence's collective progress (published figures only) and "My letters"."""

from __future__ import annotations

import dash_bootstrap_components as dbc
from dash import html

from dashboard import context
from dashboard.letter_pages import PREFERENCES_PATH
from reports.letter_content import progress_section
from reports.progress_store import progress_of_residence, residence_of_dwelling
from reports.texts import tr

PANEL_ID = "household-progress"


def progress_card(dwelling_id: int, lang: str, *, own_data: bool) -> dbc.Card:
    """The residence's progress this heating season, and (for the household itself) the link to its letter choices."""
    ctx = context.current()
    k = ctx.settings.comparison_min_group_size
    with ctx.connection() as conn:
        residence_id = residence_of_dwelling(conn, dwelling_id)
        building = conn.execute("SELECT building_id FROM dwelling WHERE id = %s", (dwelling_id,)).fetchone()
        rows = progress_of_residence(conn, residence_id, min_group_size=k) if residence_id is not None else []
    section = progress_section(rows, building[0] if building else None, lang, k)
    body = [html.H2(section["title"], className="h6 card-title"),
            *[html.P(line, className="mb-1 small") for line in section["lines"]]]
    if section["private"]:
        body.append(html.P(section["private"], className="small text-body-secondary mb-0"))
    if own_data:
        body.append(html.A(tr("prefs.link", lang), href=PREFERENCES_PATH, id="household-letters-link",
                           className="small d-inline-block mt-2"))
    return dbc.Card(dbc.CardBody(body), id=PANEL_ID, className="mb-3 shadow-sm")
