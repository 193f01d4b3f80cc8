"""Login, logout, CSRF, the database-backed rate limit, session invalidation and the secret-key check."""

from __future__ import annotations

import json
import os
from datetime import datetime

import psycopg
import pytest
import requests

from coopwatt.settings import SettingsError, load_settings
from coopwatt.users import set_password
from dashboard.auth import attempt_login, hash_password, verify_password
from tests.dashboard_fixtures import dashboard_fixtures
from tests.dashboard_support import (
    PARIS,
    PASSWORD,
    DashboardServer,
    Seed,
    csrf_from,
    login,
    post_form,
    seeded_cooperative,
)

MAX_FAILURES = 3


def _seed(url: str) -> tuple[str, Seed]:
    """Dwellings and one account per role."""
    return url, seeded_cooperative(url, today=datetime.now(PARIS).date(), days=20)


# gunicorn with two workers (so the rate limit must hold across processes) and a low failure limit; one for the
# module's tests that only read (tests/dashboard_fixtures.py), one of its own for a test that changes accounts.
_shared_seed, seeded, _shared_server, server, own_seeded, own_server = dashboard_fixtures(
    _seed, workers=2, dashboard_login_max_failures=str(MAX_FAILURES))


def _post_login(session: requests.Session, base: str, username: str, password: str,
                token: str | None = None) -> requests.Response:
    if token is None:
        token = csrf_from(session.get(base + "/login", timeout=10).text)
    return session.post(base + "/login", data={"csrf_token": token, "username": username, "password": password},
                        allow_redirects=False, timeout=30)


def test_password_hashes_are_argon2_and_verify() -> None:
    hashed = hash_password("un mot de passe")
    assert hashed.startswith("$argon2id$")
    assert verify_password(hashed, "un mot de passe")
    assert not verify_password(hashed, "un autre")
    assert not verify_password("not a hash", "un mot de passe")


def test_login_page_is_french_first_and_switches_to_english(server: DashboardServer) -> None:
    session = requests.Session()
    page = session.get(server.url + "/login", timeout=10)
    assert page.status_code == 200 and 'lang="fr"' in page.text and "Mot de passe" in page.text
    switched = post_form(session, server.url, "/lang/en", next="/login")
    assert switched.status_code == 302 and switched.headers["Location"] == "/login"
    english = session.get(server.url + "/login", timeout=10)
    assert 'lang="en"' in english.text and "Password" in english.text
    # Only local redirect targets.
    away = post_form(session, server.url, "/lang/fr", next="//evil.example/x")
    assert away.headers["Location"] == "/"


def test_login_needs_the_csrf_token_and_the_right_password(server: DashboardServer) -> None:
    session = requests.Session()
    token = csrf_from(session.get(server.url + "/login", timeout=10).text)
    assert _post_login(session, server.url, "alice", PASSWORD, token="forged").status_code == 400
    # A token from another session is no good either.
    other = requests.Session()
    other_token = csrf_from(other.get(server.url + "/login", timeout=10).text)
    assert other_token != token
    assert _post_login(session, server.url, "alice", PASSWORD, token=other_token).status_code == 400
    assert session.get(server.url + "/_dash-layout", timeout=10).status_code == 401

    assert _post_login(session, server.url, "alice", "wrong password!", token).status_code == 401
    assert _post_login(session, server.url, "nobody", PASSWORD, token).status_code == 401
    ok = _post_login(session, server.url, "ALICE ", PASSWORD, token)
    assert ok.status_code == 302 and ok.headers["Location"] == "/"
    assert session.get(server.url + "/_dash-layout", timeout=10).status_code == 200
    assert "HttpOnly" in ok.headers["Set-Cookie"] and "SameSite=Lax" in ok.headers["Set-Cookie"]


def test_logout_ends_the_session(server: DashboardServer) -> None:
    session = login(server.url, "alice")
    assert session.get(server.url + "/_dash-layout", timeout=10).status_code == 200
    bye = post_form(session, server.url, "/logout")
    assert bye.status_code == 302 and bye.headers["Location"].startswith("/login")
    assert session.get(server.url + "/_dash-layout", timeout=10).status_code == 401


def test_rate_limit_holds_across_workers(server: DashboardServer, seeded: tuple[str, Seed]) -> None:
    url, _ = seeded
    session = requests.Session()
    for _ in range(MAX_FAILURES):
        assert _post_login(session, server.url, "alice", "not the password").status_code == 401
    # Now even the right password is refused for a while, whichever worker answers.
    for _ in range(3):
        refused = _post_login(requests.Session(), server.url, "alice", PASSWORD)
        assert refused.status_code == 429
        assert "Trop de tentatives" in refused.text
    # Another account from the same address is not locked out by alice's failures.
    assert _post_login(requests.Session(), server.url, "bob", PASSWORD).status_code == 302
    with psycopg.connect(url) as conn:
        rows = conn.execute("SELECT username, succeeded FROM login_attempt ORDER BY id").fetchall()
    assert rows == [("alice", False)] * (MAX_FAILURES + 3) + [("bob", True)]


