"""The dashboard's callbacks called over HTTP as the Dash renderer calls them, with whatever values a test sends."""

from __future__ import annotations

import json
from datetime import date
from typing import Any

import requests

ALL = "all"


def callback_output(session: requests.Session, base_url: str, output_starts: str) -> str:
    """The registered output string of the callback whose output begins with this id (from the app itself)."""
    dependencies = session.get(base_url + "/_dash-dependencies", timeout=30).json()
    matches = [d["output"] for d in dependencies if d["output"].lstrip(".").startswith(output_starts)]
    assert len(matches) == 1, matches
    return matches[0]


class Answer:
    """A callback answer: its JSON, and all of it as text with non-ASCII characters unescaped."""

    def __init__(self, response: requests.Response) -> None:
        self.json = response.json()
        self.text = json.dumps(self.json, ensure_ascii=False)


def post_callback(session: requests.Session, base_url: str, output: str, outputs: list[dict[str, Any]],
          inputs: list[dict[str, Any]], state: list[dict[str, Any]], changed: str) -> Answer:
    # As the Dash renderer does: a single output is sent as an object, several as a list.
    body = {"output": output, "outputs": outputs[0] if len(outputs) == 1 else outputs, "inputs": inputs,
            "state": state, "changedPropIds": [changed]}
    response = session.post(base_url + "/_dash-update-component", json=body, timeout=30)
    assert response.status_code == 200, response.text[:500]
    return Answer(response)


SLOTS = ("household-similar-homes-body", "household-last-year-body", "household-anomalies-body",
         "household-suggestions-body")


def household_cards(session: requests.Session, base_url: str, requested_dwelling: object,
                    kind: str = "electricity") -> Answer:
    """The analytics cards' callback, with the dwelling store set to anything we like."""
    output = callback_output(session, base_url, "household-similar-homes-body")
    return post_callback(session, base_url, output, [{"id": slot, "property": "children"} for slot in SLOTS],
                 [{"id": "household-kind", "property": "value", "value": kind}],
                 [{"id": "household-dwelling", "property": "data", "value": requested_dwelling}],
                 "household-kind.value")


def numbers(tree: object) -> list[float]:
    """Every float anywhere in a callback answer."""
    if isinstance(tree, float):
        return [tree]
    if isinstance(tree, dict):
        return [n for value in tree.values() for n in numbers(value)]
    if isinstance(tree, list):
        return [n for value in tree for n in numbers(value)]
    return []


def period_value(period: tuple[date, date]) -> str:
    """A ranking period as the period filter offers it."""
    return f"{period[0].isoformat()}/{period[1].isoformat()}"


def ranking(session: requests.Session, base_url: str, residence: object = ALL, building: object = ALL,
            heating: object = ALL, kind: object = ALL, period: object = None) -> Answer:
    """The adviser ranking callback with the given filter values (no period: the server's default, the latest)."""
    output = callback_output(session, base_url, "adviser-ranking")
    values = {"adviser-residence": residence, "adviser-building": building, "adviser-heating": heating,
              "adviser-kind": kind, "adviser-period": period}
    return post_callback(session, base_url, output, [{"id": "adviser-ranking", "property": "children"}],
                 [{"id": key, "property": "value", "value": value} for key, value in values.items()], [],
                 "adviser-residence.value")


def open_dwelling(session: requests.Session, base_url: str, requested: object) -> Answer:
    """The adviser's drill-down panel callback, as a click on the home ``requested`` sends it."""
    output = callback_output(session, base_url, "adviser-drilldown-body")
    button = {"type": "ranking-open", "dwelling": requested}
    return post_callback(session, base_url, output,
                 [{"id": "adviser-drilldown-body", "property": "children"},
                  {"id": "adviser-drilldown", "property": "is_open"}, {"id": "adviser-opened", "property": "data"}],
                 [[{"id": button, "property": "n_clicks", "value": 1}]], [],
                 json.dumps(button, separators=(",", ":"), sort_keys=True) + ".n_clicks")


def component(tree: object, component_id: str) -> dict[str, Any]:
    """The props of the component with this id in a rendered layout (which must have it)."""
    found = find_component(tree, component_id)
    assert found is not None, component_id
    return found


def find_component(tree: object, component_id: str) -> dict[str, Any] | None:
    if isinstance(tree, dict):
        props = tree.get("props")
        if isinstance(props, dict) and props.get("id") == component_id:
            return props
        for value in tree.values():
            found = find_component(value, component_id) if isinstance(value, (dict, list)) else None
            if found is not None:
                return found
    elif isinstance(tree, list):
        for value in tree:
            found = find_component(value, component_id)
            if found is not None:
                return found
    return None


def follow_up(session: requests.Session, base_url: str, dwelling: object) -> Answer:
    """The follow-up save callback with the drill-down store set to anything we like."""
    output = callback_output(session, base_url, "adviser-follow-result")
    return post_callback(session, base_url, output, [{"id": "adviser-follow-result", "property": "children"}],
                 [{"id": "adviser-follow-save", "property": "n_clicks", "value": 1}],
                 [{"id": "adviser-dwelling", "property": "data", "value": dwelling},
                  {"id": "adviser-follow-status", "property": "value", "value": "contacted"},
                  {"id": "adviser-follow-note", "property": "value", "value": "Appelé le gardien"}],
                 "adviser-follow-save.n_clicks")


def alert_action(session: requests.Session, base_url: str, alert_id: object, button: str = "alert-acknowledge",
                 comment: str = "Plombier prévenu") -> Answer:
    """The alert action callback as if the button of `alert_id` had been pressed."""
    output = callback_output(session, base_url, '{"alert":["MATCH"],"type":"alert-status"}')

    def pid(kind: str) -> dict[str, object]:
        return {"alert": alert_id, "type": kind}

    return post_callback(session, base_url, output,
                 [{"id": pid("alert-status"), "property": "children"}, {"id": pid("alert-acknowledge"),
                                                                        "property": "disabled"}],
                 [{"id": pid("alert-acknowledge"), "property": "n_clicks",
                   "value": 1 if button == "alert-acknowledge" else None},
                  {"id": pid("alert-resolve"), "property": "n_clicks", "value": 1 if button == "alert-resolve" else None}],
                 [{"id": pid("alert-comment"), "property": "value", "value": comment}],
                 json.dumps(pid(button), separators=(",", ":"), sort_keys=True) + ".n_clicks")


def page(session: requests.Session, base_url: str, path: str, search: str = "") -> str:
    """A page's layout as the Dash page router renders it for this session."""
    body = {
        "output": ".._pages_content.children..._pages_store.data..",
        "outputs": [{"id": "_pages_content", "property": "children"}, {"id": "_pages_store", "property": "data"}],
        "inputs": [{"id": "_pages_location", "property": "pathname", "value": path},
                   {"id": "_pages_location", "property": "search", "value": search}],
        "changedPropIds": ["_pages_location.pathname"], "state": [],
    }
    response = session.post(base_url + "/_dash-update-component", json=body, timeout=30)
    assert response.status_code == 200
    return json.dumps(response.json(), ensure_ascii=False)
