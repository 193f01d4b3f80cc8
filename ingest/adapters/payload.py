"""Decoding steps every adapter shares: JSON, numbers, timestamps — each failing with a readable reason."""

from __future__ import annotations

import json
import math
import re
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from ingest.reading import PayloadError, shown

# A number written as text the way meters write one (ASCII digits, optional sign, point and exponent):
# float() alone would also take "1_000", "١٢٣" and "infinity".
_NUMERIC_TEXT = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?", re.ASCII)


# json.loads(bytes) first runs detect_encoding, a Python function, to tell UTF-8 from UTF-16/32; a payload that
# opens with "{" followed by a non-zero byte is UTF-8 by that very function, and is decoded directly.
_DECODER = json.JSONDecoder()


def load_json(payload: bytes) -> object:
    """Parse a JSON payload; PayloadError('malformed JSON: …') if it is not."""
    try:
        if payload[:1] == b"{" and payload[1:2] != b"\x00":
            return _DECODER.decode(payload.decode("utf-8", "surrogatepass"))
        return json.loads(payload)
    except UnicodeDecodeError:
        raise PayloadError("malformed JSON: payload is not UTF-8 text") from None
    except json.JSONDecodeError as exc:
        raise PayloadError(f"malformed JSON: {exc.msg} at line {exc.lineno} column {exc.colno}") from None
    except RecursionError:  # ingest.adapters.bounds refuses deep nesting first; this is the backstop
        raise PayloadError("malformed JSON: nested too deep") from None
    except ValueError as exc:  # an integer past Python's int-string conversion limit
        raise PayloadError(f"malformed JSON: {str(exc).split(':')[0]}") from None


def load_object(payload: bytes) -> dict[str, object]:
    """Parse a payload that must be a JSON object."""
    data = load_json(payload)
    if not isinstance(data, dict):
        raise PayloadError(f"expected a JSON object, got {_json_type(data)}")
    return data


def number(value: object, what: str) -> float:
    """A JSON number as float; PayloadError naming ``what`` for anything else (booleans included)."""
    if type(value) is float:  # the usual case, and the cheapest test (the ingester makes it per reading)
        return value
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise PayloadError(f"non-numeric value for {what}: {shown(value)}")
    try:
        return float(value)
    except OverflowError:  # an integer beyond any float
        raise PayloadError(f"value for {what} is too large: {shown(value)}") from None


def number_or_numeric_text(value: object, what: str) -> float:
    """A JSON number, or a string holding one (meters often zero-pad indices: "000361497")."""
    if isinstance(value, str):
        return _numeric_text(value.strip(), what, value)
    return number(value, what)


def _numeric_text(text: str, what: str, original: object) -> float:
    """A number written as text; PayloadError for anything else or beyond float range."""
    if not _NUMERIC_TEXT.fullmatch(text):
        raise PayloadError(f"non-numeric value for {what}: {shown(original)}")
    parsed = float(text)
    if not math.isfinite(parsed):
        raise PayloadError(f"value for {what} is too large: {shown(original)}")
    return parsed


def bare_number(payload: bytes, what: str) -> float:
    """A payload that is just a number in text ("12.5"), as Shelly Gen1 and ESPHome send."""
    try:
        text = payload.decode("ascii").strip()
    except UnicodeDecodeError:
        text = None
    if text is None or not _NUMERIC_TEXT.fullmatch(text):
        raise PayloadError(f"non-numeric value for {what}: {shown(payload.decode('utf-8', 'replace'))}")
    return _numeric_text(text, what, text)


def iso_time(value: object, what: str, local_tz: ZoneInfo | None = None) -> datetime:
    """An ISO 8601 timestamp. Without an offset it is read in ``local_tz``, or refused if None."""
    if not isinstance(value, str):
        raise PayloadError(f"{what} must be an ISO 8601 text, got {shown(value)}")
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise PayloadError(f"{what} is not an ISO 8601 timestamp: {shown(value)}") from None
    if parsed.tzinfo is None:
        if local_tz is None:
            raise PayloadError(f"{what} has no UTC offset: {shown(value)} (write e.g. 2025-01-31T08:00:00+01:00)")
        # An ambiguous local time (the repeated hour in autumn) is read as the first occurrence (fold=0).
        parsed = parsed.replace(tzinfo=local_tz)
    return parsed


def epoch_time(value: object, what: str) -> datetime:
    """A UNIX timestamp in seconds."""
    seconds = number(value, what)
    try:
        return datetime.fromtimestamp(seconds, UTC)
    except (OverflowError, OSError, ValueError):
        raise PayloadError(f"{what} is not a plausible UNIX time: {shown(value)}") from None


def _json_type(value: object) -> str:
    return {list: "an array", str: "a string", int: "a number", float: "a number", bool: "a boolean",
            type(None): "null"}.get(type(value), type(value).__name__)
