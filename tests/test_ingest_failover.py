"""Shared-group failover: an ingester killed for good holds no readings for long, and none is lost.

Two real ingesters (``coopwatt ingest`` processes) share one MQTT 5 group on a Mosquitto of the
test's own with the deploy's limits. One is SIGKILLed mid-stream and not restarted: the broker
goes on routing every second reading to its session; the survivor takes that session over once
the failover delay has passed (ingest/failover.py) and stores what was queued and in flight.
"""

from __future__ import annotations

import itertools
import signal
import threading
import time
from datetime import timedelta
from pathlib import Path

import pytest

from coopwatt.settings import Settings, load_settings
from ingest.batch import Message
from ingest.failover import Failover, sessions_to_adopt
from ingest.inbox import Inbox
from ingest.metrics import IngestMetrics
from ingest.presence import parse_presence, presence_for
from ingest.subscriber import Subscriber
from tests.factories import index_stream, make_meters
from tests.ingest_group import (
    FAILOVER_AFTER_S,
    TAKEOVER_BOUND_S,
    GroupIngester,
    assert_stored_exactly,
    group_settings,
    six_meters_two_days,
)
from tests.mqtt_tools import MosquittoServer, ReliablePublisher
from tests.test_ingest_service import (
    START,
    count,
    expected_keys,
    private_broker,
    stored,
    wait_until,
)

__all__ = ["private_broker"]  # the fixture, imported for the tests below



def _publish_in_background(publisher: ReliablePublisher, messages: list[tuple[str, bytes]]) -> threading.Event:
    done = threading.Event()
    threading.Thread(target=lambda: (publisher.publish_all(messages), done.set()), daemon=True).start()
    return done


@pytest.mark.slow
def test_a_killed_member_holds_no_readings_for_long_and_loses_none(
        settings: Settings, private_broker: MosquittoServer, topic_prefix: str, tmp_path: Path) -> None:
    """SIGKILL one of two ingesters mid-stream, never restart it: every reading is stored within the bound."""
    sources = [f"f{i}" for i in range(10)]
    ids = make_meters(settings.database_url, sources)
    before = index_stream(sources, START, 600, prefix=topic_prefix)  # 6,000, in flight at the kill
    after = index_stream(sources, START + timedelta(days=1), 300, prefix=topic_prefix)  # 3,000 published after
    cfg = group_settings(settings, private_broker, topic_prefix)
    # The victim has the smaller client id: the survivor is then the only candidate, as in a pair.
    victim = GroupIngester(cfg, f"{topic_prefix}-1", tmp_path)
    survivor = GroupIngester(cfg, f"{topic_prefix}-2", tmp_path)
    publisher = ReliablePublisher("127.0.0.1", private_broker.port, max_outstanding=500)
    try:
        done = _publish_in_background(publisher, [(t, p) for t, p, _, _ in before])
        wait_until(lambda: count(cfg.database_url) >= 1000, 120, "a first part to be stored")
        victim.process.send_signal(signal.SIGKILL)
        victim.process.wait(10)
        killed_at = time.monotonic()
        wait_until(done.is_set, 300, "the publisher to finish the first stream")
        publisher.publish_all([(t, p) for t, p, _, _ in after])
        wait_until(lambda: count(cfg.database_url) >= len(before) + len(after), TAKEOVER_BOUND_S,
                   "every reading, the dead member's share included, to be stored",
                   lambda: survivor.account(cfg.database_url))
        all_stored_s = time.monotonic() - killed_at
        held = survivor.health().get("sessions_held")
    finally:
        publisher.close()
        survivor.stop()
    assert_stored_exactly(cfg.database_url, before + after, ids)
    assert held == [victim.client_id]
    print(f"failover: every reading stored {all_stored_s:.1f} s after the SIGKILL "
          f"(COOPWATT_MQTT_FAILOVER_AFTER_S={FAILOVER_AFTER_S})")


