"""The analytics parts of the household view, the adviser and the manager views in Debian's headless Chromium."""

from __future__ import annotations

from pathlib import Path

import psycopg
import pytest

from dashboard.i18n import format_number, format_ranking_period, round_as_shown
from tests.dashboard_support import PASSWORD, DashboardServer, Seed
from tests.dashboard_views_support import AnalyticsSeed
from tests.test_dashboard_browser import browser_page  # noqa: F401 - the shared Chromium fixture
from tests.dashboard_fixtures import own_seeded, own_server, seeded, server  # noqa: F401 - fixtures

pytestmark = pytest.mark.browser




def _log_in(page: object, base_url: str, username: str, server: DashboardServer | None = None) -> None:
    page.goto(base_url + "/login")  # type: ignore[attr-defined]
    page.fill("#username", username)  # type: ignore[attr-defined]
    page.fill("#password", PASSWORD)  # type: ignore[attr-defined]
    page.click("#login-submit")  # type: ignore[attr-defined]
    try:
        page.wait_for_selector("#navbar")  # type: ignore[attr-defined]
    except Exception as exc:  # a rare stall seen under load: keep what explains it
        raise AssertionError(f"page after login did not render at {page.url}:\n"  # type: ignore[attr-defined]
                             f"{page.inner_text('body')[:500]}\n--- server log ---\n"  # type: ignore[attr-defined]
                             f"{server.log_tail() if server else '(no server log)'}") from exc


def _wait_for_plot(page: object, graph: str) -> None:
    """Plotly draws after Dash has put the figure in place: wait until the plot holds its data."""
    page.wait_for_function(  # type: ignore[attr-defined]
        "sel => { const p = document.querySelector(sel + ' .js-plotly-plot'); return !!(p && p.data && p.data.length); }",
        arg=graph)


def test_household_analytics_cards_in_the_browser(
    server: DashboardServer, seeded: tuple[str, Seed, AnalyticsSeed], browser_page: object,  # noqa: F811
    artifacts_dir: Path,
) -> None:
    page = browser_page
    _log_in(page, server.url, "alice", server)
    page.wait_for_selector("#similar-verdict")  # type: ignore[attr-defined]
    page.wait_for_selector("#suggestions-list")  # type: ignore[attr-defined]
    body = page.inner_text("body")  # type: ignore[attr-defined]
    assert "L'eau coule en continu depuis mardi 02:00" in body
    assert "Pas encore disponible" not in body
    _wait_for_plot(page, "#similar-graph")
    bars = page.evaluate("() => document.querySelector('#similar-graph .js-plotly-plot').data[0].x")  # type: ignore[attr-defined]
    with psycopg.connect(seeded[0]) as conn:
        row = conn.execute("SELECT m.energy_kwh_per_m2, g.average_kwh_per_m2, g.efficient_kwh_per_m2"
                           " FROM comparison_member m JOIN comparison_group g"
                           " USING (group_key, energy_kind, period_start, period_end) WHERE m.dwelling_id = %s",
                           (seeded[1].dwelling_a,)).fetchone()
    # The browser gets the figures rounded as the card shows them (one decimal), no more digits.
    assert row is not None and bars == [round_as_shown(v, 1) for v in row]
    page.wait_for_timeout(600)  # type: ignore[attr-defined]
    page.screenshot(path=str(artifacts_dir / "dashboard-household-analytics-fr.png"), full_page=True)  # type: ignore[attr-defined]
    page.set_viewport_size({"width": 390, "height": 844})  # type: ignore[attr-defined]
    page.wait_for_timeout(800)  # type: ignore[attr-defined]
    page.screenshot(path=str(artifacts_dir / "dashboard-household-analytics-phone-fr.png"), full_page=True)  # type: ignore[attr-defined]
    # Bob's group is below k: a kind line, no figure.
    page.set_viewport_size({"width": 1280, "height": 900})  # type: ignore[attr-defined]
    page.click("#logout-link")  # type: ignore[attr-defined]
    page.wait_for_selector("#login-form")  # type: ignore[attr-defined]
    _log_in(page, server.url, "bob", server)
    page.wait_for_selector("#similar-withheld")  # type: ignore[attr-defined]
    assert page.query_selector("#similar-graph") is None  # type: ignore[attr-defined]


