"""The few things the dashboard writes: user actions, always on behalf of the session's own account."""

from __future__ import annotations

from datetime import datetime

import psycopg

from dashboard.scope import Scope


def request_erasure(conn: psycopg.Connection, scope: Scope) -> datetime:
    """Record that this account asks for its data to be erased (once while a request is open); when it was asked."""
    conn.execute(
        """
        INSERT INTO erasure_request (account_id, username, dwelling_id) VALUES (%s, %s, %s)
        ON CONFLICT (account_id) WHERE status = 'open' DO NOTHING
        """,
        (scope.account_id, scope.username, scope.dwelling_id),
    )
    row = conn.execute(
        "SELECT requested_at FROM erasure_request WHERE account_id = %s AND status = 'open'", (scope.account_id,),
    ).fetchone()
    assert row is not None
    return row[0]
