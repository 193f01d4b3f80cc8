"""Alert lifecycle: open, refresh and resolve alerts from detector output, and fill the notification outbox.

One open alert per kind and meter (partial unique index in 0003). Each open and each
resolve inserts one ``alert_notification`` row per building recipient and channel, plus
the MQTT alert topic (analytics.notify.outbox.queue_alert_event); ON CONFLICT DO NOTHING on the outbox key makes re-runs send nothing twice.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import psycopg

from analytics.anomalies import Anomaly
from analytics.notify.outbox import queue_alert_event
from coopwatt.settings import Settings


@dataclass(frozen=True)
class AlertChanges:
    """What one meter's alert reconciliation did."""

    opened: int = 0
    refreshed: int = 0
    resolved: int = 0


def _notify(conn: psycopg.Connection, alert_id: int, event: str, settings: Settings) -> None:
    """Queue the event's outbox rows through the delivery side's own writer (same topic scheme, one place)."""
    queue_alert_event(conn, alert_id, event, settings)


def _evidence(anomaly: Anomaly) -> str:
    """Evidence as JSON (plain floats)."""
    return json.dumps({k: float(v) for k, v in anomaly.evidence.items()})


def _resolved_by_hand(conn: psycopg.Connection, meter_id: int, kind: str) -> int | None:
    """The meter's latest alert of this kind, if a manager marked it resolved: a new one is its return."""
    row = conn.execute(
        """SELECT a.id FROM alert a
            WHERE a.meter_id = %s AND a.kind = %s AND a.status = 'resolved'
              AND EXISTS (SELECT 1 FROM alert_action x WHERE x.alert_id = a.id AND x.action = 'resolve')
              AND a.id = (SELECT max(id) FROM alert WHERE meter_id = %s AND kind = %s)""",
        (meter_id, kind, meter_id, kind),
    ).fetchone()
    return None if row is None else int(row[0])


def reconcile_meter(
    conn: psycopg.Connection, meter_id: int, building_id: int | None, anomalies: list[Anomaly],
    settings: Settings, kinds_checked: set[str],
) -> AlertChanges:
    """Bring one meter's alerts in line with this run's anomalies (kinds_checked: detectors that ran)."""
    opened = refreshed = resolved = 0
    ongoing = {a.kind.value: a for a in anomalies if a.ongoing}
    open_rows = dict(conn.execute(
        "SELECT kind, id FROM alert WHERE meter_id = %s AND status = 'open'", (meter_id,)
    ).fetchall())
    for kind, anomaly in ongoing.items():
        if kind in open_rows:
            conn.execute(
                "UPDATE alert SET last_seen_at = now(), severity = %s, evidence = %s WHERE id = %s",
                (anomaly.severity.value, _evidence(anomaly), open_rows[kind]),
            )
            refreshed += 1
            continue
        alert_id = conn.execute(
            """INSERT INTO alert (kind, severity, meter_id, dwelling_id, building_id, started_at, evidence,
                                  reopens_alert_id)
               VALUES (%s, %s, %s, %s, %s, %s, %s, %s) RETURNING id""",
            (kind, anomaly.severity.value, meter_id, anomaly.dwelling_id, building_id,
             anomaly.start.to_pydatetime(), _evidence(anomaly), _resolved_by_hand(conn, meter_id, kind)),
        ).fetchone()[0]
        _notify(conn, alert_id, "opened", settings)
        opened += 1
    for kind, alert_id in open_rows.items():
        if kind in ongoing or kind not in kinds_checked:
            continue
        ended = [a for a in anomalies if a.kind.value == kind and not a.ongoing]
        ended_at = max(a.end for a in ended).to_pydatetime() if ended else None
        conn.execute(
            """UPDATE alert SET status = 'resolved', resolved_at = now(), ended_at = COALESCE(%s, now())
                WHERE id = %s""",
            (ended_at, alert_id),
        )
        _notify(conn, alert_id, "resolved", settings)
        resolved += 1
    # Episodes that began and ended between two runs: recorded once as resolved alerts (both events sent).
    for anomaly in anomalies:
        if anomaly.ongoing or anomaly.kind.value in open_rows and anomaly.kind.value not in ongoing:
            continue
        exists = conn.execute(
            # overlap, not equality: a window that slides past an episode's start must not duplicate it
            """SELECT 1 FROM alert WHERE meter_id = %s AND kind = %s
                 AND started_at <= %s AND COALESCE(ended_at, last_seen_at) >= %s""",
            (meter_id, anomaly.kind.value, anomaly.end.to_pydatetime(), anomaly.start.to_pydatetime()),
        ).fetchone()
        if exists:
            continue
        alert_id = conn.execute(
            """INSERT INTO alert (kind, severity, meter_id, dwelling_id, building_id, started_at, ended_at,
                                  status, resolved_at, evidence)
               VALUES (%s, %s, %s, %s, %s, %s, %s, 'resolved', now(), %s) RETURNING id""",
            (anomaly.kind.value, anomaly.severity.value, meter_id, anomaly.dwelling_id, building_id,
             anomaly.start.to_pydatetime(), anomaly.end.to_pydatetime(), _evidence(anomaly)),
        ).fetchone()[0]
        _notify(conn, alert_id, "opened", settings)
        _notify(conn, alert_id, "resolved", settings)
        opened += 1
        resolved += 1
    return AlertChanges(opened, refreshed, resolved)
