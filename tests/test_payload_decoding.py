"""The ingester's JSON decoding shortcut reads every payload exactly as ``json.loads`` does, failures included."""

from __future__ import annotations

import json

from hypothesis import given, settings
from hypothesis import strategies as st

from ingest.adapters.payload import load_json
from ingest.reading import PayloadError

_JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.floats(allow_nan=False) | st.integers() | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=12,
)


def _outcome(read, payload: bytes) -> tuple[str, object]:
    try:
        return "value", read(payload)
    except PayloadError as exc:
        return "refused", str(exc)


def _reference(payload: bytes) -> object:
    """What load_json did before the shortcut: json.loads on the bytes, with the same reasons."""
    try:
        return json.loads(payload)
    except UnicodeDecodeError:
        raise PayloadError("malformed JSON: payload is not UTF-8 text") from None
    except json.JSONDecodeError as exc:
        raise PayloadError(f"malformed JSON: {exc.msg} at line {exc.lineno} column {exc.colno}") from None
    except RecursionError:
        raise PayloadError("malformed JSON: nested too deep") from None
    except ValueError as exc:
        raise PayloadError(f"malformed JSON: {str(exc).split(':')[0]}") from None


@settings(max_examples=400, deadline=None)
@given(value=_JSON_VALUES, encoding=st.sampled_from(["utf-8", "utf-8-sig", "utf-16-le", "utf-16", "utf-32-be"]),
       cut=st.integers(min_value=0, max_value=6), garbage=st.binary(max_size=3))
def test_a_payload_decodes_as_json_loads_decodes_it(value: object, encoding: str, cut: int, garbage: bytes) -> None:
    text = json.dumps({"v": value} if cut % 2 else value, ensure_ascii=False)
    payload = text.encode(encoding, "surrogatepass")
    for variant in (payload, payload[:len(payload) - cut], payload + garbage, garbage + payload):
        assert _outcome(load_json, variant) == _outcome(_reference, variant)


def test_the_usual_payloads_and_their_edge_cases_decode_as_before() -> None:
    for payload in (b'{"a": 1}', b"{", b"{\x00", b'{"a": "\xff"}', b'{"a": "\xed\xa0\x80"}', b"{}", b"[1]", b"12",
                    b'{"a": 1} x', "{\"a\": 1}".encode("utf-16-le"), b"\xef\xbb\xbf{}"):
        assert _outcome(load_json, payload) == _outcome(_reference, payload)
