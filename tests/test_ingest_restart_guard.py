"""The restart guard: readings published while a restarted broker had no shared subscription are stored.

First the broker's behaviour it exists for (Mosquitto 2.0 restores a persistent session's plain
subscription after a restart, not its shared one), then two real ingesters of one group on a
Mosquitto of the test's own: the broker restarts while both are frozen, so that every reading
of the next stream is published before any member has subscribed again.
"""

from __future__ import annotations

import signal
import threading
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from coopwatt.settings import Settings, SettingsError, load_settings
from ingest.failover import is_chosen, unguarded_group
from tests.ingest_group import (
    TAKEOVER_BOUND_S,
    GroupIngester,
    assert_stored_exactly,
    group_settings,
    six_meters_two_days,
)
from tests.mqtt_tools import MosquittoServer, ReliablePublisher
from tests.test_ingest_service import count, private_broker, wait_until

__all__ = ["private_broker"]  # the fixture, imported for the tests below

GUARD_TAKEN = "coopwatt_ingest_restart_guard_taken_total"
DUPLICATES = "coopwatt_ingest_readings_duplicate_total"


def _persistent_client(broker: MosquittoServer, client_id: str, received: list[str],
                       granted: threading.Event | None = None) -> mqtt.Client:
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id, protocol=MQTTProtocolVersion.MQTTv5)
    client.on_message = lambda _client, _userdata, message: received.append(message.topic)
    if granted is not None:
        client.on_subscribe = lambda *_args: granted.set()
    properties = Properties(PacketTypes.CONNECT)
    properties.SessionExpiryInterval = 600
    client.connect("127.0.0.1", broker.port, clean_start=False, properties=properties)
    client.loop_start()
    return client


def test_the_broker_forgets_shared_subscriptions_over_a_restart(
        private_broker: MosquittoServer, topic_prefix: str) -> None:
    """Why the guard exists: after a restart, a shared subscription of a persistent session routes nothing.

    If this fails, the broker now keeps shared subscriptions: the guard is then only a cost
    (COOPWATT_MQTT_RESTART_GUARD=false, docs/operations.md).
    """
    received: list[str] = []
    granted = threading.Event()
    client = _persistent_client(private_broker, f"{topic_prefix}-s", received, granted)
    client.subscribe([(f"$share/g/{topic_prefix}/shared", 1), (f"{topic_prefix}/plain", 1)])
    assert granted.wait(30), "no SUBACK"
    client.disconnect()
    client.loop_stop()
    private_broker.restart(down_s=0.2)
    publisher = ReliablePublisher("127.0.0.1", private_broker.port)
    publisher.publish_all([(f"{topic_prefix}/shared", b"1"), (f"{topic_prefix}/plain", b"2")])
    publisher.close()
    client = _persistent_client(private_broker, f"{topic_prefix}-s", received)
    try:
        wait_until(lambda: f"{topic_prefix}/plain" in received, 30, "the plain subscription's queued message")
        publisher = ReliablePublisher("127.0.0.1", private_broker.port)
        publisher.publish_all([(f"{topic_prefix}/plain", b"3")])  # sent after the queued ones: a fence
        publisher.close()
        wait_until(lambda: received.count(f"{topic_prefix}/plain") == 2, 30, "the fence message")
    finally:
        client.disconnect()
        client.loop_stop()
    assert f"{topic_prefix}/shared" not in received


@pytest.mark.slow
def test_readings_published_before_the_group_subscribes_again_are_stored(
        settings: Settings, private_broker: MosquittoServer, topic_prefix: str, tmp_path: Path) -> None:
    """Both members frozen across a restart: the whole next stream is routed to no one, and is stored all the same."""
    ids, before, during = six_meters_two_days(settings, topic_prefix, "g")
    cfg = group_settings(settings, private_broker, topic_prefix)
    holder = GroupIngester(cfg, f"{topic_prefix}-1", tmp_path)  # the smaller client id holds the guard
    other = GroupIngester(cfg, f"{topic_prefix}-2", tmp_path)
    try:
        wait_until(lambda: holder.health().get("restart_guard") == "caught up", TAKEOVER_BOUND_S,
                   "the first member's guard to catch up", lambda: holder.account(cfg.database_url))
        assert other.health().get("restart_guard") is None
        # Summed over both: across the restart, the other member may hold the guard for a while (the
        # holder's presence may have turned "offline" while it was frozen).
        taken_at_start = holder.metric(GUARD_TAKEN) + other.metric(GUARD_TAKEN)
        publisher = ReliablePublisher("127.0.0.1", private_broker.port)
        publisher.publish_all([(t, p) for t, p, _, _ in before])
        publisher.close()
        wait_until(lambda: count(cfg.database_url) >= len(before), TAKEOVER_BOUND_S, "the first stream")
        # Caught up, the guard acknowledges its copies and stores none of them.
        assert holder.metric(GUARD_TAKEN) + other.metric(GUARD_TAKEN) == taken_at_start
        assert holder.metric(DUPLICATES) == other.metric(DUPLICATES) == 0

        for member in (holder, other):
            member.process.send_signal(signal.SIGSTOP)
        try:
            private_broker.restart(down_s=0.5)
            publisher = ReliablePublisher("127.0.0.1", private_broker.port)
            publisher.publish_all([(t, p) for t, p, _, _ in during])
            publisher.close()
        finally:
            for member in (holder, other):
                member.process.send_signal(signal.SIGCONT)
        wait_until(lambda: count(cfg.database_url) >= len(before) + len(during), TAKEOVER_BOUND_S,
                   "the stream published before the group subscribed again", lambda: holder.account(cfg.database_url))
        wait_until(lambda: holder.health().get("restart_guard") == "caught up", TAKEOVER_BOUND_S,
                   "the guard to catch up again")
        # Every reading of that stream came through the guard: no member had a subscription then.
        assert holder.metric(GUARD_TAKEN) + other.metric(GUARD_TAKEN) - taken_at_start >= len(during)
        wait_until(lambda: other.health().get("subscribed") is True, TAKEOVER_BOUND_S, "the other member to subscribe")
    finally:
        holder.stop()
        other.stop()
    assert_stored_exactly(cfg.database_url, before + during, ids)