@pytest.mark.slow
def test_a_member_that_comes_back_takes_its_session_over_and_the_survivor_lets_go(
        settings: Settings, private_broker: MosquittoServer, topic_prefix: str, tmp_path: Path) -> None:
    """After a takeover, the killed member restarts: it gets its session back, no tug of war, nothing lost."""
    ids, first, second = six_meters_two_days(settings, topic_prefix, "r")
    cfg = group_settings(settings, private_broker, topic_prefix)
    victim = GroupIngester(cfg, f"{topic_prefix}-1", tmp_path)
    survivor = GroupIngester(cfg, f"{topic_prefix}-2", tmp_path)
    publisher = ReliablePublisher("127.0.0.1", private_broker.port)
    back = None
    try:
        victim.process.send_signal(signal.SIGKILL)
        victim.process.wait(10)
        publisher.publish_all([(t, p) for t, p, _, _ in first])
        wait_until(lambda: survivor.health().get("sessions_held") == [victim.client_id], TAKEOVER_BOUND_S,
                   "the survivor to take the dead member's session over")
        wait_until(lambda: count(cfg.database_url) >= len(first), TAKEOVER_BOUND_S, "the first stream",
                   lambda: survivor.account(cfg.database_url))
        back = GroupIngester(cfg, victim.client_id, tmp_path)
        wait_until(lambda: survivor.health().get("sessions_held") == [], 30, "the survivor to let the session go")
        publisher.publish_all([(t, p) for t, p, _, _ in second])
        wait_until(lambda: count(cfg.database_url) >= len(first) + len(second), 60, "the second stream",
                   lambda: survivor.account(cfg.database_url))
        # Still the member's own connection (not taken back by the survivor), and it does its share.
        assert back.health().get("subscribed") is True
        assert survivor.health().get("sessions_held") == []
    finally:
        publisher.close()
        survivor.stop()
        if back is not None:
            back.stop()
    assert stored(cfg.database_url) == expected_keys(first + second, ids)


@pytest.mark.slow
def test_a_member_stopped_for_good_is_taken_over_too(
        settings: Settings, private_broker: MosquittoServer, topic_prefix: str, tmp_path: Path) -> None:
    """A clean stop (SIGTERM) that is not followed by a start: its share is stored by the survivor."""
    sources = [f"t{i}" for i in range(6)]
    ids = make_meters(settings.database_url, sources)
    stream = index_stream(sources, START, 300, prefix=topic_prefix)
    cfg = group_settings(settings, private_broker, topic_prefix)
    stopped = GroupIngester(cfg, f"{topic_prefix}-1", tmp_path)
    survivor = GroupIngester(cfg, f"{topic_prefix}-2", tmp_path)
    try:
        stopped.stop()
        publisher = ReliablePublisher("127.0.0.1", private_broker.port)
        publisher.publish_all([(t, p) for t, p, _, _ in stream])
        publisher.close()
        wait_until(lambda: count(cfg.database_url) >= len(stream), TAKEOVER_BOUND_S,
                   "every reading, the stopped member's share included",
                   lambda: survivor.account(cfg.database_url))
        assert survivor.health().get("sessions_held") == [stopped.client_id]
    finally:
        survivor.stop()
    assert stored(cfg.database_url) == expected_keys(stream, ids)


@pytest.mark.slow
def test_a_held_session_is_taken_over_again_after_a_broker_restart(
        settings: Settings, private_broker: MosquittoServer, topic_prefix: str, tmp_path: Path) -> None:
    """The survivor holds a dead member's session; the broker restarts: it holds it again, nothing waits or is lost."""
    ids, first, second = six_meters_two_days(settings, topic_prefix, "b")
    cfg = group_settings(settings, private_broker, topic_prefix)
    victim = GroupIngester(cfg, f"{topic_prefix}-1", tmp_path)
    survivor = GroupIngester(cfg, f"{topic_prefix}-2", tmp_path)
    try:
        victim.process.send_signal(signal.SIGKILL)
        victim.process.wait(10)
        wait_until(lambda: survivor.health().get("sessions_held") == [victim.client_id], TAKEOVER_BOUND_S,
                   "the survivor to take the dead member's session over")
        publisher = ReliablePublisher("127.0.0.1", private_broker.port)
        publisher.publish_all([(t, p) for t, p, _, _ in first])
        publisher.close()
        private_broker.restart(down_s=1.0)
        wait_until(lambda: survivor.health().get("sessions_held") == [victim.client_id], TAKEOVER_BOUND_S,
                   "the survivor to hold the session again after the restart")
        # Maybe before the survivor has subscribed again: what no one's subscription took, the restart
        # guard did (ingest/restart_guard.py).
        publisher = ReliablePublisher("127.0.0.1", private_broker.port)
        publisher.publish_all([(t, p) for t, p, _, _ in second])
        publisher.close()
        wait_until(lambda: count(cfg.database_url) >= len(first) + len(second), TAKEOVER_BOUND_S,
                   "both streams, the dead member's share included", lambda: survivor.account(cfg.database_url))
        wait_until(lambda: survivor.health().get("restart_guard") == "caught up", TAKEOVER_BOUND_S,
                   "the survivor to hold the group's restart guard")
    finally:
        survivor.stop()
    assert stored(cfg.database_url) == expected_keys(first + second, ids)


