"""Tampering: a household that edits callback payloads, URLs or download links gets nothing of another home."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import psycopg
import pytest
import requests

from coopwatt.rollups import refresh_rollups
from coopwatt.settings import load_settings
from dashboard.i18n import format_quantity
from dashboard.scope import Role, Scope, ScopeDenied, parse_id, resolve_dwelling
from tests.dashboard_fixtures import dashboard_fixtures
from tests.dashboard_support import PARIS, DashboardServer, Seed, login, seeded_cooperative
from tests.csv_support import csv_meters

CONSUMPTION_OUTPUTS = [
    {"id": "household-consumption-graph", "property": "figure"},
    {"id": "household-consumption-summary", "property": "children"},
    {"id": "household-consumption-source", "property": "children"},
]


def consumption_payload(requested_dwelling: Any, kind: str = "electricity") -> dict[str, Any]:
    """The body Dash posts for the consumption chart, with the dwelling store set to anything we like."""
    return {
        "output": "..household-consumption-graph.figure...household-consumption-summary.children"
                  "...household-consumption-source.children..",
        "outputs": CONSUMPTION_OUTPUTS,
        "inputs": [
            {"id": "household-kind", "property": "value", "value": kind},
            {"id": "household-granularity", "property": "value", "value": "year"},
            {"id": "household-measure", "property": "value", "value": "amount"},
            # The chart's window (days only; None: the granularity's default window to today).
            {"id": "household-window", "property": "data", "value": None},
        ],
        "changedPropIds": ["household-kind.value"],
        "state": [{"id": "household-dwelling", "property": "data", "value": requested_dwelling}],
    }


def page_payload(search: str) -> dict[str, Any]:
    """The body Dash posts to render a page for a URL (path "/" with a query string)."""
    return {
        "output": ".._pages_content.children..._pages_store.data..",
        "outputs": [{"id": "_pages_content", "property": "children"}, {"id": "_pages_store", "property": "data"}],
        "inputs": [
            {"id": "_pages_location", "property": "pathname", "value": "/"},
            {"id": "_pages_location", "property": "search", "value": search},
        ],
        "changedPropIds": ["_pages_location.pathname"],
        "state": [],
    }


def figure_y(response: requests.Response) -> list[float]:
    """The bar heights in a consumption callback answer."""
    body = response.json()
    data = body["response"]["household-consumption-graph"]["figure"]["data"]
    return [float(v) for v in data[0]["y"]] if data else []


def yearly(url: str, meter_id: int) -> list[float]:
    """Per-year sums straight from consumption_daily."""
    with psycopg.connect(url) as conn:
        rows = conn.execute(
            "SELECT sum(energy_kwh) FROM consumption_daily WHERE meter_id = %s"
            " GROUP BY date_trunc('year', day AT TIME ZONE 'Europe/Paris') ORDER BY min(day)", (meter_id,),
        ).fetchall()
    return [float(row[0]) for row in rows]


def _seed(url: str) -> tuple[str, Seed]:
    """Three dwellings, one account per role."""
    return url, seeded_cooperative(url, today=datetime.now(PARIS).date())


# The dashboard under gunicorn (two workers): one for the module's tests that only read (tests/dashboard_fixtures.py),
# one of its own for each test that opens alerts or adds meters.
_shared_seed, seeded, _shared_server, server, own_seeded, own_server = dashboard_fixtures(_seed)


def test_household_tampering_with_callbacks_gets_nothing_of_another_home(
    server: DashboardServer, seeded: tuple[str, Seed],
) -> None:
    url, seed = seeded
    alice = login(server.url, "alice")
    endpoint = server.url + "/_dash-update-component"

    # The genuine request works, so the tampered ones below are well-formed.
    own = alice.post(endpoint, json=consumption_payload(None), timeout=30)
    assert own.status_code == 200
    assert figure_y(own) == pytest.approx(yearly(url, seed.meters["a-elec"]))

    # Bob's and C's figures in every spelling the answer could carry them.
    secrets = set()
    for meter in ("b-elec", "c-elec"):
        for value in yearly(url, seed.meters[meter]):
            secrets |= {repr(value), f"{value:.1f}", f"{value:.0f}", format_quantity(value, "kWh", "fr", digits=0),
                        format_quantity(value, "kWh", "en", digits=0)}

    # Bob's dwelling id as a number, a string, a list, a negative or a huge number: nothing of bob's comes back.
    for tampered in (seed.dwelling_b, str(seed.dwelling_b), [seed.dwelling_b], -seed.dwelling_b, 10**12,
                     {"id": seed.dwelling_b}, seed.dwelling_c):
        response = alice.post(endpoint, json=consumption_payload(tampered), timeout=30)
        assert response.status_code == 200, tampered
        assert figure_y(response) == [], tampered
        assert not [secret for secret in secrets if secret in response.text], tampered
        assert "consumption-denied" in response.text, tampered

    # The page itself, asked for with ?dwelling=<bob's>: a refusal, not bob's home.
    page = alice.post(endpoint, json=page_payload(f"?dwelling={seed.dwelling_b}"), timeout=30)
    assert page.status_code == 200
    assert "household-denied" in page.text
    assert "A-13" not in page.text
    own_page = alice.post(endpoint, json=page_payload(""), timeout=30)
    assert "A-12" in own_page.text and "A-13" not in own_page.text


def test_household_tampering_with_downloads_gets_nothing_of_another_home(
    server: DashboardServer, seeded: tuple[str, Seed],
) -> None:
    _, seed = seeded
    alice = login(server.url, "alice")
    for path in ("/download/daily.csv", "/download/readings.csv"):
        own = alice.get(server.url + path, timeout=30)
        assert own.status_code == 200
        meters = csv_meters(own)
        assert meters and meters <= {"src-a-elec", "src-a-gas", "src-a-water"}, path
        for tampered in (str(seed.dwelling_b), str(seed.dwelling_c), "abc", "0"):
            response = alice.get(server.url + path, params={"dwelling": tampered}, timeout=30)
            assert response.status_code == 403, (path, tampered)
            assert "src-b" not in response.text and "src-c" not in response.text


def test_logged_out_requests_get_nothing(server: DashboardServer, seeded: tuple[str, Seed]) -> None:
    anonymous = requests.Session()
    endpoint = server.url + "/_dash-update-component"
    for payload in (consumption_payload(None), consumption_payload(seeded[1].dwelling_a), page_payload("")):
        response = anonymous.post(endpoint, json=payload, timeout=30)
        assert response.status_code == 401
        assert "figure" not in response.text
    for path in ("/_dash-layout", "/_dash-dependencies", "/download/daily.csv", "/download/readings.csv",
                 "/download/daily.csv?dwelling=1"):
        response = anonymous.get(server.url + path, allow_redirects=False, timeout=30)
        assert response.status_code == 401, path
        assert "src-" not in response.text
    for path in ("/", "/?dwelling=1", "/anything"):
        response = anonymous.get(server.url + path, allow_redirects=False, timeout=30)
        assert response.status_code == 302 and response.headers["Location"].startswith("/login"), path
    # A forged session cookie (not signed with the secret) is no login either.
    forged = requests.Session()
    forged.cookies.set("coopwatt_session", "eyJhY2NvdW50X2lkIjoxfQ.forged.signature")
    assert forged.get(server.url + "/_dash-layout", timeout=30).status_code == 401


def open_alert(url: str, meter_id: int, dwelling_id: int | None, building_id: int, kind: str = "spike") -> int:
    """An open alert on this meter (of a dwelling, or of the building itself when dwelling_id is None)."""
    with psycopg.connect(url) as conn:
        row = conn.execute(
            "INSERT INTO alert (kind, severity, meter_id, dwelling_id, building_id, started_at)"
            " VALUES (%s, 'warning', %s, %s, %s, now()) RETURNING id", (kind, meter_id, dwelling_id, building_id),
        ).fetchone()
    assert row is not None
    return int(row[0])


def test_staff_see_dwellings_in_their_scope_only(own_server: DashboardServer, own_seeded: tuple[str, Seed]) -> None:
    url, seed = own_seeded
    endpoint = own_server.url + "/_dash-update-component"
    # A manager sees a home of their building only while it has an open alert (see the next test).
    open_alert(url, seed.meters["c-elec"], seed.dwelling_c, seed.other_building_id)
    # Claire advises residence ERA (dwelling C); Marc manages building B (dwelling C).
    for username in ("claire", "marc"):
        staff = login(own_server.url, username)
        allowed = staff.post(endpoint, json=consumption_payload(seed.dwelling_c), timeout=30)
        assert figure_y(allowed) == pytest.approx(yearly(url, seed.meters["c-elec"])), username
        for outside in (seed.dwelling_a, seed.dwelling_b, None):
            denied = staff.post(endpoint, json=consumption_payload(outside), timeout=30)
            assert figure_y(denied) == [], (username, outside)
        assert staff.get(own_server.url + "/download/daily.csv", params={"dwelling": seed.dwelling_a},
                         timeout=30).status_code == 403
        assert staff.get(own_server.url + "/download/daily.csv", params={"dwelling": seed.dwelling_c},
                         timeout=30).status_code == 200
    admin = login(own_server.url, "root")
    seen = admin.post(endpoint, json=consumption_payload(seed.dwelling_b), timeout=30)
    assert figure_y(seen) == pytest.approx(yearly(url, seed.meters["b-elec"]))


def _csv_meters(response: requests.Response) -> set[str]:
    return csv_meters(response)


def test_who_sees_what_in_downloads(own_server: DashboardServer, own_seeded: tuple[str, Seed]) -> None:
    """Issue 12, item 8: a manager gets the building's own meters, a home's daily use only while it has an
    open alert, and never a home's raw readings (its load curve); docs/operations.md, "Who sees what"."""
    url, seed = own_seeded
    with psycopg.connect(url) as conn:
        row = conn.execute("INSERT INTO meter (building_id, kind, mode, source) VALUES (%s, 'heat', 'index',"
                           " 'src-b-heat') RETURNING id", (seed.other_building_id,)).fetchone()
        assert row is not None
        heat = int(row[0])
        conn.execute("INSERT INTO reading VALUES (%s, 1, now() - interval '1 hour', 4242.5)", (heat,))
        conn.execute("INSERT INTO reading VALUES (%s, 1, now() - interval '1 hour', 1.25)", (seed.meters["c-elec"],))
        # The heat meter's day, through the product's own rollup refresh (a continuous aggregate in TimescaleDB mode).
        midnight = datetime.now(PARIS).replace(hour=0, minute=0, second=0, microsecond=0)
        conn.execute("INSERT INTO consumption_hourly (meter_id, hour, energy_kwh) VALUES (%s, %s, 12.5)",
                     (heat, midnight))
    refresh_rollups(url, load_settings({}, database_url=url, timezone="Europe/Paris"),
                    midnight, midnight + timedelta(days=1))
    download = own_server.url + "/download/{}.csv"
    marc = login(own_server.url, "marc")  # manager of building B (dwelling C)
    for kind in ("readings", "daily"):
        own = marc.get(download.format(kind), params={"building": seed.other_building_id}, timeout=30)
        assert own.status_code == 200 and _csv_meters(own) == {"src-b-heat"}, kind
        for tampered in ({"building": seed.building_id}, {"building": "abc"}, {"building": [seed.building_id]},
                         {"building": seed.other_building_id, "dwelling": seed.dwelling_c}):
            assert marc.get(download.format(kind), params=tampered, timeout=30).status_code == 403, (kind, tampered)
    # Dwelling C has no open alert: nothing of it.
    for kind in ("readings", "daily"):
        refused = marc.get(download.format(kind), params={"dwelling": seed.dwelling_c}, timeout=30)
        assert refused.status_code == 403 and "src-c" not in refused.text, kind
    open_alert(url, seed.meters["c-elec"], seed.dwelling_c, seed.other_building_id)
    daily = marc.get(download.format("daily"), params={"dwelling": seed.dwelling_c}, timeout=30)
    assert daily.status_code == 200 and _csv_meters(daily) == {"src-c-elec"}
    readings = marc.get(download.format("readings"), params={"dwelling": seed.dwelling_c}, timeout=30)
    assert readings.status_code == 403 and "src-c" not in readings.text
    # Households and advisers get no building meters; an adviser still gets a home's readings in their residence.
    claire = login(own_server.url, "claire")
    alice = login(own_server.url, "alice")
    for session in (claire, alice):
        for kind in ("readings", "daily"):
            response = session.get(download.format(kind), params={"building": seed.other_building_id}, timeout=30)
            assert response.status_code == 403 and "src-b-heat" not in response.text
    adviser = claire.get(download.format("readings"), params={"dwelling": seed.dwelling_c}, timeout=30)
    assert adviser.status_code == 200 and _csv_meters(adviser) == {"src-c-elec"}
    admin = login(own_server.url, "root").get(download.format("readings"), params={"building": seed.other_building_id},
                                          timeout=30)
    assert admin.status_code == 200 and _csv_meters(admin) == {"src-b-heat"}