def test_adviser_ranks_drills_down_and_marks_a_follow_up(
    own_server: DashboardServer, own_seeded: tuple[str, Seed, AnalyticsSeed], browser_page: object,  # noqa: F811
    artifacts_dir: Path,
) -> None:
    url, seed, analytics = own_seeded
    page = browser_page
    _log_in(page, own_server.url, "claire", own_server)
    # The landing offers the adviser view only.
    assert page.query_selector("#landing-manager") is None  # type: ignore[attr-defined]
    page.screenshot(path=str(artifacts_dir / "dashboard-staff-landing-adviser-fr.png"), full_page=True)  # type: ignore[attr-defined]
    page.click("#landing-adviser")  # type: ignore[attr-defined]
    page.wait_for_selector("#ranking-table")  # type: ignore[attr-defined]

    def ranked(period: tuple[object, object]) -> list[str]:
        with psycopg.connect(url) as conn:
            rows = conn.execute(
                "SELECT h.normalised_kwh_per_m2 FROM high_consumer h JOIN dwelling d ON d.id = h.dwelling_id"
                " JOIN building b ON b.id = d.building_id WHERE b.residence_id = %s AND h.period_start = %s"
                " AND h.period_end = %s ORDER BY h.rank", (seed.other_residence_id, *period)).fetchall()
        return [format_number(row[0], "fr", digits=1) for row in rows]

    # The latest period is the default.
    shown = page.eval_on_selector_all(".ranking-use", "cells => cells.map(c => c.innerText)")  # type: ignore[attr-defined]
    assert shown == ranked(analytics.periods["latest"]) and shown
    assert "A-12" not in page.inner_text("#ranking-table")  # type: ignore[attr-defined]
    latest_label = page.eval_on_selector("#adviser-period", "s => s.options[s.selectedIndex].text")  # type: ignore[attr-defined]
    assert latest_label == format_ranking_period(*analytics.periods["latest"], "fr")
    page.wait_for_timeout(500)  # type: ignore[attr-defined]
    page.screenshot(path=str(artifacts_dir / "dashboard-adviser-ranking-fr.png"), full_page=True)  # type: ignore[attr-defined]
    # Choosing the twelve months before shows that period's ranking.
    previous = format_ranking_period(*analytics.periods["previous"], "fr")
    page.select_option("#adviser-period", label=previous)  # type: ignore[attr-defined]
    expected_previous = ranked(analytics.periods["previous"])
    page.wait_for_function(  # type: ignore[attr-defined]
        "expected => [...document.querySelectorAll('.ranking-use')].map(c => c.innerText).join('|') === expected",
        arg="|".join(expected_previous))
    page.wait_for_timeout(300)  # type: ignore[attr-defined]
    page.screenshot(path=str(artifacts_dir / "dashboard-adviser-ranking-previous-fr.png"), full_page=True)  # type: ignore[attr-defined]

    page.click("#ranking-table button:has-text('B-01')")  # type: ignore[attr-defined]
    _wait_for_plot(page, "#drilldown-curve-electricity")
    points = page.evaluate("() => document.querySelector('#drilldown-curve-electricity .js-plotly-plot').data[0].y.length")  # type: ignore[attr-defined]
    with psycopg.connect(url) as conn:
        hours = conn.execute("SELECT count(*) FROM consumption_hourly WHERE meter_id = %s AND hour >= now() - interval"
                             " '14 days'", (seed.meters["c-elec"],)).fetchone()
    assert hours is not None and points == hours[0] > 0
    # Each energy kind of the dwelling has its tab: water's curve is there too.
    page.click("#drilldown-kinds >> text=Eau")  # type: ignore[attr-defined]
    page.wait_for_selector("#drilldown-curve-water .js-plotly-plot", state="visible")  # type: ignore[attr-defined]
    _wait_for_plot(page, "#drilldown-curve-water")
    water = page.evaluate("() => document.querySelector('#drilldown-curve-water .js-plotly-plot').data[0].y")  # type: ignore[attr-defined]
    with psycopg.connect(url) as conn:
        stored = conn.execute("SELECT count(*) FROM consumption_hourly ch JOIN meter m ON m.id = ch.meter_id"
                              " WHERE m.source = 'src-c-water' AND ch.hour >= now() - interval '14 days'").fetchone()
    assert stored is not None and len(water) == stored[0] > 0
    assert page.is_visible("#drilldown-baseline-water")  # type: ignore[attr-defined]
    assert not page.is_visible("#drilldown-curve-electricity")  # type: ignore[attr-defined]
    page.wait_for_timeout(500)  # type: ignore[attr-defined]
    page.screenshot(path=str(artifacts_dir / "dashboard-adviser-drilldown-water-fr.png"), full_page=True)  # type: ignore[attr-defined]
    page.set_viewport_size({"width": 390, "height": 844})  # type: ignore[attr-defined]
    page.wait_for_timeout(800)  # type: ignore[attr-defined]
    page.screenshot(path=str(artifacts_dir / "dashboard-adviser-drilldown-phone-fr.png"), full_page=True)  # type: ignore[attr-defined]
    page.set_viewport_size({"width": 1280, "height": 900})  # type: ignore[attr-defined]
    page.click("#drilldown-kinds >> text=Électricité")  # type: ignore[attr-defined]
    page.select_option("#adviser-follow-status", "contacted")  # type: ignore[attr-defined]
    page.fill("#adviser-follow-note", "Visite prévue jeudi")  # type: ignore[attr-defined]
    page.click("#adviser-follow-save")  # type: ignore[attr-defined]
    page.wait_for_selector("text=Suivi enregistré.")  # type: ignore[attr-defined]
    with psycopg.connect(url) as conn:
        notes = conn.execute("SELECT dwelling_id, status, note FROM follow_up").fetchall()
    assert notes == [(seed.dwelling_c, "contacted", "Visite prévue jeudi")]
    page.wait_for_timeout(500)  # type: ignore[attr-defined]
    page.screenshot(path=str(artifacts_dir / "dashboard-adviser-drilldown-analytics-fr.png"), full_page=True)  # type: ignore[attr-defined]
    # The drill-down is a side panel (a dialog): Escape closes it, the address then forgets the home.
    page.keyboard.press("Escape")  # type: ignore[attr-defined]
    page.wait_for_selector("#adviser-drilldown", state="hidden")  # type: ignore[attr-defined]
    page.click("#lang-en")  # type: ignore[attr-defined]
    page.wait_for_selector("text=One ranking per energy")  # type: ignore[attr-defined]
    page.goto(f"{own_server.url}/adviser?dwelling={seed.dwelling_c}")  # type: ignore[attr-defined]
    page.wait_for_selector("text=Hourly load curve")  # type: ignore[attr-defined]
    page.wait_for_selector("#ranking-table")  # type: ignore[attr-defined]
    page.wait_for_timeout(600)  # type: ignore[attr-defined]
    page.screenshot(path=str(artifacts_dir / "dashboard-adviser-en.png"), full_page=True)  # type: ignore[attr-defined]


