"""The shape of a Dash callback request, checked before Dash sees it.

Dash trusts the body of ``/_dash-update-component``: a crafted one (not an object, an
unknown or client-side output, inputs that are not a list) raised deep inside Dash and
answered 500 with a traceback in the log. Here a body must name a server-side
callback and carry its registered inputs and state, each as a component id and
property (a list of them for pattern-matching wildcards); anything else is a 400 with
one log line. What the values mean stays for each callback to check against the scope.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

_MAX_ITEMS = 1000


def _is_prop(item: object) -> bool:
    """A {"id": ..., "property": ...} entry (the id a string or a pattern-matching object)."""
    return (isinstance(item, dict) and isinstance(item.get("property"), str)
            and isinstance(item.get("id"), str | dict))


def _registered_id(dependency: Mapping[str, Any]) -> str | dict[str, Any]:
    """A registered dependency's id: a string, or the object a pattern-matching id stands for."""
    component_id = dependency["id"]
    if isinstance(component_id, str) and component_id.startswith("{"):
        return json.loads(component_id)  # type: ignore[no-any-return]
    return component_id  # type: ignore[no-any-return]


def _matches(sent: object, registered: Mapping[str, Any]) -> bool:
    """True when a sent input (or, for a wildcard, a list of inputs) fits a registered dependency."""
    wanted = _registered_id(registered)
    if isinstance(wanted, str):
        return _is_prop(sent) and sent["id"] == wanted and sent["property"] == registered["property"]  # type: ignore[index]
    # Pattern-matching: one entry (MATCH) or a list of entries (ALL, ALLSMALLER), each with an object id
    # whose keys are the registered ones.
    entries = sent if isinstance(sent, list) else [sent]
    return len(entries) <= _MAX_ITEMS and all(
        _is_prop(entry) and isinstance(entry["id"], dict) and set(entry["id"]) == set(wanted)
        and entry["property"] == registered["property"]
        for entry in entries
    )


def _dependencies_fit(sent: object, registered: list[Mapping[str, Any]]) -> bool:
    return (isinstance(sent, list) and len(sent) == len(registered)
            and all(_matches(item, dependency) for item, dependency in zip(sent, registered, strict=True)))


def _outputs_fit(outputs: object, output: str) -> bool:
    multiple = output.startswith("..") and output.endswith("..")
    if multiple:
        count = len(output[2:-2].split("..."))
        return isinstance(outputs, list) and len(outputs) == count and all(
            _is_prop(item) or (isinstance(item, list) and len(item) <= _MAX_ITEMS and all(map(_is_prop, item)))
            for item in outputs
        )
    return _is_prop(outputs) or (isinstance(outputs, list) and len(outputs) <= _MAX_ITEMS
                                 and all(map(_is_prop, outputs)))


def callback_request_problem(body: object, callback_map: Mapping[str, Mapping[str, Any]]) -> str | None:
    """Why a callback request body cannot be a real one from this app's pages, or None when its shape is fine."""
    if not isinstance(body, dict):
        return "callback request is not a JSON object"
    output = body.get("output")
    if not isinstance(output, str):
        return "callback request names no output"
    entry = callback_map.get(output)
    if entry is None or "callback" not in entry:
        return "no server-side callback for this output"
    if not entry.get("no_output") and not _outputs_fit(body.get("outputs"), output):
        return "callback outputs malformed"
    if not _dependencies_fit(body.get("inputs"), entry.get("inputs", [])):
        return "callback inputs do not match the registered ones"
    if not _dependencies_fit(body.get("state", []), entry.get("state", [])):
        return "callback state does not match the registered one"
    changed = body.get("changedPropIds", [])
    if not isinstance(changed, list) or len(changed) > _MAX_ITEMS or not all(isinstance(c, str) for c in changed):
        return "callback changedPropIds malformed"
    return None
