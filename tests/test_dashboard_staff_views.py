"""The adviser's and manager's views through real HTTP callbacks (gunicorn), and the tampering that must fail."""

from __future__ import annotations

import json
import re
from datetime import date, datetime, timedelta
from typing import Any

import psycopg
import pytest
import requests
from psycopg.types.json import Jsonb

from dashboard.i18n import format_day, format_quantity, format_ranking_period
from tests.csv_support import csv_meters
from tests.dashboard_callbacks import (alert_action, callback_output, component, follow_up, open_dwelling, page,
                                      period_value, post_callback, ranking)
from tests.dashboard_fixtures import own_seeded, own_server, seeded, server  # noqa: F401 - fixtures
from tests.dashboard_support import PARIS, DashboardServer, Seed, login, post_form
from tests.dashboard_views_support import AnalyticsSeed


def test_adviser_ranking_stays_in_scope_whatever_the_filters(
    server: DashboardServer, seeded: tuple[str, Seed, AnalyticsSeed],
) -> None:
    url, seed, analytics = seeded
    claire = login(server.url, "claire")  # adviser of the other residence (dwelling C only)
    text = ranking(claire, server.url).text
    assert f'"dwelling": {seed.dwelling_c}}}' in text and "B-01" in text  # the id of its drill-down button
    assert "A-12" not in text and f'"dwelling": {seed.dwelling_a}}}' not in text
    with psycopg.connect(url) as conn:
        row = conn.execute("SELECT normalised_kwh_per_m2 FROM high_consumer WHERE dwelling_id = %s"
                           " AND period_end = %s", (seed.dwelling_c, analytics.periods["latest"][1])).fetchone()
    assert row == (2894.3,) and "2\u202f894,3" in text
    # Filters inside the scope narrow; a heating type nobody has empties.
    assert "B-01" in ranking(claire, server.url, residence=str(seed.other_residence_id), kind="electricity",
                             period=period_value(analytics.periods["latest"])).text
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


def test_the_drill_down_panel_opens_only_homes_of_the_advisers_scope(
    server: DashboardServer, seeded: tuple[str, Seed, AnalyticsSeed],
) -> None:
    _, seed, _ = seeded
    claire = login(server.url, "claire")
    opened = open_dwelling(claire, server.url, seed.dwelling_c)
    assert "B-01" in opened.text and "drilldown-kinds" in opened.text
    assert opened.json["response"]["adviser-opened"]["data"] == seed.dwelling_c
    for requested in (seed.dwelling_a, seed.dwelling_b, "1 OR 1=1", -1, {"x": 1}):
        refused = open_dwelling(claire, server.url, requested)
        assert "drilldown-denied" in refused.text and "A-12" not in refused.text and "A-13" not in refused.text
        assert refused.json["response"]["adviser-opened"]["data"] is None
    # A household (even for its own home) and a manager get no adviser drill-down.
    for username, own in (("alice", seed.dwelling_a), ("marc", seed.dwelling_c)):
        refused = open_dwelling(login(server.url, username), server.url, own)
        assert "drilldown-denied" in refused.text and "drilldown-kinds" not in refused.text, username


