"""The adviser's ranking as advisers use it, in Chromium: one ranking per energy, contiguous ranks after a
filter, the drill-down opening beside the ranking where the click happened, and a table that fits a phone."""

from __future__ import annotations

from pathlib import Path

import psycopg
import pytest
from psycopg.types.json import Jsonb

from tests.axe_support import axe_source_or_skip, axe_violations, blocking
from tests.dashboard_fixtures import own_seeded, own_server  # noqa: F401 - fixtures
from tests.dashboard_support import DashboardServer, Seed
from tests.dashboard_views_support import AnalyticsSeed
from tests.test_dashboard_browser import _log_in, browser_page  # noqa: F401 - the shared Chromium fixture

pytestmark = pytest.mark.browser

RANKS = """kind => [...document.querySelectorAll(`#ranking-table-${kind} .ranking-row`)]
  .map(r => [r.querySelector('.ranking-rank').textContent, r.dataset.dwelling])"""


def _more_rankings(url: str, seed: Seed, analytics: AnalyticsSeed) -> None:
    """B ranked third in electricity, and a gas ranking (A then C) beside it, in the latest period."""
    period = analytics.periods["latest"]
    with psycopg.connect(url) as conn:
        for dwelling, kind, use, rank in ((seed.dwelling_b, "electricity", 31.0, 3),
                                          (seed.dwelling_a, "gas", 120.0, 1), (seed.dwelling_c, "gas", 80.0, 2)):
            conn.execute(
                "INSERT INTO high_consumer (dwelling_id, energy_kind, normalised_kwh_per_m2, group_median_kwh_per_m2,"
                " ratio_to_group, rank, reasons, period_start, period_end) VALUES (%s, %s, %s, 60, %s, %s, %s, %s, %s)",
                (dwelling, kind, use, use / 60, rank, Jsonb([]), *period))


def _admin_on_adviser_page(own_server: DashboardServer, own_seeded: tuple[str, Seed, AnalyticsSeed], page: object,
                           viewport: dict[str, int]) -> Seed:
    """The extra rankings written, the page sized, and the admin (who sees every residence) logged in."""
    url, seed, analytics = own_seeded
    _more_rankings(url, seed, analytics)
    page.set_viewport_size(viewport)  # type: ignore[attr-defined]
    _log_in(page, own_server.url, "root")
    return seed


