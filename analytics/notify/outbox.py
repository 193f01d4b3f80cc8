"""Deliver the alert notification outbox: each (alert, event, channel, target) once, with retries.

The analytics job writes one ``alert_notification`` row per alert event and target (see
:func:`queue_alert_event`); :func:`deliver_due` sends the rows that are due. Rules:

* A row is taken with ``FOR UPDATE SKIP LOCKED`` and sent, then marked, in its own
  transaction: two workers never send the same row, and a crash between the send and the
  commit can at worst repeat that one message (e-mails carry a stable Message-ID, webhooks a
  stable ``X-Coopwatt-Delivery`` header, so receivers can drop the repeat).
* Success sets ``sent_at``. A failure increments ``attempts`` and moves ``next_attempt_at``
  to now + ``alert_retry_base_s`` × 2^(attempts − 1), capped at ``alert_retry_max_s``; after
  ``alert_max_attempts`` failures, or at once for a failure retrying cannot fix, the row is
  closed with ``gave_up_at`` and keeps its ``last_error``. One failing row or channel never
  stops the others.
* Left pending, never attempted, with the reason in ``last_error``: e-mail rows while
  COOPWATT_SMTP_HOST is unset and MQTT rows while COOPWATT_MQTT_URL is unset (the channel is
  not configured: nothing was tried, so nothing is given up; they go once it is, and the
  acknowledged and resolved rules below still drop the notices that became pointless).
* Closed without sending, with a clear ``last_error``: e-mail and webhook rows whose
  target is not (or no longer) a recipient of the alert's building (a manager only ever hears
  about their own buildings); an "opened" notice for an alert acknowledged before it could be
  delivered (somebody already handles it). A "resolved" notice is still sent.
* Reminders: an open warning or critical alert that nobody has acknowledged, whose last notice
  (opening or reminder) was queued ``alert_reminder_interval_h`` ago and whose opening was
  delivered, gets a ``reminder-N`` event (:func:`queue_due_reminders`, run before each delivery).
  A reminder still due when its alert is acknowledged or resolved is closed without sending.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

import psycopg
from psycopg import pq

from analytics.notify.email import email_channel_enabled, send_email
from analytics.notify.errors import DeliveryError
from analytics.notify.messages import AlertFacts, build_email, build_payload, is_event, is_reminder
from analytics.notify.mqtt import AlertPublisher, alert_topic, broker_topic
from analytics.notify.webhook import post_json
from coopwatt.db import connect
from coopwatt.settings import Settings

log = logging.getLogger(__name__)

_DUE_ROW = """
SELECT n.alert_id, n.event, n.channel, n.target, n.attempts,
       a.kind, a.severity, a.meter_id, a.started_at, a.ended_at, a.detected_at, a.resolved_at,
       a.acknowledged_at, a.evidence, m.kind, d.code, b.id, b.code, b.name, r.code, r.name,
       rc.language, rc.id IS NOT NULL,
       -- The dwelling's other open alerts: a message never says "nothing else to do" beside them.
       coalesce(array(SELECT o.kind FROM alert o WHERE o.dwelling_id = d.id AND o.id <> a.id
                      AND o.status = 'open' ORDER BY o.kind), '{}')
FROM alert_notification n
JOIN alert a ON a.id = n.alert_id
JOIN meter m ON m.id = a.meter_id
LEFT JOIN dwelling d ON d.id = coalesce(a.dwelling_id, m.dwelling_id)
LEFT JOIN building b ON b.id = coalesce(a.building_id, d.building_id, m.building_id)
LEFT JOIN residence r ON r.id = b.residence_id
LEFT JOIN alert_recipient rc ON rc.building_id = b.id AND rc.channel = n.channel AND rc.target = n.target
WHERE n.sent_at IS NULL AND n.gave_up_at IS NULL AND n.next_attempt_at <= %(now)s
  AND NOT (n.channel = ANY(%(off)s))