def test_adviser_ranking_shows_one_period_at_a_time_and_only_periods_it_offers(
    server: DashboardServer, seeded: tuple[str, Seed, AnalyticsSeed],
) -> None:
    _, seed, analytics = seeded
    latest, previous, other = (analytics.periods[name] for name in ("latest", "previous", "other_scope"))
    claire = login(server.url, "claire")
    # The page offers the periods of claire's residence, latest first, named in words; the latest is chosen.
    layout = json.loads(page(claire, server.url, "/adviser"))
    dropdown = component(layout, "adviser-period")
    assert [option["value"] for option in dropdown["options"]] == [period_value(latest), period_value(previous)]
    assert dropdown["options"][0]["label"] == format_ranking_period(*latest, "fr")
    assert dropdown["options"][0]["label"].startswith("12\xa0mois jusqu'au ")  # Babel keeps 12 and mois together
    assert dropdown["value"] == period_value(latest)
    # Each period shows its own rows only.
    default, chosen_latest = ranking(claire, server.url).text, ranking(claire, server.url, period=period_value(latest)).text
    for text in (default, chosen_latest):
        assert "2\u202f894,3" in text and "1\u202f987,6" not in text and text.count("ranking-row") == 1
    text = ranking(claire, server.url, period=period_value(previous)).text
    assert "1\u202f987,6" in text and "2\u202f894,3" not in text and text.count("ranking-row") == 1
    # A period value that is not one offered to claire is refused, even a real period of another residence.
    near_latest = (latest[0], date.fromordinal(latest[1].toordinal() + 1))
    for tampered in (period_value(other), period_value(near_latest), "2025-13-01/2026-11-01", "all", "365",
                     f"{period_value(latest)}' OR 1=1", [period_value(latest)], {"start": str(latest[0])}, 7):
        text = ranking(claire, server.url, period=tampered).text
        assert "ranking-denied" in text, tampered
        assert "ranking-row" not in text and "44,4" not in text and "A-12" not in text, tampered
    # The admin sees every residence's periods; in English too.
    root = login(server.url, "root")
    offered = component(json.loads(page(root, server.url, "/adviser")), "adviser-period")["options"]
    assert [option["value"] for option in offered] == [period_value(p) for p in (latest, other, previous)]
    assert "44,4" in ranking(root, server.url, period=period_value(other)).text
    assert post_form(root, server.url, "/lang/en").status_code == 302
    offered = component(json.loads(page(root, server.url, "/adviser")), "adviser-period")["options"]
    assert offered[0]["label"] == format_ranking_period(*latest, "en") and offered[0]["label"].startswith("12 months to ")


def test_adviser_follow_up_is_recorded_only_inside_the_scope(
    own_server: DashboardServer, own_seeded: tuple[str, Seed, AnalyticsSeed],
) -> None:
    url, seed, _ = own_seeded
    claire = login(own_server.url, "claire")
    assert "Accès refusé" in follow_up(claire, own_server.url, seed.dwelling_a).text
    assert "Suivi enregistré" in follow_up(claire, own_server.url, seed.dwelling_c).text
    with psycopg.connect(url) as conn:
        rows = conn.execute("SELECT dwelling_id, account_id, status, note FROM follow_up").fetchall()
    assert rows == [(seed.dwelling_c, seed.accounts["claire"], "contacted", "Appelé le gardien")]


def test_manager_acknowledges_own_alerts_and_nothing_of_another_building(
    own_server: DashboardServer, own_seeded: tuple[str, Seed, AnalyticsSeed],
) -> None:
    url, seed, analytics = own_seeded
    marc = login(own_server.url, "marc")  # manager of building B
    # Alice's leak alert is in building A: posting its id does nothing.
    for tampered in (analytics.alice_leak_alert, str(analytics.alice_leak_alert)):
        assert "Accès refusé" in alert_action(marc, own_server.url, tampered).text
    assert "Accès refusé" in alert_action(marc, own_server.url, analytics.alice_leak_alert, "alert-resolve").text
    # A household cannot act on its own alert either (managers do).
    alice = login(own_server.url, "alice")
    assert "Accès refusé" in alert_action(alice, own_server.url, analytics.alice_leak_alert).text
    with psycopg.connect(url) as conn:
        assert conn.execute("SELECT count(*) FROM alert_action").fetchone() == (0,)
        assert conn.execute("SELECT acknowledged_at FROM alert WHERE id = %s",
                            (analytics.alice_leak_alert,)).fetchone() == (None,)
    own = analytics.c_alerts[0]
    assert "Action enregistrée" in alert_action(marc, own_server.url, own).text
    assert "Action enregistrée" in alert_action(marc, own_server.url, analytics.c_alerts[1], "alert-resolve",
                                                comment="Réglé").text
    with psycopg.connect(url) as conn:
        actions = conn.execute("SELECT alert_id, account_id, action, comment FROM alert_action ORDER BY id").fetchall()
        acknowledged = conn.execute("SELECT id, acknowledged_by FROM alert WHERE acknowledged_at IS NOT NULL"
                                    " ORDER BY id").fetchall()
    assert actions == [(own, seed.accounts["marc"], "acknowledge", "Plombier prévenu"),
                       (analytics.c_alerts[1], seed.accounts["marc"], "resolve", "Réglé")]
    assert acknowledged == sorted([(own, seed.accounts["marc"]), (analytics.c_alerts[1], seed.accounts["marc"])])


