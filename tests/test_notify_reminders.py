"""Reminders for open alerts nobody has acknowledged: sent on schedule, once each, stopped by acknowledging."""

from __future__ import annotations

import json
from datetime import timedelta

import psycopg
import pytest

from analytics.notify.messages import build_payload, event_kind, headline
from analytics.notify.outbox import deliver_pending, queue_due_reminders
from coopwatt.settings import Settings
from tests import test_notify_outbox
from tests.test_notify_outbox import (
    MANAGER_A_EN,
    MANAGER_A_FR,
    T0,
    Mailbox,
    Receiver,
    deliver,
    open_alert,
    outbox,
    queue_event,
    resolve_alert,
    seed,
    with_alerts,
)

# The outbox tests' real local SMTP server and HTTP receiver, as fixtures of this module too.
smtp = test_notify_outbox.smtp
receiver = test_notify_outbox.receiver

HOUR = timedelta(hours=1)


def _mail_config(settings: Settings, port: int, **overrides: object) -> Settings:
    return with_alerts(settings, smtp_host="127.0.0.1", smtp_port=port, smtp_security="none",
                       smtp_from="coopwatt <alertes@coop.example>", **overrides)


def _queue_reminders(url: str, config: Settings, at: object) -> int:
    with psycopg.connect(url) as conn:
        return queue_due_reminders(conn, config, now=at)  # type: ignore[arg-type]


def _acknowledge(url: str, alert: int, at: object) -> None:
    with psycopg.connect(url) as conn:
        conn.execute("UPDATE alert SET acknowledged_at = %s WHERE id = %s", (at, alert))


def test_an_unacknowledged_alert_is_reminded_every_interval_until_acknowledged(
        settings: Settings, smtp: tuple[Mailbox, int]) -> None:
    mailbox, port = smtp
    url = settings.database_url
    assert url
    config = _mail_config(settings, port, alert_reminder_interval_h=24)
    site = seed(url)
    alert = open_alert(url, site.water_meter_a, site.dwelling_a, site.building_a)
    queue_event(url, config, alert, "opened", T0)
    assert deliver(url, config, T0).sent == 2

    assert _queue_reminders(url, config, T0 + 23 * HOUR) == 0  # not yet
    first = deliver_pending(url, config, now=T0 + 24 * HOUR)  # the scheduler's job queues, then sends
    assert first.sent == 3  # both managers, and the building's MQTT alert topic
    assert deliver_pending(url, config, now=T0 + 30 * HOUR).handled == 0  # the last notice is 6 hours old
    assert deliver_pending(url, config, now=T0 + 48 * HOUR).sent == 3
    fr, en = mailbox.to(MANAGER_A_FR), mailbox.to(MANAGER_A_EN)
    assert len(fr) == 3 and len(en) == 3
    assert fr[1]["Subject"].startswith("[coopwatt] Rappel : fuite d'eau probable")
    assert en[2]["Subject"].startswith("[coopwatt] Reminder: probable water leak")
    assert "L'eau coule en continu depuis lundi 23 novembre à 03:00" in fr[1].get_body(("plain",)).get_content()
    assert len({m["Message-ID"] for m in fr + en}) == 6  # each reminder is its own message
    events = {key[1] for key in outbox(url)}
    assert events == {"opened", "reminder-1", "reminder-2"}

    _acknowledge(url, alert, T0 + 50 * HOUR)
    assert _queue_reminders(url, config, T0 + 100 * HOUR) == 0
    assert deliver_pending(url, config, now=T0 + 100 * HOUR).handled == 0
    assert len(mailbox.to(MANAGER_A_FR)) == 3


def test_a_reminder_caught_by_acknowledgement_or_resolution_is_not_sent(
        settings: Settings, receiver: tuple[Receiver, str]) -> None:
    state, hook_url = receiver
    url = settings.database_url
    assert url
    config = with_alerts(settings, alert_reminder_interval_h=12)
    site = seed(url, webhook_url=hook_url)
    acknowledged = open_alert(url, site.water_meter_a, site.dwelling_a, site.building_a)
    resolved = open_alert(url, site.water_meter_a, site.dwelling_a, site.building_a, kind="meter_silent")
    for alert in (acknowledged, resolved):
        queue_event(url, config, alert, "opened", T0)
    deliver(url, config, T0)
    assert _queue_reminders(url, config, T0 + 12 * HOUR) > 0  # queued, not yet sent (e-mail is off: webhook only)
    _acknowledge(url, acknowledged, T0 + 12 * HOUR + timedelta(seconds=5))
    resolve_alert(url, resolved, T0 + 12 * HOUR + timedelta(seconds=5))
    deliver(url, config, T0 + 12 * HOUR + timedelta(minutes=1))
    rows = outbox(url)
    assert "no more reminders" in rows[(acknowledged, "reminder-1", "webhook", hook_url)]["last_error"]
    assert "resolved" in rows[(resolved, "reminder-1", "webhook", hook_url)]["last_error"]
    assert [json.loads(body)["event"] for status, _, body in state.received if status == 200] == ["opened", "opened"]


def test_no_reminder_when_switched_off_for_info_alerts_or_when_nobody_was_told(
        settings: Settings, smtp: tuple[Mailbox, int]) -> None:
    _, port = smtp
    url = settings.database_url
    assert url
    site = seed(url)
    alert = open_alert(url, site.water_meter_a, site.dwelling_a, site.building_a)
    off = _mail_config(settings, port, alert_reminder_interval_h=0)
    queue_event(url, off, alert, "opened", T0)
    deliver(url, off, T0)
    assert _queue_reminders(url, off, T0 + 1000 * HOUR) == 0
    with psycopg.connect(url) as conn:
        conn.execute("UPDATE alert SET severity = 'info' WHERE id = %s", (alert,))
    assert _queue_reminders(url, _mail_config(settings, port), T0 + 1000 * HOUR) == 0
    # An alert whose opening never reached anybody (the e-mail channel was off) gets no reminder either.
    other = open_alert(url, site.meter_b, site.dwelling_b, site.building_b)
    queue_event(url, with_alerts(settings), other, "opened", T0)
    deliver(url, with_alerts(settings), T0)
    assert _queue_reminders(url, _mail_config(settings, port), T0 + 1000 * HOUR) == 0


@pytest.mark.parametrize(("event", "kind"), [("opened", "opened"), ("resolved", "resolved"),
                                             ("reminder-1", "reminder"), ("reminder-12", "reminder"),
                                             ("reminder-0", "reminder-0"), ("reminder-x", "reminder-x")])
def test_event_kinds(event: str, kind: str) -> None:
    assert event_kind(event) == kind


def test_a_reminder_payload_says_which_reminder_and_reads_like_the_opening() -> None:
    from tests.test_notify_messages import PARIS, facts

    alert = facts("water_leak")
    payload = build_payload(alert, "reminder-2", PARIS)
    assert payload["event"] == "reminder" and payload["reminder"] == 2 and payload["alert"]["status"] == "open"
    assert payload["message"]["fr"]["subject"].startswith("[coopwatt] Rappel : ")
    assert headline(alert, "reminder-2", "fr", PARIS) == headline(alert, "opened", "fr", PARIS)
    assert "reminder" not in build_payload(alert, "opened", PARIS)
    with pytest.raises(ValueError):
        build_payload(alert, "reminder-0", PARIS)