ORDER BY n.next_attempt_at, n.alert_id, n.event
LIMIT 1
FOR UPDATE OF n SKIP LOCKED
"""

_KEY = "alert_id = %(alert_id)s AND event = %(event)s AND channel = %(channel)s AND target = %(target)s"


@dataclass
class DeliveryStats:
    """What one delivery round did."""

    sent: int = 0
    retrying: int = 0
    gave_up: int = 0
    waiting: int = 0  # pending rows of channels not configured (not taken, not attempted)

    @property
    def handled(self) -> int:
        """Rows this round took (sent, rescheduled or closed)."""
        return self.sent + self.retrying + self.gave_up


@dataclass(frozen=True)
class _Due:
    alert_id: int
    event: str
    channel: str
    target: str
    attempts: int
    acknowledged: bool
    is_recipient: bool
    language: str
    facts: AlertFacts | None  # None when the alert's building cannot be found

    @property
    def key(self) -> dict[str, Any]:
        return {"alert_id": self.alert_id, "event": self.event, "channel": self.channel, "target": self.target}


def retry_delay(attempts: int, settings: Settings) -> timedelta:
    """Wait after the ``attempts``-th failure: base × 2^(attempts − 1), capped."""
    exponent = min(max(attempts - 1, 0), 30)  # 2^30 × any base is past every sensible cap
    return timedelta(seconds=min(settings.alert_retry_base_s * 2 ** exponent, settings.alert_retry_max_s))


def _as_due(row: tuple[Any, ...]) -> _Due:
    (alert_id, event, channel, target, attempts, kind, severity, meter_id, started_at, ended_at, detected_at,
     resolved_at, acknowledged_at, evidence, meter_kind, dwelling_code, building_id, building_code, building_name,
     residence_code, residence_name, language, is_recipient, other_open) = row
    facts = None
    if building_id is not None:
        facts = AlertFacts(
            alert_id=alert_id, kind=kind, severity=severity, meter_id=meter_id, meter_kind=meter_kind,
            residence_code=residence_code, residence_name=residence_name, building_code=building_code,
            building_name=building_name, dwelling_code=dwelling_code, started_at=started_at,
            detected_at=detected_at, ended_at=ended_at, resolved_at=resolved_at,
            evidence={k: float(v) for k, v in (evidence or {}).items() if isinstance(v, int | float)},
            other_open_kinds=tuple(other_open or ()),
        )
    return _Due(alert_id, event, channel, target, attempts, acknowledged_at is not None, bool(is_recipient),
                language or "fr", facts)


class _Channels:
    """The sending side of one round: one MQTT connection, opened on first use."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._publisher: AlertPublisher | None = None
        self._mqtt_failure: DeliveryError | None = None

    def send(self, due: _Due) -> None:
        assert due.facts is not None
        settings = self._settings
        if due.channel == "email":
            content = build_email(due.facts, due.event, due.language, settings.tz)
            send_email(settings, due.target, content, message_id=_message_id(due, settings))
        elif due.channel == "webhook":
            payload = build_payload(due.facts, due.event, settings.tz) | {"language": due.language}
            post_json(due.target, payload, timeout_s=settings.alert_send_timeout_s, delivery_id=_delivery_id(due))
        elif due.channel == "mqtt":
            self._mqtt().publish(broker_topic(settings, due.target), build_payload(due.facts, due.event, settings.tz))
        else:
            raise DeliveryError(f"unknown channel {due.channel!r}", permanent=True)

    def _mqtt(self) -> AlertPublisher:
        # One failed connection fails this round's MQTT rows at once instead of each waiting
        # for its own timeout; the next round tries again.
        if self._mqtt_failure is not None:
            raise self._mqtt_failure
        if self._publisher is None:
            publisher = AlertPublisher(self._settings)
            try:
                publisher.connect()
            except DeliveryError as exc:
                publisher.close()
                self._mqtt_failure = exc
                raise
            self._publisher = publisher
        return self._publisher

    def close(self) -> None:
        if self._publisher is not None:
            self._publisher.close()


def _delivery_id(due: _Due) -> str:
    digest = hashlib.sha256(f"{due.channel}\0{due.target}".encode()).hexdigest()[:12]
    return f"alert-{due.alert_id}-{due.event}-{digest}"


def _message_id(due: _Due, settings: Settings) -> str:
    domain = (settings.smtp_from or "coopwatt@localhost").rsplit("@", 1)[-1].strip(" >") or "localhost"
    return f"<coopwatt.{_delivery_id(due)}@{domain}>"


def _refusal(due: _Due, settings: Settings) -> str | None:
    """Why this row must be closed without sending, or None when it may go."""
    if due.facts is None:
        return "the alert has no building: nobody to tell"
    if due.channel in ("email", "webhook") and not due.is_recipient:
        return f"{due.target} is not a {due.channel} recipient of building {due.facts.building_code}"
    if due.event == "opened" and due.acknowledged:
        return "alert acknowledged before this notice was delivered"
    if is_reminder(due.event) and due.acknowledged:
        return "alert acknowledged: no more reminders"
    if is_reminder(due.event) and due.facts.resolved_at is not None:
        return "alert resolved before this reminder was delivered (its resolution is sent instead)"
    return None


