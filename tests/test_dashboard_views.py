"""The analytics parts of the views through real HTTP callbacks (gunicorn), and the tampering that must fail."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import psycopg
import pytest
import requests

from dashboard.i18n import format_money_eur, format_quantity
from tests.dashboard_support import PARIS, DashboardServer, Seed, login, seed_cooperative
from tests.dashboard_views_support import AnalyticsSeed, seed_analytics

ALL = "all"


@pytest.fixture
def seeded(migrated_db_url: str) -> tuple[str, Seed, AnalyticsSeed]:
    """Three dwellings, one account per role, and analytics results written by hand."""
    today = datetime.now(PARIS).date()
    seed = seed_cooperative(migrated_db_url, today=today)
    return migrated_db_url, seed, seed_analytics(migrated_db_url, seed, today=today)


@pytest.fixture
def server(seeded: tuple[str, Seed, AnalyticsSeed], tmp_path: Path) -> Iterator[DashboardServer]:
    """The dashboard under gunicorn on the seeded database."""
    with DashboardServer(seeded[0], tmp_path / "gunicorn.log") as running:
        yield running


def _callback_output(session: requests.Session, base_url: str, output_starts: str) -> str:
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


def _post(session: requests.Session, base_url: str, output: str, outputs: list[dict[str, Any]],
          inputs: list[dict[str, Any]], state: list[dict[str, Any]], changed: str) -> Answer:
    # As the Dash renderer does: a single output is sent as an object, several as a list.
    body = {"output": output, "outputs": outputs[0] if len(outputs) == 1 else outputs, "inputs": inputs,
            "state": state, "changedPropIds": [changed]}
    response = session.post(base_url + "/_dash-update-component", json=body, timeout=30)
    assert response.status_code == 200, response.text[:500]
    return Answer(response)


SLOTS = ("household-similar-homes-body", "household-last-year-body", "household-anomalies-body",
         "household-suggestions-body")


def household_cards(session: requests.Session, base_url: str, requested_dwelling: object) -> Answer:
    """The analytics cards' callback, with the dwelling store set to anything we like."""
    output = _callback_output(session, base_url, "household-similar-homes-body")
    return _post(session, base_url, output, [{"id": slot, "property": "children"} for slot in SLOTS],
                 [{"id": "household-kind", "property": "value", "value": "electricity"}],
                 [{"id": "household-dwelling", "property": "data", "value": requested_dwelling}],
                 "household-kind.value")


def test_household_sees_similar_homes_last_year_anomalies_and_suggestions(
    server: DashboardServer, seeded: tuple[str, Seed, AnalyticsSeed],
) -> None:
    url, seed, _ = seeded
    alice = login(server.url, "alice")
    text = household_cards(alice, server.url, None).text
    # 34.84 kWh/m² against an average of 40.5 and efficient homes at 25.25: below average.
    assert "Belle performance" in text and "similar-graph" in text
    assert "34,8 kWh/m²" in text and "40,5 kWh/m²" in text and "25,2 kWh/m²" in text
    assert "même résidence, de 55 à 75 m², chauffage gaz" in text
    assert "L'eau coule en continu depuis mardi 02:00" in text
    # Most valuable first, in euros per year, exactly as stored.
    with psycopg.connect(url) as conn:
        stored = conn.execute("SELECT cost_eur_per_year FROM suggestion WHERE dwelling_id = %s"
                              " ORDER BY cost_eur_per_year DESC", (seed.dwelling_a,)).fetchall()
    positions = [text.index(format_money_eur(round(row[0]), "fr")) for row in stored]
    assert positions == sorted(positions) and len(positions) == 3
    # Last 30 days against the same days last year: seeded use is periodic, so the raw change is small,
    # and colder weather this year (8 °C against 10 °C) makes the corrected figure say so.
    assert "lastyear-verdict" in text
    assert "Corrigé de la météo" in text


def test_household_below_k_sees_no_group_figure_and_cannot_ask_for_another_home(
    server: DashboardServer, seeded: tuple[str, Seed, AnalyticsSeed],
) -> None:
    _, seed, _ = seeded
    bob = login(server.url, "bob")
    text = household_cards(bob, server.url, None).text
    assert "similar-withheld" in text and "vie privée" in text
    # The withheld group's figures (4321.75 kWh/m², 98765 kWh) appear in no spelling.
    for secret in ("4321", "4 321", "4\u202f321", "98765", "98 765", "similar-graph", "similar-verdict"):
        assert secret not in text, secret
    # Alice's cards asked for from bob's session: refused, nothing of alice's comes back.
    for tampered in (seed.dwelling_a, str(seed.dwelling_a), [seed.dwelling_a], {"id": seed.dwelling_a}, -1):
        text = household_cards(bob, server.url, tampered).text
        assert "analytics-denied" in text, tampered
        for secret in ("34,8", "Belle performance", "L'eau coule", "120"):
            assert secret not in text, (tampered, secret)


