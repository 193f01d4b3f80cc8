"""The household's "who looked at your data" list and the staff's notice, in Debian's headless Chromium (FR, EN)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.dashboard_fixtures import own_seeded, own_server  # noqa: F401 - fixtures
from tests.dashboard_support import DashboardServer, Seed, login
from tests.dashboard_views_support import AnalyticsSeed
from tests.test_dashboard_browser import browser_page  # noqa: F401 - the shared Chromium fixture
from tests.test_dashboard_views_browser import _log_in

pytestmark = pytest.mark.browser


def test_household_reads_who_looked_at_its_data_in_french_and_english(
    own_server: DashboardServer, own_seeded: tuple[str, Seed, AnalyticsSeed], browser_page: object,  # noqa: F811
    artifacts_dir: Path,
) -> None:
    _, seed, _ = own_seeded
    page = browser_page
    # The adviser's drill-down in the browser, with its notice; a download of the home's readings.
    _log_in(page, own_server.url, "root", own_server)
    page.goto(f"{own_server.url}/adviser?dwelling={seed.dwelling_a}")  # type: ignore[attr-defined]
    page.wait_for_selector("#adviser-drilldown h2")  # type: ignore[attr-defined]
    assert "Vos consultations des données d'un foyer sont enregistrées" in page.inner_text(  # type: ignore[attr-defined]
        "#staff-access-notice")
    assert login(own_server.url, "root").get(own_server.url + "/download/readings.csv",
                                         params={"dwelling": seed.dwelling_a}, timeout=30).ok
    # The drill-down is a side panel over the page: closed (Escape) before the navbar's logout.
    page.keyboard.press("Escape")  # type: ignore[attr-defined]
    page.wait_for_selector("#adviser-drilldown", state="hidden")  # type: ignore[attr-defined]
    page.click("#logout-link")  # type: ignore[attr-defined]
    page.wait_for_selector("#login-form")  # type: ignore[attr-defined]

    _log_in(page, own_server.url, "alice", own_server)
    page.wait_for_selector("#household-access-log-table .access-row")  # type: ignore[attr-defined]
    page.wait_for_selector("#similar-verdict")  # type: ignore[attr-defined]  # the cards filled: a calm screenshot
    rows = page.inner_text("#household-access-log")  # type: ignore[attr-defined]
    assert "Qui a consulté vos données" in rows
    assert "root (administrateur)" in rows
    assert "a ouvert le détail conseiller : courbe horaire des 14 derniers jours" in rows
    assert "a téléchargé vos relevés bruts (CSV, du " in rows
    assert page.locator("#household-access-log .access-row").count() == 2  # type: ignore[attr-defined]
    page.locator("#household-access-log").scroll_into_view_if_needed()  # type: ignore[attr-defined]
    page.screenshot(path=str(artifacts_dir / "dashboard-access-log-fr.png"), full_page=True)  # type: ignore[attr-defined]

    page.click("#lang-en")  # type: ignore[attr-defined]
    page.wait_for_selector("text=Who looked at your data")  # type: ignore[attr-defined]
    page.wait_for_selector("#household-access-log-table .access-row")  # type: ignore[attr-defined]
    page.wait_for_selector("#similar-verdict")  # type: ignore[attr-defined]
    rows = page.inner_text("#household-access-log")  # type: ignore[attr-defined]
    assert "root (administrator)" in rows and "downloaded your raw readings (CSV, from " in rows
    assert "Qui a consulté" not in rows
    page.screenshot(path=str(artifacts_dir / "dashboard-access-log-en.png"), full_page=True)  # type: ignore[attr-defined]
