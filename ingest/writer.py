"""The one writer: takes messages from the queue, batches by size and time, COPYs, commits, acknowledges.

A message that cannot be stored becomes a dead letter, committed with its batch and then acknowledged like
any other: the broker never redelivers a poison message, and no message stops the writer. A database that
is down is different: nothing is dead-lettered or acknowledged, the batch is retried until it is written.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable
from datetime import UTC, datetime

import psycopg

from coopwatt.quantities import Quantity
from coopwatt.settings import Settings
from ingest.adapters import AdapterState, InputLimits
from ingest.adapters.teleinfo import TicStates
from ingest.batch import BatchRows, Message, ParsedBatch, build_rows, dead_letter, first_seen, parse_batch
from ingest.inbox import Inbox
from ingest.metrics import IngestMetrics
from ingest.reading import Reading
from ingest.registry import Registry
from ingest.store import last_readings, store_dead_letters, store_readings, store_temperatures
from ingest.validate import ValidationLimits, limits_from_settings

log = logging.getLogger(__name__)

Acker = Callable[[Iterable[Message]], int]


class Writer(threading.Thread):
    """Owns the write connection. A batch is acknowledged only after it is committed."""

    def __init__(self, settings: Settings, url: str, source: Inbox[Message], ack: Acker,
                 metrics: IngestMetrics) -> None:
        super().__init__(name="ingest-writer", daemon=True)
        self._settings = settings
        self._url = url
        self._inbox = source
        self._ack = ack
        self._metrics = metrics
        self._stop_requested = threading.Event()
        self._conn: psycopg.Connection | None = None
        self._registry = Registry()
        self._state = AdapterState(
            tic=TicStates(settings.ingest_max_device_states, keep=self._keeps_state),
            limits=input_limits(settings),
        )
        # (meter id, quantity id) → last accepted reading, and the keys already looked up in the database:
        # the absurd-jump check starts from what is stored, not from nothing, after a restart.
        self._last_values: dict[tuple[int, int], Reading] = {}
        self._looked_up: set[tuple[int, int]] = set()
        self._limits: ValidationLimits = limits_from_settings(settings)
        self.last_commit_monotonic: float | None = None
        self.database_ok = threading.Event()
        self.failed: BaseException | None = None
        # Messages taken from the queue into the batch being collected or written: neither committed nor
        # acknowledged yet (for /health; a plain int, written by this thread only).
        self.holding = 0

    def _keeps_state(self, source: str) -> bool:
        """Partial-frame state is kept for registered devices only (or any, when they register themselves)."""
        return self._settings.ingest_auto_register or source in self._registry.meters

    # -- connection -------------------------------------------------------------------------
    def _connection(self) -> psycopg.Connection:
        """The write connection, reconnecting with back-off while PostgreSQL is unreachable."""
        delay_s = 0.5
        while self._conn is None or self._conn.closed:
            try:
                self._conn = psycopg.connect(self._url, application_name="coopwatt-ingest", connect_timeout=5)
                self._registry.load(self._conn)
                self._conn.commit()
                self.database_ok.set()
            except psycopg.OperationalError as exc:
                self.database_ok.clear()
                log.warning("database unreachable (%s); retrying in %.1f s", str(exc).strip().splitlines()[0], delay_s)
                if self._stop_requested.is_set():
                    raise  # nothing was acknowledged: the broker redelivers it all to the next session
                time.sleep(delay_s)
                delay_s = min(delay_s * 2, 10.0)
        return self._conn

    # -- batching ---------------------------------------------------------------------------
    _pending: list[Message]

    def _collect(self) -> list[Message]:
        """The next batch: full, or as much as came within the flush interval (empty when idle)."""
        batch = self._inbox.take(self._settings.ingest_flush_interval_s)
        self.holding = len(batch)
        return batch

    def _rows(self, conn: psycopg.Connection, batch: list[Message]) -> BatchRows:
        parsed = parse_batch(batch, self._state, self._settings.tz)
        unknown = parsed.sources() - self._registry.meters.keys()
        if unknown:
            self._registry.refresh_if_stale(conn)
            if self._settings.ingest_auto_register:
                for _, readings in parsed.readings:
                    for reading in readings:
                        if reading.source not in self._registry.meters and not reading.source.startswith("residence:"):
                            self._registry.register(conn, reading.source, reading.quantity)
        self._load_last_values(conn, parsed)
        # One query every few seconds, not one per message: a withdrawal takes effect within the interval.
        self._registry.refresh_consents_if_stale(conn, self._settings.ingest_consent_refresh_s)
        return build_rows(parsed, self._registry.meters, self._registry.residences, self._last_values,
                          datetime.now(UTC), self._limits, self._registry.collections, self._settings.tz)

    def _load_last_values(self, conn: psycopg.Connection, parsed: ParsedBatch) -> None:
        """Read the stored last value of every meter and quantity this process sees for the first time."""
        keys = first_seen(parsed, self._registry.meters, self._looked_up)
        if not keys:
            return
        meters = self._registry.meters
        sources = {meters[r.source].meter_id: r.source for _, readings in parsed.readings for r in readings
                   if r.source in meters}
        for key, (time, value) in last_readings(conn, keys).items():
            known = self._last_values.get(key)
            if known is None or time > known.time:
                self._last_values[key] = Reading(sources.get(key[0], ""), time, Quantity(key[1]), value)
        self._looked_up |= keys

    def _store(self, conn: psycopg.Connection, rows: BatchRows) -> int:
        stored = store_readings(conn, rows.readings) if rows.readings else 0
        store_temperatures(conn, rows.temperatures)
        if rows.dead_letters:
            store_dead_letters(conn, rows.dead_letters)
        return stored

    def _attempt(self, conn: psycopg.Connection, batch: list[Message]) -> tuple[BatchRows, int]:
        """Write and commit one batch; if the database refuses part of it, write message by message."""
        try:
            rows = self._rows(conn, batch)
            stored = self._store(conn, rows)
            conn.commit()
            return rows, stored
        except Exception as exc:
            if _database_down(conn, exc):
                raise
            # Refused, not unreachable (e.g. a meter deleted since the registry was loaded), or a value
            # that could not be sent: isolate the messages responsible so they become dead letters and the
            # rest is stored.
            conn.rollback()
            log.warning("batch refused (%s: %s); writing it message by message", type(exc).__name__,
                        (str(exc).strip().splitlines() or [""])[0])
            self._registry.load(conn)
            conn.commit()
            return self._attempt_each(conn, batch)

    def _attempt_each(self, conn: psycopg.Connection, batch: list[Message]) -> tuple[BatchRows, int]:
        total = BatchRows()
        stored = 0
        for message in batch:
            try:
                with conn.transaction():
                    rows = self._rows(conn, [message])
                    stored += self._store(conn, rows)
            except Exception as exc:
                if _database_down(conn, exc):
                    raise
                first_line = (str(exc).strip().splitlines() or [""])[0]
                if isinstance(exc, psycopg.Error):
                    reason = "refused by the database: " + first_line
                else:
                    reason = f"could not be stored ({type(exc).__name__}: {first_line[:200]})"
                rows = BatchRows(dead_letters=[dead_letter(message, reason)])
                rows.rejected["refused"] += 1
                store_dead_letters(conn, rows.dead_letters)
            total.readings += rows.readings
            total.temperatures += rows.temperatures
            total.dead_letters += rows.dead_letters
            total.rejected.update(rows.rejected)
            total.reduced += rows.reduced
        conn.commit()
        return total, stored

    def _write(self, batch: list[Message]) -> None:
        """Write one batch, retrying until it is committed (or the process is killed); then acknowledge it."""
        failures = 0
        while True:
            conn = self._connection()
            started = time.monotonic()
            try:
                rows, stored = self._attempt(conn, batch)
            except Exception as exc:
                # The database is down, or (never seen: every message's own failure is dead-lettered) the
                # batch failed as a whole: nothing is acknowledged, the batch is retried on a new connection.
                self._metrics.write_errors.inc()
                self.database_ok.clear()
                failures += 1
                first_line = (str(exc).strip().splitlines() or [""])[0]
                if _database_down(conn, exc):
                    log.warning("batch of %d not written (%s); will retry", len(batch), first_line)
                else:
                    log.exception("batch of %d not written (%s: %s); will retry", len(batch),
                                  type(exc).__name__, first_line)
                    time.sleep(min(0.5 * failures, 10.0))
                try:
                    conn.close()
                finally:
                    self._conn = None
                continue
            break
        self._ack(batch)
        self.holding = 0
        now = time.monotonic()
        self.last_commit_monotonic = now
        m = self._metrics
        m.received.inc(len(batch))  # counted here, per batch, to keep the receive thread lean
        m.batches.inc()
        m.stored.inc(stored)
        m.duplicates.inc(len(rows.readings) - stored)
        m.reduced.inc(rows.reduced)
        for reason, count in rows.rejected.items():
            m.rejected.labels(reason).inc(count)
        m.batch_seconds.observe(now - started)
        m.latency_seconds.observe((datetime.now(UTC) - batch[0].received_at).total_seconds())
        m.last_commit.set(time.time())
        m.queue_depth.set(self._inbox.qsize())

    def run(self) -> None:
        """Batch and write until asked to stop, then drain what is queued."""
        self._pending = []
        try:
            self._connection()  # connect now, so /health tells the truth before the first message
            while not self._stop_requested.is_set():
                self._pending = self._collect()
                if self._pending:
                    self._write(self._pending)
                    self._pending = []
            while True:  # drain: everything received before the stop is committed and acknowledged
                self._pending = self._collect()
                if not self._pending:
                    break
                self._write(self._pending)
                self._pending = []
        except BaseException as exc:  # the service reports it and exits non-zero
            self.failed = exc
            log.exception("writer stopped")
        finally:
            if self._conn is not None and not self._conn.closed:
                self._conn.close()

    def stop(self) -> None:
        """Ask the writer to finish the queued messages and stop."""
        self._stop_requested.set()
        self._inbox.hurry()  # a stop commits what is held at once, not when the flush interval is up


def _database_down(conn: psycopg.Connection, exc: BaseException) -> bool:
    """Whether an error means the database cannot be reached (retry the batch) rather than refused one message."""
    if isinstance(exc, psycopg.OperationalError | psycopg.InterfaceError):
        return True
    return conn.closed or conn.broken


def input_limits(settings: Settings) -> InputLimits:
    """The limits every message is held to, from the COOPWATT_INGEST_MAX_* settings."""
    return InputLimits(
        max_payload_bytes=settings.ingest_max_payload_bytes,
        max_json_depth=settings.ingest_max_json_depth,
        max_number_digits=settings.ingest_max_number_digits,
        max_text_chars=settings.ingest_max_text_chars,
        max_readings=settings.ingest_max_readings_per_message,
    )
