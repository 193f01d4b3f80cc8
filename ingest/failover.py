"""Shared-group failover: a surviving ingester takes over the session of a member that died.

Mosquitto keeps a dead member in its shared group: it goes on routing that member's share of
the readings to its persistent session and queues them until the member comes back (issue 11:
30,887 of 100,000 readings waited). A short session expiry would end that, but the broker then
drops what it had queued and sent unacknowledged: readings lost (docs/operations.md measures
both). So instead, once a member has been gone for COOPWATT_MQTT_FAILOVER_AFTER_S (its delayed
will says so, ingest/presence.py), one survivor connects with the member's client id: it
resumes that session, stores what was queued and in flight (acknowledged after commit, as
always) and every reading the group still routes to it. When the member comes back, its
connection takes the session over and the survivor lets it go without reconnecting
(ingest/subscriber.py). A held session whose connection ended for another reason (the broker
restarted) is held again: at once if the group's presence comes again after the end was noticed,
and otherwise once the failover delay has passed with its member still gone.

The survivor chosen is the online member with the smallest client id, so that two survivors
never take one session from each other. The same member holds the group's restart guard
(ingest/restart_guard.py).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping

from coopwatt.settings import Settings
from ingest.batch import Message
from ingest.inbox import Inbox
from ingest.metrics import IngestMetrics
from ingest.presence import Presence, parse_presence, presence_for
from ingest.restart_guard import RestartGuard
from ingest.subscriber import Subscriber

log = logging.getLogger(__name__)

GUARD_RECHECK_S = 1.0


def unguarded_group(settings: Settings) -> str | None:
    """Why this member of a shared group goes without failover or restart guard (pure); None when it has both."""
    if not settings.mqtt_shared_group:
        return None
    if presence_for(settings) is None:
        return (f"ingester {settings.mqtt_client_id} is in shared group {settings.mqtt_shared_group} without the "
                "failover (it needs COOPWATT_MQTT_PROTOCOL=5 and COOPWATT_MQTT_FAILOVER_AFTER_S above 0): a dead "
                "member's share of the readings waits until it comes back, and after a broker restart Mosquitto drops "
                "what meters publish until the group has subscribed again (docs/operations.md, \"Broker restarts\")")
    if not settings.mqtt_restart_guard:
        return (f"COOPWATT_MQTT_RESTART_GUARD is off for shared group {settings.mqtt_shared_group}: after a broker "
                "restart, a broker that forgets shared subscriptions (Mosquitto 2.0) drops what meters publish until "
                "the group has subscribed again (docs/operations.md, \"Broker restarts\")")
    return None


def is_chosen(me: str, online_by_member: Mapping[str, bool]) -> bool:
    """Whether `me` is the member that holds the group's other sessions (pure): the smallest online one."""
    return min({member for member, is_online in online_by_member.items() if is_online} | {me}) == me


def sessions_to_adopt(me: str, online_by_member: Mapping[str, bool], held: Iterable[str]) -> list[str]:
    """The members whose sessions `me` should take over now (pure): all gone ones, if `me` is the chosen survivor."""
    if not is_chosen(me, online_by_member):
        return []
    held_now = set(held)
    return sorted(member for member, is_online in online_by_member.items()
                  if not is_online and member != me and member not in held_now)


