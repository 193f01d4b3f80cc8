"""Limits on what one message may be, checked on the raw bytes before any parsing.

A crafted payload must cost the ingester a bounded amount of time and memory and
end as a dead letter with a reason, never an exception: Python's JSON parser
recurses once per nesting level (RecursionError past ~1000), refuses integers of
more than 4,300 digits (ValueError) and turns a 400-digit integer into a Python
int that no float can hold (OverflowError). Each bound here is checked with a
C-speed scan of the bytes (``bytes.count``, one regular expression), so an
ordinary message pays a few microseconds and is never parsed twice.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

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

# A JSON string (escapes included) or one bracket: strings are skipped so that "[" inside a text
# does not count as nesting. A string left open runs to the end of the payload, and the loop is possessive:
# every string match succeeds from its opening quote, so the scan never restarts inside a text and stays
# linear (a payload of 30,000 escaped quotes took 75 s with a plain '"(?:[^"\\]|\\.)*"').
_BRACKET_OR_STRING = re.compile(rb'"(?:[^"\\]|\\.)*+(?:"|\\?\Z)|[\[\]{}]', re.DOTALL)


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
    digits = _digit_run(limits.max_number_digits).search(payload)
    if digits is not None:
        raise PayloadError(f"a number of more than {limits.max_number_digits} digits "
                           f"(starting {digits.group()[:12].decode()}…)")


def _json_depth(payload: bytes) -> int:
    """The deepest bracket nesting outside strings (only run when brackets are many)."""
    depth = deepest = 0
    for token in _BRACKET_OR_STRING.findall(payload):
        if token in (b"[", b"{"):
            depth += 1
            deepest = max(deepest, depth)
        elif token in (b"]", b"}"):
            depth -= 1
    return deepest


_DIGIT_RUNS: dict[int, re.Pattern[bytes]] = {}


def _digit_run(limit: int) -> re.Pattern[bytes]:
    """A pattern for a run of more than ``limit`` digits (compiled once per limit)."""
    pattern = _DIGIT_RUNS.get(limit)
    if pattern is None:
        pattern = _DIGIT_RUNS[limit] = re.compile(rb"\d{%d}" % (limit + 1))
    return pattern
