"""The attacks on the dashboard's HTTP layer (issue 12), replayed against a real gunicorn server:
sessions after logout, state changes by GET, open redirects, public-path prefixes, log flooding,
login lock-outs (also behind a reverse proxy) and the security headers."""

from __future__ import annotations

import base64
import hashlib
import re
import time
from datetime import datetime
from pathlib import Path

import psycopg
import requests

from coopwatt.settings import load_settings
from dashboard.auth import MAX_REQUEST_BYTES, attempt_login
from dashboard.rejections import BURST, LINES_PER_S
from tests.dashboard_fixtures import dashboard_fixtures
from tests.dashboard_support import PARIS, PASSWORD, SECRET, DashboardServer, Seed, login, post_form, seeded_cooperative

MAX_FAILURES = 3


def _seed(url: str) -> tuple[str, Seed]:
    """Dwellings and one account per role."""
    return url, seeded_cooperative(url, today=datetime.now(PARIS).date(), days=20)


# gunicorn with two workers (sessions and pauses must hold across processes): one for the module's tests that only
# read (tests/dashboard_fixtures.py), one of its own for a test that reads what its server logged.
_shared_seed, seeded, _shared_server, server, own_seeded, own_server = dashboard_fixtures(
    _seed, workers=2, dashboard_login_max_failures=str(MAX_FAILURES))


def _copy(session: requests.Session) -> requests.Session:
    """Another client holding the same cookies (an attacker who copied them, or a second tab)."""
    thief = requests.Session()
    thief.cookies.update(session.cookies)
    return thief


def test_a_cookie_saved_before_logout_is_worth_nothing_after_it(server: DashboardServer) -> None:
    alice = login(server.url, "alice")
    other_device = login(server.url, "alice")
    saved = _copy(alice)
    assert saved.get(server.url + "/download/daily.csv", timeout=10).status_code == 200
    bye = post_form(alice, server.url, "/logout")
    assert bye.status_code == 302 and bye.headers["Location"] == "/login?bye=1"
    # The cookie from before the logout: no CSV, no layout, no callback, whichever worker answers.
    for _ in range(4):
        csv = saved.get(server.url + "/download/daily.csv", timeout=10)
        assert csv.status_code == 401 and "src-a-elec" not in csv.text
        assert saved.get(server.url + "/_dash-layout", timeout=10).status_code == 401
        assert saved.get(server.url + "/download/readings.csv", timeout=10).status_code == 401
        assert saved.post(server.url + "/_dash-update-component", json={}, timeout=10).status_code == 401
    # Logout ends every session of the account, the other device's too.
    assert other_device.get(server.url + "/_dash-layout", timeout=10).status_code == 401
    # Logging in again works, and that new session is not ended by the old logout.
    again = login(server.url, "alice")
    assert again.get(server.url + "/_dash-layout", timeout=10).status_code == 200


def test_state_changes_only_by_post_with_the_token(server: DashboardServer, seeded: tuple[str, Seed]) -> None:
    url, _ = seeded
    alice = login(server.url, "alice")

    def language() -> str:
        with psycopg.connect(url) as conn:
            row = conn.execute("SELECT language FROM account WHERE username = 'alice'").fetchone()
        assert row is not None
        return str(row[0])

    # What an <img src> or a link on another site would do: nothing.
    confirm = alice.get(server.url + "/logout", allow_redirects=False, timeout=10)
    assert confirm.status_code == 200 and 'id="logout-confirm"' in confirm.text
    switch = alice.get(server.url + "/lang/en?next=/", allow_redirects=False, timeout=10)
    assert switch.status_code == 405
    assert alice.get(server.url + "/_dash-layout", timeout=10).status_code == 200
    assert language() == "fr"
    # A forged POST without the session's token (another site's form) is refused too.
    for path in ("/logout", "/lang/en"):
        forged = alice.post(server.url + path, data={"csrf_token": "forged"}, allow_redirects=False, timeout=10)
        assert forged.status_code == 400
        assert alice.post(server.url + path, allow_redirects=False, timeout=10).status_code == 400
    assert alice.get(server.url + "/_dash-layout", timeout=10).status_code == 200
    assert language() == "fr"
    # With the token, as the page's own buttons send it.
    assert post_form(alice, server.url, "/lang/en", next="/").headers["Location"] == "/"
    assert language() == "en"
    assert post_form(alice, server.url, "/logout").status_code == 302
    assert alice.get(server.url + "/_dash-layout", timeout=10).status_code == 401


