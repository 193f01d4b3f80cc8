"""The staff access log: every staff path to a home's data is recorded once, the household reads its own list.

The paths are not listed by hand here: the callbacks are those the running app registers
(``/_dash-dependencies``, as the attack suite reads them), the downloads those its Flask app routes.
Each must be classified in dashboard/access.py, and each classified as logging is replayed by staff
and must leave its row in ``access_log``.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import psycopg
import pytest
import requests

from coopwatt.access_log import delete_expired_accesses, record_access
from coopwatt.settings import load_settings
from dashboard.access import LOGGED_CALLBACKS, LOGGED_DOWNLOADS, UNLOGGED_CALLBACKS
from tests.attack_support import CallbackSpec, Knowledge, answer_text, build_body, server_callbacks
from tests.dashboard_fixtures import own_seeded, own_server  # noqa: F401 - fixtures
from tests.dashboard_support import SECRET, DashboardServer, Seed, login, post_form
from tests.dashboard_views_support import AnalyticsSeed

UPDATE = "/_dash-update-component"
DWELLING_STORE = "household-dwelling"  # dashboard/pages/household.py (importable only once an app exists)


def _first_output(spec: CallbackSpec) -> str:
    component, prop = spec.outputs[0]
    name = component if isinstance(component, str) else json.dumps(component, separators=(",", ":"), sort_keys=True)
    return f"{name}.{prop}"


def _pages(specs: list[CallbackSpec]) -> CallbackSpec:
    (spec,) = [s for s in specs if {slot.prop for slot in s.inputs} >= {"pathname", "search"}]
    return spec


def _open(session: requests.Session, base: str, spec: CallbackSpec, path: str, search: str = "") -> requests.Response:
    """What the pages callback answers for a path and query string (as the browser asks on navigation)."""
    at = {slot.prop: position for position, slot in enumerate(spec.slots)}
    response = session.post(base + UPDATE, json=build_body(spec, {at["pathname"]: path, at["search"]: search}, None,
                                                           at["pathname"]), timeout=30)
    assert response.status_code == 200, response.text[:300]
    return response


def _log(url: str) -> list[tuple[str, str, int, str]]:
    with psycopg.connect(url) as conn:
        return conn.execute("SELECT username, role, dwelling_id, what FROM access_log ORDER BY id").fetchall()


def _clear(url: str) -> None:
    with psycopg.connect(url) as conn:
        conn.execute("DELETE FROM access_log")


def _specs(session: requests.Session, base: str) -> list[CallbackSpec]:
    return server_callbacks(session.get(base + "/_dash-dependencies", timeout=30).json())


def test_every_callback_and_download_is_classified_and_every_logged_one_logs(
    own_seeded: tuple[str, Seed, AnalyticsSeed], own_server: DashboardServer,  # noqa: F811
) -> None:
    url, seed, _ = own_seeded
    root = login(own_server.url, "root")
    specs = _specs(root, own_server.url)
    registered = {_first_output(spec) for spec in specs}
    unclassified = registered - set(LOGGED_CALLBACKS) - set(UNLOGGED_CALLBACKS)
    assert not unclassified, f"callbacks not classified in dashboard/access.py (do they show a home's data?): " \
                             f"{sorted(unclassified)}"
    assert not (set(LOGGED_CALLBACKS) | set(UNLOGGED_CALLBACKS)) - registered, "dashboard/access.py lists callbacks " \
                                                                               "that no longer exist"
    pages = _pages(specs)
    # The household layout as root sees it: the component values its callbacks start from.
    knowledge = Knowledge()
    knowledge.learn(_open(root, own_server.url, pages, "/", f"?dwelling={seed.dwelling_a}").json())
    for spec in specs:
        key = _first_output(spec)
        if key not in LOGGED_CALLBACKS or spec is pages:
            continue
        _clear(url)
        # A pattern-matched input is a click on one home's control (the adviser's ranking opens its side panel).
        pattern = seed.dwelling_a if any(slot.wildcard for slot in spec.slots) else None
        values: dict[int, Any] = {position: seed.dwelling_a if slot.component_id == DWELLING_STORE
                                  else 1 if slot.wildcard else knowledge.baseline(slot)
                                  for position, slot in enumerate(spec.slots)}
        response = root.post(own_server.url + UPDATE, json=build_body(spec, values, pattern, 0), timeout=30)
        assert response.status_code == 200, (key, response.text[:300])
        assert _log(url) == [("root", "admin", seed.dwelling_a, LOGGED_CALLBACKS[key])], key
    # The pages callback: each page that shows a home's data.
    for path, search, what in (("/", f"?dwelling={seed.dwelling_b}", "household_page"),
                               ("/adviser", f"?dwelling={seed.dwelling_b}", "adviser_drilldown")):
        _clear(url)
        _open(root, own_server.url, pages, path, search)
        assert _log(url) == [("root", "admin", seed.dwelling_b, what)], (path, search)
    _clear(url)
    _open(root, own_server.url, pages, "/manager")
    with psycopg.connect(url) as conn:
        alerted = {row[0] for row in conn.execute(
            "SELECT DISTINCT dwelling_id FROM alert WHERE dwelling_id IS NOT NULL").fetchall()}
    assert alerted, "the seed has home alerts for the manager page to show"
    assert sorted(_log(url)) == sorted(("root", "admin", d, "alert_detail") for d in alerted)
    # Every download route the app has, with a home asked for.
    from dashboard.app import create_app

    app = create_app(load_settings({"COOPWATT_DATABASE_URL": url, "COOPWATT_DASHBOARD_SECRET_KEY": SECRET}))
    routes = {rule.rule for rule in app.server.url_map.iter_rules() if rule.rule.startswith("/download/")}
    assert routes == set(LOGGED_DOWNLOADS), "a download not classified in dashboard/access.py"
    for path, what in LOGGED_DOWNLOADS.items():
        _clear(url)
        response = root.get(own_server.url + path, params={"dwelling": seed.dwelling_a}, timeout=30)
        assert response.status_code == 200 and response.text.count("\n") > 1, path
        assert _log(url) == [("root", "admin", seed.dwelling_a, what)], path
        with psycopg.connect(url) as conn:
            (detail,) = conn.execute("SELECT detail FROM access_log").fetchone() or (None,)
        # The local days the download covered: by default the export's own recent window, ending today.
        today = datetime.now(ZoneInfo("Europe/Paris")).date()
        default_days = {"csv_readings": 31, "csv_daily": 365}[what]
        assert detail == {"from": (today - timedelta(days=default_days - 1)).isoformat(), "to": today.isoformat()}
        # A range asked for is the range logged.
        _clear(url)
        asked = {"from": (today - timedelta(days=20)).isoformat(), "to": (today - timedelta(days=10)).isoformat()}
        assert root.get(own_server.url + path, params={"dwelling": seed.dwelling_a, **asked}, timeout=30).ok
        with psycopg.connect(url) as conn:
            assert [row[0] for row in conn.execute("SELECT detail FROM access_log")] == [asked]
        # A building's own meters are no household's data.
        _clear(url)
        assert root.get(own_server.url + path, params={"building": seed.other_building_id}, timeout=30).ok
        assert _log(url) == [], path


def test_one_access_is_one_row_and_a_household_is_not_logged(
    own_seeded: tuple[str, Seed, AnalyticsSeed], own_server: DashboardServer,  # noqa: F811
) -> None:
    url, seed, _ = own_seeded
    # An adviser opens a drill-down of her residence, then the household page with its charts, twice.
    claire = login(own_server.url, "claire")
    pages = _pages(_specs(claire, own_server.url))
    for _ in range(2):
        _open(claire, own_server.url, pages, "/adviser", f"?dwelling={seed.dwelling_c}")
        _open(claire, own_server.url, pages, "/", f"?dwelling={seed.dwelling_c}")
    assert _log(url) == [("claire", "adviser", seed.dwelling_c, "adviser_drilldown"),
                         ("claire", "adviser", seed.dwelling_c, "household_page")]
    # Refused: nothing logged for a home outside her scope.
    _open(claire, own_server.url, pages, "/adviser", f"?dwelling={seed.dwelling_a}")
    assert len(_log(url)) == 2
    # The manager sees his building's home alerts: one row per home, with the alerts in the detail.
    marc = login(own_server.url, "marc")
    _open(marc, own_server.url, _pages(_specs(marc, own_server.url)), "/manager")
    with psycopg.connect(url) as conn:
        rows = conn.execute("SELECT dwelling_id, detail FROM access_log WHERE username = 'marc'").fetchall()
        his = {row[0]: sorted(row[1]["alerts"]) for row in rows}
        expected = {}
        for dwelling_id, alert_id in conn.execute(
                "SELECT a.dwelling_id, a.id FROM alert a JOIN dwelling d ON d.id = a.dwelling_id"
                " WHERE d.building_id = %s", (seed.other_building_id,)).fetchall():
            expected.setdefault(dwelling_id, []).append(alert_id)
    assert his == {d: sorted(ids) for d, ids in expected.items()} and his
    # A household reading its own page, charts and downloads leaves no row.
    before = _log(url)
    alice = login(own_server.url, "alice")
    specs = _specs(alice, own_server.url)
    _open(alice, own_server.url, _pages(specs), "/")
    assert alice.get(own_server.url + "/download/daily.csv", timeout=30).status_code == 200
    assert alice.get(own_server.url + "/download/readings.csv", timeout=30).status_code == 200
    assert _log(url) == before


def test_a_household_sees_its_own_log_only_and_staff_see_their_access_is_recorded(
    own_seeded: tuple[str, Seed, AnalyticsSeed], own_server: DashboardServer,  # noqa: F811
) -> None:
    url, seed, _ = own_seeded
    root = login(own_server.url, "root")
    pages = _pages(_specs(root, own_server.url))
    notice = _open(root, own_server.url, pages, "/adviser", f"?dwelling={seed.dwelling_a}")
    assert "Vos consultations des données d'un foyer sont enregistrées" in answer_text(notice)
    assert root.get(own_server.url + "/download/readings.csv", params={"dwelling": seed.dwelling_b}, timeout=30).ok
    for path in ("/", "/manager"):
        opened = _open(root, own_server.url, pages, path, f"?dwelling={seed.dwelling_a}")
        assert "staff-access-notice" in answer_text(opened)
    post_form(root, own_server.url, "/lang/en")
    assert "Your access to a household's data is recorded" in answer_text(
        _open(root, own_server.url, pages, "/adviser", f"?dwelling={seed.dwelling_a}"))

    alice = login(own_server.url, "alice")
    alice_pages = _pages(_specs(alice, own_server.url))
    own = answer_text(_open(alice, own_server.url, alice_pages, "/"))
    assert "Qui a consulté vos données" in own and "root (administrateur)" in own
    assert "a ouvert le détail conseiller : courbe horaire des 14 derniers jours" in own
    assert "a téléchargé vos relevés bruts" not in own  # bob's download, not hers
    post_form(alice, own_server.url, "/lang/en")
    own_en = answer_text(_open(alice, own_server.url, alice_pages, "/"))
    assert "Who looked at your data" in own_en and "root (administrator)" in own_en
    assert "opened the adviser's detail" in own_en and "downloaded your raw readings" not in own_en
    # A crafted request for every other id never brings another household's log.
    with psycopg.connect(url) as conn:
        ids = [row[0] for row in conn.execute(
            "SELECT id FROM dwelling UNION SELECT id FROM account UNION SELECT id FROM building").fetchall()]
    for search in [f"?dwelling={i}" for i in ids] + ["?dwelling=-1", "?dwelling=%27"]:
        text = answer_text(_open(alice, own_server.url, alice_pages, "/", search))
        assert "downloaded your raw readings" not in text and "A-13" not in text, search

    bob = login(own_server.url, "bob")
    theirs = answer_text(_open(bob, own_server.url, _pages(_specs(bob, own_server.url)), "/"))
    assert "a téléchargé vos relevés bruts (CSV, du " in theirs and "détail conseiller" not in theirs
    # No staff access at all: the page says so.
    _clear(url)
    assert "Personne de l'équipe n'a consulté vos données ces 365 derniers jours." in answer_text(
        _open(bob, own_server.url, _pages(_specs(bob, own_server.url)), "/"))


def _dwelling(conn: psycopg.Connection) -> int:
    residence = conn.execute("INSERT INTO residence (code, name) VALUES ('R', 'R') RETURNING id").fetchone()
    building = conn.execute("INSERT INTO building (residence_id, code) VALUES (%s, 'B') RETURNING id",
                            residence).fetchone()
    row = conn.execute("INSERT INTO dwelling (building_id, code, floor_area_m2, heating_type)"
                       " VALUES (%s, 'D1', 50, 'gas') RETURNING id", building).fetchone()
    assert row is not None
    return int(row[0])


def test_repeats_within_the_window_are_one_access_and_only_staff_are_logged(migrated_db_url: str) -> None:
    with psycopg.connect(migrated_db_url) as conn:
        dwelling = _dwelling(conn)
        account = conn.execute("INSERT INTO account (username, password_hash, role) VALUES ('claire', 'x', 'adviser')"
                               " RETURNING id").fetchone()
        assert account is not None
        staff = {"account_id": account[0], "username": "claire", "role": "adviser"}
        assert record_access(conn, **staff, dwelling_ids=[dwelling], what="household_page") == 1
        assert record_access(conn, **staff, dwelling_ids=[dwelling, dwelling], what="household_page") == 0
        assert record_access(conn, **staff, dwelling_ids=[dwelling], what="csv_daily") == 1
        assert record_access(conn, **staff, dwelling_ids=[dwelling], what="household_page", repeat_window_s=0) == 1
        with pytest.raises(ValueError, match="household"):
            record_access(conn, account_id=1, username="alice", role="household", dwelling_ids=[dwelling],
                          what="household_page")
        with pytest.raises(ValueError, match="kind"):
            record_access(conn, **staff, dwelling_ids=[dwelling], what="peeked")


def test_retention_deletes_exactly_the_entries_older_than_the_setting(migrated_db_url: str) -> None:
    now = datetime(2026, 3, 29, 1, 30, tzinfo=UTC)  # the night France moves to summer time: days are 24 h anyway
    with psycopg.connect(migrated_db_url) as conn:
        dwelling = _dwelling(conn)
        cutoff = now - timedelta(days=30)
        for at in (cutoff - timedelta(microseconds=1), cutoff, cutoff + timedelta(seconds=1), now):
            conn.execute("INSERT INTO access_log (accessed_at, username, role, dwelling_id, what)"
                         " VALUES (%s, 'root', 'admin', %s, 'household_page')", (at, dwelling))
        assert delete_expired_accesses(conn, 30, now=now) == 1
        kept = [row[0] for row in conn.execute("SELECT accessed_at FROM access_log ORDER BY 1").fetchall()]
    assert kept == [cutoff, cutoff + timedelta(seconds=1), now]


def test_the_maintenance_step_applies_the_access_log_retention(migrated_db_url: str) -> None:
    from analytics.job.run import run_maintenance

    settings = load_settings({"COOPWATT_DATABASE_URL": migrated_db_url, "COOPWATT_RETENTION_ACCESS_LOG_DAYS": "90"})
    with psycopg.connect(migrated_db_url) as conn:
        dwelling = _dwelling(conn)
        for days in (91, 89):
            conn.execute("INSERT INTO access_log (accessed_at, username, role, dwelling_id, what)"
                         " VALUES (now() - make_interval(days => %s), 'root', 'admin', %s, 'csv_daily')",
                         (days, dwelling))
    run_maintenance(migrated_db_url, settings)
    with psycopg.connect(migrated_db_url) as conn:
        left = conn.execute("SELECT round(extract(epoch FROM now() - accessed_at) / 86400) FROM access_log").fetchall()
    assert [int(row[0]) for row in left] == [89]
