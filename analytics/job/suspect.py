"""Suspect hours: the hours a frozen index, a counter reset or a spike covers, kept out of every verdict.

The anomaly job calls :func:`mark_suspect_hours` for each meter it reconciled; the marks are
rebuilt from the meter's alerts of those kinds (open or resolved, however resolved), so a
derivation that rewrote the hours or an episode that grew is followed at the next run.
``consumption_daily_all`` counts them per day (``suspect_hours``, migration 0011).
"""

from __future__ import annotations

import psycopg

# Alert kinds whose hours hold a figure that is not the meter's consumption.
SUSPECT_KINDS = ("frozen_index", "counter_reset", "spike")


def mark_suspect_hours(conn: psycopg.Connection, meter_id: int) -> int:
    """Rebuild one meter's suspect hours from its alerts; return how many hours are marked.

    An episode covers the hours from the one it starts in to the one it ends in, both included
    (a reset or a spike is one instant: its hour); an open episode runs to now.
    """
    conn.execute("DELETE FROM consumption_suspect WHERE meter_id = %s", (meter_id,))
    cursor = conn.execute(
        """
        INSERT INTO consumption_suspect (meter_id, hour, alert_id, kind)
        SELECT a.meter_id, h.hour, a.id, a.kind
          FROM alert a
         CROSS JOIN LATERAL generate_series(
                 date_bin('1 hour', a.started_at, TIMESTAMPTZ '2000-01-01 00:00+00'),
                 date_bin('1 hour', greatest(coalesce(a.ended_at, now()), a.started_at),
                          TIMESTAMPTZ '2000-01-01 00:00+00'),
                 interval '1 hour') AS h(hour)
         WHERE a.meter_id = %s AND a.kind = ANY(%s)
        ON CONFLICT (meter_id, hour) DO NOTHING
        """,
        (meter_id, list(SUSPECT_KINDS)),
    )
    return cursor.rowcount