def test_one_ranking_per_energy_contiguous_after_filters_and_a_side_panel(
    own_server: DashboardServer, own_seeded: tuple[str, Seed, AnalyticsSeed], browser_page: object,  # noqa: F811
    artifacts_dir: Path,
) -> None:
    seed = _admin_on_adviser_page(own_server, own_seeded, browser_page, {"width": 1366, "height": 600})
    page = browser_page
    page.goto(own_server.url + "/adviser")  # type: ignore[attr-defined]
    page.wait_for_selector("#ranking-table-gas")  # type: ignore[attr-defined]
    # "Tous": two rankings side by side, each 1, 2, 3… with every home once; never 1, 1, 2, 2.
    electricity = page.evaluate(RANKS, "electricity")  # type: ignore[attr-defined]
    gas = page.evaluate(RANKS, "gas")  # type: ignore[attr-defined]
    assert electricity == [["1", str(seed.dwelling_c)], ["2", str(seed.dwelling_a)], ["3", str(seed.dwelling_b)]]
    assert gas == [["1", str(seed.dwelling_a)], ["2", str(seed.dwelling_c)]]
    assert "Électricité · 3 logement(s) classé(s)" in page.inner_text("#ranking-table")  # type: ignore[attr-defined]
    assert "Un classement par énergie" in page.inner_text("#adviser-rule")  # type: ignore[attr-defined]
    page.screenshot(path=str(artifacts_dir / "adviser-ranking-by-kind-fr.png"), full_page=True)  # type: ignore[attr-defined]

    # A building filter leaves A and B (stored ranks 2 and 3): shown as 1 and 2, no gap.
    page.select_option("#adviser-building", str(seed.building_id))  # type: ignore[attr-defined]
    page.wait_for_function("() => !document.querySelector(`#ranking-table-electricity [data-dwelling='%d']`)"  # type: ignore[attr-defined]
                           % seed.dwelling_c)
    page.wait_for_function("() => !document.querySelector('[data-dash-is-loading=\"true\"]')")  # type: ignore[attr-defined]
    assert page.evaluate(RANKS, "electricity") == [["1", str(seed.dwelling_a)], ["2", str(seed.dwelling_b)]]  # type: ignore[attr-defined]
    assert page.evaluate(RANKS, "gas") == [["1", str(seed.dwelling_a)]]  # type: ignore[attr-defined]

    # Clicking a home opens its details beside the ranking: the page does not move or reload.
    page.evaluate("() => window.scrollTo(0, 120)")  # type: ignore[attr-defined]
    before = page.evaluate("() => [window.scrollY, performance.getEntriesByType('navigation').length]")  # type: ignore[attr-defined]
    page.evaluate("() => { window.__same_document = true; }")  # type: ignore[attr-defined]
    page.click(f"#ranking-table-electricity [data-dwelling='{seed.dwelling_b}'] button.ranking-open")  # type: ignore[attr-defined]
    page.wait_for_selector("#adviser-drilldown.show #drilldown-kinds")  # type: ignore[attr-defined]
    assert page.evaluate("() => window.__same_document === true")  # type: ignore[attr-defined]
    assert page.evaluate("() => window.scrollY") == before[0]  # type: ignore[attr-defined]
    box = page.eval_on_selector("#adviser-drilldown", "p => { const r = p.getBoundingClientRect(); return [r.top, r.left, r.width]; }")  # type: ignore[attr-defined]
    assert box[0] == 0 and box[1] > 0 and box[2] > 300  # on screen, at the right edge, not 2,586 px below
    assert "A-13" in page.inner_text("#adviser-drilldown")  # type: ignore[attr-defined]
    assert page.evaluate("() => window.location.search") == f"?dwelling={seed.dwelling_b}"  # type: ignore[attr-defined]
    page.wait_for_timeout(500)  # type: ignore[attr-defined]
    page.screenshot(path=str(artifacts_dir / "adviser-drill-panel-fr.png"))  # type: ignore[attr-defined]
    bad = blocking(axe_violations(page, axe_source_or_skip()))
    assert not bad, [v.describe() for v in bad]
    # Escape closes it, and the address forgets the home again.
    page.keyboard.press("Escape")  # type: ignore[attr-defined]
    page.wait_for_selector("#adviser-drilldown", state="hidden")  # type: ignore[attr-defined]
    assert page.evaluate("() => window.location.search") == ""  # type: ignore[attr-defined]

    # A reload with the address of a home reopens its panel; the language switch keeps it open.
    page.goto(f"{own_server.url}/adviser?dwelling={seed.dwelling_c}")  # type: ignore[attr-defined]
    page.wait_for_selector("#adviser-drilldown.show #drilldown-kinds")  # type: ignore[attr-defined]
    page.keyboard.press("Escape")  # type: ignore[attr-defined]
    page.wait_for_selector("#adviser-drilldown", state="hidden")  # type: ignore[attr-defined]
    page.click(f"#ranking-table-gas [data-dwelling='{seed.dwelling_a}'] button.ranking-open")  # type: ignore[attr-defined]
    page.wait_for_selector("#adviser-drilldown.show >> text=A-12")  # type: ignore[attr-defined]
    assert page.evaluate("() => window.location.search") == f"?dwelling={seed.dwelling_a}"  # type: ignore[attr-defined]
    # The panel is a dialog: the page behind it waits (Escape, then the language switch).
    page.keyboard.press("Escape")  # type: ignore[attr-defined]
    page.wait_for_selector("#adviser-drilldown", state="hidden")  # type: ignore[attr-defined]
    with page.expect_navigation():  # type: ignore[attr-defined]
        page.click("#lang-en")  # type: ignore[attr-defined]
    page.goto(f"{own_server.url}/adviser?dwelling={seed.dwelling_a}")  # type: ignore[attr-defined]
    page.wait_for_selector("#adviser-drilldown.show >> text=Hourly load curve")  # type: ignore[attr-defined]
    assert "Home details" in page.inner_text("#adviser-drilldown")  # type: ignore[attr-defined]


