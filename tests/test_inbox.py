"""The writer's inbox: batches in arrival order, bounded (a full inbox holds the receive thread back), a stop flushes."""

from __future__ import annotations

import threading

from ingest.inbox import Inbox


def test_a_batch_is_taken_in_arrival_order_and_never_larger_than_the_batch_size() -> None:
    inbox: Inbox[int] = Inbox(capacity=100, batch_size=4)
    for n in range(10):
        inbox.put(n)
    assert inbox.take(60.0) == [0, 1, 2, 3]
    assert inbox.take(60.0) == [4, 5, 6, 7]
    assert inbox.qsize() == 2
    assert inbox.take(0.0) == [8, 9]  # the flush interval is up: a partial batch goes
    assert inbox.qsize() == 0


def test_a_full_inbox_holds_the_receive_thread_until_the_writer_takes_a_batch() -> None:
    inbox: Inbox[int] = Inbox(capacity=4, batch_size=2)
    for n in range(4):
        inbox.put(n)
    put_done = threading.Event()
    receiver = threading.Thread(target=lambda: (inbox.put(4), put_done.set()), daemon=True)
    receiver.start()
    assert not put_done.wait(0.3), "a put into a full inbox returned: memory is not bounded"
    assert inbox.qsize() == 4
    assert inbox.take(60.0) == [0, 1]
    assert put_done.wait(10), "taking a batch did not let the waiting put go on"
    assert inbox.take(60.0) == [2, 3]
    assert inbox.take(0.0) == [4]


def test_after_hurry_a_partial_batch_is_taken_at_once_and_an_empty_inbox_gives_nothing() -> None:
    inbox: Inbox[int] = Inbox(capacity=100, batch_size=50)
    inbox.put(1)
    inbox.put(2)
    taken: list[list[int]] = []
    writer = threading.Thread(target=lambda: taken.extend([inbox.take(3600.0), inbox.take(3600.0)]), daemon=True)
    writer.start()
    inbox.hurry()  # what the writer's stop does: whatever is held is committed now, not in an hour
    writer.join(10)
    assert not writer.is_alive(), "take waited for its flush interval after hurry"
    assert taken == [[1, 2], []]


def test_a_message_put_while_the_writer_waits_on_an_empty_inbox_is_taken() -> None:
    inbox: Inbox[str] = Inbox(capacity=100, batch_size=50)
    taken: list[list[str]] = []
    started = threading.Event()

    def writer() -> None:
        started.set()
        while not taken or not taken[-1]:
            taken.append(inbox.take(0.0))

    thread = threading.Thread(target=writer, daemon=True)
    thread.start()
    started.wait(10)
    inbox.put("reading")
    thread.join(10)
    assert taken[-1] == ["reading"]
