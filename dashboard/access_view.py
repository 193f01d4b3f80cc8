"""What the access log looks like: the household's "who looked at your data" card and the staff's notice."""

from __future__ import annotations

from datetime import datetime, tzinfo

import dash_bootstrap_components as dbc
import psycopg
from babel.dates import format_datetime
from dash import html

from coopwatt.access_log import AccessRow, accesses_of, count_accesses
from coopwatt.settings import Settings
from dashboard.i18n import MESSAGES, format_day, language_or_default, locale_of, t

ACCESS_CARD = "household-access-log"
ACCESS_NOTICE = "staff-access-notice"
# Entries listed on the page, newest first; the rest are counted (the full file comes with an access request).
SHOWN = 50
# The adviser drill-down's hourly curve covers this many days (dashboard/pages/adviser.py CURVE_DAYS).
DRILLDOWN_DEFAULT_DAYS = 14


def what_text(row: AccessRow, lang: str, tz: tzinfo) -> str:
    """The sentence saying what a staff member opened."""
    key = f"access.what.{row.what}"
    if key not in MESSAGES[language_or_default(lang)]:
        return t("access.what.other", lang, what=row.what)

    def day(field: str) -> str:
        value = row.detail.get(field)
        if not isinstance(value, str):
            return "—"
        return format_day(datetime.fromisoformat(value).astimezone(tz).date(), lang)

    return t(key, lang, days=row.detail.get("curve_days", DRILLDOWN_DEFAULT_DAYS), since=day("since"),
             until=day("until"))


def who_text(row: AccessRow, lang: str) -> str:
    """The staff member as the household reads it: their account name and role."""
    role_key = f"access.role.{row.role}"
    role = t(role_key, lang) if role_key in MESSAGES[language_or_default(lang)] else row.role
    return t("access.who", lang, name=row.username, role=role)


def access_card(conn: psycopg.Connection, dwelling_id: int, lang: str, settings: Settings) -> dbc.Card:
    """The household's own access log: who among the staff looked at its data, when, and what."""
    rows = accesses_of(conn, dwelling_id, limit=SHOWN)
    days = settings.retention_access_log_days
    body: list[object] = [
        html.H2(t("access.title", lang), className="h5 card-title"),
        html.P(t("access.intro", lang, days=days), className="text-body-secondary small"),
    ]
    if not rows:
        body.append(html.P(t("access.none", lang, days=days), className="mb-0", id=ACCESS_CARD + "-none"))
    else:
        tz = settings.tz
        body.append(dbc.Table([
            html.Thead(html.Tr([html.Th(t(f"access.col.{c}", lang)) for c in ("when", "who", "what")])),
            html.Tbody([
                html.Tr([
                    html.Td(format_datetime(row.accessed_at.astimezone(tz), "d MMM y, HH:mm", locale=locale_of(lang)),
                            className="text-nowrap"),
                    html.Td(who_text(row, lang)),
                    html.Td(what_text(row, lang, tz)),
                ], className="access-row", **{"data-what": row.what})
                for row in rows
            ]),
        ], size="sm", responsive=True, className="mb-0 small", id=ACCESS_CARD + "-table"))
        more = count_accesses(conn, dwelling_id) - len(rows)
        if more > 0:
            body.append(html.P(t("access.more", lang, count=more), className="small text-body-secondary mt-2 mb-0"))
    return dbc.Card(dbc.CardBody(body), className="mb-3 shadow-sm", id=ACCESS_CARD)


def staff_notice(lang: str) -> dbc.Alert:
    """Tells a staff member that their access to a household's data is recorded and shown to the household."""
    return dbc.Alert(t("access.staff_notice", lang), color="info", className="small py-2", id=ACCESS_NOTICE)