def test_an_adviser_cannot_act_on_alerts_of_a_building_in_their_residence(
    own_server: DashboardServer, own_seeded: tuple[str, Seed, AnalyticsSeed],
) -> None:
    """Issue 12, item 6: claire advises the residence of building B, whose alerts only its managers may act on."""
    url, seed, analytics = own_seeded
    claire = login(own_server.url, "claire")
    for alert_id in (*analytics.c_alerts, analytics.building_alert):
        for button in ("alert-acknowledge", "alert-resolve"):
            assert "Accès refusé" in alert_action(claire, own_server.url, alert_id, button).text
    with psycopg.connect(url) as conn:
        assert conn.execute("SELECT count(*) FROM alert_action").fetchone() == (0,)
        assert conn.execute("SELECT count(*) FROM alert WHERE acknowledged_at IS NOT NULL").fetchone() == (0,)
    # The admin still may.
    root = login(own_server.url, "root")
    assert "Action enregistrée" in alert_action(root, own_server.url, analytics.c_alerts[0]).text


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
    # Third-person sentences naming the dwelling and the building, or the building's own meter; an
    # alert older than a week has its date, not a weekday. Never the household's "your"/"votre".
    assert "Logement B-01 (bâtiment B)\xa0: la consommation de veille (électricité) a augmenté depuis " in text
    assert "Logement B-01 (bâtiment B)\xa0: la consommation (électricité) est plus élevée que d'habitude" in text
    with psycopg.connect(url) as conn:
        started = conn.execute("SELECT started_at FROM alert WHERE id = %s", (analytics.building_alert,)).fetchone()
    assert started is not None
    assert ("Compteur général (bâtiment B)\xa0: l'index du compteur (chauffage collectif) ne bouge plus depuis le "
            + format_day(started[0].astimezone(PARIS).date(), "fr") + " à ") in text
    assert "Votre" not in text and "Vérifiez" not in text
    # The numbers behind an alert, as its e-mail gives them; an alert without them shows none.
    assert re.search(r"Puissance appelée la nuit : 380\sW au lieu de 120\sW auparavant\.", text)
    assert re.search(r"Si cela dure : environ 2\s278\skWh de plus par an\.", text) and "Constaté sur 4 nuits." in text
    assert text.count("Constaté sur") == 1  # the other alerts carry no numbers, and none are made up
    assert "src-c-water" in text  # silent for three days
    assert "Isolation des combles" in text and format_quantity(12345.6, "kWh", "fr", digits=0) in text
    # Other roles get no manager page; a manager gets no adviser ranking page.
    assert "manager-denied" in page(login(server.url, "claire"), server.url, "/manager")
    assert "adviser-denied" in page(login(server.url, "marc"), server.url, "/adviser")
    # An adviser's drill-down outside the scope is refused in the page itself.
    claire = login(server.url, "claire")
    assert "drilldown-denied" in page(claire, server.url, "/adviser", f"?dwelling={seed.dwelling_a}")
    drill = json.loads(page(claire, server.url, "/adviser", f"?dwelling={seed.dwelling_c}"))
    assert "Baisser le chauffage" in json.dumps(drill, ensure_ascii=False)
    # Every kind the dwelling has gets its choice (labelled radio buttons): its curve and its baseline.
    tabs = component(drill, "drilldown-kinds")
    assert [option["value"] for option in tabs["options"]] == ["electricity", "water"]
    assert [option["label"] for option in tabs["options"]] == ["Électricité", "Eau"]
    electricity = component(drill, "drilldown-curve-electricity")["figure"]["data"]
    water = component(drill, "drilldown-curve-water")["figure"]["data"]
    # 27.1875 kWh an hour by day, sent as the page shows it (two decimals).
    assert electricity[0]["y"] and set(electricity[0]["y"]) == {15.0, 27.19}
    assert electricity[1]["y"] == [20.0, 20.0]  # the baseline's 480 kWh a day as a base load per hour
    assert len(water[0]["y"]) == 7 * 24 and set(water[0]["y"]) == {0.0, 0.02}
    assert len(water) == 1  # no baseline for water: no base-load line
    assert component(drill, "drilldown-baseline-water")["children"] == "Pas encore de modèle de référence."
    assert "480" in component(drill, "drilldown-baseline-electricity")["children"]
    # Fit quality is said to be out of sample, with the bias NMBE that in-sample least squares always put at 0.
    baseline_sentences = component(drill, "drilldown-baseline-electricity")["children"]
    assert "il se trompe en moyenne de 8\u00a0%" in baseline_sentences
    assert baseline_sentences.endswith(
        "Ces écarts sont mesurés sur des semaines que le modèle n'a pas vues ; biais moyen (NMBE) : 1,3\u00a0%.")