def channels_off(settings: Settings) -> dict[str, str]:
    """The channels not configured, each with the reason its rows wait."""
    off = {}
    if not email_channel_enabled(settings):
        off["email"] = "not attempted: e-mail channel not configured (COOPWATT_SMTP_HOST is not set)"
    if not settings.mqtt_url:
        off["mqtt"] = "not attempted: MQTT channel not configured (COOPWATT_MQTT_URL is not set)"
    return off


def _mark_waiting(conn: psycopg.Connection, off: dict[str, str]) -> int:
    """Give the pending rows of channels that are off their reason; return how many wait."""
    waiting = 0
    for channel, reason in off.items():
        conn.execute("UPDATE alert_notification SET last_error = %s WHERE channel = %s AND sent_at IS NULL"
                     " AND gave_up_at IS NULL AND last_error IS DISTINCT FROM %s", (reason, channel, reason))
        row = conn.execute("SELECT count(*) FROM alert_notification WHERE channel = %s AND sent_at IS NULL"
                           " AND gave_up_at IS NULL", (channel,)).fetchone()
        waiting += int(row[0]) if row else 0
    return waiting


def _now(now: datetime | None) -> datetime:
    moment = now or datetime.now(timezone.utc)
    if moment.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    return moment


def deliver_due(conn: psycopg.Connection, settings: Settings, *, now: datetime | None = None,
                limit: int = 1000) -> DeliveryStats:
    """Send every due notification (at most ``limit``), each in its own committed transaction."""
    moment = _now(now)
    if conn.info.transaction_status != pq.TransactionStatus.IDLE:
        raise ValueError("deliver_due commits row by row: call it outside a transaction")
    stats = DeliveryStats()
    off = channels_off(settings)
    if off:
        with conn.transaction():
            stats.waiting = _mark_waiting(conn, off)
    channels = _Channels(settings)
    try:
        while stats.handled < limit:
            with conn.transaction():
                row = conn.execute(_DUE_ROW, {"now": moment, "off": list(off)}).fetchone()
                if row is None:
                    break
                due = _as_due(row)
                _deliver_one(conn, due, channels, settings, moment, stats)
    finally:
        channels.close()
    if stats.handled:
        log.info("alert notifications: %d sent, %d to retry, %d given up", stats.sent, stats.retrying, stats.gave_up)
    if stats.waiting:
        log.warning("alert notifications: %d waiting for their channel to be configured (%s)", stats.waiting,
                    "; ".join(off.values()))
    return stats


def _deliver_one(conn: psycopg.Connection, due: _Due, channels: _Channels, settings: Settings,
                 moment: datetime, stats: DeliveryStats) -> None:
    refusal = _refusal(due, settings)
    if refusal is not None:
        conn.execute(f"UPDATE alert_notification SET gave_up_at = %(now)s, last_error = %(error)s WHERE {_KEY}",
                     due.key | {"now": moment, "error": refusal})
        log.warning("alert %d %s %s to %s not sent: %s", due.alert_id, due.event, due.channel, due.target, refusal)
        stats.gave_up += 1
        return
    try:
        channels.send(due)
    except Exception as exc:  # noqa: BLE001 - any failure of one row is recorded on that row; the round goes on
        error = exc if isinstance(exc, DeliveryError) else DeliveryError(f"{exc.__class__.__name__}: {exc}")
        if not isinstance(exc, DeliveryError):
            log.exception("alert %d %s %s: unexpected error while sending", due.alert_id, due.event, due.channel)
        _record_failure(conn, due, error, settings, moment, stats)
        return
    conn.execute(f"UPDATE alert_notification SET sent_at = %(now)s, attempts = attempts + 1 WHERE {_KEY}",
                 due.key | {"now": moment})
    stats.sent += 1


