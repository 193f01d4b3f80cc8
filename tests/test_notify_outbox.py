"""Alert notifications delivered from the outbox through real servers: SMTP (aiosmtpd), HTTP, MQTT.

Time is driven with deliver_due's ``now`` argument, never with sleeps.
"""

from __future__ import annotations

import email
import email.policy
import http.server
import json
import queue
import shutil
import ssl
import subprocess
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import psycopg
import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from paho.mqtt.enums import CallbackAPIVersion

from analytics.notify.outbox import DeliveryStats, deliver_due, deliver_pending, queue_alert_event, retry_delay
from coopwatt.settings import Settings, SettingsError, load_settings
from tests.conftest import IN_CI, Broker
from tests.mqtt_tools import free_port
from tests.factories import consent_to_all

T0 = datetime(2026, 11, 24, 6, 0, tzinfo=timezone.utc)
MANAGER_A_FR = "gestion-a@coop.example"
MANAGER_A_EN = "manager-a@coop.example"
MANAGER_B = "gestion-b@coop.example"


# --- real servers --------------------------------------------------------------------------------

class Mailbox:
    """An aiosmtpd handler that keeps every message it accepts."""

    def __init__(self) -> None:
        self.messages: list[tuple[list[str], EmailMessage]] = []
        self.unknown: set[str] = set()  # addresses this server refuses for good (550)
        self._lock = threading.Lock()

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str,  # noqa: N802
                          rcpt_options: list[str]) -> str:
        if address in self.unknown:
            return "550 5.1.1 No such mailbox"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802 - aiosmtpd's hook name
        parsed = email.message_from_bytes(envelope.original_content or envelope.content, policy=email.policy.default)
        with self._lock:
            self.messages.append((list(envelope.rcpt_tos), parsed))  # type: ignore[arg-type]
        return "250 Message accepted"

    def to(self, address: str) -> list[EmailMessage]:
        with self._lock:
            return [message for rcpt, message in self.messages if address in rcpt]