def _scope(role: Role, dwelling_id: int | None = None, residences: frozenset[int] = frozenset(),
           buildings: frozenset[int] = frozenset()) -> Scope:
    return Scope(1, "x", role, "fr", "t", dwelling_id, residences, buildings)


def test_resolve_dwelling_on_the_database(own_seeded: tuple[str, Seed]) -> None:
    url, seed = own_seeded
    with psycopg.connect(url) as conn:
        household = _scope(Role.HOUSEHOLD, seed.dwelling_a)
        assert resolve_dwelling(conn, household, None) == seed.dwelling_a
        assert resolve_dwelling(conn, household, str(seed.dwelling_a)) == seed.dwelling_a
        with pytest.raises(ScopeDenied):
            resolve_dwelling(conn, household, seed.dwelling_b)
        adviser = _scope(Role.ADVISER, residences=frozenset({seed.residence_id}))
        assert resolve_dwelling(conn, adviser, seed.dwelling_b) == seed.dwelling_b
        with pytest.raises(ScopeDenied):
            resolve_dwelling(conn, adviser, seed.dwelling_c)
        manager = _scope(Role.MANAGER, buildings=frozenset({seed.other_building_id}))
        with pytest.raises(ScopeDenied):  # no open alert in the home: nothing to look at there
            resolve_dwelling(conn, manager, seed.dwelling_c)
    open_alert(url, seed.meters["c-elec"], seed.dwelling_c, seed.other_building_id)
    with psycopg.connect(url) as conn:
        assert resolve_dwelling(conn, manager, seed.dwelling_c) == seed.dwelling_c
        with pytest.raises(ScopeDenied):
            resolve_dwelling(conn, manager, None)
        with pytest.raises(ScopeDenied):
            resolve_dwelling(conn, _scope(Role.ADMIN), 999_999)


@pytest.mark.parametrize("value", [True, 1.5, "1e3", " 1", "-1", 0, [1], {"id": 1}, "12345678901"])
def test_parse_id_refuses_anything_but_a_positive_integer(value: object) -> None:
    with pytest.raises(ScopeDenied):
        parse_id(value)


def test_parse_id_accepts_ids() -> None:
    assert parse_id(None) is None and parse_id("") is None
    assert parse_id(7) == 7 and parse_id("42") == 42