def _record_failure(conn: psycopg.Connection, due: _Due, error: DeliveryError, settings: Settings,
                    moment: datetime, stats: DeliveryStats) -> None:
    attempts = due.attempts + 1
    if error.permanent or attempts >= settings.alert_max_attempts:
        reason = error.reason if error.permanent else f"gave up after {attempts} attempts: {error.reason}"
        conn.execute(
            f"UPDATE alert_notification SET attempts = %(attempts)s, gave_up_at = %(now)s, last_error = %(error)s "
            f"WHERE {_KEY}", due.key | {"attempts": attempts, "now": moment, "error": reason})
        log.warning("alert %d %s %s to %s given up: %s", due.alert_id, due.event, due.channel, due.target, reason)
        stats.gave_up += 1
        return
    next_at = moment + retry_delay(attempts, settings)
    conn.execute(
        f"UPDATE alert_notification SET attempts = %(attempts)s, next_attempt_at = %(next)s, last_error = %(error)s "
        f"WHERE {_KEY}", due.key | {"attempts": attempts, "next": next_at, "error": error.reason})
    log.info("alert %d %s %s to %s failed (attempt %d), retry at %s: %s",
             due.alert_id, due.event, due.channel, due.target, attempts, next_at.isoformat(), error.reason)
    stats.retrying += 1


def deliver_pending(database_url: str, settings: Settings, *, now: datetime | None = None) -> DeliveryStats:
    """Open a connection, queue due reminders, deliver what is due and close it: the scheduler's every-minute job."""
    with connect(database_url, autocommit=True) as conn:
        with conn.transaction():
            queue_due_reminders(conn, settings, now=now)
        return deliver_due(conn, settings, now=now)


_DUE_REMINDERS = """
SELECT a.id, count(DISTINCT n.event) FILTER (WHERE n.event LIKE 'reminder-%%')
FROM alert a JOIN alert_notification n ON n.alert_id = a.id
WHERE a.status = 'open' AND a.acknowledged_at IS NULL AND a.severity IN ('warning', 'critical')
GROUP BY a.id
HAVING max(n.created_at) <= %(due_before)s
   AND bool_or(n.event = 'opened' AND n.sent_at IS NOT NULL)
ORDER BY a.id
"""


def queue_due_reminders(conn: psycopg.Connection, settings: Settings, *, now: datetime | None = None) -> int:
    """Queue a reminder for each open, unacknowledged alert whose last notice is old enough; no commit.

    Only alerts whose opening notice reached somebody are reminded of (a channel that is off
    would only close the reminder's rows again). Returns the number of rows queued.
    """
    if settings.alert_reminder_interval_h <= 0:
        return 0
    moment = _now(now)
    due_before = moment - timedelta(hours=settings.alert_reminder_interval_h)
    queued = 0
    for alert_id, reminders in conn.execute(_DUE_REMINDERS, {"due_before": due_before}).fetchall():
        queued += queue_alert_event(conn, alert_id, f"reminder-{reminders + 1}", settings, now=moment)
    if queued:
        log.info("alert reminders: %d notice(s) queued", queued)
    return queued


_QUEUE = """
INSERT INTO alert_notification (alert_id, event, channel, target, created_at, next_attempt_at)
SELECT %(alert_id)s, %(event)s, rc.channel, rc.target, %(now)s, %(now)s
FROM alert_recipient rc WHERE rc.building_id = %(building_id)s
UNION ALL
SELECT %(alert_id)s, %(event)s, 'mqtt', %(topic)s, %(now)s, %(now)s WHERE %(with_mqtt)s
ON CONFLICT DO NOTHING
"""


def queue_alert_event(conn: psycopg.Connection, alert_id: int, event: str, settings: Settings, *,
                      now: datetime | None = None, with_mqtt: bool = True) -> int:
    """Write the outbox rows of one alert event (each recipient of its building, plus the MQTT topic); no commit."""
    if not is_event(event):
        raise ValueError(f"unknown event {event!r} (expected opened, resolved or reminder-N)")
    found = conn.execute(
        """SELECT b.id, r.code, b.code FROM alert a JOIN meter m ON m.id = a.meter_id
           LEFT JOIN dwelling d ON d.id = coalesce(a.dwelling_id, m.dwelling_id)
           JOIN building b ON b.id = coalesce(a.building_id, d.building_id, m.building_id)
           JOIN residence r ON r.id = b.residence_id WHERE a.id = %s""", (alert_id,)).fetchone()
    if found is None:
        return 0
    building_id, residence_code, building_code = found
    cursor = conn.execute(_QUEUE, {
        "alert_id": alert_id, "event": event, "now": _now(now), "with_mqtt": with_mqtt,
        "building_id": building_id, "topic": alert_topic(settings, residence_code, building_code),
    })
    return cursor.rowcount