@pytest.fixture
def smtp() -> Iterator[tuple[Mailbox, int]]:
    """A real SMTP server on a free local port."""
    mailbox = Mailbox()
    port = free_port()
    controller = Controller(mailbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield mailbox, port
    finally:
        controller.stop()


@dataclass
class Receiver:
    """What the HTTP receiver was sent, and the statuses it will answer with (then 200)."""

    answers: list[int] = field(default_factory=list)
    received: list[tuple[int, dict[str, str], bytes]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)


@pytest.fixture
def receiver() -> Iterator[tuple[Receiver, str]]:
    """A real HTTP server in a thread that records each POST."""
    state = Receiver()

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 - http.server's hook name
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            with state.lock:
                status = state.answers.pop(0) if state.answers else 200
                state.received.append((status, dict(self.headers), body))
            self.send_response(status)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - keep test output quiet
            return

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state, f"http://127.0.0.1:{server.server_address[1]}/hooks/coopwatt"
    finally:
        server.shutdown()
        server.server_close()


# --- data ----------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Site:
    """Ids of the seeded residence: two buildings, one dwelling and meter each."""

    building_a: int
    building_b: int
    water_meter_a: int
    dwelling_a: int
    meter_b: int
    dwelling_b: int


def seed(url: str, webhook_url: str | None = None) -> Site:
    """Residence TIL, buildings A and B; managers per building (A: French and English e-mail, webhook)."""
    with psycopg.connect(url) as conn:
        residence = conn.execute("INSERT INTO residence (code, name) VALUES ('TIL', 'Les Tilleuls') RETURNING id"
                                 ).fetchone()[0]
        ids = {}
        for code in ("A", "B"):
            building = conn.execute("INSERT INTO building (residence_id, code) VALUES (%s, %s) RETURNING id",
                                    (residence, code)).fetchone()[0]
            dwelling = conn.execute(
                "INSERT INTO dwelling (building_id, code, floor_area_m2, heating_type) VALUES (%s, %s, 62, 'gas')"
                " RETURNING id", (building, f"{code}-12")).fetchone()[0]
            consent_to_all(conn, dwelling)
            meter = conn.execute(
                "INSERT INTO meter (dwelling_id, kind, mode, source) VALUES (%s, 'water', 'index', %s) RETURNING id",
                (dwelling, f"water-{code}-12")).fetchone()[0]
            ids[code] = (building, dwelling, meter)
        recipients = [(ids["A"][0], "email", MANAGER_A_FR, "fr"), (ids["A"][0], "email", MANAGER_A_EN, "en"),
                      (ids["B"][0], "email", MANAGER_B, "fr")]
        if webhook_url:
            recipients.append((ids["A"][0], "webhook", webhook_url, "fr"))
        for row in recipients:
            conn.execute("INSERT INTO alert_recipient (building_id, channel, target, language) VALUES (%s, %s, %s, %s)",
                         row)
    return Site(ids["A"][0], ids["B"][0], ids["A"][2], ids["A"][1], ids["B"][2], ids["B"][1])


def open_alert(url: str, meter_id: int, dwelling_id: int, building_id: int, *, kind: str = "water_leak") -> int:
    """An open alert as the analytics job writes it."""
    evidence = {"hours": 26.0, "volume_m3": 0.8, "min_flow_l_per_h": 12.0, "leak_m3_per_year": 105.1}
    with psycopg.connect(url) as conn:
        return conn.execute(
            "INSERT INTO alert (kind, severity, meter_id, dwelling_id, building_id, started_at, detected_at, evidence)"
            " VALUES (%s, 'critical', %s, %s, %s, %s, %s, %s) RETURNING id",
            (kind, meter_id, dwelling_id, building_id, T0 - timedelta(hours=28), T0, json.dumps(evidence)),
        ).fetchone()[0]


def resolve_alert(url: str, alert_id: int, at: datetime) -> None:
    with psycopg.connect(url) as conn:
        conn.execute("UPDATE alert SET status = 'resolved', resolved_at = %s, ended_at = %s WHERE id = %s",
                     (at, at, alert_id))


def queue_event(url: str, settings: Settings, alert_id: int, event: str, at: datetime, *, with_mqtt: bool = False) -> int:
    with psycopg.connect(url) as conn:
        return queue_alert_event(conn, alert_id, event, settings, now=at, with_mqtt=with_mqtt)


def insert_row(url: str, alert_id: int, event: str, channel: str, target: str, at: datetime) -> None:
    """An outbox row written directly, as another writer of the outbox would."""
    with psycopg.connect(url) as conn:
        conn.execute("INSERT INTO alert_notification (alert_id, event, channel, target, next_attempt_at)"
                     " VALUES (%s, %s, %s, %s, %s)", (alert_id, event, channel, target, at))


def outbox(url: str) -> dict[tuple[int, str, str, str], dict[str, Any]]:
    with psycopg.connect(url) as conn:
        rows = conn.execute("SELECT alert_id, event, channel, target, attempts, next_attempt_at, sent_at, gave_up_at,"
                            " last_error FROM alert_notification").fetchall()
    return {row[:4]: {"attempts": row[4], "next_attempt_at": row[5], "sent_at": row[6], "gave_up_at": row[7],
                      "last_error": row[8]} for row in rows}


def deliver(url: str, settings: Settings, now: datetime) -> DeliveryStats:
    with psycopg.connect(url, autocommit=True) as conn:
        return deliver_due(conn, settings, now=now)


def with_alerts(settings: Settings, **overrides: Any) -> Settings:
    """The test's settings plus alert settings, validated like the real ones."""
    return load_settings({}, **(settings.model_dump(exclude_unset=True) | overrides))


# --- tests ---------------------------------------------------------------------------------------

def test_email_opened_and_resolved_once_each_in_the_recipients_language(
        settings: Settings, smtp: tuple[Mailbox, int]) -> None:
    """French and English managers each get the opening and the resolution once, however often delivery runs."""
    mailbox, port = smtp
    url = settings.database_url
    assert url
    config = with_alerts(settings, smtp_host="127.0.0.1", smtp_port=port, smtp_security="none",
                         smtp_from="coopwatt <alertes@coop.example>")
    site = seed(url)
    alert = open_alert(url, site.water_meter_a, site.dwelling_a, site.building_a)
    assert queue_event(url, config, alert, "opened", T0) == 2

    first = deliver(url, config, T0)
    again = deliver(url, config, T0 + timedelta(minutes=1))
    assert (first.sent, again.handled) == (2, 0)
    fr, en = mailbox.to(MANAGER_A_FR), mailbox.to(MANAGER_A_EN)
    assert len(fr) == 1 and len(en) == 1
    assert fr[0]["Subject"].startswith("[coopwatt] Urgent : fuite d'eau probable") and "A-12" in fr[0]["Subject"]
    assert en[0]["Subject"].startswith("[coopwatt] Urgent: probable water leak")
    fr_text = fr[0].get_body(("plain",)).get_content()
    en_text = en[0].get_body(("plain",)).get_content()
    assert "L'eau coule en continu depuis lundi 23 novembre à 03:00 dans le logement A-12, bâtiment A." in fr_text
    assert "Water has been running continuously since Monday 23 November at 03:00" in en_text
    assert "105\u202fm³" in fr_text and "105 m³" in en_text
    assert fr[0].get_body(("html",)) is not None and fr[0]["From"] == "coopwatt <alertes@coop.example>"
    assert mailbox.to(MANAGER_B) == []

    resolve_alert(url, alert, T0 + timedelta(hours=3))
    queue_event(url, config, alert, "resolved", T0 + timedelta(hours=3))
    queue_event(url, config, alert, "resolved", T0 + timedelta(hours=3))  # a job re-run queues nothing new
    # Two workers at once, then a third round: still one resolution e-mail per manager.
    start = threading.Barrier(2)
    results: list[DeliveryStats] = []

    def worker() -> None:
        start.wait()
        results.append(deliver(url, config, T0 + timedelta(hours=3, minutes=1)))

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert sum(result.sent for result in results) == 2
    assert deliver(url, config, T0 + timedelta(hours=4)).handled == 0
    fr, en = mailbox.to(MANAGER_A_FR), mailbox.to(MANAGER_A_EN)
    assert len(fr) == 2 and len(en) == 2
    assert fr[1]["Subject"].startswith("[coopwatt] Terminé : fuite d'eau probable")
    assert en[1]["Subject"].startswith("[coopwatt] Resolved: probable water leak")
    assert "mardi 24 novembre à 10:00" in fr[1].get_body(("plain",)).get_content()
    assert len({message["Message-ID"] for message in fr + en}) == 4
    assert all(row["sent_at"] is not None and row["attempts"] == 1 for row in outbox(url).values())


def test_two_workers_at_once_send_each_row_once(settings: Settings, smtp: tuple[Mailbox, int]) -> None:
    """FOR UPDATE SKIP LOCKED: concurrent rounds over many due rows never send one twice."""
    mailbox, port = smtp
    url = settings.database_url
    assert url
    config = with_alerts(settings, smtp_host="127.0.0.1", smtp_port=port, smtp_security="none",
                         smtp_from="alertes@coop.example")
    site = seed(url)
    alerts = [open_alert(url, site.water_meter_a, site.dwelling_a, site.building_a, kind=kind)
              for kind in ("water_leak", "meter_silent", "frozen_index", "spike", "counter_reset")]
    for alert in alerts:
        queue_event(url, config, alert, "opened", T0)
    start = threading.Barrier(3)
    results: list[DeliveryStats] = []

    def worker() -> None:
        start.wait()
        results.append(deliver(url, config, T0))

    threads = [threading.Thread(target=worker) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert sum(result.sent for result in results) == 10
    received = [(message["To"], message["Message-ID"]) for _, message in mailbox.messages]
    assert len(received) == 10 and len(set(received)) == 10


def test_webhook_retried_with_back_off_and_delivered_once(settings: Settings, receiver: tuple[Receiver, str]) -> None:
    """500, 500, then 200: retried at base × 2^n, delivered once, same delivery id each time."""
    state, hook_url = receiver
    state.answers = [500, 500]
    url = settings.database_url
    assert url
    config = with_alerts(settings, alert_retry_base_s=60, alert_retry_max_s=3600, alert_max_attempts=5)
    site = seed(url, webhook_url=hook_url)
    alert = open_alert(url, site.water_meter_a, site.dwelling_a, site.building_a)
    insert_row(url, alert, "opened", "webhook", hook_url, T0)
    key = (alert, "opened", "webhook", hook_url)

    assert deliver(url, config, T0).retrying == 1
    row = outbox(url)[key]
    assert (row["attempts"], row["next_attempt_at"], row["sent_at"]) == (1, T0 + timedelta(seconds=60), None)
    assert "HTTP 500" in row["last_error"]
    assert deliver(url, config, T0 + timedelta(seconds=59)).handled == 0  # not due yet
    assert len(state.received) == 1

    second = T0 + timedelta(seconds=60)
    assert deliver(url, config, second).retrying == 1
    assert outbox(url)[key]["next_attempt_at"] == second + timedelta(seconds=120)
    assert deliver(url, config, second + timedelta(seconds=119)).handled == 0

    third = second + timedelta(seconds=120)
    assert deliver(url, config, third).sent == 1
    assert deliver(url, config, third + timedelta(days=1)).handled == 0
    row = outbox(url)[key]
    assert row["sent_at"] == third and row["attempts"] == 3
    assert [status for status, _, _ in state.received] == [500, 500, 200]
    assert len({headers["X-Coopwatt-Delivery"] for _, headers, _ in state.received}) == 1
    payload = json.loads(state.received[-1][2])
    assert payload["event"] == "opened" and payload["alert"]["kind"] == "water_leak"
    assert payload["building"]["code"] == "A" and payload["language"] == "fr"
    assert state.received[-1][1]["Content-Type"].startswith("application/json")


def test_failing_channel_gives_up_and_never_blocks_the_others(
        settings: Settings, smtp: tuple[Mailbox, int]) -> None:
    """A dead webhook is retried up to the limit then kept with its error; the e-mails still go out."""
    mailbox, port = smtp
    url = settings.database_url
    assert url
    dead_hook = f"http://127.0.0.1:{free_port()}/nobody-listens"
    config = with_alerts(settings, smtp_host="127.0.0.1", smtp_port=port, smtp_security="none",
                         smtp_from="alertes@coop.example", alert_max_attempts=3, alert_retry_base_s=60)
    site = seed(url, webhook_url=dead_hook)
    alert = open_alert(url, site.water_meter_a, site.dwelling_a, site.building_a)
    assert queue_event(url, config, alert, "opened", T0) == 3

    first = deliver(url, config, T0)
    assert (first.sent, first.retrying) == (2, 1)
    assert len(mailbox.to(MANAGER_A_FR)) == 1 and len(mailbox.to(MANAGER_A_EN)) == 1
    moment = T0
    for _ in range(2):
        moment = outbox(url)[(alert, "opened", "webhook", dead_hook)]["next_attempt_at"]
        deliver(url, config, moment)
    row = outbox(url)[(alert, "opened", "webhook", dead_hook)]
    assert row["attempts"] == 3 and row["gave_up_at"] == moment and row["sent_at"] is None
    assert row["last_error"].startswith("gave up after 3 attempts: webhook unreachable")
    assert deliver(url, config, moment + timedelta(days=30)).handled == 0


def test_email_channel_off_leaves_rows_pending_with_the_reason(
        settings: Settings, smtp: tuple[Mailbox, int], receiver: tuple[Receiver, str]) -> None:
    """No COOPWATT_SMTP_HOST: e-mail rows are not attempted, so not given up: they wait, saying why, and go
    once SMTP is configured; the webhook goes at once (issue 13, item 7)."""
    mailbox, port = smtp
    state, hook_url = receiver
    url = settings.database_url
    assert url and settings.smtp_host is None
    site = seed(url, webhook_url=hook_url)
    alert = open_alert(url, site.water_meter_a, site.dwelling_a, site.building_a)
    queue_event(url, settings, alert, "opened", T0)
    stats = deliver(url, settings, T0)
    assert (stats.sent, stats.gave_up, stats.retrying, stats.waiting) == (1, 0, 0, 2)
    rows = outbox(url)
    for target in (MANAGER_A_FR, MANAGER_A_EN):
        row = rows[(alert, "opened", "email", target)]
        assert row["gave_up_at"] is None and row["sent_at"] is None and row["attempts"] == 0
        assert "not attempted" in row["last_error"] and "COOPWATT_SMTP_HOST is not set" in row["last_error"]
    assert len(state.received) == 1
    later = deliver(url, settings, T0 + timedelta(days=1))
    assert later.handled == 0 and later.waiting == 2
    config = with_alerts(settings, smtp_host="127.0.0.1", smtp_port=port, smtp_security="none",
                         smtp_from="alertes@coop.example")
    configured = deliver(url, config, T0 + timedelta(days=1))
    assert (configured.sent, configured.waiting) == (2, 0)
    assert len(mailbox.to(MANAGER_A_FR)) == 1 and len(mailbox.to(MANAGER_A_EN)) == 1


def test_mqtt_channel_off_leaves_rows_pending_without_an_attempt(settings: Settings) -> None:
    """No COOPWATT_MQTT_URL: the alert topic's row was marked given up without one attempt; it now waits."""
    url = settings.database_url
    assert url and settings.mqtt_url
    off = settings.model_copy(update={"mqtt_url": None})
    site = seed(url)
    alert = open_alert(url, site.water_meter_a, site.dwelling_a, site.building_a)
    assert queue_event(url, off, alert, "opened", T0, with_mqtt=True) == 3  # two e-mails + the topic
    stats = deliver(url, off, T0)
    assert (stats.sent, stats.gave_up, stats.waiting) == (0, 0, 3)
    (key, row), = [(k, r) for k, r in outbox(url).items() if k[2] == "mqtt"]
    assert row["gave_up_at"] is None and row["sent_at"] is None and row["attempts"] == 0
    assert "COOPWATT_MQTT_URL is not set" in row["last_error"]
    # The broker configured again (these settings): the waiting row goes, the e-mails still wait.
    stats = deliver(url, settings, T0 + timedelta(minutes=5))
    assert (stats.sent, stats.waiting) == (1, 2)
    assert outbox(url)[key]["sent_at"] is not None


def test_a_manager_never_receives_another_buildings_alerts(
        settings: Settings, smtp: tuple[Mailbox, int], receiver: tuple[Receiver, str]) -> None:
    """Recipients are per building: B's alert reaches B's manager only, even if a row wrongly names A's."""
    mailbox, port = smtp
    state, hook_url = receiver
    url = settings.database_url
    assert url
    config = with_alerts(settings, smtp_host="127.0.0.1", smtp_port=port, smtp_security="none",
                         smtp_from="alertes@coop.example")
    site = seed(url, webhook_url=hook_url)
    alert_b = open_alert(url, site.meter_b, site.dwelling_b, site.building_b)
    assert queue_event(url, config, alert_b, "opened", T0) == 1
    # A faulty writer of the outbox addresses B's alert to A's manager and A's webhook.
    insert_row(url, alert_b, "opened", "email", MANAGER_A_FR, T0)
    insert_row(url, alert_b, "opened", "webhook", hook_url, T0)

    stats = deliver(url, config, T0)
    assert (stats.sent, stats.gave_up) == (1, 2)
    assert len(mailbox.to(MANAGER_B)) == 1 and "B-12" in mailbox.to(MANAGER_B)[0]["Subject"]
    assert mailbox.to(MANAGER_A_FR) == [] and mailbox.to(MANAGER_A_EN) == [] and state.received == []
    row = outbox(url)[(alert_b, "opened", "email", MANAGER_A_FR)]
    assert "not a email recipient of building B" in row["last_error"]


def test_acknowledged_alert_gets_no_late_opening_notice_but_its_resolution(
        settings: Settings, receiver: tuple[Receiver, str]) -> None:
    """Acknowledged before its opening notice could go: that notice is dropped; the resolution is still sent."""
    state, hook_url = receiver
    state.answers = [503]
    url = settings.database_url
    assert url
    site = seed(url, webhook_url=hook_url)
    alert = open_alert(url, site.water_meter_a, site.dwelling_a, site.building_a)
    insert_row(url, alert, "opened", "webhook", hook_url, T0)
    assert deliver(url, settings, T0).retrying == 1
    with psycopg.connect(url) as conn:
        conn.execute("UPDATE alert SET acknowledged_at = %s WHERE id = %s", (T0 + timedelta(seconds=30), alert))
    assert deliver(url, settings, T0 + timedelta(hours=1)).gave_up == 1
    assert "acknowledged" in outbox(url)[(alert, "opened", "webhook", hook_url)]["last_error"]
    resolve_alert(url, alert, T0 + timedelta(hours=2))
    insert_row(url, alert, "resolved", "webhook", hook_url, T0 + timedelta(hours=2))
    assert deliver(url, settings, T0 + timedelta(hours=2)).sent == 1
    assert [json.loads(body)["event"] for status, _, body in state.received if status == 200] == ["resolved"]


def test_mqtt_alert_topic_receives_the_json_payload(settings: Settings, broker: Broker, topic_prefix: str) -> None:
    """The alert is published at QoS 1 on <prefix>/coopwatt/alerts/<residence>/<building>, once."""
    url = settings.database_url
    assert url and settings.mqtt_topic_prefix == topic_prefix
    site = seed(url)
    alert = open_alert(url, site.water_meter_a, site.dwelling_a, site.building_a)
    got: queue.Queue[mqtt.MQTTMessage] = queue.Queue()
    subscribed = threading.Event()
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="sub-" + topic_prefix)
    client.on_message = lambda c, u, message: got.put(message)
    client.on_subscribe = lambda c, u, mid, codes, props: subscribed.set()
    client.on_connect = lambda c, u, flags, reason, props: c.subscribe(f"{topic_prefix}/coopwatt/alerts/#", qos=1)
    client.connect(broker.host, broker.port)
    client.loop_start()
    try:
        assert subscribed.wait(10)
        assert queue_event(url, settings, alert, "opened", T0, with_mqtt=True) == 3  # two e-mails + the topic
        stats = deliver(url, settings, T0)
        assert stats.sent == 1 and stats.waiting == 2  # e-mail is off in these settings: those rows wait
        message = got.get(timeout=10)
        assert message.topic == f"{topic_prefix}/coopwatt/alerts/TIL/A" and message.qos == 1
        payload = json.loads(message.payload)
        assert payload["alert"]["id"] == alert and payload["event"] == "opened"
        assert payload["message"]["fr"]["text"].startswith("L'eau coule en continu depuis")
        assert payload["message"]["en"]["text"].startswith("Water has been running continuously since")
        assert outbox(url)[(alert, "opened", "mqtt", "coopwatt/alerts/TIL/A")]["sent_at"] == T0
        assert deliver(url, settings, T0 + timedelta(hours=1)).handled == 0
        with pytest.raises(queue.Empty):
            got.get(timeout=1)
    finally:
        client.loop_stop()
        client.disconnect()


def test_mqtt_broker_down_is_retried(settings: Settings) -> None:
    """An unreachable broker is a failure to retry, not a crash of the round."""
    url = settings.database_url
    assert url
    config = with_alerts(settings, mqtt_url=f"mqtt://127.0.0.1:{free_port()}", alert_send_timeout_s=2)
    site = seed(url)
    alert = open_alert(url, site.water_meter_a, site.dwelling_a, site.building_a)
    insert_row(url, alert, "opened", "mqtt", "coopwatt/alerts/TIL/A", T0)
    insert_row(url, alert, "resolved", "mqtt", "coopwatt/alerts/TIL/A", T0)
    stats = deliver(url, config, T0)
    assert stats.retrying == 2 and stats.sent == 0
    assert all("MQTT broker unreachable" in row["last_error"] for row in outbox(url).values())


def test_deliver_pending_opens_its_own_connection(settings: Settings, receiver: tuple[Receiver, str]) -> None:
    """The scheduler's entry point needs only the URL and the settings."""
    state, hook_url = receiver
    url = settings.database_url
    assert url
    site = seed(url, webhook_url=hook_url)
    alert = open_alert(url, site.water_meter_a, site.dwelling_a, site.building_a)
    insert_row(url, alert, "opened", "webhook", hook_url, datetime.now(timezone.utc) - timedelta(seconds=1))
    assert deliver_pending(url, settings).sent == 1 and len(state.received) == 1


def test_deliver_due_refuses_to_run_inside_a_transaction(settings: Settings) -> None:
    """Rows are committed one by one; inside the caller's transaction they would not be."""
    assert settings.database_url
    with psycopg.connect(settings.database_url) as conn:
        conn.execute("SELECT 1")
        with pytest.raises(ValueError, match="outside a transaction"):
            deliver_due(conn, settings, now=T0)


def test_retry_delay_doubles_and_is_capped(settings: Settings) -> None:
    """base × 2^(attempts − 1), never above the cap."""
    config = with_alerts(settings, alert_retry_base_s=60, alert_retry_max_s=900)
    delays = [retry_delay(n, config).total_seconds() for n in range(1, 7)]
    assert delays == [60, 120, 240, 480, 900, 900]


@pytest.mark.parametrize(("overrides", "named"), [
    ({"smtp_host": "mail.coop.example"}, "COOPWATT_SMTP_FROM"),
    ({"smtp_from": "not an address"}, "COOPWATT_SMTP_FROM"),
    ({"smtp_security": "tls13"}, "COOPWATT_SMTP_SECURITY"),
    ({"smtp_username": None, "smtp_password": "secret-password"}, "COOPWATT_SMTP_USERNAME"),
    ({"alert_mqtt_topic_prefix": "coopwatt/#"}, "COOPWATT_ALERT_MQTT_TOPIC_PREFIX"),
])
def test_alert_settings_are_validated(overrides: dict[str, Any], named: str) -> None:
    """A wrong alert setting stops start-up and names the variable (and never echoes a password)."""
    with pytest.raises(SettingsError, match=named) as caught:
        load_settings({}, **overrides)
    assert "secret-password" not in str(caught.value)


# Plain-text AUTH is fine on loopback in a test; aiosmtpd warns about it.
@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")
def test_smtp_login_failure_is_retried_until_the_password_is_fixed(settings: Settings) -> None:
    """A refused login (535) is retried with back-off; once the operator fixes it, the alert goes out."""
    mailbox = Mailbox()

    def authenticator(server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any) -> AuthResult:
        given = (auth_data.login, auth_data.password) if isinstance(auth_data, LoginPassword) else ()
        ok = tuple(v.decode() if isinstance(v, bytes) else v for v in given) == ("coop", "right")
        return AuthResult(success=ok, handled=False)  # handled=False: aiosmtpd answers 535 itself

    port = free_port()
    controller = Controller(mailbox, hostname="127.0.0.1", port=port, authenticator=authenticator,
                            auth_required=True, auth_require_tls=False)
    controller.start()
    try:
        url = settings.database_url
        assert url
        base = dict(smtp_host="127.0.0.1", smtp_port=port, smtp_security="none", smtp_from="alertes@coop.example",
                    smtp_username="coop")
        site = seed(url)
        alert = open_alert(url, site.water_meter_a, site.dwelling_a, site.building_a)
        insert_row(url, alert, "opened", "email", MANAGER_A_EN, T0)
        assert deliver(url, with_alerts(settings, **base, smtp_password="wrong"), T0).retrying == 1
        row = outbox(url)[(alert, "opened", "email", MANAGER_A_EN)]
        assert "535" in row["last_error"] and row["gave_up_at"] is None and mailbox.messages == []
        assert deliver(url, with_alerts(settings, **base, smtp_password="right"), row["next_attempt_at"]).sent == 1
        assert len(mailbox.to(MANAGER_A_EN)) == 1
    finally:
        controller.stop()


def test_smtp_unknown_recipient_is_given_up_at_once(settings: Settings, smtp: tuple[Mailbox, int]) -> None:
    """A 550 for one address closes that row only; the other manager still gets the e-mail."""
    mailbox, port = smtp
    mailbox.unknown.add(MANAGER_A_FR)
    url = settings.database_url
    assert url
    config = with_alerts(settings, smtp_host="127.0.0.1", smtp_port=port, smtp_security="none",
                         smtp_from="alertes@coop.example")
    site = seed(url)
    alert = open_alert(url, site.water_meter_a, site.dwelling_a, site.building_a)
    queue_event(url, config, alert, "opened", T0)
    stats = deliver(url, config, T0)
    assert (stats.sent, stats.gave_up, stats.retrying) == (1, 1, 0)
    row = outbox(url)[(alert, "opened", "email", MANAGER_A_FR)]
    assert row["gave_up_at"] == T0 and "550" in row["last_error"]
    assert len(mailbox.to(MANAGER_A_EN)) == 1 and mailbox.to(MANAGER_A_FR) == []


@pytest.fixture
def tls_files(tmp_path: Any) -> tuple[str, str]:
    """A self-signed certificate for 127.0.0.1 (openssl), as (certificate, key) paths."""
    openssl = shutil.which("openssl")
    if openssl is None:
        if IN_CI:
            pytest.fail("openssl is needed to make a test certificate")
        pytest.skip("openssl is not installed")
    cert, key = tmp_path / "smtp.pem", tmp_path / "smtp.key"
    subprocess.run([openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=127.0.0.1",
                    "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", str(key), "-out", str(cert)],
                   check=True, capture_output=True)
    return str(cert), str(key)


@pytest.mark.parametrize("security", ["starttls", "ssl"])
def test_email_over_tls_verifies_the_server(settings: Settings, tls_files: tuple[str, str], security: str,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    """STARTTLS and implicit TLS: delivered when the server's certificate is trusted, retried when it is not."""
    cert, key = tls_files
    server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_context.load_cert_chain(cert, key)
    mailbox = Mailbox()
    port = free_port()
    if security == "ssl":
        controller = Controller(mailbox, hostname="127.0.0.1", port=port, ssl_context=server_context)
    else:
        controller = Controller(mailbox, hostname="127.0.0.1", port=port, tls_context=server_context,
                                require_starttls=True)
    controller.start()
    try:
        url = settings.database_url
        assert url
        config = with_alerts(settings, smtp_host="127.0.0.1", smtp_port=port, smtp_security=security,
                             smtp_from="alertes@coop.example")
        site = seed(url)
        alert = open_alert(url, site.water_meter_a, site.dwelling_a, site.building_a)
        insert_row(url, alert, "opened", "email", MANAGER_A_FR, T0)
        # Not trusted yet: the certificate check fails and the row waits for a retry.
        monkeypatch.setenv("SSL_CERT_FILE", str(Path(cert).with_name("nobody.pem")))
        assert deliver(url, config, T0).retrying == 1
        row = outbox(url)[(alert, "opened", "email", MANAGER_A_FR)]
        assert "CERTIFICATE_VERIFY_FAILED" in row["last_error"] and mailbox.messages == []
        # Trusted (OpenSSL's default verify paths honour SSL_CERT_FILE): delivered.
        monkeypatch.setenv("SSL_CERT_FILE", cert)
        assert deliver(url, config, row["next_attempt_at"]).sent == 1
        assert len(mailbox.to(MANAGER_A_FR)) == 1
    finally:
        controller.stop()
