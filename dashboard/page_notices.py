"""What a Dash page shows instead of its content when the account cannot use it: said plainly, with the way home."""

from __future__ import annotations

import dash_bootstrap_components as dbc
from dash import html

from dashboard.i18n import t


def staff_only(view: str, lang: str, notice_id: str) -> dbc.Alert:
    """A household opened a staff page ("adviser" or "manager"): say whom the page is for and link home."""
    return dbc.Alert([
        html.P(t(f"error.staff_only_{view}", lang), className="mb-2"),
        html.A(t("error.home", lang), href="/", className="alert-link", id=notice_id + "-home"),
    ], color="info", id=notice_id)


def not_found(lang: str) -> dbc.Alert:
    """An address that is no page of the dashboard."""
    return dbc.Alert([
        html.H1(t("error.not_found_title", lang), className="h5"),
        html.P(t("error.not_found", lang), className="mb-2"),
        html.A(t("error.home", lang), href="/", className="alert-link", id="not-found-home"),
    ], color="warning", id="not-found")
