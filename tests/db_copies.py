"""Seeded test databases made once per run, storage mode and seed, then copied for every test that asks again.

A seed still goes the product's way (readings or hourly consumption, then its rollup refresh) the first time; the
tests after it get a file-level copy (CREATE DATABASE … TEMPLATE, a fraction of a second) instead of building the
same rows again. Only a freshly migrated, empty database is ever replaced by a copy.
"""

from __future__ import annotations

import copy
import time
import uuid
from collections.abc import Callable, Hashable
from typing import Any, TypeVar
from urllib.parse import urlsplit

import psycopg
import pytest

T = TypeVar("T")
JOB_QUIET_S = 60.0  # a TimescaleDB job still running when the seed is frozen would be cut off in every copy

_templates: dict[tuple[str, Hashable], tuple[str, Any]] = {}  # (admin URL, key) -> (template, build's value)


def _admin(url: str) -> str:
    return urlsplit(url)._replace(path="/postgres").geturl()


def _name(url: str) -> str:
    return urlsplit(url).path.lstrip("/")


def _has_timescaledb(url: str) -> bool:
    with psycopg.connect(url) as conn:
        return conn.execute("SELECT EXISTS (SELECT FROM pg_extension WHERE extname = 'timescaledb')").fetchone()[0]


def start_job_scheduler(url: str) -> None:
    """Start a copied TimescaleDB database's job scheduler now (the launcher would take up to a minute)."""
    with psycopg.connect(url, autocommit=True) as conn:
        started = conn.execute("SELECT _timescaledb_functions.start_background_workers()").fetchone()[0]
    if not started:  # its jobs would never run: say why here, not as a test timing out on them
        pytest.fail("TimescaleDB refused this database a job scheduler (all its background workers busy):"
                    " raise timescaledb.max_background_workers on the test server")


def close(url: str) -> None:
    """Stop the database's TimescaleDB scheduler (once its running jobs are done), bar new sessions, end the open ones."""
    if _has_timescaledb(url):
        with psycopg.connect(url, autocommit=True) as conn:
            deadline = time.monotonic() + JOB_QUIET_S
            while conn.execute("SELECT count(*) FROM timescaledb_information.job_stats WHERE job_status = 'Running'"
                               ).fetchone()[0] and time.monotonic() < deadline:
                time.sleep(0.2)
            conn.execute("SELECT _timescaledb_functions.stop_background_workers()")
    with psycopg.connect(_admin(url), autocommit=True) as conn:
        # No new session (a job worker, the launcher's scheduler) may come in while the last ones are ended.
        conn.execute(f'ALTER DATABASE "{_name(url)}" WITH ALLOW_CONNECTIONS false')
        conn.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()",
                     (_name(url),))


def freeze(url: str, template: str) -> None:
    """Copy the database at `url` into a new template database that nothing connects to; `url` stays usable."""
    timescaledb = _has_timescaledb(url)
    close(url)
    with psycopg.connect(_admin(url), autocommit=True) as conn:
        try:
            deadline = time.monotonic() + JOB_QUIET_S
            while True:
                try:
                    conn.execute(f'CREATE DATABASE "{template}" TEMPLATE "{_name(url)}"')
                    break
                except psycopg.errors.ObjectInUse:  # a terminated session not gone yet
                    if time.monotonic() > deadline:
                        raise
                    time.sleep(0.2)
        finally:
            conn.execute(f'ALTER DATABASE "{_name(url)}" WITH ALLOW_CONNECTIONS true')
        # The launcher would otherwise give the template a scheduler, whose connection stops every copy.
        conn.execute(f'ALTER DATABASE "{template}" WITH ALLOW_CONNECTIONS false')
    if timescaledb:
        start_job_scheduler(url)


def replace_with_copy(url: str, template: str) -> None:
    """Make the database at `url` a fresh copy of the template."""
    with psycopg.connect(_admin(url), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE "{_name(url)}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{_name(url)}" TEMPLATE "{template}"')
    if _has_timescaledb(url):
        start_job_scheduler(url)


def copied_seed(url: str, key: Hashable, build: Callable[[str], T]) -> T:
    """Seed the freshly migrated database at `url` with ``build(url)``, or with a copy of the same seed made earlier.

    `key` names everything the seed depends on (its dates included): two calls with the same key must build the same
    rows. The value `build` returned is handed back again (a deep copy) with each copy.
    """
    with psycopg.connect(url) as conn:
        empty = not conn.execute("SELECT EXISTS (SELECT FROM residence) OR EXISTS (SELECT FROM account)").fetchone()[0]
    assert empty, "copied_seed only replaces a freshly migrated, empty database"
    server = _admin(url)
    made = _templates.get((server, key))
    if made is not None:
        replace_with_copy(url, made[0])
        return copy.deepcopy(made[1])
    value = build(url)
    template = "cw_seed_" + uuid.uuid4().hex[:12]
    freeze(url, template)
    _templates[(server, key)] = (template, value)
    return copy.deepcopy(value)


def drop_templates() -> None:
    """Drop every template this process made (at the end of the run)."""
    for (admin, _), (template, _) in list(_templates.items()):
        try:
            with psycopg.connect(admin, autocommit=True, connect_timeout=5) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{template}" WITH (FORCE)')
        except psycopg.Error:
            pass  # the server went away: nothing left to clean
    _templates.clear()
