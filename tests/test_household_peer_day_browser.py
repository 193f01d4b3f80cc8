"""The typical-day card against similar homes', in Chromium: the published mean drawn beside the home's own day
with who the similar homes are and how many, the reason when a group is below k or a home is not counted, in
French and English, at desktop and phone widths, axe-clean; screenshots under artifacts/."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest

from analytics.job.peer_day_step import window
from coopwatt.settings import Settings, load_settings
from dashboard.auth import hash_password
from dashboard.i18n import format_day
from tests.axe_support import axe_source_or_skip, axe_violations, blocking
from tests.browser_support import launched_chromium, peers_text
from tests.dashboard_support import PARIS, PASSWORD, DashboardServer
from tests.job_runs import nightly_ok
from tests.peer_day_support import PeerHome, PeerCoop, rounded_as_shown, true_mean, write_peer_homes

pytestmark = pytest.mark.browser

DESKTOP = {"width": 1366, "height": 900}
PHONE = {"width": 390, "height": 844}
R1 = [PeerHome(f"A{i}", "R1", 1.0 + 0.17 * i) for i in range(5)]  # k = 5 homes: published
R2 = [PeerHome(f"B{i}", "R2", 2.0 + 0.31 * i) for i in range(4)]  # k − 1 in the district pool: withheld
REFUSING = PeerHome("B-NO", "R2", 3.0, comparisons=False)
ACCOUNTS = {"foyer-a2": "A2", "foyer-b1": "B1", "foyer-bno": "B-NO"}
TRACES = "() => document.querySelector('#typical-graph .js-plotly-plot').data"
# Drawn with this many traces, the second (similar homes) named so (null: any name).
DRAWN = """([count, name]) => {
  const plot = document.querySelector('#typical-graph .js-plotly-plot');
  return !!plot && !!plot.data && plot.data.length === count && (name === null || plot.data[1].name === name);
}"""


@pytest.fixture
def peer_homes(migrated_db_url: str, tmp_path: Path) -> tuple[Settings, PeerCoop]:
    """Ten homes with known typical days up to today (Paris), tonight's nightly run, one account per household."""
    settings = load_settings({}, database_url=migrated_db_url, data_dir=tmp_path, comparison_min_group_size=5,
                             analytics_comparison_months=1)
    today = datetime.now(PARIS).date()
    coop = write_peer_homes(settings, [*R1, *R2, REFUSING], today)
    nightly_ok(migrated_db_url, settings, now=datetime.now(UTC))
    with psycopg.connect(migrated_db_url) as conn:
        for username, code in ACCOUNTS.items():
            conn.execute("INSERT INTO account (username, password_hash, role, dwelling_id)"
                         " VALUES (%s, %s, 'household', %s)",
                         (username, hash_password(PASSWORD), coop.dwelling_ids[code]))
    return settings, coop


@pytest.fixture
def server(peer_homes: tuple[Settings, PeerCoop], tmp_path: Path) -> Iterator[DashboardServer]:
    """The dashboard under gunicorn on this database, k = 5."""
    with DashboardServer(peer_homes[0].database_url or "", tmp_path / "gunicorn.log",
                         comparison_min_group_size="5") as running:
        yield running


@pytest.fixture
def browser() -> Iterator[Any]:
    """Headless Chromium (Debian's)."""
    with launched_chromium() as chromium:
        yield chromium


def _household(browser: Any, server: DashboardServer, username: str, viewport: dict[str, int]) -> Any:
    page = browser.new_context(viewport=viewport, locale="fr-FR", timezone_id="Europe/Paris").new_page()
    page.set_default_timeout(30_000)
    page.goto(server.url + "/login")
    page.fill("#username", username)
    page.fill("#password", PASSWORD)
    page.click("#login-submit")
    page.wait_for_selector("#typical-peers")
    return page


def _clean(page: Any, source: str, state: str) -> None:
    bad = blocking(axe_violations(page, source))
    assert not bad, state + ":\n" + "\n".join(v.describe() for v in bad)