@pytest.mark.slow
def test_the_guard_moves_to_the_survivor_and_can_be_turned_off(
        settings: Settings, private_broker: MosquittoServer, topic_prefix: str, tmp_path: Path) -> None:
    """The holder dies: the survivor holds the guard. With COOPWATT_MQTT_RESTART_GUARD=false nobody does."""
    cfg = group_settings(settings, private_broker, topic_prefix)
    holder = GroupIngester(cfg, f"{topic_prefix}-1", tmp_path)
    survivor = GroupIngester(cfg, f"{topic_prefix}-2", tmp_path)
    try:
        wait_until(lambda: holder.health().get("restart_guard") == "caught up", TAKEOVER_BOUND_S,
                   "the first member's guard to catch up")
        holder.process.send_signal(signal.SIGKILL)
        holder.process.wait(10)
        wait_until(lambda: survivor.health().get("restart_guard") == "caught up", TAKEOVER_BOUND_S,
                   "the survivor to hold the guard", lambda: survivor.account(cfg.database_url))
        assert survivor.metric("coopwatt_ingest_restart_guard_held") == 1
    finally:
        survivor.stop()
    off = GroupIngester(cfg.model_copy(update={"mqtt_restart_guard": False}), f"{topic_prefix}-0", tmp_path)
    try:
        # Alone online and the smallest: it takes the dead holder's session over, and so has decided
        # about the guard too (one reconciliation does both); the setting says no.
        wait_until(lambda: holder.client_id in (off.health().get("sessions_held") or []), TAKEOVER_BOUND_S,
                   "the member without a guard to take the dead member's session over")
        assert off.health().get("restart_guard") is None
        assert off.metric("coopwatt_ingest_restart_guard_held") == 0
    finally:
        off.stop()


@pytest.mark.slow
def test_a_guard_taken_from_its_holder_is_held_again(
        settings: Settings, private_broker: MosquittoServer, topic_prefix: str, tmp_path: Path) -> None:
    """Another connection takes the guard's session (as a member that briefly thought itself chosen would)."""
    cfg = group_settings(settings, private_broker, topic_prefix)
    holder = GroupIngester(cfg, f"{topic_prefix}-1", tmp_path)
    try:
        wait_until(lambda: holder.health().get("restart_guard") == "caught up", TAKEOVER_BOUND_S,
                   "the guard to catch up")
        taken_back = threading.Event()

        def on_disconnect(client: mqtt.Client, *_args: object) -> None:
            taken_back.set()
            client.disconnect()  # no reconnection: no tug of war from this side

        intruder = _persistent_client(private_broker, cfg.restart_guard_client_id, [])
        intruder.on_disconnect = on_disconnect  # before any take-back: the holder waits before it looks again
        wait_until(intruder.is_connected, 30, "the other connection to be accepted")
        # The holder notices, holds its guard again (taking the session back), and catches up.
        assert taken_back.wait(TAKEOVER_BOUND_S), "the holder did not take its guard back"
        wait_until(lambda: holder.health().get("restart_guard") == "caught up", TAKEOVER_BOUND_S,
                   "the holder to hold its guard again", lambda: holder.account(cfg.database_url))
        intruder.loop_stop()
    finally:
        holder.stop()


def test_the_guard_goes_to_the_member_that_would_take_over_sessions() -> None:
    """The smallest online member, itself included; a gone member counts for nothing."""
    assert is_chosen("ingest-1", {"ingest-1": True, "ingest-2": True})
    assert not is_chosen("ingest-2", {"ingest-1": True, "ingest-2": True})
    assert is_chosen("ingest-2", {"ingest-1": False, "ingest-2": True})
    assert is_chosen("ingest-0", {})


def test_no_member_may_take_the_guards_client_id() -> None:
    """A member named like the group's guard would take its session over: start-up stops and says so."""
    with pytest.raises(SettingsError, match="COOPWATT_MQTT_CLIENT_ID .*restart guard"):
        load_settings({}, mqtt_shared_group="g", mqtt_client_id="g-restart-guard")
    assert load_settings({}, mqtt_shared_group="g", mqtt_client_id="g-1").restart_guard_client_id == "g-restart-guard"


def test_a_group_member_without_guard_says_why_at_start_up() -> None:
    """Shared group over MQTT 3.1.1, failover off, or guard off: the warning names the setting; none otherwise."""
    group = {"mqtt_shared_group": "g", "mqtt_client_id": "g-1"}
    assert unguarded_group(load_settings({}, **group)) is None
    assert unguarded_group(load_settings({})) is None  # no group: its persistent session keeps its subscriptions
    for overrides, named in (({"mqtt_protocol": 4}, "COOPWATT_MQTT_PROTOCOL=5"),
                             ({"mqtt_failover_after_s": 0}, "COOPWATT_MQTT_FAILOVER_AFTER_S"),
                             ({"mqtt_restart_guard": False}, "COOPWATT_MQTT_RESTART_GUARD")):
        reason = unguarded_group(load_settings({}, **group, **overrides))
        assert reason is not None and named in reason and "Broker restarts" in reason
