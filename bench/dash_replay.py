"""What Dash's renderer sends for a page: its callbacks fired in dependency order, answers applied to the page.

The dashboard benchmark replays these requests from many sessions; it needs them to be the ones a browser
sends, chains included: a control whose change first updates a store that a figure reads (the household
page's date window) sends two requests, the second carrying the first one's answer. ``fire`` resolves that
as the renderer does — a callback waits while one of its inputs is the output of another callback still to
run; components that an answer adds to the page fire their own initial callbacks.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

Layout = dict[str, dict[str, Any]]
Post = Callable[[dict[str, Any]], dict[str, Any] | None]  # a request body → the answer's JSON (None: 204)


def outputs_of(output: str) -> list[dict[str, str]] | dict[str, str]:
    """The request's "outputs" from a dependency's output string ("id.prop" or "..a.p...b.q..")."""
    def one(text: str) -> dict[str, str]:
        component, prop = text.split("@")[0].rsplit(".", 1)
        return {"id": component, "property": prop}
    if output.startswith(".."):
        return [one(part) for part in output[2:-2].split("...")]
    return one(output)


def output_keys(dep: dict[str, Any]) -> set[str]:
    """The "id.prop" keys a dependency writes."""
    outputs = outputs_of(dep["output"])
    return {f"{o['id']}.{o['property']}" for o in (outputs if isinstance(outputs, list) else [outputs])}


def input_keys(dep: dict[str, Any]) -> set[str]:
    """The "id.prop" keys whose change fires a dependency."""
    return {f"{i['id']}.{i['property']}" for i in dep["inputs"]}


def props_by_id(node: Any, found: Layout) -> Layout:
    """Every component of a rendered layout with a string id: id → props (the same dict, so updates show)."""
    if isinstance(node, dict):
        props = node.get("props")
        if isinstance(props, dict) and "type" in node:
            if isinstance(props.get("id"), str):
                found[props["id"]] = props
            for value in props.values():
                props_by_id(value, found)
    elif isinstance(node, list):
        for item in node:
            props_by_id(item, found)
    return found


def _value(layout: Layout, item: dict[str, str]) -> dict[str, Any]:
    return {"id": item["id"], "property": item["property"], "value": layout.get(item["id"], {}).get(item["property"])}


def request_body(dep: dict[str, Any], layout: Layout, changed: set[str]) -> dict[str, Any]:
    """The JSON body the renderer posts for `dep` with the page as it is now."""
    return {"output": dep["output"], "outputs": outputs_of(dep["output"]),
            "inputs": [_value(layout, i) for i in dep["inputs"]], "state": [_value(layout, s) for s in dep["state"]],
            "changedPropIds": sorted(input_keys(dep) & changed)}


def _apply(layout: Layout, answer: dict[str, Any] | None) -> set[str]:
    """Write an answer's outputs into the page; the keys it set (new components are added to the page)."""
    written: set[str] = set()
    for component, props in ((answer or {}).get("response") or {}).items():
        if not isinstance(props, dict):
            continue
        for prop, value in props.items():
            layout.setdefault(component, {})[prop] = value
            written.add(f"{component}.{prop}")
            if prop == "children":
                props_by_id(value, layout)
    return written


def _eligible_on_load(dep: dict[str, Any], layout: Layout) -> bool:
    return (not dep.get("clientside_function") and not dep.get("prevent_initial_call")
            and bool(dep["inputs"]) and all(i["id"] in layout for i in dep["inputs"]))


def fire(post: Post, deps: list[dict[str, Any]], layout: Layout,
         changes: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    """Fire what a page load (no `changes`) or a user's change of "id.prop" values sends; the bodies in order.

    `layout` is updated in place with the user's change and every answer, so a later call starts from the page
    as the user left it.
    """
    server_deps = [d for d in deps if not d.get("clientside_function")]
    loaded = {i for i, dep in enumerate(server_deps) if _eligible_on_load(dep, layout)}
    if changes is None:
        pending, changed = set(loaded), set()
    else:
        for key, value in changes.items():
            component, prop = key.rsplit(".", 1)
            layout.setdefault(component, {})[prop] = value
        changed = set(changes)
        pending = {i for i, dep in enumerate(server_deps) if input_keys(dep) & changed
                   and all(i_["id"] in layout for i_ in dep["inputs"])}
    sent: list[dict[str, Any]] = []
    fired: set[int] = set()
    while pending:
        waiting_on = set().union(*(output_keys(server_deps[i]) for i in pending))
        ready = [i for i in sorted(pending) if not (input_keys(server_deps[i]) & (waiting_on - output_keys(server_deps[i])))]
        if not ready:  # a cycle: the renderer would fire them in order as well
            ready = [min(pending)]
        for index in ready:
            pending.discard(index)
            fired.add(index)
            body = request_body(server_deps[index], layout, changed)
            sent.append(body)
            written = _apply(layout, post(body))
            changed |= written
            for other, dep in enumerate(server_deps):
                if other in fired or other in pending or not all(i["id"] in layout for i in dep["inputs"]):
                    continue
                newly_on_page = other not in loaded and _eligible_on_load(dep, layout)
                if input_keys(dep) & written or newly_on_page:
                    pending.add(other)
                    loaded.add(other)
    return sent