def test_the_ranking_fits_a_phone(
    own_server: DashboardServer, own_seeded: tuple[str, Seed, AnalyticsSeed], browser_page: object,  # noqa: F811
    artifacts_dir: Path,
) -> None:
    seed = _admin_on_adviser_page(own_server, own_seeded, browser_page, {"width": 390, "height": 844})
    page = browser_page
    for lang in ("fr", "en"):
        page.goto(own_server.url + "/adviser")  # type: ignore[attr-defined]
        page.wait_for_selector("#ranking-table-electricity")  # type: ignore[attr-defined]
        if lang == "en":
            with page.expect_navigation():  # type: ignore[attr-defined]
                page.click("#lang-en")  # type: ignore[attr-defined]
            page.wait_for_selector("#ranking-table-electricity")  # type: ignore[attr-defined]
        # Every shown column fits: no horizontal scroll, no number cut ("65," was seen).
        overflow = page.eval_on_selector_all(  # type: ignore[attr-defined]
            ".table-responsive", "ws => ws.map(w => w.scrollWidth - w.clientWidth)")
        assert overflow and max(overflow) <= 1, overflow
        cut = page.eval_on_selector_all(  # type: ignore[attr-defined]
            ".ranking-row td", "cells => cells.filter(c => c.offsetParent && c.scrollWidth > c.clientWidth + 1)"
            ".map(c => c.innerText)")
        assert cut == []
        # The reference median and the reasons are not lost on a phone: they sit under the home's name.
        first = page.inner_text(f"#ranking-table-electricity [data-dwelling='{seed.dwelling_c}']")  # type: ignore[attr-defined]
        assert ("Médiane de référence" if lang == "fr" else "Reference median") in first and "95" in first
        page.wait_for_timeout(400)  # type: ignore[attr-defined]
        page.screenshot(path=str(artifacts_dir / f"adviser-ranking-phone-{lang}.png"), full_page=True)  # type: ignore[attr-defined]


def test_the_ranking_and_its_panel_work_from_the_keyboard(
    own_server: DashboardServer, own_seeded: tuple[str, Seed, AnalyticsSeed], browser_page: object,  # noqa: F811
) -> None:
    seed = _admin_on_adviser_page(own_server, own_seeded, browser_page, {"width": 1366, "height": 900})
    page = browser_page
    page.goto(own_server.url + "/adviser")  # type: ignore[attr-defined]
    page.wait_for_selector("#ranking-table-electricity")  # type: ignore[attr-defined]
    # Tab through the labelled filters to the first home of the ranking.
    focused: list[str] = []
    for _ in range(40):
        page.keyboard.press("Tab")  # type: ignore[attr-defined]
        focused.append(page.evaluate("() => document.activeElement.id || document.activeElement.className"))  # type: ignore[attr-defined]
        if page.evaluate("() => document.activeElement.classList.contains('ranking-open')"):  # type: ignore[attr-defined]
            break
    assert {"adviser-residence", "adviser-building", "adviser-kind"} <= set(focused)
    name = page.evaluate("() => document.activeElement.getAttribute('aria-label')")  # type: ignore[attr-defined]
    assert name == "Ouvrir le détail du logement B-01"
    page.keyboard.press("Enter")  # type: ignore[attr-defined]
    page.wait_for_selector("#adviser-drilldown.show #drilldown-kinds")  # type: ignore[attr-defined]
    page.wait_for_function("() => document.getElementById('adviser-drilldown').contains(document.activeElement)")  # type: ignore[attr-defined]
    # The energy choice is a radio group: the arrow keys move it, and the panel below follows.
    page.focus("#drilldown-kinds input[value='electricity']")  # type: ignore[attr-defined]
    page.keyboard.press("ArrowRight")  # type: ignore[attr-defined]
    page.wait_for_selector("#drilldown-curve-water", state="visible")  # type: ignore[attr-defined]
    assert not page.is_visible("#drilldown-curve-electricity")  # type: ignore[attr-defined]
    page.keyboard.press("Escape")  # type: ignore[attr-defined]
    page.wait_for_selector("#adviser-drilldown", state="hidden")  # type: ignore[attr-defined]
    # Focus comes back to the home that was opened.
    page.wait_for_function(  # type: ignore[attr-defined]
        "id => document.activeElement.closest('tr') && document.activeElement.closest('tr').dataset.dwelling == id",
        arg=str(seed.dwelling_c))