def ranking(session: requests.Session, base_url: str, residence: object = ALL, building: object = ALL,
            heating: object = ALL, kind: object = ALL, period: object = ALL) -> Answer:
    """The adviser ranking callback with the given filter values."""
    output = _callback_output(session, base_url, "adviser-ranking")
    values = {"adviser-residence": residence, "adviser-building": building, "adviser-heating": heating,
              "adviser-kind": kind, "adviser-period": period}
    return _post(session, base_url, output, [{"id": "adviser-ranking", "property": "children"}],
                 [{"id": key, "property": "value", "value": value} for key, value in values.items()], [],
                 "adviser-residence.value")


def test_adviser_ranking_stays_in_scope_whatever_the_filters(
    server: DashboardServer, seeded: tuple[str, Seed, AnalyticsSeed],
) -> None:
    url, seed, _ = seeded
    claire = login(server.url, "claire")  # adviser of the other residence (dwelling C only)
    text = ranking(claire, server.url).text
    assert f"/adviser?dwelling={seed.dwelling_c}" in text and "B-01" in text
    assert "A-12" not in text and f"dwelling={seed.dwelling_a}" not in text
    with psycopg.connect(url) as conn:
        row = conn.execute("SELECT normalised_kwh_per_m2 FROM high_consumer WHERE dwelling_id = %s",
                           (seed.dwelling_c,)).fetchone()
    assert row is not None and "2\u202f894,3" in text
    # Filters inside the scope narrow; a heating type nobody has empties.
    assert "B-01" in ranking(claire, server.url, residence=str(seed.other_residence_id), kind="electricity",
                             period="30").text
    assert "ranking-empty" in ranking(claire, server.url, heating="gas").text
    # A residence or building outside the scope, or junk, gets a refusal and nothing of dwelling A.
    for filters in ({"residence": str(seed.residence_id)}, {"building": str(seed.building_id)},
                    {"residence": [seed.residence_id]}, {"kind": "electricity' OR 1=1"}, {"period": "99999"},
                    {"heating": {"x": 1}}):
        text = ranking(claire, server.url, **filters).text
        assert "ranking-denied" in text, filters
        assert "A-12" not in text and "35,2" not in text, filters
    # A household has no ranking at all.
    assert "ranking-denied" in ranking(login(server.url, "alice"), server.url).text


def follow_up(session: requests.Session, base_url: str, dwelling: object) -> Answer:
    """The follow-up save callback with the drill-down store set to anything we like."""
    output = _callback_output(session, base_url, "adviser-follow-result")
    return _post(session, base_url, output, [{"id": "adviser-follow-result", "property": "children"}],
                 [{"id": "adviser-follow-save", "property": "n_clicks", "value": 1}],
                 [{"id": "adviser-dwelling", "property": "data", "value": dwelling},
                  {"id": "adviser-follow-status", "property": "value", "value": "contacted"},
                  {"id": "adviser-follow-note", "property": "value", "value": "Appelé le gardien"}],
                 "adviser-follow-save.n_clicks")


def test_adviser_follow_up_is_recorded_only_inside_the_scope(
    server: DashboardServer, seeded: tuple[str, Seed, AnalyticsSeed],
) -> None:
    url, seed, _ = seeded
    claire = login(server.url, "claire")
    assert "Accès refusé" in follow_up(claire, server.url, seed.dwelling_a).text
    assert "Suivi enregistré" in follow_up(claire, server.url, seed.dwelling_c).text
    with psycopg.connect(url) as conn:
        rows = conn.execute("SELECT dwelling_id, account_id, status, note FROM follow_up").fetchall()
    assert rows == [(seed.dwelling_c, seed.accounts["claire"], "contacted", "Appelé le gardien")]


def alert_action(session: requests.Session, base_url: str, alert_id: object, button: str = "alert-acknowledge",
                 comment: str = "Plombier prévenu") -> Answer:
    """The alert action callback as if the button of `alert_id` had been pressed."""
    output = _callback_output(session, base_url, '{"alert":["MATCH"],"type":"alert-status"}')

    def pid(kind: str) -> dict[str, object]:
        return {"alert": alert_id, "type": kind}

    return _post(session, base_url, output,
                 [{"id": pid("alert-status"), "property": "children"}, {"id": pid("alert-acknowledge"),
                                                                        "property": "disabled"}],
                 [{"id": pid("alert-acknowledge"), "property": "n_clicks",
                   "value": 1 if button == "alert-acknowledge" else None},
                  {"id": pid("alert-resolve"), "property": "n_clicks", "value": 1 if button == "alert-resolve" else None}],
                 [{"id": pid("alert-comment"), "property": "value", "value": comment}],
                 json.dumps(pid(button), separators=(",", ":"), sort_keys=True) + ".n_clicks")


