"""Every role's page under the Content-Security-Policy in Debian's headless Chromium, and the POST
language and logout buttons on desktop and phone, in French and English."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.dashboard_support import PASSWORD, DashboardServer
from tests.test_dashboard_browser import browser_page  # noqa: F401 - the shared Chromium fixture
from tests.dashboard_fixtures import seeded, server  # noqa: F401 - the shared seeded dashboard

pytestmark = pytest.mark.browser

# Recorded from the first script the page runs, before any of Dash's.
COLLECT_VIOLATIONS = """
window.__cspViolations = [];
document.addEventListener('securitypolicyviolation',
  e => window.__cspViolations.push(e.violatedDirective + ' ' + e.blockedURI + ' ' + (e.sample || '')));
"""
PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 900}

# Who logs in, the page they land on, what shows it has rendered (a drawn plot where the page has one),
# and a line of its text in French and in English.
ROLES = [
    ("alice", "/", "#household-consumption-graph .js-plotly-plot", "Ma consommation", "My consumption"),
    ("claire", "/adviser", "#ranking-table", "Conseiller : gros consommateurs", "Adviser: high consumers"),
    ("marc", "/manager", "#manager-curve .js-plotly-plot", "Alertes en cours", "Open alerts"),
    ("root", "/", "#landing-adviser", "Vue conseiller", "Adviser view"),
]




def _violations(page: object, console: list[str]) -> list[str]:
    recorded = page.evaluate("() => window.__cspViolations || []")  # type: ignore[attr-defined]
    return list(recorded) + [line for line in console if "Content Security Policy" in line]


def test_every_role_renders_under_the_csp_and_the_post_buttons_work(
    server: DashboardServer, browser_page: object, artifacts_dir: Path,  # noqa: F811
) -> None:
    page = browser_page
    console: list[str] = []
    page.on("console", lambda message: console.append(message.text))  # type: ignore[attr-defined]
    page.add_init_script(COLLECT_VIOLATIONS)  # type: ignore[attr-defined]

    # The login page's own language switch (a POST form now) works and comes back to the form.
    response = page.goto(server.url + "/login")  # type: ignore[attr-defined]
    assert "script-src 'self'" in response.headers["content-security-policy"]
    page.click("#lang-en")  # type: ignore[attr-defined]
    page.wait_for_selector("text=User name")  # type: ignore[attr-defined]
    page.click("#lang-fr")  # type: ignore[attr-defined]
    page.wait_for_selector("text=Identifiant")  # type: ignore[attr-defined]
    assert page.url.endswith("/login")  # type: ignore[attr-defined]

    for number, (username, path, ready, french, english) in enumerate(ROLES):
        # Half the roles on a phone-sized screen.
        page.set_viewport_size(PHONE if number % 2 else DESKTOP)  # type: ignore[attr-defined]
        page.goto(server.url + "/login")  # type: ignore[attr-defined]
        page.fill("#username", username)  # type: ignore[attr-defined]
        page.fill("#password", PASSWORD)  # type: ignore[attr-defined]
        page.click("#login-submit")  # type: ignore[attr-defined]
        page.wait_for_selector("#navbar")  # type: ignore[attr-defined]
        response = page.goto(server.url + path)  # type: ignore[attr-defined]
        assert "frame-ancestors 'none'" in response.headers["content-security-policy"]
        try:
            page.wait_for_selector(ready)  # type: ignore[attr-defined]
        except Exception as exc:
            page.screenshot(path=str(artifacts_dir / f"failure-csp-{username}.png"), full_page=True)  # type: ignore[attr-defined]
            raise AssertionError(f"{username}'s page did not render under the CSP: {_violations(page, console)}\n"
                                 f"{server.log_tail()}") from exc
        page.wait_for_selector(f"text={french}")  # type: ignore[attr-defined]
        assert _violations(page, console) == [], username
        # The language button: a POST with the token, back to the same page, now in English.
        page.click("#lang-en")  # type: ignore[attr-defined]
        page.wait_for_selector(f"text={english}")  # type: ignore[attr-defined]
        page.wait_for_selector(ready)  # type: ignore[attr-defined]
        assert page.url.rstrip("/") == (server.url + path).rstrip("/")  # type: ignore[attr-defined]
        page.screenshot(path=str(artifacts_dir / f"dashboard-csp-{username}-en.png"), full_page=True)  # type: ignore[attr-defined]
        page.click("#lang-fr")  # type: ignore[attr-defined]
        page.wait_for_selector(f"text={french}")  # type: ignore[attr-defined]
        assert _violations(page, console) == [], username
        # The logout button: a POST with the token; the page after is the login form, and the session is gone.
        page.click("#logout-link")  # type: ignore[attr-defined]
        page.wait_for_selector("#login-message")  # type: ignore[attr-defined]
        page.goto(server.url + path)  # type: ignore[attr-defined]
        page.wait_for_selector("#login-form")  # type: ignore[attr-defined]
        assert "/login" in page.url  # type: ignore[attr-defined]
    assert _violations(page, console) == []
