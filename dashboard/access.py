"""Every staff access to a household's data goes through here into the access log (coopwatt/access_log.py).

Which callbacks and downloads show one dwelling's data, and which access each logs, is listed
below; tests/test_access_log.py replays every registered callback and download and fails on one
missing from these lists, or listed as logging and not logging. A household reading its own data
is not logged: the log is for the staff's accesses, which the household cannot otherwise see.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import psycopg

from coopwatt import access_log
from dashboard import context
from dashboard.scope import Role, Scope

# Callbacks, by their first output ("component-id.property"; a pattern id as sorted compact JSON), that
# return one dwelling's data, with the access they log: the same as the page they fill, so a page view
# and its charts are one access (repeats within access_log_repeat_window_s are not logged again).
LOGGED_CALLBACKS: dict[str, str] = {
    # Dash's pages callback runs the layouts: household page, adviser drill-down, manager alerts.
    "_pages_content.children": "household_page / adviser_drilldown / alert_detail",
    "household-consumption-graph.figure": "household_page",
    "household-similar-homes-body.children": "household_page",
    "household-calendar-body.children": "household_page",  # the calendar, typical day and latest readings
    "adviser-drilldown-body.children": "adviser_drilldown",  # the side panel opened from the ranking
}
# Callbacks that return no single dwelling's data, and why.
UNLOGGED_CALLBACKS: dict[str, str] = {
    "household-erase-collapse.is_open": "opens a confirmation; no data",
    "household-erase-status.children": "the household's own erasure request; staff are refused",
    '{"flow":["MATCH"],"type":"consent-withdraw-area"}.is_open': "opens a withdrawal confirmation; no data",
    "consent-body.children": "the household's own consent decision; staff are refused",
    "adviser-ranking.children": "one figure per dwelling of a whole ranking; each drill-down opened from it is logged",
    "adviser-follow-result.children": "records a follow-up mark and answers 'saved'; the drill-down it is on is logged",
    '{"alert":["MATCH"],"type":"alert-status"}.children': "acts on an alert already shown (logged as alert_detail)",
    "manager-building-daily.href": "download links of a building's own meters",
    "manager-curve.figure": "a building's total, not a home's",
    "manager-kind.options": "the energy kinds a building has meters for, no home's data",
    "household-export-links.children": "download links for the dates picked; each download is logged when fetched",
    "household-window.data": "the dates the household page shows (navigation state), no data",
}
# Download routes and the access each logs with ?dwelling= (a building's own meters are no household's data).
LOGGED_DOWNLOADS: dict[str, str] = {
    "/download/readings.csv": "csv_readings",
    "/download/daily.csv": "csv_daily",
}


def log_staff_access(conn: psycopg.Connection, scope: Scope, dwelling_ids: Sequence[int], what: str,
                     detail: dict[str, Any] | None = None) -> None:
    """Log a staff member's access to these dwellings (nothing for a household's own)."""
    if scope.role is Role.HOUSEHOLD:
        return
    access_log.record_access(
        conn, account_id=scope.account_id, username=scope.username, role=scope.role.value,
        dwelling_ids=dwelling_ids, what=what, detail=detail,
        repeat_window_s=context.current().settings.access_log_repeat_window_s,
    )


def log_alert_access(conn: psycopg.Connection, scope: Scope, alert_ids: Sequence[int]) -> None:
    """Log that a staff member saw the alerts of these dwellings' (building alerts are no household's)."""
    if scope.role is Role.HOUSEHOLD:
        return
    access_log.record_alert_access(
        conn, account_id=scope.account_id, username=scope.username, role=scope.role.value, alert_ids=alert_ids,
        repeat_window_s=context.current().settings.access_log_repeat_window_s,
    )
