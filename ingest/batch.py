"""Turn a batch of raw MQTT messages into rows to store and dead letters (pure; no I/O)."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from typing import NamedTuple
from zoneinfo import ZoneInfo

from coopwatt.quantities import Quantity
from ingest.adapters import AdapterState, parse_message
from ingest.reading import PayloadError, Reading
from ingest.registry import RESIDENCE_SOURCE_PREFIX
from ingest.store import DeadLetterRow, ReadingRow, TemperatureRow
from ingest.validate import MeterInfo, ValidationLimits, check_reading


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


def parse_batch(messages: list[Message], state: AdapterState, tz: ZoneInfo) -> ParsedBatch:
    """Parse every message with its adapter; a failure is kept with its reason."""
    parsed = ParsedBatch()
    for message in messages:
        try:
            parsed.readings.append((message, parse_message(message.topic, message.payload, message.received_at, state, tz)))
        except PayloadError as exc:
            parsed.failures.append((message, str(exc)))
    return parsed


def build_rows(
    parsed: ParsedBatch,
    meters: dict[str, MeterInfo],
    residences: dict[str, int],
    last_values: dict[tuple[int, int], Reading],
    now: datetime,
    limits: ValidationLimits,
) -> BatchRows:
    """Validate parsed readings against the registry; good ones become rows, bad ones dead letters.

    `last_values` (meter id, quantity id) → last accepted reading is updated in place,
    so jumps are judged against what was accepted before, across batches.
    """
    rows = BatchRows()
    for message, reason in parsed.failures:
        rows.dead_letters.append(("mqtt", message.topic, message.payload, reason, message.received_at))
        rows.rejected["malformed"] += 1
    for message, readings in parsed.readings:
        problems: list[str] = []
        for reading in readings:
            if reading.quantity is Quantity.TEMPERATURE_C and reading.source.startswith(RESIDENCE_SOURCE_PREFIX):
                code = reading.source[len(RESIDENCE_SOURCE_PREFIX):]
                residence_id = residences.get(code)
                reason = check_reading(reading, None, None, now, limits)  # finite, plausible, not in the future
                if residence_id is None:
                    problems.append(f"unknown residence {code!r}")
                elif reason is not None:
                    problems.append(reason)
                else:
                    rows.temperatures.append((residence_id, reading.time, reading.value))
                continue
            meter = meters.get(reading.source)
            key = (meter.meter_id, int(reading.quantity)) if meter else None
            previous = last_values.get(key) if key else None
            reason = check_reading(reading, meter, previous, now, limits)
            if reason is not None:
                problems.append(reason)
                continue
            assert meter is not None and key is not None
            rows.readings.append((meter.meter_id, int(reading.quantity), reading.time, reading.value))
            if previous is None or reading.time > previous.time:
                last_values[key] = reading
        if problems:
            # The whole payload is kept for context; the good readings of the same message are stored.
            reason = "; ".join(dict.fromkeys(problems))
            rows.dead_letters.append(("mqtt", message.topic, message.payload, reason, message.received_at))
            rows.rejected["unknown_device" if reason.startswith("unknown") else "invalid"] += 1
    return rows
