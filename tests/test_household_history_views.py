"""The household history's callbacks over real HTTP: the day view is the home's own, never a manager's."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any

import psycopg
import pytest
import requests

from tests.dashboard_fixtures import seeded, server  # noqa: F401 - the shared seeded dashboard
from tests.dashboard_support import PARIS, DashboardServer, Seed, login
from tests.dashboard_views_support import AnalyticsSeed

UPDATE = "/_dash-update-component"


def _consumption(session: requests.Session, base_url: str, dwelling: object, granularity: str,
                 window: object) -> dict[str, Any]:
    """The consumption callback's answer, the window store set to anything we like."""
    dependencies = session.get(base_url + "/_dash-dependencies", timeout=30).json()
    (output,) = [d["output"] for d in dependencies if d["output"].lstrip(".").startswith("household-consumption-graph")]
    ids = ("household-consumption-graph", "household-consumption-summary", "household-consumption-source")
    body = {"output": output, "outputs": [{"id": i, "property": p} for i, p in zip(ids, ("figure", "children",
                                                                                           "children"))],
            "inputs": [{"id": "household-kind", "property": "value", "value": "electricity"},
                       {"id": "household-granularity", "property": "value", "value": granularity},
                       {"id": "household-measure", "property": "value", "value": "amount"},
                       {"id": "household-window", "property": "data", "value": window}],
            "state": [{"id": "household-dwelling", "property": "data", "value": dwelling}],
            "changedPropIds": ["household-granularity.value"]}
    response = session.post(base_url + UPDATE, json=body, timeout=30)
    assert response.status_code == 200, response.text[:300]
    return response.json()["response"]


def test_the_day_view_shows_the_homes_hours_and_refuses_them_to_a_manager(
    server: DashboardServer, seeded: tuple[str, Seed, AnalyticsSeed],
) -> None:
    url, seed, _ = seeded
    yesterday = datetime.now(PARIS).date() - timedelta(days=1)
    window = {"granularity": "hour", "first": yesterday.isoformat(), "last": yesterday.isoformat()}
    alice = _consumption(login(server.url, "alice"), server.url, None, "hour", window)
    start = datetime.combine(yesterday, datetime.min.time(), PARIS)
    with psycopg.connect(url) as conn:
        hours = [float(row[0]) for row in conn.execute(
            "SELECT energy_kwh FROM consumption_hourly WHERE meter_id = %s AND hour >= %s AND hour < %s ORDER BY hour",
            (seed.meters["a-elec"], start, start + timedelta(days=1))).fetchall()]
    assert alice["household-consumption-graph"]["figure"]["data"][0]["y"] == pytest.approx(hours)
    # Marc manages dwelling C's building and it has an open alert (seeded): its days, not its hours.
    with psycopg.connect(url) as conn:
        assert conn.execute("SELECT count(*) FROM alert WHERE dwelling_id = %s AND status = 'open'",
                            (seed.dwelling_c,)).fetchone() != (0,)
    marc = login(server.url, "marc")
    refused = _consumption(marc, server.url, seed.dwelling_c, "hour", window)
    assert refused["household-consumption-graph"]["figure"]["data"] == []
    assert "pas ouverts aux gestionnaires" in json.dumps(refused, ensure_ascii=False)
    days = _consumption(marc, server.url, seed.dwelling_c, "day", None)
    assert set(days["household-consumption-graph"]["figure"]["data"][0]["y"]) == {555.0}
    # Junk windows give the default window, never an error.
    for junk in ({"first": "0001-01-01", "last": "9999-12-31"}, {"first": 5}, "x", [1]):
        answer = _consumption(login(server.url, "alice"), server.url, None, "day", junk)
        assert len(answer["household-consumption-graph"]["figure"]["data"][0]["y"]) == 31
