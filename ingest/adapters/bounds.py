"""Limits on what one message may be, checked on the raw bytes before any parsing.

A crafted payload must cost the ingester a bounded amount of time and memory and
end as a dead letter with a reason, never an exception: Python's JSON parser
recurses once per nesting level (RecursionError past ~1000), refuses integers of
more than 4,300 digits (ValueError) and turns a 400-digit integer into a Python
int that no float can hold (OverflowError). Each bound here is checked with a
C-speed pass over the bytes (``bytes.count``, ``translate``, ``find``,
``split``), so an ordinary message pays a microsecond or two and is never
parsed twice.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from itertools import accumulate, repeat
from operator import sub

from ingest.reading import PayloadError


@dataclass(frozen=True, slots=True)
class InputLimits:
    """How large, deep and long the parts of one message may be (COOPWATT_INGEST_MAX_* settings)."""

    max_payload_bytes: int = 65_536
    max_json_depth: int = 16
    max_number_digits: int = 40
    max_text_chars: int = 256
    max_readings: int = 1_000


DEFAULT_LIMITS = InputLimits()


def check_raw(topic: str, payload: bytes, limits: InputLimits) -> None:
    """PayloadError if the topic or payload is beyond a limit; silent for every ordinary message."""
    if len(topic) > limits.max_text_chars:
        raise PayloadError(f"topic of {len(topic)} characters is longer than {limits.max_text_chars}")
    size = len(payload)
    if size > limits.max_payload_bytes:
        raise PayloadError(f"payload of {size} bytes is larger than {limits.max_payload_bytes} bytes")
    # Fewer opening brackets than the depth limit cannot nest deeper: the usual case, two C scans.
    if payload.count(b"[") + payload.count(b"{") > limits.max_json_depth:
        depth = _json_depth(payload)
        if depth > limits.max_json_depth:
            raise PayloadError(f"JSON nested {depth} levels deep (at most {limits.max_json_depth})")
    start = _digit_run(payload, limits.max_number_digits)
    if start >= 0:
        raise PayloadError(f"a number of more than {limits.max_number_digits} digits "
                           f"(starting {payload[start:start + 12].decode()}…)")


# Escapes first (a backslash and the character it escapes: \" is no quote), then everything but brackets and
# quotes is dropped; what lies between an odd quote and the next even one is inside a string, where "[" is
# no nesting (an open string runs to the end). Only C loops, all linear: a regular expression that skipped
# strings backtracked from each of 30,000 escaped quotes for 75 s.
_ESCAPE = re.compile(rb"\\.", re.DOTALL)
_NOT_STRUCTURE = bytes(c for c in range(256) if c not in b'[]{}"')
# Openers become 2 and closers 0, so that "minus one" is +1 / -1 per bracket.
_STEP = bytes.maketrans(b"[{]}", b"\x02\x02\x00\x00")
# Digits become "9", anything else a space: a run of digits is then one bytes.find away.
_DIGITS_ONLY = bytes.maketrans(b"0123456789" + bytes(c for c in range(256) if not 48 <= c <= 57),
                               b"9" * 10 + b" " * 246)


def _json_depth(payload: bytes) -> int:
    """The deepest bracket nesting outside strings (only run when brackets are many)."""
    if b"\\" in payload:
        payload = _ESCAPE.sub(b"", payload)
    brackets = b"".join(payload.translate(None, _NOT_STRUCTURE).split(b'"')[::2])
    if not brackets:
        return 0
    return max(0, max(accumulate(map(sub, brackets.translate(_STEP), repeat(1)))))


def _digit_run(payload: bytes, limit: int) -> int:
    """Where the first run of more than ``limit`` digits starts, or -1."""
    return payload.translate(_DIGITS_ONLY).find(b"9" * (limit + 1))