# The reported attack and its variants, as they appear in a URL's query string.
ENCODED_ATTACKS = ["/%09/x//evil.example/phish", "//evil.example/x", "/%5Cevil.example", "/%2F%2Fevil.example",
                   "https://evil.example/", "/%0A/evil.example", "/%0D%0A//evil.example", "/%252F%252Fevil.example",
                   "%2F%2Fevil.example", "/%E3%80%80/evil.example"]


def _token(session: requests.Session, base_url: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', session.get(base_url + "/login", timeout=10).text)
    assert found is not None
    return found[1]


def test_no_open_redirect_after_login_or_language_switch(server: DashboardServer) -> None:
    for encoded in ENCODED_ATTACKS:
        session = requests.Session()
        answer = session.post(f"{server.url}/login?next={encoded}",
                              data={"csrf_token": _token(session, server.url), "username": "alice",
                                    "password": PASSWORD},
                              allow_redirects=False, timeout=30)
        assert answer.status_code == 302 and answer.headers["Location"] == "/", (encoded, answer.headers)
        switched = session.post(f"{server.url}/lang/fr?next={encoded}", data={"csrf_token": _token(session, server.url)},
                                allow_redirects=False, timeout=30)
        assert switched.status_code == 302 and switched.headers["Location"] == "/", (encoded, switched.headers)
    # A local page is where the member goes, query string and all.
    local = session.post(f"{server.url}/lang/en?next=/adviser%3Fkind%3Dwater",
                         data={"csrf_token": _token(session, server.url)}, allow_redirects=False, timeout=30)
    assert local.headers["Location"] == "/adviser?kind=water"
    # A page asked for before logging in is where the login form leads, through a language switch too.
    member = requests.Session()
    asked = member.get(server.url + "/manager", allow_redirects=False, timeout=10)
    assert asked.headers["Location"] == "/login?next=/manager"
    form = member.get(server.url + asked.headers["Location"], timeout=10).text
    assert 'name="next" value="/manager"' in form and 'name="next" value="/login?next=/manager"' in form
    answer = member.post(server.url + "/login", data={"csrf_token": _token(member, server.url), "username": "marc",
                                                      "password": PASSWORD, "next": "/manager"},
                         allow_redirects=False, timeout=30)
    assert answer.headers["Location"] == "/manager"


def test_public_paths_match_whole_routes_only(server: DashboardServer) -> None:
    anonymous = requests.Session()
    for path in ("/loginx", "/login/x", "/healthzfoo", "/healthz/x", "/logoutx", "/lang/fr/x", "/lang/", "/langx",
                 "/assetsx/app", "/lang/fr/../../adviser"):
        answer = anonymous.get(server.url + path, allow_redirects=False, timeout=10)
        assert "_dash-config" not in answer.text and "_dash-renderer" not in answer.text, path
        assert answer.status_code in (302, 401, 404, 405), (path, answer.status_code)
        if answer.status_code == 302:
            assert answer.headers["Location"].startswith("/login"), path
    # The public routes themselves still answer.
    assert anonymous.get(server.url + "/healthz", timeout=10).text == "ok"
    assert anonymous.get(server.url + "/login", timeout=10).status_code == 200
    assert anonymous.get(server.url + "/assets/coopwatt.css", timeout=10).status_code == 200


def _refusal_lines(server: DashboardServer) -> list[str]:
    text = server.log_path.read_text(errors="replace")
    return [line for line in text.splitlines() if "refused 400 POST /_dash-update-component" in line]


def test_a_burst_of_malformed_callbacks_writes_a_bounded_log_without_tracebacks(own_server: DashboardServer) -> None:
    alice = login(own_server.url, "alice")
    bodies: list[object] = [[], {}, {"output": "nope"}, {"output": 3}, "x", {"output": "x", "inputs": "y"}]
    started = time.monotonic()
    sent = 0
    for round_ in range(50):
        for body in bodies:
            answer = alice.post(own_server.url + "/_dash-update-component", json=body, timeout=10)
            assert answer.status_code == 400, (body, answer.status_code, answer.text[:200])
            sent += 1
        garbled = alice.post(own_server.url + "/_dash-update-component", data=b"{not json" + bytes([round_]),
                             headers={"Content-Type": "application/json"}, timeout=10)
        assert garbled.status_code == 400
        sent += 1
    # A body too big to be a callback is refused before it is read.
    huge = alice.post(own_server.url + "/_dash-update-component", data=b"[" + b"0," * (MAX_REQUEST_BYTES // 2) + b"0]",
                      headers={"Content-Type": "application/json"}, timeout=60)
    assert huge.status_code == 413
    elapsed = time.monotonic() - started
    log = own_server.log_path.read_text(errors="replace")
    assert "Traceback" not in log
    lines = _refusal_lines(own_server)
    # Each worker's bucket: a burst, then a trickle; nowhere near one line per request.
    bound = 2 * (BURST + LINES_PER_S * elapsed + 1)
    assert 0 < len(lines) <= bound < sent / 2, (len(lines), bound, sent)
    # Once the bucket refills, the next line says how many were left out.
    deadline = time.monotonic() + 60
    while "similar lines suppressed" not in own_server.log_path.read_text(errors="replace"):
        assert time.monotonic() < deadline, own_server.log_tail()
        alice.post(own_server.url + "/_dash-update-component", json={}, timeout=10)
        time.sleep(0.5)


def test_the_owner_logs_in_while_an_attacker_hammers_from_another_address(
    seeded: tuple[str, Seed], tmp_path: Path,
) -> None:
    url, _ = seeded
    # Behind a reverse proxy on this machine: the proxy's X-Forwarded-For tells the client apart.
    with DashboardServer(url, tmp_path / "gunicorn.log", workers=2, dashboard_login_max_failures=str(MAX_FAILURES),
                         dashboard_trusted_proxies="127.0.0.1/32") as server:

        def attempt(username: str, password: str, address: str) -> int:
            session = requests.Session()
            session.headers["X-Forwarded-For"] = address
            token = re.search(r'name="csrf_token" value="([^"]+)"', session.get(server.url + "/login", timeout=10).text)
            assert token is not None
            return session.post(server.url + "/login", data={"csrf_token": token[1], "username": username,
                                                             "password": password},
                                allow_redirects=False, timeout=30).status_code

        # Twenty failures on alice from the attacker's address: a few are tried, then paused.
        answers = [attempt("alice", f"guess {n}", "203.0.113.66") for n in range(20)]
        assert answers[:MAX_FAILURES] == [401] * MAX_FAILURES and set(answers[MAX_FAILURES:]) == {429}
        # Even the right password from the attacker's address waits...
        assert attempt("alice", PASSWORD, "203.0.113.66") == 429
        # ...but the owner, from home, gets in; and nobody else is locked out.
        assert attempt("alice", PASSWORD, "198.51.100.7") == 302
        assert attempt("bob", PASSWORD, "198.51.100.8") == 302
        # Twenty failures on many names from one address pause that address only.
        for n in range(20):
            attempt(f"guess{n}", "nope", "203.0.113.77")
        assert attempt("claire", PASSWORD, "203.0.113.77") == 429
        assert attempt("claire", PASSWORD, "198.51.100.9") == 302
    with psycopg.connect(url) as conn:
        addresses = {row[0] for row in conn.execute("SELECT DISTINCT remote_addr FROM login_attempt")}
    assert addresses == {"203.0.113.66", "198.51.100.7", "198.51.100.8", "203.0.113.77", "198.51.100.9"}


def test_forwarded_addresses_from_an_untrusted_peer_are_ignored(seeded: tuple[str, Seed], tmp_path: Path) -> None:
    url, _ = seeded
    # The proxy is elsewhere: a request straight from 127.0.0.1 cannot pick its address by header.
    with DashboardServer(url, tmp_path / "gunicorn.log", workers=1, dashboard_login_max_failures=str(MAX_FAILURES),
                         dashboard_trusted_proxies="10.0.0.0/8") as server:
        for n in range(MAX_FAILURES + 2):
            session = requests.Session()
            session.headers["X-Forwarded-For"] = f"198.51.100.{n + 1}"
            token = re.search(r'name="csrf_token" value="([^"]+)"', session.get(server.url + "/login", timeout=10).text)
            assert token is not None
            answer = session.post(server.url + "/login", data={"csrf_token": token[1], "username": "alice",
                                                               "password": "wrong"}, allow_redirects=False, timeout=30)
            assert answer.status_code == (401 if n < MAX_FAILURES else 429)
    with psycopg.connect(url) as conn:
        addresses = {row[0] for row in conn.execute("SELECT DISTINCT remote_addr FROM login_attempt")}
    assert addresses == {"127.0.0.1"}


def test_refused_attempts_do_not_lengthen_the_pause(seeded: tuple[str, Seed]) -> None:
    url, seed = seeded
    settings = load_settings({}, database_url=url, dashboard_login_max_failures=2, dashboard_login_window_s=900,
                             dashboard_login_first_pause_s=60)
    with psycopg.connect(url) as conn:
        for _ in range(2):
            assert attempt_login(conn, settings, "alice", "nope", "203.0.113.5").account_id is None
        # The failures were 50 s ago: 10 s of the 60 s pause are left.
        conn.execute("UPDATE login_attempt SET attempted_at = now() - interval '50 seconds'")
        for _ in range(10):
            refused = attempt_login(conn, settings, "alice", "nope", "203.0.113.5")
            assert refused.rate_limited and 0 < refused.retry_after_s <= 10
        # The pause ends 60 s after the last counted failure, however much was tried during it.
        conn.execute("UPDATE login_attempt SET attempted_at = attempted_at - interval '11 seconds' WHERE NOT refused")
        assert attempt_login(conn, settings, "alice", PASSWORD, "203.0.113.5").account_id == seed.accounts["alice"]
        counted = conn.execute("SELECT count(*) FROM login_attempt WHERE NOT refused AND NOT succeeded").fetchone()
        assert counted == (2,)
        # Crafted names (a NUL, which PostgreSQL text refuses; 100,000 characters) are failures, not errors.
        for crafted in ("ali\x00ce", "alice" + "x" * 100_000):
            assert attempt_login(conn, settings, crafted, PASSWORD, "203.0.113.6").account_id is None


def test_guesses_from_many_addresses_pause_the_account_but_not_where_its_owner_logs_in(
    seeded: tuple[str, Seed],
) -> None:
    url, seed = seeded
    settings = load_settings({}, database_url=url, dashboard_login_max_failures=2, dashboard_login_first_pause_s=60)
    with psycopg.connect(url) as conn:
        assert attempt_login(conn, settings, "alice", PASSWORD, "198.51.100.7").account_id == seed.accounts["alice"]
        # A botnet: one guess per address, never enough for any one address to pause.
        for n in range(4 * 2):
            assert attempt_login(conn, settings, "alice", "guess", f"203.0.113.{n + 1}").account_id is None
        # The account now pauses new addresses (the next guesser)...
        assert attempt_login(conn, settings, "alice", "guess", "203.0.113.200").rate_limited
        # ...but not the address its owner logged in from.
        assert attempt_login(conn, settings, "alice", PASSWORD, "198.51.100.7").account_id == seed.accounts["alice"]


def test_security_headers_and_cookie_flags(seeded: tuple[str, Seed]) -> None:
    from dashboard.app import create_app

    url, _ = seeded
    app = create_app(load_settings({}, database_url=url, dashboard_secret_key=SECRET))
    try:
        client = app.server.test_client()
        answer = client.get("/login")
        policy = answer.headers["Content-Security-Policy"]
        directives = {part.split()[0]: part.split()[1:] for part in policy.split("; ")}
        assert directives["script-src"][0] == "'self'" and "'unsafe-inline'" not in directives["script-src"]
        assert all(source.startswith("'sha256-") for source in directives["script-src"][1:])
        assert directives["frame-ancestors"] == ["'none'"]
        assert answer.headers["X-Content-Type-Options"] == "nosniff"
        assert answer.headers["Referrer-Policy"] == "same-origin"
        cookie = answer.headers["Set-Cookie"]
        # Secure by default (production runs behind TLS), HttpOnly, SameSite=Lax.
        assert "Secure" in cookie and "HttpOnly" in cookie and "SameSite=Lax" in cookie
        # Every inline script of Dash's page is one the policy allows, by its hash.
        with app.server.test_request_context("/"):
            # Comments aside (Dash's Internet Explorer warning sits in one, which no browser runs).
            index = re.sub(r"<!--.*?-->", "", app.index(), flags=re.S)
        inline = [body for attributes, body in re.findall(r"<script([^>]*)>(.*?)</script>", index, re.S)
                  if "src=" not in attributes and "application/json" not in attributes]
        assert len(inline) >= 2  # the renderer's start and the language buttons' client-side callback
        for body in inline:
            digest = base64.b64encode(hashlib.sha256(body.encode()).digest()).decode()
            assert f"'sha256-{digest}'" in directives["script-src"], body
    finally:
        app.server.config["COOPWATT_CONTEXT"].close()
