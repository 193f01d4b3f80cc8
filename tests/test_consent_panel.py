"""The household page's consent panel: its own consents only, withdraw in two clicks, give again; staff read only."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import psycopg
import pytest

from coopwatt import consent
from dashboard.consent_panel import CONFIRM_BUTTON, CONSENT_BODY, CONSENT_STATUS
from tests.dashboard_fixtures import own_seeded, own_server  # noqa: F401 - fixtures
from tests.dashboard_support import DashboardServer, Seed, login, post_form
from tests.test_dashboard_browser import _log_in, browser_page  # noqa: F401 - fixture
from tests.test_dashboard_scope import page_payload

ENDPOINT = "/_dash-update-component"


def _paper_forms(url: str, seed: Seed) -> None:
    """Alice's water consent came on paper (admin root); bob's dwelling has a form of its own."""
    with psycopg.connect(url) as conn:
        root = seed.accounts["root"]
        consent.record_decision(conn, seed.dwelling_a, consent.WATER, False, recorded_by="household")
        consent.record_decision(conn, seed.dwelling_a, consent.WATER, True, recorded_by="staff", account_id=root,
                                paper_form="F-ALICE-7")
        consent.record_decision(conn, seed.dwelling_b, consent.GAS, False, recorded_by="staff", account_id=root,
                                paper_form="F-BOB-1")
        conn.commit()


def _withdraw_body(flow: str, choice: str) -> dict[str, Any]:
    """What the browser posts for the second click of a withdrawal (one confirmation button in the page)."""
    button = {"type": CONFIRM_BUTTON, "flow": flow, "choice": choice}
    return {
        "output": f"..{CONSENT_BODY}.children...{CONSENT_STATUS}.children..",
        "outputs": [{"id": CONSENT_BODY, "property": "children"}, {"id": CONSENT_STATUS, "property": "children"}],
        "inputs": [[{"id": button, "property": "n_clicks", "value": 1}], []],
        "changedPropIds": [json.dumps(button, separators=(",", ":"), sort_keys=True) + ".n_clicks"],
        "state": [],
    }


def _in_force(url: str, dwelling: int) -> set[str]:
    with psycopg.connect(url) as conn:
        return set(consent.consents_in_force(conn, dwelling))


def test_the_panel_shows_only_the_households_own_consents_and_staff_cannot_change_them(
        own_server: DashboardServer, own_seeded: tuple[str, Seed, object]) -> None:  # noqa: F811
    url, seed, _ = own_seeded
    _paper_forms(url, seed)
    alice = login(own_server.url, "alice")
    post_form(alice, own_server.url, "/lang/en")
    page = alice.post(own_server.url + ENDPOINT, json=page_payload(""), timeout=30)
    assert page.status_code == 200
    assert "My consents" in page.text and "F-ALICE-7" in page.text and "root" in page.text
    assert "F-BOB-1" not in page.text
    # A dwelling id in the URL changes nothing: alice's own page or a refusal, never bob's consents.
    tampered = alice.post(own_server.url + ENDPOINT, json=page_payload(f"?dwelling={seed.dwelling_b}"), timeout=30)
    assert "F-BOB-1" not in tampered.text

    # Staff see the panel of a home in their scope, read only, and the callback refuses them.
    root = login(own_server.url, "root")
    staff_page = root.post(own_server.url + ENDPOINT, json=page_payload(f"?dwelling={seed.dwelling_a}"), timeout=30)
    assert "F-ALICE-7" in staff_page.text and CONFIRM_BUTTON not in staff_page.text
    before = _in_force(url, seed.dwelling_a)
    refused = root.post(own_server.url + ENDPOINT, json=_withdraw_body(consent.WATER, "delete"), timeout=30)
    assert refused.status_code == 204
    assert _in_force(url, seed.dwelling_a) == before

    # A tampered confirmation (a choice the flow does not offer, an unknown flow) writes nothing.
    for flow, choice in ((consent.WATER, "aggregate"), ("telepathy", "delete"), (consent.GAS, 3)):
        answer = alice.post(own_server.url + ENDPOINT, json=_withdraw_body(flow, choice), timeout=30)  # type: ignore[arg-type]
        assert answer.status_code == 204, (flow, choice)
    assert _in_force(url, seed.dwelling_a) == before
    # The genuine one withdraws alice's own consent, and nobody else's.
    done = alice.post(own_server.url + ENDPOINT, json=_withdraw_body(consent.WATER, "keep"), timeout=30)
    assert done.status_code == 200 and "Agreement withdrawn" in done.text
    assert _in_force(url, seed.dwelling_a) == before - {consent.WATER}
    assert consent.WATER in _in_force(url, seed.dwelling_b)


@pytest.mark.browser
def test_withdraw_in_two_clicks_and_give_again_in_chromium(
        own_server: DashboardServer, own_seeded: tuple[str, Seed, object], browser_page: object,  # noqa: F811
        artifacts_dir: Path) -> None:
    url, seed, _ = own_seeded
    _paper_forms(url, seed)
    page: Any = browser_page
    _log_in(page, own_server.url, "alice")
    page.wait_for_selector("#consent-card")
    page.wait_for_selector("text=Mes consentements")
    state = page.inner_text(f"#consent-state-{consent.WATER}")
    assert "F-ALICE-7" in state and "root" in state
    assert "par vous, en ligne" in page.inner_text(f"#consent-state-{consent.LOAD_CURVE}")
    page.screenshot(path=str(artifacts_dir / "consent-panel-fr.png"), full_page=True)

    # Two clicks: the button, then the confirmation that says what becomes of the data.
    flow = json.dumps({"flow": consent.LOAD_CURVE, "type": "consent-withdraw"}, separators=(",", ":"))
    page.click(f"[id='{flow}']")
    page.click("text=Retirer et garder seulement les totaux par jour")
    page.wait_for_selector("text=Accord retiré.")
    assert "Retiré le" in page.inner_text(f"#consent-state-{consent.LOAD_CURVE}")
    with psycopg.connect(url) as conn:
        row = conn.execute("SELECT withdrawn_by, withdrawn_account, withdrawal_choice FROM consent"
                           " WHERE dwelling_id = %s AND flow = %s AND withdrawn_at IS NOT NULL",
                           (seed.dwelling_a, consent.LOAD_CURVE)).fetchone()
    assert row == ("household", seed.accounts["alice"], "aggregate")
    page.screenshot(path=str(artifacts_dir / "consent-panel-withdrawn-fr.png"), full_page=True)

    # One click gives it again.
    grant = json.dumps({"flow": consent.LOAD_CURVE, "type": "consent-grant"}, separators=(",", ":"))
    page.click(f"[id='{grant}']")
    page.wait_for_selector("text=Accord enregistré. Merci !")
    assert "par vous, en ligne" in page.inner_text(f"#consent-state-{consent.LOAD_CURVE}")
    assert consent.LOAD_CURVE in _in_force(url, seed.dwelling_a)
