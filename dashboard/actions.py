"""The few things the dashboard writes: user actions, always on behalf of the session's own account."""

from __future__ import annotations

from datetime import datetime

import psycopg

from dashboard.alert_queries import alert_building
from dashboard.scope import Role, Scope, building_allowed, dwelling_allowed
from reports.preferences import erase_letter_details


def request_erasure(conn: psycopg.Connection, scope: Scope) -> datetime:
    """Record that this account asks for its data to be erased (once while a request is open); when it was asked."""
    conn.execute(
        """
        INSERT INTO erasure_request (account_id, username, dwelling_id) VALUES (%s, %s, %s)
        ON CONFLICT (account_id) WHERE status = 'open' DO NOTHING
        """,
        (scope.account_id, scope.username, scope.dwelling_id),
    )
    if scope.dwelling_id is not None:
        # Letters stop at once: the postal address, e-mail and the letters kept are personal data.
        erase_letter_details(conn, scope.dwelling_id)
    row = conn.execute(
        "SELECT requested_at FROM erasure_request WHERE account_id = %s AND status = 'open'", (scope.account_id,),
    ).fetchone()
    assert row is not None
    return row[0]


ALERT_ACTIONS = ("acknowledge", "resolve", "comment")
FOLLOW_UP_STATUSES = ("open", "contacted", "closed")
# Who may act on an alert: the managers of its building, and admins. An adviser may see the
# building's dwellings (a residence of theirs) but acknowledging would stop the managers' reminders.
ALERT_ROLES = (Role.MANAGER, Role.ADMIN)


def act_on_alert(conn: psycopg.Connection, scope: Scope, alert_id: int, action: str, comment: str) -> bool:
    """Record a manager's action on an alert of a building in their scope; False (nothing written) otherwise.

    The role and scope checks are made here, on the alert's building read from the database,
    so an alert id that came from the browser can never reach another building, and only
    a manager of that building (or an admin) can act, whatever else the account may see.
    """
    if action not in ALERT_ACTIONS or scope.role not in ALERT_ROLES:
        return False
    building_id = alert_building(conn, alert_id)
    if building_id is None or not building_allowed(conn, scope, building_id):
        return False
    conn.execute("INSERT INTO alert_action (alert_id, account_id, action, comment) VALUES (%s, %s, %s, %s)",
                 (alert_id, scope.account_id, action, comment[:2000]))
    if action in ("acknowledge", "resolve"):
        # The dashboard's writes to an analytics table (0003): acknowledging stops reminders.
        conn.execute(
            "UPDATE alert SET acknowledged_at = now(), acknowledged_by = %s WHERE id = %s AND acknowledged_at IS NULL",
            (scope.account_id, alert_id),
        )
    if action == "resolve":
        # Resolved means closed: it leaves the open list for the history. Should the condition still
        # hold, the analytics job opens a new alert that names this one (alert.reopens_alert_id).
        conn.execute(
            "UPDATE alert SET status = 'resolved', resolved_at = now(), ended_at = coalesce(ended_at, now())"
            " WHERE id = %s AND status = 'open'", (alert_id,),
        )
    return True


def mark_follow_up(conn: psycopg.Connection, scope: Scope, dwelling_id: int, status: str, note: str) -> bool:
    """Record an adviser's follow-up mark on a dwelling in their scope; False (nothing written) otherwise."""
    if status not in FOLLOW_UP_STATUSES or scope.role not in (Role.ADVISER, Role.ADMIN):
        return False
    if not dwelling_allowed(conn, scope, dwelling_id):
        return False
    conn.execute("INSERT INTO follow_up (dwelling_id, account_id, status, note) VALUES (%s, %s, %s, %s)",
                 (dwelling_id, scope.account_id, status, note[:2000]))
    return True