def test_changing_the_password_or_removing_the_account_ends_sessions(
    own_server: DashboardServer, own_seeded: tuple[str, Seed],
) -> None:
    url, _ = own_seeded
    alice = login(own_server.url, "alice")
    bob = login(own_server.url, "bob")
    with psycopg.connect(url) as conn:
        set_password(conn, "alice", "a brand new password")
        conn.execute("DELETE FROM account WHERE username = 'bob'")
    assert alice.get(own_server.url + "/_dash-layout", timeout=10).status_code == 401
    assert bob.get(own_server.url + "/_dash-layout", timeout=10).status_code == 401
    assert login(own_server.url, "alice", "a brand new password").get(own_server.url + "/_dash-layout",
                                                                  timeout=10).status_code == 200


def test_cross_site_posts_are_refused(server: DashboardServer) -> None:
    alice = login(server.url, "alice")
    response = alice.post(server.url + "/_dash-update-component", json={}, timeout=10,
                          headers={"Origin": "http://evil.example"})
    assert response.status_code == 403


def test_attempt_login_counts_failures_in_the_database(seeded: tuple[str, Seed]) -> None:
    url, seed = seeded
    settings = load_settings({}, database_url=url, dashboard_login_max_failures=2, dashboard_login_window_s=600,
                             dashboard_login_first_pause_s=60)
    with psycopg.connect(url) as conn:
        assert attempt_login(conn, settings, "alice", PASSWORD, "10.0.0.1").account_id == seed.accounts["alice"]
        assert attempt_login(conn, settings, "alice", "nope", "10.0.0.2").account_id is None
        assert attempt_login(conn, settings, "alice", "nope", "10.0.0.2").account_id is None
        # That name from that address pauses; the owner from another address does not.
        limited = attempt_login(conn, settings, "alice", PASSWORD, "10.0.0.2")
        assert limited.rate_limited and limited.account_id is None and 0 < limited.retry_after_s <= 60
        assert attempt_login(conn, settings, "alice", PASSWORD, "10.0.0.3").account_id == seed.accounts["alice"]
        # Failures older than the window no longer count.
        conn.execute("UPDATE login_attempt SET attempted_at = attempted_at - interval '11 minutes'")
        assert attempt_login(conn, settings, "alice", PASSWORD, "10.0.0.2").account_id == seed.accounts["alice"]
        # Many failures from one address on many names limit that address.
        for n in range(4 * 2):
            attempt_login(conn, settings, f"guess{n}", "x", "10.9.9.9")
        assert attempt_login(conn, settings, "bob", PASSWORD, "10.9.9.9").rate_limited
        assert attempt_login(conn, settings, "bob", PASSWORD, "10.0.0.4").account_id == seed.accounts["bob"]


def test_missing_secret_stops_start_up_with_its_name(migrated_db_url: str) -> None:
    from dashboard.app import create_app

    settings = load_settings({}, database_url=migrated_db_url)
    with pytest.raises(SettingsError, match="COOPWATT_DASHBOARD_SECRET_KEY"):
        create_app(settings)
    with pytest.raises(SettingsError, match="COOPWATT_DASHBOARD_SECRET_KEY"):
        load_settings({"COOPWATT_DASHBOARD_SECRET_KEY": "too short"})


def test_coopwatt_dashboard_refuses_to_start_without_a_secret(
    migrated_db_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
) -> None:
    from coopwatt.cli import main

    for key in [key for key in os.environ if key.startswith("COOPWATT_")]:
        monkeypatch.delenv(key)
    monkeypatch.setenv("COOPWATT_DATABASE_URL", migrated_db_url)
    assert main(["dashboard", "--port", "1"]) == 2
    assert "COOPWATT_DASHBOARD_SECRET_KEY" in capsys.readouterr().err


def test_demo_serves_from_a_thread_with_a_generated_secret(seeded: tuple[str, Seed]) -> None:
    from dashboard.app import demo_settings
    from dashboard.serve import start_in_thread

    url, _ = seeded
    settings = demo_settings(load_settings({}, database_url=url))
    assert settings.dashboard_secret_key and len(settings.dashboard_secret_key) >= 32
    running = start_in_thread(settings)
    try:
        base = running.url.rstrip("/")
        assert requests.get(base + "/_dash-layout", timeout=10).status_code == 401
        alice = login(base, "alice")
        layout = alice.get(base + "/_dash-layout", timeout=10)
        assert layout.status_code == 200
        assert "Se déconnecter" in json.dumps(layout.json(), ensure_ascii=False)
    finally:
        running.stop()
