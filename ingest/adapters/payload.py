"""Decoding steps every adapter shares: JSON, numbers, timestamps — each failing with a readable reason."""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from ingest.reading import PayloadError


def load_json(payload: bytes) -> object:
    """Parse a JSON payload; PayloadError('malformed JSON: …') if it is not."""
    try:
        return json.loads(payload)
    except UnicodeDecodeError:
        raise PayloadError("malformed JSON: payload is not UTF-8 text") from None
    except json.JSONDecodeError as exc:
        raise PayloadError(f"malformed JSON: {exc.msg} at line {exc.lineno} column {exc.colno}") from None


def load_object(payload: bytes) -> dict[str, object]:
    """Parse a payload that must be a JSON object."""
    data = load_json(payload)
    if not isinstance(data, dict):
        raise PayloadError(f"expected a JSON object, got {_json_type(data)}")
    return data


def number(value: object, what: str) -> float:
    """A JSON number as float; PayloadError naming ``what`` for anything else (booleans included)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise PayloadError(f"non-numeric value for {what}: {value!r}")
    return float(value)


def number_or_numeric_text(value: object, what: str) -> float:
    """A JSON number, or a string holding one (meters often zero-pad indices: "000361497")."""
    if isinstance(value, str):
        try:
            parsed = float(value.strip())
        except ValueError:
            raise PayloadError(f"non-numeric value for {what}: {value!r}") from None
        if not math.isfinite(parsed):
            raise PayloadError(f"non-numeric value for {what}: {value!r}")
        return parsed
    return number(value, what)


def bare_number(payload: bytes, what: str) -> float:
    """A payload that is just a number in text ("12.5"), as Shelly Gen1 and ESPHome send."""
    try:
        text = payload.decode("ascii").strip()
        return float(text)
    except (UnicodeDecodeError, ValueError):
        shown = payload[:40].decode("utf-8", "replace")
        raise PayloadError(f"non-numeric value for {what}: {shown!r}") from None


def iso_time(value: object, what: str, local_tz: ZoneInfo | None = None) -> datetime:
    """An ISO 8601 timestamp. Without an offset it is read in ``local_tz``, or refused if None."""
    if not isinstance(value, str):
        raise PayloadError(f"{what} must be an ISO 8601 text, got {value!r}")
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise PayloadError(f"{what} is not an ISO 8601 timestamp: {value!r}") from None
    if parsed.tzinfo is None:
        if local_tz is None:
            raise PayloadError(f"{what} has no UTC offset: {value!r} (write e.g. 2025-01-31T08:00:00+01:00)")
        # An ambiguous local time (the repeated hour in autumn) is read as the first occurrence (fold=0).
        parsed = parsed.replace(tzinfo=local_tz)
    return parsed


def epoch_time(value: object, what: str) -> datetime:
    """A UNIX timestamp in seconds."""
    seconds = number(value, what)
    try:
        return datetime.fromtimestamp(seconds, UTC)
    except (OverflowError, OSError, ValueError):
        raise PayloadError(f"{what} is not a plausible UNIX time: {value!r}") from None


def _json_type(value: object) -> str:
    return {list: "an array", str: "a string", int: "a number", float: "a number", bool: "a boolean",
            type(None): "null"}.get(type(value), type(value).__name__)
