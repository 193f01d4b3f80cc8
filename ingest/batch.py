"""Turn a batch of raw MQTT messages into rows to store and dead letters (pure; no I/O).

No message, however crafted, makes these functions raise: a PayloadError is the
dead-letter reason it carries, and any other exception (a defect an attacker
found before we did) costs only its own message, dead-lettered with the
exception's type in the reason.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import NamedTuple
from zoneinfo import ZoneInfo

from coopwatt.consent import Collection
from coopwatt.quantities import CUMULATIVE, Quantity
from ingest.adapters import AdapterState, parse_message
from ingest.consent_gate import refusal_reason, verdict
from ingest.reading import PayloadError, Reading, shown
from ingest.registry import RESIDENCE_SOURCE_PREFIX
from ingest.store import DeadLetterRow, ReadingRow, TemperatureRow
from ingest.validate import MeterInfo, ValidationLimits, check_reading

log = logging.getLogger(__name__)

_MAX_REASON_CHARS = 2000
_TEMPERATURE_C = Quantity.TEMPERATURE_C  # an enum member read from its class costs a lookup per reading


class Message(NamedTuple):
    """One MQTT message as received; `generation` counts broker connections (see Subscriber).

    A NamedTuple rather than a frozen dataclass: one is built per message on the receive thread,
    and a tuple is several times cheaper to build.
    """

    topic: str
    payload: bytes
    received_at: datetime
    mid: int = 0
    qos: int = 0
    generation: int = 0


@dataclass
class ParsedBatch:
    """Each message with its readings, or the reason it could not be parsed."""

    readings: list[tuple[Message, list[Reading]]] = field(default_factory=list)
    failures: list[tuple[Message, str]] = field(default_factory=list)

    def sources(self) -> set[str]:
        """Every device id the batch mentions."""
        return {r.source for _, readings in self.readings for r in readings}


@dataclass
class BatchRows:
    """What one batch writes: readings, outdoor temperatures, dead letters, and counts by outcome."""

    readings: list[ReadingRow] = field(default_factory=list)
    temperatures: list[TemperatureRow] = field(default_factory=list)
    dead_letters: list[DeadLetterRow] = field(default_factory=list)
    rejected: Counter[str] = field(default_factory=Counter)
    reduced: int = 0  # readings finer than daily not kept (the household allows daily values only)


def dead_letter(message: Message, reason: str, *, keep_payload: bool = True) -> DeadLetterRow:
    """The dead-letter row of a message: its reason made storable (no NUL, valid UTF-8, bounded)."""
    return ("mqtt", _storable(message.topic), message.payload if keep_payload else None,
            _storable(reason[:_MAX_REASON_CHARS]), message.received_at)


def _storable(text: str) -> str:
    """Text PostgreSQL accepts: NUL and lone surrogates (JSON can carry both) written as escapes."""
    if "\x00" in text:
        text = text.replace("\x00", "\\x00")
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


def unexpected(exc: BaseException) -> str:
    """The reason for a message that raised what nothing anticipated: the exception's type and text."""
    return f"internal error while reading this message ({type(exc).__name__}: {str(exc)[:200]})"


def parse_batch(messages: list[Message], state: AdapterState, tz: ZoneInfo) -> ParsedBatch:
    """Parse every message with its adapter; a failure is kept with its reason."""
    parsed = ParsedBatch()
    for message in messages:
        try:
            parsed.readings.append((message, parse_message(message.topic, message.payload, message.received_at, state, tz)))
        except PayloadError as exc:
            parsed.failures.append((message, str(exc)))
        except Exception as exc:  # noqa: BLE001 - the last resort: one message is lost to a defect, not the writer
            log.warning("message on %r raised %s while being parsed; dead-lettered", message.topic[:100],
                        type(exc).__name__, exc_info=True)
            parsed.failures.append((message, unexpected(exc)))
    return parsed


def first_seen(parsed: ParsedBatch, meters: dict[str, MeterInfo], seen: set[tuple[int, int]]) -> set[tuple[int, int]]:
    """(meter id, quantity id) of the cumulative readings in the batch whose last value is not yet known."""
    keys = set()
    # A batch holds thousands of readings of a few hundred meters: each (device, quantity) is judged once.
    pairs = {(reading.source, reading.quantity) for _, readings in parsed.readings for reading in readings}
    for source, quantity in pairs:
        meter = meters.get(source)
        if meter is not None and quantity in CUMULATIVE:
            key = (meter.meter_id, int(quantity))
            if key not in seen:
                keys.add(key)
    return keys