def test_manager_sees_alerts_and_curves_and_acknowledges_an_alert(
    own_server: DashboardServer, own_seeded: tuple[str, Seed, AnalyticsSeed], browser_page: object,  # noqa: F811
    artifacts_dir: Path,
) -> None:
    url, seed, analytics = own_seeded
    page = browser_page
    _log_in(page, own_server.url, "marc", own_server)
    assert page.query_selector("#landing-adviser") is None  # type: ignore[attr-defined]
    page.set_viewport_size({"width": 390, "height": 844})  # type: ignore[attr-defined]
    page.screenshot(path=str(artifacts_dir / "dashboard-staff-landing-manager-phone-fr.png"), full_page=True)  # type: ignore[attr-defined]
    page.set_viewport_size({"width": 1280, "height": 900})  # type: ignore[attr-defined]
    page.click("#landing-manager")  # type: ignore[attr-defined]
    page.wait_for_selector("#manager-alerts")  # type: ignore[attr-defined]
    page.wait_for_selector("#manager-curve .js-plotly-plot")  # type: ignore[attr-defined]
    page.wait_for_function("() => document.querySelector('#manager-curve .js-plotly-plot').data.length == 2")  # type: ignore[attr-defined]
    shown = page.eval_on_selector_all(".alert-card", "cards => cards.map(c => Number(c.dataset.alert))")  # type: ignore[attr-defined]
    assert sorted(shown) == sorted([*analytics.c_alerts, analytics.building_alert])
    sentences = page.eval_on_selector_all(".alert-sentence", "spans => spans.map(s => s.innerText)")  # type: ignore[attr-defined]
    assert "Logement B-01 (bâtiment B)\xa0: la consommation de veille (électricité) a augmenté depuis " in sentences[0]
    assert any(s.startswith("Compteur général (bâtiment B)\xa0: l'index du compteur") for s in sentences)
    bars = page.evaluate("() => document.querySelector('#manager-curve .js-plotly-plot').data[0].y")  # type: ignore[attr-defined]
    with psycopg.connect(url) as conn:
        days = conn.execute("SELECT count(*) FROM consumption_daily WHERE meter_id = %s AND day >= now() - interval"
                            " '91 days'", (seed.meters["c-elec"],)).fetchone()
    assert days is not None and set(bars) == {555.0} and abs(len(bars) - days[0]) <= 1
    page.wait_for_timeout(600)  # type: ignore[attr-defined]
    page.screenshot(path=str(artifacts_dir / "dashboard-manager-fr.png"), full_page=True)  # type: ignore[attr-defined]

    target = shown[0]
    card = f".alert-card[data-alert='{target}']"
    page.fill(f"{card} input", "Chauffagiste appelé")  # type: ignore[attr-defined]
    page.click(f"{card} button:has-text('Prendre en compte')")  # type: ignore[attr-defined]
    page.wait_for_selector(f"{card} >> text=Action enregistrée.")  # type: ignore[attr-defined]
    with psycopg.connect(url) as conn:
        acted = conn.execute("SELECT alert_id, action, comment FROM alert_action").fetchall()
        acknowledged = conn.execute("SELECT acknowledged_by FROM alert WHERE id = %s", (target,)).fetchone()
    assert acted == [(target, "acknowledge", "Chauffagiste appelé")]
    assert acknowledged == (seed.accounts["marc"],)
    page.set_viewport_size({"width": 390, "height": 844})  # type: ignore[attr-defined]
    page.wait_for_timeout(800)  # type: ignore[attr-defined]
    page.screenshot(path=str(artifacts_dir / "dashboard-manager-phone-fr.png"), full_page=True)  # type: ignore[attr-defined]
    page.set_viewport_size({"width": 1280, "height": 900})  # type: ignore[attr-defined]
    page.click("#lang-en")  # type: ignore[attr-defined]
    page.wait_for_selector("text=Open alerts")  # type: ignore[attr-defined]
    sentences = page.eval_on_selector_all(".alert-sentence", "spans => spans.map(s => s.innerText)")  # type: ignore[attr-defined]
    assert sentences[0].startswith("Dwelling B-01 (building B): electricity standby use has risen since ")
    assert any(s.startswith("Building meter (building B): the collective heating meter's index") for s in sentences)
    page.wait_for_selector("#manager-curve .js-plotly-plot")  # type: ignore[attr-defined]
    page.wait_for_timeout(800)  # type: ignore[attr-defined]
    page.screenshot(path=str(artifacts_dir / "dashboard-manager-en.png"), full_page=True)  # type: ignore[attr-defined]
