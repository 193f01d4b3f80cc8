"""The advisers' hardship list over HTTP: FR/EN, scope, the follow-up steps, and nothing for anyone else."""

from __future__ import annotations

import json

import psycopg
import requests

from tests.dashboard_fixtures import own_seeded, own_server  # noqa: F401 — fixtures
from tests.dashboard_support import csrf_from, login, post_form

PAGE = "/adviser/hardship"
ACTION = "/adviser/hardship/action"
EVIDENCE = {
    "kwh_per_degree_day_per_m2": 0.0081, "peer_median_kwh_per_degree_day_per_m2": 0.0302, "peers": 7,
    "peer_ratio": 0.268, "own_ratio": 0.31,
    "current": {"start": "2025-12-01", "end": "2026-03-01", "kwh_per_degree_day": 0.57, "cold_days": 80,
                "measured_cold_days": 78},
    "previous": {"start": "2024-12-01", "end": "2025-03-01", "kwh_per_degree_day": 1.83, "cold_days": 82,
                 "measured_cold_days": 82},
    "thresholds": {"peer_ratio_max": 0.5, "own_ratio_max": 0.6},
}


def _cases(url: str, seed) -> dict[str, int]:
    """One case in the adviser's residence (dwelling C), one outside it (dwelling A)."""
    ids = {}
    with psycopg.connect(url) as conn:
        for name, dwelling in (("inside", seed.dwelling_c), ("outside", seed.dwelling_a)):
            ids[name] = conn.execute("INSERT INTO hardship_case (dwelling_id, signal, evidence) VALUES (%s,"
                                     " 'under_heating', %s) RETURNING id", (dwelling, json.dumps(EVIDENCE))).fetchone()[0]
    return ids


def _text(response: requests.Response) -> str:
    """The page with Babel's no-break spaces as plain spaces ("27\u202f%" reads "27 %")."""
    return response.text.replace("\u202f", " ").replace("\xa0", " ")


def _form_post(session: requests.Session, base: str, page_html: str, **fields: str) -> requests.Response:
    return session.post(base + ACTION, data={"csrf_token": csrf_from(page_html), **fields}, allow_redirects=False,
                        timeout=30)


def test_the_adviser_sees_the_homes_of_their_residences_with_evidence_and_caution_in_french_and_english(
        own_seeded, own_server):
    url, seed, _ = own_seeded
    _cases(url, seed)
    claire = login(own_server.url, "claire")
    page = claire.get(own_server.url + PAGE, timeout=30)
    assert page.status_code == 200 and page.headers["Cache-Control"] == "no-store"
    text = _text(page)
    assert "B-01" in page.text and "A-12" not in page.text
    assert page.text.count('class="card shadow-sm mb-3 hardship-case"') == 1
    assert "Les données ne disent pas pourquoi" in page.text
    assert "Chauffe très peu par temps froid" in page.text
    assert "27 %" in text and "7 logements semblables" in text and "1 déc. 2025" in text
    assert "au plus 50 %" in text  # the threshold, from the settings
    post_form(claire, own_server.url, "/lang/en")
    english = _text(claire.get(own_server.url + PAGE, timeout=30))
    assert "The data cannot tell why" in english and "Heats very little in cold weather" in english
    assert "27%" in english and "7 similar homes" in english and "1 Dec 2025" in english
    assert "Les données" not in english
    layout = json.dumps(claire.get(own_server.url + "/_dash-layout", timeout=30).json())  # Dash escapes "/"
    assert "nav-hardship" in layout and PAGE in layout


def test_follow_up_steps_are_recorded_with_who_and_when_inside_the_scope_only(own_seeded, own_server):
    url, seed, _ = own_seeded
    ids = _cases(url, seed)
    claire = login(own_server.url, "claire")
    page = claire.get(own_server.url + PAGE, timeout=30).text
    done = _form_post(claire, own_server.url, page, case_id=str(ids["inside"]), action="contacted",
                      note="Appel, rappeler jeudi")
    assert done.status_code == 303 and done.headers["Location"].endswith(f"{PAGE}#case-{ids['inside']}")
    after = claire.get(own_server.url + PAGE, timeout=30).text
    assert "claire" in after and "Appel, rappeler jeudi" in after and "Suivi : contacté" in after
    # Refused, and nothing written: another residence's case, an unknown step, no CSRF token, a bad id.
    assert _form_post(claire, own_server.url, page, case_id=str(ids["outside"]), action="visited").status_code == 403
    assert _form_post(claire, own_server.url, page, case_id=str(ids["inside"]), action="deleted").status_code == 403
    assert _form_post(claire, own_server.url, page, case_id="-1", action="visited").status_code == 403
    no_token = claire.post(own_server.url + ACTION, data={"case_id": str(ids["inside"]), "action": "visited"},
                           allow_redirects=False, timeout=30)
    assert no_token.status_code == 400
    closed = _form_post(claire, own_server.url, page, case_id=str(ids["inside"]), action="closed", note="aide FSL")
    assert closed.status_code == 303
    with psycopg.connect(url) as conn:
        actions = conn.execute("SELECT case_id, account_id, username, action, note, acted_at IS NOT NULL"
                               " FROM hardship_action ORDER BY id").fetchall()
        status = dict(conn.execute("SELECT id, status FROM hardship_case").fetchall())
        closed_at = conn.execute("SELECT closed_at IS NOT NULL FROM hardship_case WHERE id = %s",
                                 (ids["inside"],)).fetchone()[0]
    claire_id = seed.accounts["claire"]
    assert actions == [(ids["inside"], claire_id, "claire", "contacted", "Appel, rappeler jeudi", True),
                       (ids["inside"], claire_id, "claire", "closed", "aide FSL", True)]
    assert status == {ids["inside"]: "closed", ids["outside"]: "open"} and closed_at
    # A closed case leaves the list.
    assert "B-01" not in claire.get(own_server.url + PAGE, timeout=30).text


def test_managers_households_and_anonymous_requests_get_nothing(own_seeded, own_server):
    url, seed, _ = own_seeded
    ids = _cases(url, seed)
    for user in ("marc", "alice", "bob"):
        session = login(own_server.url, user)
        page = session.get(own_server.url + PAGE, timeout=30)
        assert page.status_code == 403 and "B-01" not in page.text and "A-12" not in page.text
        home = session.get(own_server.url + "/login", timeout=30).text
        for case_id in ids.values():
            assert _form_post(session, own_server.url, home, case_id=str(case_id), action="closed").status_code == 403
        layout = json.dumps(session.get(own_server.url + "/_dash-layout", timeout=30).json())
        assert "nav-hardship" not in layout and PAGE not in layout
    anonymous = requests.Session()
    page = anonymous.get(own_server.url + PAGE, allow_redirects=False, timeout=30)
    assert page.status_code == 302 and page.headers["Location"].startswith("/login")
    post = anonymous.post(own_server.url + ACTION, data={"case_id": str(ids["inside"]), "action": "closed"},
                          allow_redirects=False, timeout=30)
    assert post.status_code == 401
    with psycopg.connect(url) as conn:
        assert conn.execute("SELECT count(*) FROM hardship_action").fetchone()[0] == 0
        assert conn.execute("SELECT count(*) FROM hardship_case WHERE status <> 'open'").fetchone()[0] == 0
