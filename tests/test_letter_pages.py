"""The hall's public progress page, the household's "My letters" form and progress panel, under gunicorn."""

from __future__ import annotations

import html
import re
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
import requests

from dashboard.auth import hash_password
from reports.progress_store import refresh_progress
from tests.dashboard_support import PASSWORD, DashboardServer, csrf_from, login
from tests.letters_support import TODAY, Residence, seed_residence, settings_for

K = 5


@pytest.fixture
def hall(migrated_db_url: str, tmp_path: Path) -> Iterator[tuple[DashboardServer, Residence]]:
    """Building A: five homes at −10 %; building B: four at +30 % (too few to show); accounts for A-1 and staff."""
    seeded = seed_residence(migrated_db_url, {"A": [-0.10] * K, "B": [0.30] * (K - 1)})
    with psycopg.connect(migrated_db_url, autocommit=True) as conn:
        refresh_progress(conn, settings_for(migrated_db_url), TODAY)
        for username, role, dwelling in (("martin", "household", seeded.dwellings["A-1"]),
                                         ("claire", "adviser", None)):
            conn.execute("INSERT INTO account (username, password_hash, role, dwelling_id) VALUES (%s, %s, %s, %s)",
                         (username, hash_password(PASSWORD), role, dwelling))
    with DashboardServer(migrated_db_url, tmp_path / "gunicorn.log", workers=1) as server:
        yield server, seeded


def test_hall_page_is_public_and_shows_only_collective_figures(hall: tuple[DashboardServer, Residence]) -> None:
    server, seeded = hall
    page = requests.get(server.url + "/hall/PRO", timeout=30)
    assert page.status_code == 200
    text = re.sub(r"\s+", " ", page.text.replace("\u202f", " ").replace("\u00a0", " "))
    # Nine homes: (5 × −10 % + 4 × +30 %) of equal size = +7.8 % → +8 %; five in nine improved (56 %).
    assert "+8 %" in text and "56 %" in text and "−8 %" in text  # the change, the share, the goal
    assert re.search(r'id="hall-change">\+8 %<', text)
    assert "du 1 oct. 2026 au 4 déc. 2026" in text  # the season so far: today (5 December) is not counted
    # Building B has four homes: withheld, and so is A (residence − A would give B's figure).
    assert "Bâtiment B" not in text and "Bâtiment A" not in text
    assert "+30" not in text and "−10" not in text
    # No dwelling is named, no script runs, and the CSP still applies.
    assert not any(code in text for code in seeded.dwellings)
    assert "<script" not in page.text
    assert "default-src" in page.headers.get("Content-Security-Policy", "")
    english = requests.get(server.url + "/hall/PRO?lang=en", timeout=30).text
    assert "Our residence saves energy together" in english
    assert requests.get(server.url + "/hall/NOPE", timeout=30).status_code == 404
    # Public by endpoint name only: neighbouring paths still need a login.
    for path in ("/hall", "/hall/PRO/x", "/hallway", "/letters"):
        response = requests.get(server.url + path, allow_redirects=False, timeout=30)
        assert response.status_code in (302, 401), path
        if response.status_code == 302:
            assert response.headers["Location"].startswith("/login")


def test_household_chooses_paper_and_an_address(hall: tuple[DashboardServer, Residence], migrated_db_url: str) -> None:
    server, seeded = hall
    session = login(server.url, "martin")
    form = session.get(server.url + "/letters", timeout=30)
    assert form.status_code == 200 and 'id="letters-form"' in form.text
    token = csrf_from(form.text)
    bad = session.post(server.url + "/letters", data={"csrf_token": token, "delivery": "email", "email": "martin@"},
                       timeout=30)
    assert bad.status_code == 400 and "ne semble pas valide" in bad.text
    saved = session.post(server.url + "/letters", data={
        "csrf_token": token, "delivery": "paper", "email": "", "language": "en", "recipient_name": "Famille Martin",
        "postal_address": "12 rue des Tilleuls\r\n69004 Lyon", "dwelling_id": str(seeded.dwellings["A-2"])},
        timeout=30)
    assert saved.status_code == 200 and "C'est noté" in html.unescape(saved.text)
    forged = session.post(server.url + "/letters", data={"csrf_token": "nope", "delivery": "none"}, timeout=30)
    assert forged.status_code == 400
    with psycopg.connect(migrated_db_url) as conn:
        rows = conn.execute("SELECT dwelling_id, delivery, language, recipient_name, postal_address, updated_by"
                            " FROM letter_preference").fetchall()
    # Its own dwelling only, whatever the form sent.
    assert rows == [(seeded.dwellings["A-1"], "paper", "en", "Famille Martin", "12 rue des Tilleuls\r\n69004 Lyon",
                     "martin")]
    staff = login(server.url, "claire").get(server.url + "/letters", timeout=30)
    assert staff.status_code == 403


def test_household_panel_shows_the_residence_progress(hall: tuple[DashboardServer, Residence], migrated_db_url: str) -> None:
    from dash.development.base_component import Component

    from coopwatt.settings import load_settings
    from dashboard.app import create_app
    from dashboard.progress_panel import progress_card

    _, seeded = hall
    settings = load_settings({}, database_url=migrated_db_url, timezone="Europe/Paris",
                             dashboard_secret_key="x" * 32)
    app = create_app(settings)
    with app.server.test_request_context("/"):
        card = progress_card(seeded.dwellings["A-1"], "fr", own_data=True)

    def texts(node: object) -> list[str]:
        if isinstance(node, str):
            return [node]
        if isinstance(node, Component):
            return texts(getattr(node, "children", None))
        if isinstance(node, list | tuple):
            return [text for child in node for text in texts(child)]
        return []

    shown = " ".join(texts(card)).replace("\u202f", " ").replace("\u00a0", " ")
    assert "Résidence PRO" in shown and "+8 %" in shown and "56 %" in shown
    assert "Votre bâtiment" not in shown  # building A is withheld (see the hall test)
    assert "Mes lettres" in shown
