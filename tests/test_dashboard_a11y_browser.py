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
from tests.dashboard_support import DashboardServer, Seed
from tests.dashboard_views_support import AnalyticsSeed
from tests.test_dashboard_browser import _log_in, browser_page  # noqa: F401 - the shared Chromium fixture

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
            # An open side panel is fixed to the viewport: a full-page picture would cut it off halfway.
            dialog_open = page.query_selector(".offcanvas.show, .modal.show") is not None  # type: ignore[attr-defined]
            page.screenshot(path=str(self.shots / f"{label}.png"), full_page=not dialog_open)  # type: ignore[attr-defined]
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


def _switch_language(page: object, lang: str) -> None:
    """Press the language button of the page shown (Dash pages and plain pages both have one)."""
    if page.evaluate("() => document.documentElement.lang") == lang:  # type: ignore[attr-defined]
        return
    first_try = ""
    for _ in range(2):
        # The POST and its redirect finish before anything else is asked of the page (a goto racing them lost it).
        with page.expect_navigation(wait_until="load"):  # type: ignore[attr-defined]
            page.click(f"#lang-{lang}")  # type: ignore[attr-defined]
        try:
            page.wait_for_function("lang => document.documentElement.lang === lang", arg=lang,  # type: ignore[attr-defined]
                                   timeout=10_000)
            return
        except Exception:  # noqa: BLE001 - once seen under load (the switch's page not yet the new one): once more
            if first_try:
                break
            first_try = f"{page.url}: {page.content()[:400]}"  # type: ignore[attr-defined]
            page.goto(page.url)  # type: ignore[attr-defined]
            page.wait_for_selector(f"#lang-{lang}")  # type: ignore[attr-defined]
    raise AssertionError(f"language switch to {lang} failed twice; first at {first_try}; "
                         f"then at {page.url}: {page.content()[:400]}")  # type: ignore[attr-defined]


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


def _audit_role(audit: PageAudit, base_url: str, username: str, pages: list[tuple[str, str, str]]) -> None:
    """Log in, then in each language audit each (name, path, selector that says it is drawn) page."""
    _log_in(audit.page, base_url, username)

    def visit(lang: str) -> None:
        audit.goto(base_url, pages[0][1])
        audit.page.wait_for_selector("#navbar")  # type: ignore[attr-defined]
        _switch_language(audit.page, lang)
        for name, path, ready in pages:
            audit.goto(base_url, path)
            audit.check(name, lang, ready)

    _each_language(audit, visit)


def test_household_pages_pass_axe(
    server: DashboardServer, seeded: tuple[str, Seed, AnalyticsSeed], audit: PageAudit,  # noqa: F811
) -> None:
    seed = seeded[1]
    _audit_role(audit, server.url, "alice", [
        ("household-home", "/", "#similar-verdict"),
        ("household-adviser-refused", "/adviser", "#adviser-denied"),
        ("household-csv-forbidden", f"/download/daily.csv?dwelling={seed.dwelling_b}", "#error-page"),
        ("household-not-found", "/no-such-page", "#not-found"),
    ])


def test_adviser_pages_pass_axe(
    server: DashboardServer, seeded: tuple[str, Seed, AnalyticsSeed], audit: PageAudit,  # noqa: F811
) -> None:
    seed = seeded[1]
    _audit_role(audit, server.url, "claire", [
        ("adviser-landing", "/", "#staff-landing"),
        ("adviser-ranking", "/adviser", "#ranking-table"),
        ("adviser-drilldown", f"/adviser?dwelling={seed.dwelling_c}", "#adviser-drilldown.show #drilldown-kinds"),
        ("adviser-dwelling-consumption", f"/?dwelling={seed.dwelling_c}", "#household-consumption-graph"),
        ("adviser-manager-refused", "/manager", "#manager-denied"),
    ])


def test_manager_pages_pass_axe(server: DashboardServer, audit: PageAudit) -> None:  # noqa: F811
    _audit_role(audit, server.url, "marc", [
        ("manager-home", "/manager", "#manager-alerts, #manager-alerts-none"),
        ("manager-landing", "/", "#staff-landing"),
    ])