def test_staff_landing_links_only_the_views_of_the_role(
    server: DashboardServer, seeded: tuple[str, Seed, AnalyticsSeed],
) -> None:
    claire, marc, root = (login(server.url, name) for name in ("claire", "marc", "root"))
    adviser = page(claire, server.url, "/")
    assert "landing-adviser" in adviser and '"href": "/adviser"' in adviser
    assert "landing-manager" not in adviser and "/manager" not in adviser and "Vue gestionnaire" not in adviser
    manager = page(marc, server.url, "/")
    assert "landing-manager" in manager and '"href": "/manager"' in manager
    assert "landing-adviser" not in manager and "/adviser" not in manager
    admin = page(root, server.url, "/")
    assert '"href": "/adviser"' in admin and '"href": "/manager"' in admin
    # A household goes straight to its own home; no landing.
    household = page(login(server.url, "alice"), server.url, "/")
    assert "staff-landing" not in household and "household-dwelling" in household
    # The pages check the role themselves: an adviser typing the manager address gets a refusal.
    refused = page(claire, server.url, "/manager")
    assert "manager-denied" in refused and "alert-card" not in refused and "B-01" not in refused
    # The admin's manager view covers every building.
    everything = page(root, server.url, "/manager")
    assert "Logement A-12 (bâtiment A)\xa0: l'eau coule en continu depuis " in everything
    assert "Logement B-01 (bâtiment B)" in everything


def test_manager_silent_meters_are_judged_when_the_anomaly_runs_last_judged(
    own_server: DashboardServer, own_seeded: tuple[str, Seed, AnalyticsSeed],
) -> None:
    """As the alerts are: a demo's meters replaying yesterday at speed are not all silent at the wall clock."""
    url, seed, _ = own_seeded
    now = datetime.now(PARIS)
    judged = now - timedelta(hours=36)
    with psycopg.connect(url) as conn:
        meter = conn.execute("INSERT INTO meter (dwelling_id, kind, mode, source) VALUES (%s, 'electricity',"
                             " 'index', 'src-c-replay') RETURNING id", (seed.dwelling_c,)).fetchone()[0]
        conn.execute("INSERT INTO consumption_hourly (meter_id, hour, energy_kwh) VALUES (%s, %s, 0.2)",
                     (meter, (judged - timedelta(hours=1)).replace(minute=0, second=0, microsecond=0)))
        conn.commit()
    runs: list[int] = []
    try:
        marc = login(own_server.url, "marc")
        # At the wall clock its last hour is 37 hours old: silent.
        assert "src-c-replay" in page(marc, own_server.url, "/manager")
        with psycopg.connect(url) as conn:
            run = conn.execute("INSERT INTO analytics_run (job, status, finished_at, detail) VALUES ('anomalies', 'ok',"
                               " now(), %s) RETURNING id", (Jsonb({"data_until": judged.isoformat()}),)).fetchone()[0]
            conn.commit()
        runs.append(run)
        # Judged 36 hours ago, its last hour is one hour before: not silent; three days without data still is.
        text = page(marc, own_server.url, "/manager")
        assert "src-c-replay" not in text and "src-c-water" in text
        # Runs that stopped judging days ago say nothing of now: the wall clock again.
        with psycopg.connect(url) as conn:
            conn.execute("UPDATE analytics_run SET detail = %s WHERE id = %s",
                         (Jsonb({"data_until": (now - timedelta(days=3)).isoformat()}), run))
            conn.commit()
        assert "src-c-replay" in page(marc, own_server.url, "/manager")
    finally:
        with psycopg.connect(url) as conn:
            conn.execute("DELETE FROM analytics_run WHERE id = ANY(%s)", (runs,))
            conn.execute("DELETE FROM consumption_hourly WHERE meter_id = %s", (meter,))
            conn.execute("DELETE FROM meter WHERE id = %s", (meter,))
            conn.commit()