class Failover:
    """Hears the group's presence and holds the sessions of the members that are gone."""

    def __init__(self, settings: Settings, url: str, out: Inbox[Message], metrics: IngestMetrics,
                 generations: Iterator[int], presence: Presence,
                 group_ready: Callable[[], bool] = lambda: True) -> None:
        self._settings = settings
        self._url = url
        self._inbox = out
        self._metrics = metrics
        self._generations = generations
        self._presence = presence
        self._lock = threading.Lock()
        self._online: dict[str, bool] = {}
        self._held: dict[str, Subscriber] = {}
        self._group_ready = group_ready  # this member's shared subscription is granted
        self._guard: RestartGuard | None = None
        # Its own lock: a holder's network thread starts these, and must never wait for `_lock`,
        # which is held while holders are stopped (joining that very thread).
        self._rechecks_lock = threading.Lock()
        self._rechecks: list[threading.Timer] = []
        self._stopped = False

    def on_presence(self, payload: bytes) -> None:
        """A presence message of the group (from the subscriber's network thread)."""
        member = parse_presence(payload)
        if member is None or member.group != self._presence.group:
            return
        with self._lock:
            if self._stopped:
                return
            self._online[member.client_id] = member.online
            self._reconcile()

    def _reconcile(self) -> None:
        """Let go of ended or reclaimed sessions and hold every gone member's (called with the lock held)."""
        # A member back online has taken its session over already (the holder let go), or
        # is about to: either way the holder stops and nothing is held for it any more.
        released = [name for name, held in self._held.items()
                    if held.released.is_set() or self._online.get(name)]
        for name in released:
            self._held.pop(name).stop()
        for name in sessions_to_adopt(self._presence.client_id, self._online, self._held):
            self._held[name] = self._adopt(name)
        self._metrics.sessions_held.set(len(self._held))
        self._reconcile_guard()

    def _reconcile_guard(self) -> None:
        """Hold the restart guard if this member is the chosen one (called with the lock held).

        Only once this member has heard its own presence: the retained presences of the others come
        with it, so a member that starts beside a smaller one does not take the guard from it first.
        """
        me = self._presence.client_id
        wanted = (self._settings.mqtt_restart_guard and self._online.get(me) is True
                  and is_chosen(me, self._online))
        if self._guard is not None and (self._guard.released.is_set() or not wanted):
            self._guard.stop()
            self._guard = None
        if wanted and self._guard is None:
            self._guard = RestartGuard(self._settings, self._url, self._inbox, self._metrics,
                                       generations=self._generations, group_ready=self._group_ready,
                                       on_released=self._on_guard_released)
            self._guard.start()
        self._metrics.guard_held.set(self._guard is not None)

    def _on_released(self) -> None:
        """A held session's connection ended (from its network thread): look again after the failover delay.

        The group's presence usually comes again first (the survivor's own reconnection after a
        broker restart), but it may arrive before this holder noticed its end, and then nothing
        would hold the session again. A member that took its session back says "online" well
        within the delay, and is then left alone.
        """
        self._recheck_after(self._settings.mqtt_failover_after_s)

    def _on_guard_released(self) -> None:
        """The guard's connection ended: look again soon, not after the failover delay.

        No member comes back for it: what takes it is the broker going away, or another member
        that briefly thought itself the chosen one (at start-up, before it heard this one). Views
        of the group agree once its retained presence is heard, so a second is enough.
        """
        self._recheck_after(min(GUARD_RECHECK_S, self._settings.mqtt_failover_after_s))

    def _recheck_after(self, delay_s: float) -> None:
        timer = threading.Timer(delay_s, self._recheck)
        timer.daemon = True
        with self._rechecks_lock:
            if self._stopped:
                return
            self._rechecks = [t for t in self._rechecks if t.is_alive()] + [timer]
            timer.start()

    def _recheck(self) -> None:
        with self._lock:
            if not self._stopped:
                self._reconcile()

    def _adopt(self, member: str) -> Subscriber:
        log.warning("ingester %s of group %s has been gone for %d s: taking over its session so that the "
                    "readings the broker keeps for it are stored", member, self._presence.group,
                    self._settings.mqtt_failover_after_s)
        settings = self._settings.model_copy(update={"mqtt_client_id": member})
        held = Subscriber(settings, self._url, self._inbox, self._metrics, generations=self._generations,
                          presence=self._presence, adopted=True, on_released=self._on_released)
        held.start()
        return held

    def held(self) -> list[str]:
        """Client ids of the sessions this ingester holds for gone members."""
        with self._lock:
            return sorted(name for name, held in self._held.items() if not held.released.is_set())

    def guard(self) -> str | None:
        """The restart guard's state here: "caught up", "catching up", or None when another member holds it."""
        with self._lock:
            guard = self._guard
        if guard is None or guard.released.is_set():
            return None
        return "caught up" if guard.caught_up.is_set() else "catching up"

    def _holders(self) -> list[Subscriber]:
        """The held sessions and the guard (called with the lock held)."""
        return [*self._held.values(), *([self._guard] if self._guard is not None else [])]

    def ack(self, messages: Iterable[Message]) -> int:
        """Acknowledge committed messages that came through a held session or the guard; return how many."""
        batch = list(messages)
        with self._lock:
            holders = self._holders()
        return sum(holder.ack(batch) for holder in holders)

    def stop_accepting(self) -> None:
        """Stop queueing messages of held sessions and the guard (they will be redelivered)."""
        with self._lock:
            self._stopped = True
            holders = self._holders()
        for holder in holders:
            holder.stop_accepting()

    def stop(self) -> None:
        """Disconnect the held sessions; they stay on the broker for their member (or the next survivor)."""
        with self._lock:
            self._stopped = True
            holders = self._holders()
            self._held, self._guard = {}, None
        with self._rechecks_lock:
            rechecks, self._rechecks = self._rechecks, []
        for timer in rechecks:
            timer.cancel()
        for holder in holders:
            holder.stop()
        self._metrics.sessions_held.set(0)
        self._metrics.guard_held.set(0)