def build_rows(
    parsed: ParsedBatch,
    meters: dict[str, MeterInfo],
    residences: dict[str, int],
    last_values: dict[tuple[int, int], Reading],
    now: datetime,
    limits: ValidationLimits,
    collections: Mapping[int, Collection] | None = None,
    tz: ZoneInfo | None = None,
) -> BatchRows:
    """Validate parsed readings against the registry; good ones become rows, bad ones dead letters.

    `last_values` (meter id, quantity id) → last accepted reading is updated in place,
    so jumps are judged against what was accepted before, across batches. `collections` (meter id →
    what its household consented to; absent: everything) decides what is kept (ingest.consent_gate).
    """
    rows = BatchRows()
    for message, reason in parsed.failures:
        rows.dead_letters.append(dead_letter(message, reason))
        rows.rejected["malformed"] += 1
    gate = _Gate(collections or {}, tz or ZoneInfo("UTC"))
    for message, readings in parsed.readings:
        try:
            outcome = _message_rows(readings, meters, residences, last_values, now, limits, gate)
        except Exception as exc:  # noqa: BLE001 - the last resort, as in parse_batch
            log.warning("message on %r raised %s while being validated; dead-lettered", message.topic[:100],
                        type(exc).__name__, exc_info=True)
            rows.dead_letters.append(dead_letter(message, unexpected(exc)))
            rows.rejected["invalid"] += 1
            continue
        readings_rows, temperature_rows, problems, accepted = outcome
        rows.readings += readings_rows
        rows.temperatures += temperature_rows
        for key, reading in accepted:
            previous = last_values.get(key)
            if previous is None or reading.time > previous.time:
                last_values[key] = reading
        rows.reduced += gate.take_reduced()
        refusals = gate.take_refusals()
        if refusals:
            # Data the household did not consent to are kept nowhere, not even in a dead letter: no payload, and
            # the other problems of the message (whose reasons may quote a value) are only counted.
            extra = f"; {len(problems)} other reading(s) of the message rejected" if problems else ""
            rows.dead_letters.append(dead_letter(message, "; ".join(refusals) + extra, keep_payload=False))
            rows.rejected["no_consent"] += 1
        elif problems:
            # The whole payload is kept for context; the good readings of the same message are stored.
            reason = "; ".join(dict.fromkeys(problems))
            rows.dead_letters.append(dead_letter(message, reason))
            rows.rejected["unknown_device" if reason.startswith("unknown") else "invalid"] += 1
    return rows


@dataclass
class _Gate:
    """The consent check of one batch, and what it set aside for the message being read."""

    collections: Mapping[int, Collection]
    tz: ZoneInfo
    refusals: list[str] = field(default_factory=list)
    reduced: int = 0

    def refuse(self, meter: MeterInfo, reading: Reading) -> None:
        """Note that no consent covers this meter's readings (the reason names the device and flow only)."""
        reason = refusal_reason(reading.source, meter.kind)
        if reason not in self.refusals:
            self.refusals.append(reason)

    def keeps(self, collection: Collection, reading: Reading, previous: Reading | None) -> bool:
        """Whether a valid reading of a restricted meter is stored (daily only: the first index of a day)."""
        if verdict(collection, reading.quantity, reading.time, previous, self.tz) == "keep":
            return True
        self.reduced += 1
        return False

    def take_refusals(self) -> list[str]:
        """The refusal reasons noted since the last call."""
        out, self.refusals = self.refusals, []
        return out

    def take_reduced(self) -> int:
        """The readings reduced away since the last call."""
        out, self.reduced = self.reduced, 0
        return out


def _message_rows(
    readings: list[Reading],
    meters: dict[str, MeterInfo],
    residences: dict[str, int],
    last_values: dict[tuple[int, int], Reading],
    now: datetime,
    limits: ValidationLimits,
    gate: _Gate,
) -> tuple[list[ReadingRow], list[TemperatureRow], list[str], list[tuple[tuple[int, int], Reading]]]:
    """One message's rows, problems and accepted readings; nothing shared is changed until it is all done."""
    reading_rows: list[ReadingRow] = []
    temperature_rows: list[TemperatureRow] = []
    problems: list[str] = []
    accepted: list[tuple[tuple[int, int], Reading]] = []
    latest: dict[tuple[int, int], Reading] = {}  # a later reading of the same message is judged against an earlier one
    for reading in readings:
        if reading.quantity is _TEMPERATURE_C and reading.source.startswith(RESIDENCE_SOURCE_PREFIX):
            code = reading.source[len(RESIDENCE_SOURCE_PREFIX):]
            residence_id = residences.get(code)
            reason = check_reading(reading, None, None, now, limits)  # finite, plausible, not in the future
            if residence_id is None:
                problems.append(f"unknown residence {shown(code)}")
            elif reason is not None:
                problems.append(reason)
            else:
                temperature_rows.append((residence_id, reading.time, reading.value))
            continue
        meter = meters.get(reading.source)
        # Only meters whose household withheld something are in the map: most readings pay one falsy test.
        restricted = gate.collections.get(meter.meter_id) if gate.collections and meter is not None else None
        if restricted is Collection.NONE:
            gate.refuse(meter, reading)  # before any check, whose reason could quote a value
            continue
        key = (meter.meter_id, int(reading.quantity)) if meter is not None else None
        previous = (latest.get(key) or last_values.get(key)) if key is not None else None
        reason = check_reading(reading, meter, previous, now, limits)
        if reason is not None:
            problems.append(reason)
            continue
        assert meter is not None and key is not None
        if restricted is not None and not gate.keeps(restricted, reading, previous):
            continue
        reading_rows.append((key[0], key[1], reading.time, reading.value))
        accepted.append((key, reading))
        if previous is None or reading.time > previous.time:
            latest[key] = reading
    return reading_rows, temperature_rows, problems, accepted
