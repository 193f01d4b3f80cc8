"""The attack suite's tools: every registered Dash callback replayed with other scopes' ids and junk.

Requests are built from what the running app says about itself (``/_dash-dependencies``)
and from the layouts it renders for each role, so a callback added later is attacked
without anyone writing a payload for it; one the builder cannot fill is an error.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import psycopg
import requests

from coopwatt.settings import Settings
from dashboard import queries
from dashboard.figures import Tariffs, values_shown
from dashboard.i18n import round_as_shown

WILDCARDS = ("MATCH", "ALL", "ALLSMALLER")
# What a browser could be made to send instead of a real value: shapes Dash never produces,
# SQL and markup, digits of other scripts, numbers no column holds.
JUNK: tuple[Any, ...] = (
    None, "", True, -1, 0, 1.5, 10**30, -(10**30), "1e3", " 1", "١٢", "²", "1; DROP TABLE account; --",
    "' OR '1'='1", "<script>alert(1)</script>", "../../etc/passwd", [1], [[1, 2], {"a": 1}], {"id": 1},
    {"$gt": ""}, "x" * 5000, "all", "2025-01-01/2026-01-01", "9999-12-31/0001-01-01",
)
PAGES = ("/", "/adviser", "/manager")


@dataclass(frozen=True)
class Slot:
    """One input or state of a callback: its id (a string or a pattern dict) and property."""

    component_id: str | dict[str, Any]
    prop: str
    is_state: bool

    @property
    def wildcard(self) -> str | None:
        """MATCH, ALL or ALLSMALLER when the id is a pattern with one, else None."""
        if isinstance(self.component_id, dict):
            for value in self.component_id.values():
                if isinstance(value, list) and len(value) == 1 and value[0] in WILDCARDS:
                    return str(value[0])
        return None


@dataclass
class CallbackSpec:
    """A server-side callback as /_dash-dependencies describes it."""

    output: str
    outputs: list[tuple[str | dict[str, Any], str]]
    inputs: list[Slot]
    state: list[Slot]

    @property
    def slots(self) -> list[Slot]:
        """Inputs then states."""
        return [*self.inputs, *self.state]


class UnbuildableCallback(AssertionError):
    """A registered callback the suite does not know how to call: the suite must learn it, not skip it."""


def _parse_output_part(part: str) -> tuple[str | dict[str, Any], str]:
    component, _, prop = part.rpartition(".")
    if not component or not prop:
        raise UnbuildableCallback(f"cannot read the output {part!r}")
    if component.startswith("{"):
        return json.loads(component), prop
    return component, prop


def _component_id(raw: str | dict[str, Any]) -> str | dict[str, Any]:
    """A component id as the dependencies list gives it: pattern ids come as JSON text."""
    if isinstance(raw, str) and raw.startswith("{"):
        return json.loads(raw)
    return raw


def server_callbacks(dependencies: list[dict[str, Any]]) -> list[CallbackSpec]:
    """The callbacks that run on the server (clientside ones never reach it)."""
    specs = []
    for dep in dependencies:
        if dep.get("clientside_function"):
            continue
        output = dep["output"]
        parts = output[2:-2].split("...") if output.startswith("..") else [output]
        # Outputs marked "@hash" (allow_duplicate) are sent without the suffix.
        outputs = [_parse_output_part(part.split("@")[0]) for part in parts]
        specs.append(CallbackSpec(
            output=output, outputs=outputs,
            inputs=[Slot(_component_id(i["id"]), i["property"], False) for i in dep["inputs"]],
            state=[Slot(_component_id(s["id"]), s["property"], True) for s in dep.get("state", [])],
        ))
    return specs


def walk_components(tree: Any) -> Iterator[dict[str, Any]]:
    """The props of every component in a rendered layout."""
    if isinstance(tree, dict):
        props = tree.get("props")
        if isinstance(props, dict) and "namespace" in tree:
            yield props
        for value in tree.values():
            yield from walk_components(value)
    elif isinstance(tree, list):
        for value in tree:
            yield from walk_components(value)


def numbers_in(tree: Any) -> Iterator[float]:
    """Every float in a JSON answer (integers are ids, counts and sizes)."""
    if isinstance(tree, float):
        yield tree
    elif isinstance(tree, dict):
        for value in tree.values():
            yield from numbers_in(value)
    elif isinstance(tree, list):
        for value in tree:
            yield from numbers_in(value)


def too_precise(value: float, digits: int = 2) -> bool:
    """True when a number carries more decimals than any figure shows."""
    return math.isfinite(value) and round_as_shown(value, digits) != value


@dataclass
class Knowledge:
    """What the suite learnt of the app for one role: props seen in its layouts, by component id."""

    props: dict[str, dict[str, Any]] = field(default_factory=dict)
    pattern_values: dict[str, set[Any]] = field(default_factory=dict)

    def learn(self, layout: Any) -> None:
        """Remember the props of every component with an id in a rendered layout."""
        for props in walk_components(layout):
            component_id = props.get("id")
            if isinstance(component_id, str):
                self.props.setdefault(component_id, {}).update(props)
            elif isinstance(component_id, dict):
                for key, value in component_id.items():
                    if key != "type":
                        self.pattern_values.setdefault(key, set()).add(value)

    def baseline(self, slot: Slot) -> Any:
        """The value the app itself gave this prop in a layout, or a harmless default."""
        if slot.prop == "n_clicks":
            return 1  # a click: callbacks that wait for one run their body
        if isinstance(slot.component_id, str):
            props = self.props.get(slot.component_id, {})
            if slot.prop in props:
                return props[slot.prop]
        return None

    def options(self, slot: Slot) -> list[Any]:
        """The values the app offers for this prop (a select's options), to try each legitimately."""
        if not isinstance(slot.component_id, str) or slot.prop != "value":
            return []
        found = self.props.get(slot.component_id, {}).get("options") or []
        return [o["value"] if isinstance(o, dict) else o for o in found]


def candidates(slot: Slot, knowledge: Knowledge, ids: list[int]) -> list[Any]:
    """Values to try in one slot: the app's own, every id of every scope (as numbers and text), and junk."""
    if slot.prop == "pathname":
        return [*PAGES, "/../manager", "/adviser/", "//evil.example", *JUNK[:4]]
    if slot.prop == "search":
        return ["", *(f"?dwelling={i}" for i in ids), "?dwelling=1&dwelling=2", "?dwelling=%27%20OR%201=1",
                "?dwelling=١", "?building=1", *JUNK[:3]]
    values: list[Any] = [knowledge.baseline(slot), *knowledge.options(slot), *ids, *(str(i) for i in ids[:3]), *JUNK]
    unique: list[Any] = []
    for value in values:
        if not any(type(value) is type(seen) and value == seen for seen in unique):
            unique.append(value)
    return unique


def concrete_id(component_id: str | dict[str, Any], pattern_value: Any) -> str | dict[str, Any]:
    """A pattern id with its wildcard replaced by a value (a plain id as it is)."""
    if isinstance(component_id, str):
        return component_id
    return {key: pattern_value if isinstance(value, list) else value for key, value in component_id.items()}


def _entry(slot: Slot, pattern_value: Any, value: Any) -> Any:
    if slot.wildcard in ("ALL", "ALLSMALLER"):
        return [{"id": concrete_id(slot.component_id, pattern_value), "property": slot.prop, "value": value}]
    return {"id": concrete_id(slot.component_id, pattern_value), "property": slot.prop, "value": value}


def _changed(slot: Slot, pattern_value: Any) -> str:
    component = concrete_id(slot.component_id, pattern_value)
    name = component if isinstance(component, str) else json.dumps(component, separators=(",", ":"), sort_keys=True)
    return f"{name}.{slot.prop}"


def build_body(spec: CallbackSpec, values: dict[int, Any], pattern_value: Any, changed: int) -> dict[str, Any]:
    """The JSON the Dash renderer would post for these slot values (by position) and this pattern value."""
    for slot in spec.slots:
        if slot.wildcard is None and isinstance(slot.component_id, dict):
            raise UnbuildableCallback(f"{spec.output}: a pattern id without a wildcard the suite knows")
    outputs: list[Any] = []
    for component_id, prop in spec.outputs:
        if isinstance(component_id, dict) and any(
                isinstance(v, list) and v and v[0] not in WILDCARDS for v in component_id.values()):
            raise UnbuildableCallback(f"{spec.output}: unknown wildcard")
        entry = {"id": concrete_id(component_id, pattern_value), "property": prop}
        is_all = isinstance(component_id, dict) and any(v in (["ALL"], ["ALLSMALLER"]) for v in component_id.values())
        outputs.append([entry] if is_all else entry)
    slots = spec.slots
    n_inputs = len(spec.inputs)
    entries = [_entry(slot, pattern_value, values.get(position)) for position, slot in enumerate(slots)]
    return {
        "output": spec.output,
        "outputs": outputs[0] if len(outputs) == 1 else outputs,
        "inputs": entries[:n_inputs],
        "state": entries[n_inputs:],
        "changedPropIds": [_changed(slots[changed], pattern_value)],
    }


def attack_bodies(spec: CallbackSpec, knowledge: Knowledge, ids: list[int]) -> Iterator[dict[str, Any]]:
    """Requests for one callback: each slot in turn takes every candidate, the others their baseline."""
    if not spec.inputs:
        raise UnbuildableCallback(f"{spec.output}: a callback without inputs")
    patterns = [slot for slot in spec.slots if slot.wildcard]
    pattern_keys = {key for slot in patterns for key, value in slot.component_id.items()  # type: ignore[union-attr]
                    if isinstance(value, list)}
    pattern_values: list[Any] = [None]
    if patterns:
        known = sorted({v for key in pattern_keys for v in knowledge.pattern_values.get(key, set())}, key=str)
        pattern_values = [*known, *ids, *(str(i) for i in ids[:2]), *JUNK[3:10]]
    baseline = {position: knowledge.baseline(slot) for position, slot in enumerate(spec.slots)}
    # The pages callback reads pathname and search together: every page with every search.
    if {slot.prop for slot in spec.inputs} >= {"pathname", "search"}:
        path_at = next(p for p, s in enumerate(spec.slots) if s.prop == "pathname")
        search_at = next(p for p, s in enumerate(spec.slots) if s.prop == "search")
        for path in candidates(spec.slots[path_at], knowledge, ids):
            for search in candidates(spec.slots[search_at], knowledge, ids):
                yield build_body(spec, {**baseline, path_at: path, search_at: search}, None, path_at)
        return
    # Every slot takes every candidate under the first pattern value (the app's own when the layout had one);
    # every other pattern value (other scopes' ids, junk) is tried with the slots at their baseline,
    # triggered by each input in turn.
    for position, slot in enumerate(spec.slots):
        changed = position if position < len(spec.inputs) else 0
        for value in candidates(slot, knowledge, ids):
            yield build_body(spec, {**baseline, position: value}, pattern_values[0], changed)
    for pattern_value in pattern_values[1:]:
        for changed in range(len(spec.inputs)):
            yield build_body(spec, baseline, pattern_value, changed)


@dataclass(frozen=True)
class Marker:
    """Something only one scope's data contains: a code, a name, a meter source."""

    text: str
    dwellings: frozenset[int]  # the dwellings whose data it belongs to (empty: a building's own)
    buildings: frozenset[int]


def forbidden_numbers(url: str, settings: Settings, outside: list[int], inside: list[int], today: date) -> set[float]:
    """Every consumption figure the household view could show for the outside dwellings and not for the inside ones."""

    def figures(dwelling_ids: list[int]) -> set[float]:
        found: set[float] = set()
        tariffs = Tariffs.from_settings(settings)
        with psycopg.connect(url) as conn:
            for dwelling_id in dwelling_ids:
                for kind in queries.KINDS:
                    for granularity in queries.GRANULARITIES:
                        periods = queries.consumption_by_period(
                            conn, dwelling_id, kind, granularity, timezone=settings.timezone,
                            gas_kwh_per_m3=settings.gas_kwh_per_m3, today=today)
                        for measure in ("amount", "cost"):
                            values = values_shown(periods, kind, measure, tariffs)
                            found |= {round_as_shown(v, 2) for v in values}
                            if values:
                                found.add(round_as_shown(sum(values), 2))
        return found

    # Small or round numbers could be anything (a height, a bar gap, an opacity); a figure is recognisable
    # from ten up by its decimals, or from its size.
    return {v for v in figures(outside) - figures(inside) if abs(v) >= 10 and (v != int(v) or abs(v) >= 1000)}


def answer_text(response: requests.Response) -> str:
    """A response body as text, JSON unescaped so accents and markers read as on the page."""
    try:
        return json.dumps(response.json(), ensure_ascii=False)
    except ValueError:
        return response.text