def test_manager_acknowledges_own_alerts_and_nothing_of_another_building(
    server: DashboardServer, seeded: tuple[str, Seed, AnalyticsSeed],
) -> None:
    url, seed, analytics = seeded
    marc = login(server.url, "marc")  # manager of building B
    # Alice's leak alert is in building A: posting its id does nothing.
    for tampered in (analytics.alice_leak_alert, str(analytics.alice_leak_alert)):
        assert "Accès refusé" in alert_action(marc, server.url, tampered).text
    assert "Accès refusé" in alert_action(marc, server.url, analytics.alice_leak_alert, "alert-resolve").text
    # A household cannot act on its own alert either (managers do).
    assert "Accès refusé" in alert_action(login(server.url, "alice"), server.url, analytics.alice_leak_alert).text
    with psycopg.connect(url) as conn:
        assert conn.execute("SELECT count(*) FROM alert_action").fetchone() == (0,)
        assert conn.execute("SELECT acknowledged_at FROM alert WHERE id = %s",
                            (analytics.alice_leak_alert,)).fetchone() == (None,)
    own = analytics.c_alerts[0]
    assert "Action enregistrée" in alert_action(marc, server.url, own).text
    assert "Action enregistrée" in alert_action(marc, server.url, analytics.c_alerts[1], "alert-resolve",
                                                comment="Réglé").text
    with psycopg.connect(url) as conn:
        actions = conn.execute("SELECT alert_id, account_id, action, comment FROM alert_action ORDER BY id").fetchall()
        acknowledged = conn.execute("SELECT id, acknowledged_by FROM alert WHERE acknowledged_at IS NOT NULL"
                                    " ORDER BY id").fetchall()
    assert actions == [(own, seed.accounts["marc"], "acknowledge", "Plombier prévenu"),
                       (analytics.c_alerts[1], seed.accounts["marc"], "resolve", "Réglé")]
    assert acknowledged == sorted([(own, seed.accounts["marc"]), (analytics.c_alerts[1], seed.accounts["marc"])])


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


def test_manager_page_lists_own_alerts_most_severe_first_silent_meters_and_savings(
    server: DashboardServer, seeded: tuple[str, Seed, AnalyticsSeed],
) -> None:
    url, seed, analytics = seeded
    text = page(login(server.url, "marc"), server.url, "/manager")
    # Severity first (critical, warning, info) whatever the detection time.
    with psycopg.connect(url) as conn:
        expected = [row[0] for row in conn.execute(
            "SELECT id FROM alert WHERE building_id = %s AND status = 'open' ORDER BY"
            " array_position(ARRAY['critical','warning','info'], severity), detected_at DESC",
            (seed.other_building_id,)).fetchall()]
    shown = [int(part.split('"')[0]) for part in text.split('"data-alert": "')[1:]]
    assert shown == expected
    assert analytics.alice_leak_alert not in shown and "src-a-water" not in text
    assert "src-c-water" in text  # silent for three days
    assert "Isolation des combles" in text and format_quantity(12345.6, "kWh", "fr", digits=0) in text
    # Other roles get no manager page; a manager gets no adviser ranking page.
    assert "manager-denied" in page(login(server.url, "claire"), server.url, "/manager")
    assert "adviser-denied" in page(login(server.url, "marc"), server.url, "/adviser")
    # An adviser's drill-down outside the scope is refused in the page itself.
    claire = login(server.url, "claire")
    assert "drilldown-denied" in page(claire, server.url, "/adviser", f"?dwelling={seed.dwelling_a}")
    drill = page(claire, server.url, "/adviser", f"?dwelling={seed.dwelling_c}")
    assert "drilldown-curve" in drill and "Baisser le chauffage" in drill


def test_manager_curve_refuses_another_building(server: DashboardServer, seeded: tuple[str, Seed, AnalyticsSeed]) -> None:
    _, seed, _ = seeded
    marc = login(server.url, "marc")
    output = _callback_output(marc, server.url, "manager-curve")

    def curve(building: object) -> dict[str, Any]:
        response = _post(marc, server.url, output, [{"id": "manager-curve", "property": "figure"},
                                                   {"id": "manager-curve-note", "property": "children"}],
                         [{"id": "manager-building", "property": "value", "value": building},
                          {"id": "manager-kind", "property": "value", "value": "electricity"}], [],
                         "manager-building.value")
        return response.json["response"]

    own = curve(str(seed.other_building_id))
    bars = own["manager-curve"]["figure"]["data"][0]["y"]
    assert len(bars) > 80 and set(bars) == {555.0}
    # Degree-days from 18 °C: 10 on the days seeded at 8 °C, unknown (not zero) where no temperature exists.
    degree_days = own["manager-curve"]["figure"]["data"][1]["y"]
    assert degree_days[-1] == pytest.approx(10.0) and degree_days[0] is None
    other = curve(str(seed.building_id))
    assert other["manager-curve-note"]["children"] == "Accès refusé."
    assert not other["manager-curve"]["figure"]["data"][0]["y"]
