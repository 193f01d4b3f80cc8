"""What every request handler needs: the settings and this process's one connection pool."""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import flask
import psycopg
from psycopg_pool import ConnectionPool

from coopwatt.db import make_pool
from coopwatt.settings import Settings

CONFIG_KEY = "COOPWATT_CONTEXT"


@dataclass
class AppContext:
    """Settings plus a connection pool opened lazily in each worker process."""

    settings: Settings
    database_url: str
    _pool: ConnectionPool | None = field(default=None, repr=False)
    _pool_pid: int | None = field(default=None, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def pool(self) -> ConnectionPool:
        """This process's pool; gunicorn forks workers, and a pool must not cross a fork."""
        with self._lock:
            if self._pool is None or self._pool_pid != os.getpid():
                self._pool = make_pool(self.database_url, min_size=1, max_size=4, name="coopwatt-dashboard")
                self._pool_pid = os.getpid()
            return self._pool

    @contextmanager
    def connection(self) -> Iterator[psycopg.Connection]:
        """A pooled connection; its transaction commits on success and rolls back on error."""
        with self.pool().connection() as conn:
            yield conn

    def close(self) -> None:
        """Close the pool if this process opened one."""
        with self._lock:
            if self._pool is not None and self._pool_pid == os.getpid():
                self._pool.close()
            self._pool = None


def current() -> AppContext:
    """The context of the Flask app handling this request."""
    return flask.current_app.config[CONFIG_KEY]
