"""axe-core on every page of every role, desktop (1366×900) and phone (390×844), French and English.

Each page is screenshot at both sizes into artifacts/a11y/ (``<role>-<page>-<lang>-<size>.png``)
for a person to look at; the test fails on any serious or critical axe violation.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from tests.axe_support import Violation, axe_source_or_skip, axe_violations, blocking
from tests.dashboard_fixtures import seeded, server  # noqa: F401 - the shared seeded dashboard
from tests.dashboard_support import PASSWORD, DashboardServer, Seed
from tests.dashboard_views_support import AnalyticsSeed
from tests.test_dashboard_browser import browser_page  # noqa: F401 - the shared Chromium fixture

pytestmark = pytest.mark.browser

SIZES = {"desktop": {"width": 1366, "height": 900}, "phone": {"width": 390, "height": 844}}
LANGUAGES = ("fr", "en")


@pytest.fixture(scope="session")
def axe_source() -> str:
    """The pinned axe-core script (fetched once per machine)."""
    return axe_source_or_skip()


class PageAudit:
    """Visits pages, screenshots them at both sizes and keeps every blocking axe violation."""

    def __init__(self, page: object, source: str, shots: Path) -> None:
        self.page = page
        self.source = source
        self.shots = shots
        self.found: dict[str, list[Violation]] = {}

    def check(self, name: str, lang: str, ready: str) -> None:
        """Audit the page now shown (after ``ready`` appears) at both sizes."""
        page = self.page
        for size, viewport in SIZES.items():
            page.set_viewport_size(viewport)  # type: ignore[attr-defined]
            page.wait_for_selector(ready)  # type: ignore[attr-defined]
            # Dash's loading spinners and Plotly's redraw on resize settle before the picture and the audit.
            page.wait_for_function("() => !document.querySelector('[data-dash-is-loading=\"true\"]')")  # type: ignore[attr-defined]
            page.wait_for_timeout(400)  # type: ignore[attr-defined]
            label = f"{name}-{lang}-{size}"
            page.screenshot(path=str(self.shots / f"{label}.png"), full_page=True)  # type: ignore[attr-defined]
            assert page.evaluate("() => document.documentElement.lang") == lang, label  # type: ignore[attr-defined]
            bad = blocking(axe_violations(page, self.source))
            if bad:
                self.found[label] = bad

    def goto(self, base_url: str, path: str) -> None:
        """Open a page of the dashboard."""
        self.page.goto(base_url + path)  # type: ignore[attr-defined]

    def assert_clean(self) -> None:
        """Fail with every blocking violation found, page by page."""
        assert not self.found, "\n".join(f"{label}:\n  " + "\n  ".join(v.describe() for v in violations)
                                         for label, violations in self.found.items())


def _log_in(page: object, base_url: str, username: str) -> None:
    page.goto(base_url + "/login")  # type: ignore[attr-defined]
    page.fill("#username", username)  # type: ignore[attr-defined]
    page.fill("#password", PASSWORD)  # type: ignore[attr-defined]
    page.click("#login-submit")  # type: ignore[attr-defined]
    page.wait_for_selector("#navbar")  # type: ignore[attr-defined]


def _switch_language(page: object, lang: str) -> None:
    """Press the language button of the page shown (Dash pages and plain pages both have one)."""
    if page.evaluate("() => document.documentElement.lang") == lang:  # type: ignore[attr-defined]
        return
    # The POST and its redirect finish before anything else is asked of the page (a goto racing them lost it).
    with page.expect_navigation(wait_until="load"):  # type: ignore[attr-defined]
        page.click(f"#lang-{lang}")  # type: ignore[attr-defined]
    page.wait_for_function("lang => document.documentElement.lang === lang", arg=lang)  # type: ignore[attr-defined]


@pytest.fixture
def audit(browser_page: object, axe_source: str, artifacts_dir: Path) -> PageAudit:  # noqa: F811
    """A page auditor writing its screenshots under artifacts/a11y/."""
    shots = artifacts_dir / "a11y"
    shots.mkdir(exist_ok=True)
    return PageAudit(browser_page, axe_source, shots)


def _each_language(audit: PageAudit, visit: Callable[[str], None]) -> None:
    for lang in LANGUAGES:
        visit(lang)
    audit.assert_clean()


def test_login_and_logout_pages_pass_axe(server: DashboardServer, audit: PageAudit) -> None:  # noqa: F811
    def visit(lang: str) -> None:
        audit.goto(server.url, "/login")
        _switch_language(audit.page, lang)
        audit.check("anonymous-login", lang, "#login-form")
        audit.page.fill("#username", "alice")  # type: ignore[attr-defined]
        audit.page.fill("#password", "wrong password")  # type: ignore[attr-defined]
        audit.page.click("#login-submit")  # type: ignore[attr-defined]
        audit.check("anonymous-login-refused", lang, "#login-message")

    _each_language(audit, visit)
    _log_in(audit.page, server.url, "alice")
    for lang in LANGUAGES:
        audit.goto(server.url, "/")
        audit.page.wait_for_selector("#navbar")  # type: ignore[attr-defined]
        _switch_language(audit.page, lang)
        audit.goto(server.url, "/logout")
        audit.check("household-logout-confirm", lang, "#logout-form")
    audit.assert_clean()


def test_household_pages_pass_axe(
    server: DashboardServer, seeded: tuple[str, Seed, AnalyticsSeed], audit: PageAudit,  # noqa: F811
) -> None:
    seed = seeded[1]
    _log_in(audit.page, server.url, "alice")

    def visit(lang: str) -> None:
        audit.goto(server.url, "/")
        audit.page.wait_for_selector("#navbar")  # type: ignore[attr-defined]
        _switch_language(audit.page, lang)
        audit.check("household-home", lang, "#similar-verdict")
        audit.goto(server.url, "/adviser")
        audit.check("household-adviser-refused", lang, "#adviser-denied")
        audit.goto(server.url, f"/download/daily.csv?dwelling={seed.dwelling_b}")
        audit.check("household-csv-forbidden", lang, "#error-page")
        audit.goto(server.url, "/no-such-page")
        audit.check("household-not-found", lang, "#navbar")

    _each_language(audit, visit)


def test_adviser_pages_pass_axe(
    server: DashboardServer, seeded: tuple[str, Seed, AnalyticsSeed], audit: PageAudit,  # noqa: F811
) -> None:
    seed = seeded[1]
    _log_in(audit.page, server.url, "claire")

    def visit(lang: str) -> None:
        audit.goto(server.url, "/")
        audit.page.wait_for_selector("#staff-landing")  # type: ignore[attr-defined]
        _switch_language(audit.page, lang)
        audit.check("adviser-landing", lang, "#staff-landing")
        audit.goto(server.url, "/adviser")
        audit.check("adviser-ranking", lang, "#ranking-table")
        audit.goto(server.url, f"/adviser?dwelling={seed.dwelling_c}")
        audit.check("adviser-drilldown", lang, "#drilldown-kinds")
        audit.goto(server.url, f"/?dwelling={seed.dwelling_c}")
        audit.check("adviser-dwelling-consumption", lang, "#household-consumption-graph")

    _each_language(audit, visit)


def test_manager_pages_pass_axe(server: DashboardServer, audit: PageAudit) -> None:  # noqa: F811
    _log_in(audit.page, server.url, "marc")

    def visit(lang: str) -> None:
        audit.goto(server.url, "/manager")
        audit.page.wait_for_selector("#navbar")  # type: ignore[attr-defined]
        _switch_language(audit.page, lang)
        audit.check("manager-home", lang, "#manager-alerts, #manager-alerts-none")

    _each_language(audit, visit)
