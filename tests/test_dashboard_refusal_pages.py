"""Refusals people meet, as pages in their language: another home's CSV (403), a staff page opened by a household,
an unknown address; and the page Dash sends before its scripts run (lang, translated loading notice)."""

from __future__ import annotations

import pytest

from dashboard.index_page import loading_entry, localised_index
from tests.dashboard_fixtures import seeded, server  # noqa: F401 - the shared seeded dashboard
from tests.dashboard_support import DashboardServer, Seed, login, post_form
from tests.dashboard_views_support import AnalyticsSeed
from tests.dashboard_callbacks import page  # the Dash page router, called as the browser calls it


def test_the_index_page_speaks_the_members_language() -> None:
    page = "<!DOCTYPE html>\n<html>\n<head></head><body>x</body></html>"
    assert '<html lang="fr">' in localised_index(page, "fr")
    assert '<html lang="en">' in localised_index(page, "en")
    assert localised_index('<html lang="de">', "fr") == '<html lang="de">'  # an explicit lang is kept
    assert "Chargement de la page" in loading_entry("fr") and "Loading" not in loading_entry("fr")
    assert "Loading the page" in loading_entry("en") and 'role="status"' in loading_entry("en")


def test_another_homes_csv_is_a_bilingual_403_page(
    server: DashboardServer, seeded: tuple[str, Seed, AnalyticsSeed],
) -> None:
    seed = seeded[1]
    alice = login(server.url, "alice")
    for path in ("/download/daily.csv", "/download/readings.csv"):
        answer = alice.get(f"{server.url}{path}?dwelling={seed.dwelling_b}", timeout=30)
        assert answer.status_code == 403 and answer.headers["Content-Type"].startswith("text/html")
        assert '<html lang="fr">' in answer.text and "Accès refusé (403)" in answer.text
        assert 'href="/"' in answer.text and "777" not in answer.text
    assert post_form(alice, server.url, "/lang/en").status_code == 302
    answer = alice.get(f"{server.url}/download/daily.csv?dwelling={seed.dwelling_b}", timeout=30)
    assert answer.status_code == 403 and "Access denied (403)" in answer.text and '<html lang="en">' in answer.text
    # Her own file still downloads.
    assert alice.get(f"{server.url}/download/daily.csv", timeout=30).status_code == 200


@pytest.mark.parametrize(("path", "marker"), [("/adviser", "adviser-denied"), ("/manager", "manager-denied")])
def test_a_household_on_a_staff_page_is_told_whom_it_is_for(
    server: DashboardServer, path: str, marker: str,
) -> None:
    alice = login(server.url, "alice")
    text = page(alice, server.url, path)
    assert marker in text and "réservée aux" in text and "périmètre" not in text
    assert post_form(alice, server.url, "/lang/en").status_code == 302
    text = page(alice, server.url, path)
    assert "This page is for" in text and "outside your scope" not in text


def test_an_unknown_address_is_a_bilingual_not_found(server: DashboardServer) -> None:
    alice = login(server.url, "alice")
    assert "Page introuvable (404)" in page(alice, server.url, "/no-such-page")
    assert post_form(alice, server.url, "/lang/en").status_code == 302
    assert "Page not found (404)" in page(alice, server.url, "/no-such-page")