def test_manager_curve_refuses_another_building(server: DashboardServer, seeded: tuple[str, Seed, AnalyticsSeed]) -> None:
    _, seed, _ = seeded
    marc = login(server.url, "marc")
    output = callback_output(marc, server.url, "manager-curve")

    def curve(building: object) -> dict[str, Any]:
        response = post_callback(marc, server.url, output, [{"id": "manager-curve", "property": "figure"},
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
    assert other["manager-curve"]["figure"]["data"] == []


def test_manager_is_offered_only_the_kinds_a_building_has(
    server: DashboardServer, seeded: tuple[str, Seed, AnalyticsSeed],
) -> None:
    _, seed, _ = seeded

    def kinds(session: requests.Session, building: object, current: str = "heat") -> dict[str, Any]:
        output = callback_output(session, server.url, "manager-kind.options")
        return post_callback(session, server.url, output, [{"id": "manager-kind", "property": "options"},
                                                   {"id": "manager-kind", "property": "value"}],
                     [{"id": "manager-building", "property": "value", "value": building}],
                     [{"id": "manager-kind", "property": "value", "value": current}],
                     "manager-building.value").json["response"]["manager-kind"]

    root = login(server.url, "root")
    # Building A has no collective heating: "Chauffage collectif" is not offered, the choice moves to one it has.
    building_a = kinds(root, str(seed.building_id))
    assert [o["value"] for o in building_a["options"]] == ["electricity", "gas", "water"]
    assert building_a["value"] == "electricity"
    building_b = kinds(root, str(seed.other_building_id))
    assert "heat" in [o["value"] for o in building_b["options"]] and building_b["value"] == "heat"
    assert "Chauffage collectif" in json.dumps(building_b, ensure_ascii=False)
    # The page itself offers the first building's kinds only; another manager's building is refused.
    marc = login(server.url, "marc")
    offered = component(json.loads(page(marc, server.url, "/manager")), "manager-kind")["options"]
    assert [o["value"] for o in offered] == ["electricity", "water", "heat"]
    assert kinds(marc, str(seed.building_id)) == {"options": [], "value": None}


def test_manager_downloads_the_buildings_own_meters_from_the_page(
    own_server: DashboardServer, own_seeded: tuple[str, Seed, AnalyticsSeed],
) -> None:
    """Who sees what: the manager page links the building's own meters, and the link serves them and nothing else."""
    url, seed, _ = own_seeded
    with psycopg.connect(url) as conn:
        conn.execute("INSERT INTO reading SELECT id, 1, now() - interval '1 hour', 4242.5 FROM meter"
                     " WHERE source = 'src-b-heat'")
    marc = login(own_server.url, "marc")
    layout = json.loads(page(marc, own_server.url, "/manager"))
    links = {name: component(layout, f"manager-building-{name}")["href"] for name in ("daily", "readings")}
    assert links == {"daily": f"/download/daily.csv?building={seed.other_building_id}",
                     "readings": f"/download/readings.csv?building={seed.other_building_id}"}
    readings = marc.get(own_server.url + links["readings"], timeout=30)
    assert readings.status_code == 200
    assert csv_meters(readings) == {"src-b-heat"}
    # Picking a building that is not theirs gives no link.
    output = callback_output(marc, own_server.url, "manager-building-daily")
    answer = post_callback(marc, own_server.url, output, [{"id": "manager-building-daily", "property": "href"},
                                              {"id": "manager-building-readings", "property": "href"}],
                   [{"id": "manager-building", "property": "value", "value": str(seed.building_id)}], [],
                   "manager-building.value")
    assert answer.json["response"]["manager-building-daily"]["href"] is None
    assert answer.json["response"]["manager-building-readings"]["href"] is None
