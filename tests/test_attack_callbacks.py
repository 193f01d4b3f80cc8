"""The attack suite: every role replays every registered callback and download with other scopes' ids and junk.

Two residences, two buildings, three dwellings, alerts and analytics results are seeded
(tests/dashboard_support.py, tests/dashboard_views_support.py). Each role logs in through
the real form, reads ``/_dash-dependencies`` and posts every server callback the app has,
each input and state in turn set to the ids of every dwelling, building, residence and
alert, and to junk. No answer may carry another scope's codes, names, meter sources or
consumption figures, nor a number with more digits than the pages show; the server answers
4xx, nothing, or a refusal, never 500. Writes (alert actions, follow-ups, erasure requests)
are checked in the database afterwards.
"""

from __future__ import annotations

import threading
import uuid
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

import psycopg
import pytest
import requests

from coopwatt.settings import load_settings
from tests.attack_support import (
    JUNK, CallbackSpec, Knowledge, UnbuildableCallback, answer_text, attack_bodies, build_body, forbidden_numbers,
    numbers_in, server_callbacks, too_precise,
)
from tests.dashboard_support import PARIS, SECRET, DashboardServer, Seed, login, seed_cooperative
from tests.dashboard_views_support import AnalyticsSeed, seed_analytics
from tests.csv_support import csv_meters

UPDATE = "/_dash-update-component"
BUILDING_B_NAME = "Tour Zéphyr"


@dataclass(frozen=True)
class Role:
    """An account and what it must never receive."""

    username: str
    forbidden_text: tuple[str, ...]
    outside: tuple[str, ...]  # dwellings (by seed attribute) whose figures it must never get
    inside: tuple[str, ...]


ROLES = (
    Role("alice", ("A-13", "B-01", "src-b-", "src-c-", "Les Érables", BUILDING_B_NAME, "Isolation des combles"),
         ("dwelling_b", "dwelling_c"), ("dwelling_a",)),
    Role("bob", ("A-12", "B-01", "src-a-", "src-c-", "src-b-heat", "Les Érables", BUILDING_B_NAME,
                 "Isolation des combles"), ("dwelling_a", "dwelling_c"), ("dwelling_b",)),
    Role("claire", ("A-12", "A-13", "src-a-", "src-b-elec", "Les Tilleuls", "Bâtiment A"),
         ("dwelling_a", "dwelling_b"), ("dwelling_c",)),
    Role("marc", ("A-12", "A-13", "src-a-", "src-b-elec", "Les Tilleuls", "Bâtiment A"),
         ("dwelling_a", "dwelling_b"), ("dwelling_c",)),
    Role("root", (), (), ()),
)


