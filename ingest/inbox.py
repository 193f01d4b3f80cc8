"""The hand-over from the receive threads to the writer: messages go in one by one and come out a batch at a time.

It replaces a ``queue.Queue``, whose put and get each ran a dozen lines of Python under a condition
variable and woke the waiting writer once per message: every wake-up was a thread switch on the
interpreter lock that the receive thread needs to read the socket. Here a put is one lock and one
list append, and the writer is woken once per batch (full, or its flush time up), or for the first
message after an idle spell. The inbox is bounded: a put blocks while it is full, which stops the
receive thread reading the socket (backpressure), as the bounded queue did.
"""

from __future__ import annotations

import threading
import time
from typing import Generic, TypeVar

T = TypeVar("T")

_IDLE_POLL_S = 0.2  # an idle writer looks at its stop flag this often


class Inbox(Generic[T]):
    """A bounded list shared by the receive threads (``put``) and the one writer (``take``)."""

    def __init__(self, capacity: int, batch_size: int) -> None:
        self._lock = threading.Lock()
        self._ready = threading.Condition(self._lock)  # the writer waits here for a batch
        self._room = threading.Condition(self._lock)  # receive threads wait here while the inbox is full
        self._items: list[T] = []
        self._capacity = max(capacity, batch_size)
        self._batch_size = batch_size
        self._first_at = 0.0  # monotonic time the oldest waiting message came in
        self._writer_idle = False  # the writer waits on an empty inbox: wake it for the first message
        self._hurry = False

    def put(self, item: T) -> None:
        """Add one message; blocks while the inbox is full."""
        with self._lock:
            items = self._items
            while len(items) >= self._capacity:
                self._room.wait()
            items.append(item)
            count = len(items)
            if count == 1:
                self._first_at = time.monotonic()
                if self._writer_idle:
                    self._ready.notify()
            elif count == self._batch_size:
                self._ready.notify()

    def take(self, flush_interval_s: float) -> list[T]:
        """Up to one batch: when a batch is full, when the oldest message has waited ``flush_interval_s``,
        or at once after ``hurry``; an empty list after a short idle wait."""
        with self._lock:
            while not self._hurry:
                count = len(self._items)
                if count >= self._batch_size:
                    break
                if count:
                    remaining_s = self._first_at + flush_interval_s - time.monotonic()
                    if remaining_s <= 0:
                        break
                    self._ready.wait(remaining_s)
                    continue
                self._writer_idle = True
                try:
                    self._ready.wait(_IDLE_POLL_S)
                finally:
                    self._writer_idle = False
                if not self._items:
                    return []
            items = self._items
            if len(items) <= self._batch_size:
                batch, self._items = items, []
            else:
                batch = items[:self._batch_size]
                del items[:self._batch_size]
                self._first_at = time.monotonic()  # not known for the rest: count their wait from now
            self._room.notify_all()
            return batch

    def hurry(self) -> None:
        """From now on, ``take`` returns what is there without waiting (a stop flushes at once)."""
        with self._lock:
            self._hurry = True
            self._ready.notify_all()

    def qsize(self) -> int:
        """Messages waiting for the writer."""
        return len(self._items)