@pytest.mark.slow
def test_a_held_session_ended_after_the_presence_came_is_held_again(
        private_broker: MosquittoServer, topic_prefix: str, tmp_path: Path) -> None:
    """The broker restarts and no presence follows the holder's end (it came first): held again after the delay."""
    group = load_settings({}, mqtt_url=private_broker.url, mqtt_topic_prefix=topic_prefix,
                          mqtt_shared_group=f"g-{topic_prefix}", mqtt_failover_after_s=1, data_dir=tmp_path)
    member = group.model_copy(update={"mqtt_client_id": f"{topic_prefix}-1"})
    survivor = group.model_copy(update={"mqtt_client_id": f"{topic_prefix}-2"})
    # The member's persistent session on the broker, then the member gone.
    gone = Subscriber(member, private_broker.url, Inbox(100, 10), IngestMetrics(), presence=presence_for(member))
    gone.start()
    assert gone.subscribed.wait(30)
    gone.stop()
    inbox: Inbox[Message] = Inbox(1000, 100)
    presence = presence_for(survivor)
    assert presence is not None
    failover = Failover(survivor, private_broker.url, inbox, IngestMetrics(), itertools.count(1), presence)
    offline = presence_for(member).payload("offline")  # type: ignore[union-attr]
    try:
        failover.on_presence(offline)
        wait_until(lambda: failover.held() == [member.mqtt_client_id], 30, "the session to be held")
        # The presence the survivor's reconnection brings, heard before the holder notices the restart.
        failover.on_presence(offline)
        private_broker.restart(down_s=0.5)
        wait_until(lambda: failover.held() == [member.mqtt_client_id], 30, "the session to be held again")
        publisher = ReliablePublisher("127.0.0.1", private_broker.port)
        publisher.publish_all([(topic, payload) for topic, payload, _, _ in
                               index_stream(["h0"], START, 5, prefix=topic_prefix)])
        publisher.close()
        # The member's share of the group is routed to the held session, which is the only one.
        wait_until(lambda: inbox.qsize() >= 5, 30, "the readings routed to the held session",
                   lambda: f"{inbox.qsize()} in the inbox")
    finally:
        failover.stop()


def test_only_the_smallest_online_member_takes_over_each_gone_member() -> None:
    """Two survivors never take one session from each other; a survivor holds every gone member."""
    members = {"ingest-1": False, "ingest-2": True, "ingest-3": True}
    assert sessions_to_adopt("ingest-2", members, held=[]) == ["ingest-1"]
    assert sessions_to_adopt("ingest-3", members, held=[]) == []
    assert sessions_to_adopt("ingest-2", members, held=["ingest-1"]) == []
    # The holder dies too: the last one takes over both.
    members = {"ingest-1": False, "ingest-2": False, "ingest-3": True}
    assert sessions_to_adopt("ingest-3", members, held=[]) == ["ingest-1", "ingest-2"]
    # Not yet heard its own "online": still a candidate.
    assert sessions_to_adopt("ingest-0", {"ingest-1": False}, held=[]) == ["ingest-1"]


def test_presence_messages_are_read_strictly(settings: Settings) -> None:
    """Only well-formed presence messages count; anything else (a cleared retained message, garbage) is ignored."""
    group = settings.model_copy(update={"mqtt_shared_group": "g", "mqtt_failover_after_s": 30})
    presence = presence_for(group)
    assert presence is not None and presence.topic.endswith(f"/coopwatt/ingest/presence/{settings.mqtt_client_id}")
    assert presence.topic.startswith(settings.mqtt_topic_prefix)
    member = parse_presence(presence.payload("offline"))
    assert member is not None and (member.client_id, member.group, member.online) == (settings.mqtt_client_id, "g", False)
    for payload in (b"", b"[", b"[]", b'{"client_id": "x"}', b'{"client_id": "a/b", "group": "g", "state": "offline"}',
                    b'{"client_id": "x", "group": "g", "state": "gone"}', b"[" * 5000):
        assert parse_presence(payload) is None
    assert presence_for(settings) is None  # no shared group: no failover
    assert presence_for(group.model_copy(update={"mqtt_failover_after_s": 0})) is None