@pytest.fixture(scope="module")
def attacked(attack_db_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[
        tuple[str, Seed, AnalyticsSeed, DashboardServer]]:
    """The seeded cooperative behind one real dashboard for the whole module (the replay is the slow part)."""
    url = attack_db_url
    today = datetime.now(PARIS).date()
    seed = seed_cooperative(url, today=today)
    analytics = seed_analytics(url, seed, today=today)
    with psycopg.connect(url) as conn:
        conn.execute("UPDATE building SET name = %s WHERE id = %s", (BUILDING_B_NAME, seed.other_building_id))
        conn.execute("INSERT INTO reading SELECT id, 1, now() - interval '2 hours', 4242.5 FROM meter"
                     " WHERE source = 'src-b-heat'")
    with DashboardServer(url, tmp_path_factory.mktemp("attack") / "gunicorn.log") as server:
        yield url, seed, analytics, server


@pytest.fixture(scope="module")
def attack_db_url(pg_admin_url: str) -> Iterator[str]:
    """A migrated database of its own for the module (the conftest one lives for one test), dropped afterwards."""
    from coopwatt.migrations import migrate

    name = "cw_attack_" + uuid.uuid4().hex[:12]
    with psycopg.connect(pg_admin_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    url = urlsplit(pg_admin_url)._replace(path="/" + name).geturl()
    try:
        migrate(url)
        yield url
    finally:
        with psycopg.connect(pg_admin_url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _ids(url: str) -> list[int]:
    """Every id of every dwelling, building, residence, alert and account: each scope's and every other's."""
    with psycopg.connect(url) as conn:
        rows = conn.execute(
            "SELECT id FROM dwelling UNION SELECT id FROM building UNION SELECT id FROM residence"
            " UNION SELECT id::int FROM alert UNION SELECT id FROM account ORDER BY 1").fetchall()
    return [int(row[0]) for row in rows]


def _learn(session: requests.Session, base: str, specs: list[CallbackSpec], seed: Seed) -> Knowledge:
    """Render every page as the role would see it, and remember every component's props."""
    knowledge = Knowledge()
    knowledge.learn(session.get(base + "/_dash-layout", timeout=30).json())
    pages = [spec for spec in specs if {s.prop for s in spec.inputs} >= {"pathname", "search"}]
    assert len(pages) == 1, "the pages callback is how the suite learns the layouts"
    (spec,) = pages
    at = {slot.prop: position for position, slot in enumerate(spec.slots)}
    for path in ("/", "/adviser", "/manager"):
        for search in ("", f"?dwelling={seed.dwelling_c}", f"?dwelling={seed.dwelling_a}"):
            body = build_body(spec, {at["pathname"]: path, at["search"]: search}, None, at["pathname"])
            response = session.post(base + UPDATE, json=body, timeout=30)
            if response.status_code == 200:
                knowledge.learn(response.json())
    return knowledge


@dataclass
class Verdict:
    """What one replayed request got."""

    callback: str
    status: int
    problem: str | None


def _check(response: requests.Response, forbidden_text: tuple[str, ...], forbidden: set[float]) -> str | None:
    if response.status_code >= 500 or "Traceback" in response.text:
        return f"server error {response.status_code}: {response.text[:200]}"
    if response.status_code != 200:
        return None
    text = answer_text(response)
    for marker in forbidden_text:
        if marker in text:
            return f"another scope's {marker!r}"
    numbers = list(numbers_in(response.json()))
    leaked = sorted(set(numbers) & forbidden)
    if leaked:
        return f"another dwelling's figures {leaked[:5]}"
    precise = [n for n in numbers if too_precise(n)]
    if precise:
        return f"numbers with more digits than shown {precise[:5]}"
    return None


def _replay(base: str, cookies: Any, specs: list[CallbackSpec], knowledge: Knowledge, ids: list[int],
            role: Role, forbidden: set[float]) -> list[Verdict]:
    """Post every attack body of every callback (four at a time), and judge each answer."""
    local = threading.local()

    def session() -> requests.Session:
        if not hasattr(local, "session"):
            local.session = requests.Session()
            local.session.cookies.update(cookies)
        return local.session

    def one(item: tuple[str, dict[str, Any]]) -> Verdict:
        output, body = item
        response = session().post(base + UPDATE, json=body, timeout=60)
        problem = _check(response, role.forbidden_text, forbidden)
        if problem is not None:
            problem = f"{role.username} · {output} · {body['inputs']} {body['state']}"[:600] + f" → {problem}"
        return Verdict(output, response.status_code, problem)

    work = [(spec.output, body) for spec in specs for body in attack_bodies(spec, knowledge, ids)]
    with ThreadPoolExecutor(max_workers=4) as pool:
        return list(pool.map(one, work))


def test_every_callback_replayed_by_every_role_keeps_to_its_scope(
    attacked: tuple[str, Seed, AnalyticsSeed, DashboardServer],
) -> None:
    url, seed, analytics, server = attacked
    settings = load_settings({"COOPWATT_DATABASE_URL": url, "COOPWATT_DASHBOARD_SECRET_KEY": SECRET})
    today = datetime.now(PARIS).date()
    ids = _ids(url)
    problems: list[str] = []
    answered: Counter[str] = Counter()
    registered: set[str] = set()
    for role in ROLES:
        session = login(server.url, role.username)
        specs = server_callbacks(session.get(server.url + "/_dash-dependencies", timeout=30).json())
        registered |= {spec.output for spec in specs}
        knowledge = _learn(session, server.url, specs, seed)
        forbidden = forbidden_numbers(url, settings, [getattr(seed, d) for d in role.outside],
                                      [getattr(seed, d) for d in role.inside], today) if role.outside else set()
        verdicts = _replay(server.url, session.cookies, specs, knowledge, ids, role, forbidden)
        problems += [v.problem for v in verdicts if v.problem]
        answered.update(v.callback for v in verdicts if v.status == 200)
    # One example of each kind of failure per role and callback, so that no kind hides behind another.
    kinds = {(p.split(" · ")[0], p.split(" · ")[1], p.split(" → ")[-1][:30]): p for p in problems}
    log = server.log_tail(100_000)
    tracebacks = log[log.find("Traceback"):][:4000] if "Traceback" in log else ""
    assert not problems, (f"{len(problems)} answers out of scope or failing:\n" + "\n".join(list(kinds.values())[:30])
                          + "\nserver log:\n" + tracebacks)
    # A callback no request reached (every answer a refusal of the request itself) was not really attacked.
    assert registered and all(answered[output] for output in registered), {o: answered[o] for o in registered}
    _writes_stay_in_scope(url, seed, analytics)
    assert not tracebacks, tracebacks


def _writes_stay_in_scope(url: str, seed: Seed, analytics: AnalyticsSeed) -> None:
    """Only managers of the alert's building (and admins) acted on alerts; only in-scope follow-ups and erasures."""
    marc, claire, root = seed.accounts["marc"], seed.accounts["claire"], seed.accounts["root"]
    with psycopg.connect(url) as conn:
        actions = conn.execute(
            "SELECT a.account_id, coalesce(al.building_id, d.building_id) FROM alert_action a"
            " JOIN alert al ON al.id = a.alert_id LEFT JOIN dwelling d ON d.id = al.dwelling_id").fetchall()
        acknowledged = conn.execute(
            "SELECT al.acknowledged_by, coalesce(al.building_id, d.building_id) FROM alert al"
            " LEFT JOIN dwelling d ON d.id = al.dwelling_id WHERE al.acknowledged_at IS NOT NULL").fetchall()
        follow_ups = conn.execute("SELECT account_id, dwelling_id FROM follow_up").fetchall()
        erasures = conn.execute("SELECT account_id, dwelling_id FROM erasure_request").fetchall()
    for account, building in [*actions, *acknowledged]:
        assert account == root or (account == marc and building == seed.other_building_id), (account, building)
    # The attack did reach the actions: marc acted on his own building's alerts.
    assert any(account == marc for account, _ in actions)
    for account, dwelling in follow_ups:
        assert account == root or (account == claire and dwelling == seed.dwelling_c), (account, dwelling)
    for account, dwelling in erasures:
        assert (account, dwelling) in {(seed.accounts["alice"], seed.dwelling_a),
                                       (seed.accounts["bob"], seed.dwelling_b)}, (account, dwelling)


def _sources(response: requests.Response) -> set[str]:
    return csv_meters(response)


def test_downloads_replayed_with_every_id_give_each_role_what_it_may_see(
    attacked: tuple[str, Seed, AnalyticsSeed, DashboardServer],
) -> None:
    """Who sees what (docs/operations.md): every download asked for with every id and junk, by every role."""
    url, seed, _, server = attacked
    with psycopg.connect(url) as conn:
        alerted = {row[0] for row in conn.execute(
            "SELECT dwelling_id FROM alert WHERE status = 'open' AND dwelling_id IS NOT NULL").fetchall()}
    sources = {seed.dwelling_a: {"src-a-elec", "src-a-gas", "src-a-water"}, seed.dwelling_b: {"src-b-elec"},
               seed.dwelling_c: {"src-c-elec", "src-c-water"}}
    building_of = {seed.dwelling_a: seed.building_id, seed.dwelling_b: seed.building_id,
                   seed.dwelling_c: seed.other_building_id}

    def allowed(username: str, kind: str, dwelling: int | None, building: int | None) -> set[str] | None:
        """What the role gets for a well-formed request, or None for a refusal."""
        if building is not None:
            if dwelling is None and (username == "root" or (username == "marc" and building == seed.other_building_id)):
                return {"src-b-heat"} if building == seed.other_building_id else set()
            return None
        own = {"alice": seed.dwelling_a, "bob": seed.dwelling_b}
        if username in own:
            return sources[own[username]] if dwelling in (None, own[username]) else None
        if dwelling is None:
            return None
        if username == "root" or (username == "claire" and dwelling == seed.dwelling_c):
            return sources[dwelling]
        if username == "marc" and building_of[dwelling] == seed.other_building_id and dwelling in alerted \
                and kind == "daily":
            return sources[dwelling]
        return None

    ids = _ids(url)
    failures = []
    for username in ("alice", "bob", "claire", "marc", "root"):
        session = login(server.url, username)
        for kind in ("readings", "daily"):
            path = f"{server.url}/download/{kind}.csv"
            asks: list[dict[str, Any]] = [{}]
            asks += [{"dwelling": i} for i in ids] + [{"building": i} for i in ids]
            asks += [{"dwelling": seed.dwelling_c, "building": seed.other_building_id}]
            asks += [{name: junk} for name in ("dwelling", "building") for junk in JUNK
                     if isinstance(junk, str | int) and not isinstance(junk, bool)]
            for params in asks:
                response = session.get(path, params=params, timeout=60)
                dwelling = params.get("dwelling") if isinstance(params.get("dwelling"), int) else None
                building = params.get("building") if isinstance(params.get("building"), int) else None
                # Only real dwellings and buildings, given as plain ids, can be granted; junk never is.
                well_formed = (all(isinstance(v, int) and not isinstance(v, bool) for v in params.values())
                               and (dwelling is None or dwelling in sources)
                               and (building is None or building in (seed.building_id, seed.other_building_id)))
                expected = allowed(username, kind, dwelling, building) if well_formed else None
                if not well_formed:
                    # Junk is refused (403, or 414 for a 5000-character id), or, empty, means "nothing asked":
                    # a household then gets its own home, as without the parameter.
                    unasked = allowed(username, kind, None, None) or set()
                    ok = 400 <= response.status_code < 500 or (
                        response.status_code == 200 and _sources(response) <= unasked)
                elif expected is None:
                    ok = response.status_code == 403
                else:
                    # Not every meter has raw readings or daily rows here: what comes back is within what may.
                    ok = response.status_code == 200 and _sources(response) <= expected
                if not ok or "Traceback" in response.text:
                    failures.append((username, kind, params, response.status_code, response.text[:120]))
    assert not failures, failures[:20]


def test_every_callback_replayed_without_a_session_or_with_a_stale_one_gets_nothing(
    attacked: tuple[str, Seed, AnalyticsSeed, DashboardServer],
) -> None:
    """The callbacks a logged-in admin sees, replayed by nobody and by a forged cookie: refused before any runs."""
    url, seed, _, server = attacked
    admin = login(server.url, "root")
    specs = server_callbacks(admin.get(server.url + "/_dash-dependencies", timeout=30).json())
    knowledge = _learn(admin, server.url, specs, seed)
    forged = requests.Session()
    forged.cookies.set("coopwatt_session", "eyJhY2NvdW50X2lkIjoxfQ.forged.signature")
    ids = _ids(url)
    for session in (requests.Session(), forged):
        for spec in specs:
            for body in list(attack_bodies(spec, knowledge, ids))[:5]:
                response = session.post(server.url + UPDATE, json=body, timeout=30)
                assert response.status_code == 401, (spec.output, response.status_code)
                assert "src-" not in response.text and "B-01" not in response.text


def test_a_callback_the_suite_cannot_build_fails_it() -> None:
    """The builder refuses what it does not understand rather than skipping it silently."""
    spec = server_callbacks([{"output": "x.children", "inputs": [{"id": {"alert": ["EVERY"], "type": "t"},
                                                                   "property": "n_clicks"}], "state": []}])[0]
    with pytest.raises(UnbuildableCallback):
        list(attack_bodies(spec, Knowledge(), [1]))
    without_inputs = server_callbacks([{"output": "x.children", "inputs": [], "state": []}])[0]
    with pytest.raises(UnbuildableCallback):
        list(attack_bodies(without_inputs, Knowledge(), [1]))
