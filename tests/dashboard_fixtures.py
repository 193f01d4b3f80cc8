"""The seeded cooperative and its dashboard server, shared by the dashboard test modules that import them.

`seeded` and `server` are one seeded database and one gunicorn per module and storage mode: a dashboard server
costs 3 s of CPU to start and the run has over a hundred of them. They are for tests that only read. What a
reader may change is put back after each test (accounts' languages, login attempts); anything else it changed
fails it, naming the tables, so a test that writes cannot quietly pass its writes on to the next one.
A test that writes, through the dashboard or in SQL, takes `own_seeded` and `own_server`: its own of both.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import psycopg
import pytest
from psycopg import sql

from tests.dashboard_support import PARIS, DashboardServer, Seed, seeded_cooperative
from tests.dashboard_views_support import AnalyticsSeed, seed_analytics

SeededCooperative = tuple[str, Seed, AnalyticsSeed]

# What reading the dashboard writes: who saw which home (coopwatt's access log), and each login.
_WRITTEN_BY_READERS = {"access_log", "login_attempt"}
_ACCOUNT_COLUMNS_WRITTEN_BY_LOGIN = ("last_login_at", "password_hash", "session_version", "language")


def _seed(url: str) -> SeededCooperative:
    today = datetime.now(PARIS).date()
    seed = seeded_cooperative(url, today=today)
    return url, seed, seed_analytics(url, seed, today=today)


def fingerprint(url: str) -> dict[str, str]:
    """A digest of every table's rows but what readers write; two equal fingerprints: nothing else changed."""
    with psycopg.connect(url) as conn:
        tables = [name for (name,) in conn.execute(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY 1").fetchall()
            if name not in _WRITTEN_BY_READERS]
        digests = {}
        for table in tables:
            dropped = _ACCOUNT_COLUMNS_WRITTEN_BY_LOGIN if table == "account" else ()
            row = sql.SQL("to_jsonb(t)") + sql.SQL("").join(sql.SQL(" - ") + sql.Literal(c) for c in dropped)
            digests[table] = conn.execute(sql.SQL(
                "SELECT count(*) || ':' || coalesce(md5(string_agg(({row})::text, ',' ORDER BY ({row})::text)), '')"
                " FROM {table} t").format(row=row, table=sql.Identifier(table))).fetchone()[0]
    return digests


@dataclass(frozen=True)
class _Shared:
    cooperative: tuple[Any, ...]  # (url, seed, …) as the module's seed function returned it
    fingerprint: dict[str, str]
    languages: list[tuple[int, str]]  # each account's, as seeded


def dashboard_fixtures(seed: Callable[[str], tuple[Any, ...]], **server_settings: Any) -> tuple[Any, ...]:
    """A module's dashboard fixtures: read-only `seeded` and `server` (`seed(url)` run once in the module's database,
    one gunicorn on it), and `own_seeded` and `own_server`, the same for one test that writes.

    Returns six fixtures, to be bound in the test module under the names they carry:
    ``_shared_seed, seeded, _shared_server, server, own_seeded, own_server = dashboard_fixtures(...)``.
    """

    @pytest.fixture(scope="module", name="_shared_seed")
    def shared_seed(module_migrated_db_url: str) -> _Shared:
        cooperative = seed(module_migrated_db_url)
        with psycopg.connect(module_migrated_db_url) as conn:
            languages = conn.execute("SELECT id, language FROM account ORDER BY id").fetchall()
        return _Shared(cooperative, fingerprint(module_migrated_db_url), languages)

    @pytest.fixture(name="seeded")
    def seeded(_shared_seed: _Shared) -> Iterator[tuple[Any, ...]]:
        """The module's seeded database, read only: what the test changed is undone or, if not undoable, fails it."""
        yield _shared_seed.cooperative
        url = _shared_seed.cooperative[0]
        with psycopg.connect(url) as conn:
            with conn.cursor() as cur:
                cur.executemany("UPDATE account SET language = %s WHERE id = %s",
                                [(language, account) for account, language in _shared_seed.languages])
            conn.execute("DELETE FROM login_attempt")  # a reader's failed logins must not throttle the next one's
        before, after = _shared_seed.fingerprint, fingerprint(url)
        changed = sorted(table for table in before.keys() | after.keys() if before.get(table) != after.get(table))
        assert not changed, (f"this test changed {', '.join(changed)} in the module's shared database:"
                             " a test that writes takes its own database and server (tests/dashboard_fixtures.py)")

    @pytest.fixture(scope="module", name="_shared_server")
    def shared_server(_shared_seed: _Shared, tmp_path_factory: pytest.TempPathFactory) -> Iterator[DashboardServer]:
        log = tmp_path_factory.mktemp("dashboard") / "gunicorn.log"
        with DashboardServer(_shared_seed.cooperative[0], log, **server_settings) as running:
            yield running

    @pytest.fixture(name="server")
    def server(_shared_server: DashboardServer, seeded: tuple[Any, ...]) -> DashboardServer:
        """The dashboard under gunicorn on the module's seeded database, read only."""
        return _shared_server

    @pytest.fixture(name="own_seeded")
    def own_seeded(migrated_db_url: str) -> tuple[Any, ...]:
        """The same seed in this test's own database, for a test that writes."""
        return seed(migrated_db_url)

    @pytest.fixture(name="own_server")
    def own_server(own_seeded: tuple[Any, ...], tmp_path: Path) -> Iterator[DashboardServer]:
        """The same dashboard on this test's own database (its log holds this test's requests only)."""
        with DashboardServer(own_seeded[0], tmp_path / "gunicorn.log", **server_settings) as running:
            yield running

    return shared_seed, seeded, shared_server, server, own_seeded, own_server


# The seeded cooperative with its analytics results, for the modules that import `seeded` and `server` or their
# `own_` pair (the module-wide fixtures behind them reach every module through tests/conftest.py's pytest_plugins).
_shared_seed, seeded, _shared_server, server, own_seeded, own_server = dashboard_fixtures(_seed)