def _shot(page: Any, artifacts_dir: Path, name: str) -> None:
    page.wait_for_timeout(600)  # Plotly finishes drawing after Dash has placed the figure
    page.locator("#household-typical-day").screenshot(path=str(artifacts_dir / f"household-peer-day-{name}.png"))


def test_the_typical_day_is_drawn_against_similar_homes_with_who_they_are_or_why_not(
        server: DashboardServer, peer_homes: tuple[Settings, PeerCoop], browser: Any, artifacts_dir: Path) -> None:
    source = axe_source_or_skip()
    settings, coop = peer_homes
    start, end = window(datetime.now(PARIS).date())
    with psycopg.connect(settings.database_url) as conn:
        stored = conn.execute(
            "SELECT mean_by_hour FROM peer_day_profile WHERE published AND group_key = %s",
            (f"residence:{coop.residence_ids['R1']}|55-75|electric",)).fetchone()[0]
    assert rounded_as_shown(stored, true_mean(R1))
    first, last = format_day(start, "fr"), format_day(end - timedelta(days=1), "fr")
    for viewport, width in ((DESKTOP, "desktop"), (PHONE, "phone")):
        page = _household(browser, server, "foyer-a2", viewport)
        page.wait_for_function(DRAWN, arg=[2, None])
        you, peers = page.evaluate(TRACES)
        # The browser gets the group's figures as stored (rounded as shown), nothing else about any neighbour.
        assert peers["y"] == stored and peers["name"] == "Logements similaires (5)" and len(you["y"]) == 24
        text = peers_text(page, "même résidence")
        assert "même résidence" in text and "de 55 à 75 m²" in text and "5 logements" in text, text
        assert f"du {first} au {last}" in text and "au moins 5 logements" in text, text
        # The home's own day covers exactly the same days.
        assert f"du {first} au {last}" in page.inner_text("#household-typical-day")
        _shot(page, artifacts_dir, f"fr-{width}")
        _clean(page, source, f"peer day fr {width}")
        page.click("#lang-en")
        page.wait_for_selector("text=Your typical day")
        page.wait_for_function(DRAWN, arg=[2, "Similar homes (5)"])
        text = peers_text(page, "same residence")
        assert "same residence" in text and "5 homes" in text and "at least 5 homes" in text, text
        _shot(page, artifacts_dir, f"en-{width}")
        _clean(page, source, f"peer day en {width}")
        page.click("#lang-fr")
        page.wait_for_selector("text=Votre journée type")
        page.context.close()

    # An older window: similar homes' day exists for the last eight weeks only, and the card says so.
    page = _household(browser, server, "foyer-a2", DESKTOP)
    page.wait_for_function(DRAWN, arg=[2, None])
    page.click("#household-window-prev")
    page.wait_for_function("() => document.getElementById('typical-peers')"
                           " && document.getElementById('typical-peers').innerText.includes('8 dernières semaines')")
    assert f"du {first} au {last}" in page.inner_text("#typical-peers")
    _shot(page, artifacts_dir, "older-window-fr-desktop")
    page.context.close()

    # Below k: the reason, and no line of neighbours; a household outside comparisons is told why too.
    page = _household(browser, server, "foyer-b1", DESKTOP)
    page.wait_for_selector("#typical-graph .js-plotly-plot")
    assert len(page.evaluate(TRACES)) == 1
    text = peers_text(page, "même quartier")
    assert "même quartier" in text and "au moins 5 logements similaires" in text, text
    _shot(page, artifacts_dir, "withheld-fr-desktop")
    _clean(page, source, "peer day withheld fr")
    page.context.close()
    page = _household(browser, server, "foyer-bno", PHONE)
    assert "participent aux comparaisons" in peers_text(page, "participent aux comparaisons")
    _shot(page, artifacts_dir, "not-counted-fr-phone")
    page.click("#lang-en")
    page.wait_for_selector("text=Your typical day")
    page.wait_for_function("() => document.getElementById('typical-peers')"
                           " && document.getElementById('typical-peers').innerText.includes('take part in comparisons')")
    _shot(page, artifacts_dir, "not-counted-en-phone")
    page.context.close()
