"""The demo's services: its own data directory (locked), the embedded PostgreSQL and broker, free ports, the dashboard.

Two demos on one machine never share a data directory: the first holds
``<data dir>/demo.lock``; a second one started on the default directory takes
``<dir>-2`` (and free ports) and says who runs where; one started on a directory the
user chose and that is busy stops, saying how to run a second one. A demo stops
only the embedded PostgreSQL it started (or took over from a demo that ended
without stopping it), never one it merely found running.
"""

from __future__ import annotations

import contextlib
import os
import socket
import time
from typing import Any

from coopwatt.demo_console import say
from coopwatt.errors import CoopwattError
from coopwatt.demo_lock import DemoBusy, DemoLock, LockInfo, claim_data_dir
from coopwatt.settings import Settings

# A port the user set but that is taken: the next ones are tried before any free port.
PORT_TRIES = 20
MQTT_PROTOCOL_EMBEDDED = 4  # the embedded amqtt broker speaks MQTT 3.1.1 only
DEMO_CLIENT_ID = "coopwatt-demo-ingest"
# Session advisory lock a demo holds on a database it was given (COOPWATT_DATABASE_URL): "coop".
DEMO_DATABASE_LOCK_KEY = 0x636F6F70


class DatabaseBusy(CoopwattError):
    """Another demo works in the configured database; its first line says who, in both languages."""

    def __init__(self, holder: str) -> None:
        super().__init__(f"another demo is using this database ({holder})")
        self.holder = holder


def _holder(info: LockInfo) -> tuple[str, str]:
    """Who holds a data directory, in words: pid, dashboard, data directory."""
    url = info.dashboard_url or "tableau de bord pas encore prêt"
    url_en = info.dashboard_url or "dashboard not ready yet"
    return (f"une démo tourne déjà : pid {info.pid}, {url}, données dans {info.data_dir}",
            f"a demo is already running: pid {info.pid}, {url_en}, data in {info.data_dir}")


def claim(settings: Settings) -> tuple[Settings, DemoLock] | None:
    """Lock a data directory of this demo's own; None (after saying why and what to do) when none is free."""
    chosen = "data_dir" in settings.model_fields_set
    try:
        lock, busy = claim_data_dir(settings.data_dir, chosen=chosen)
    except DemoBusy as exc:
        for info in exc.holders:
            say(*_holder(info))
        other = settings.data_dir.with_name(settings.data_dir.name + "-2")
        say(f"pour lancer une seconde démo en même temps, donnez-lui son propre dossier : "
            f"COOPWATT_DATA_DIR={other} python3 run.py demo (ses ports seront choisis libres)",
            f"to run a second demo at the same time, give it a folder of its own: "
            f"COOPWATT_DATA_DIR={other} python3 run.py demo (it picks free ports)")
        return None
    for info in busy:
        say(*_holder(info))
    update: dict[str, Any] = {"data_dir": lock.data_dir}
    if busy:
        say(f"cette démo prend son propre dossier, {lock.data_dir}, et ses propres ports",
            f"this demo takes a folder of its own, {lock.data_dir}, and ports of its own")
        if settings.mqtt_client_id == DEMO_CLIENT_ID:  # the demo's own default, not one the user chose
            # On a shared broker, two demo ingesters must not take each other's session.
            update["mqtt_client_id"] = f"{settings.mqtt_client_id}-{lock.data_dir.name}"
    return settings.model_copy(update=update), lock


def start_services(settings: Settings, lock: DemoLock, stack: contextlib.ExitStack) -> Settings:
    """Start the embedded PostgreSQL and broker where no URL is configured; settings with both URLs set."""
    update: dict[str, Any] = {}
    if settings.database_url is None:
        update["database_url"] = _start_embedded_postgres(settings, lock, stack)
    else:
        say(f"base de données configurée : {_without_password(settings.database_url)}",
            f"using the configured database: {_without_password(settings.database_url)}")
        _hold_database(settings.database_url, lock, stack)
    if settings.mqtt_url is None:
        update["mqtt_url"] = _start_embedded_broker(stack)
        update["mqtt_protocol"] = MQTT_PROTOCOL_EMBEDDED
    else:
        say(f"broker MQTT configuré : {_without_password(settings.mqtt_url)}", "using the configured MQTT broker")
    if settings.metrics_port:
        port = port_near(settings.metrics_host, settings.metrics_port)
        if port != settings.metrics_port:
            say(f"port {settings.metrics_port} déjà pris : /metrics sur le port {port} (COOPWATT_METRICS_PORT)",
                f"port {settings.metrics_port} is taken: /metrics on port {port} (COOPWATT_METRICS_PORT)")
            update["metrics_port"] = port
        lock.update(metrics_url=f"http://{settings.metrics_host}:{port}/metrics")
    return settings.model_copy(update=update)


def _hold_database(url: str, lock: DemoLock, stack: contextlib.ExitStack) -> None:
    """Hold the demo's advisory lock on a configured database for the demo's life, or raise DatabaseBusy.

    Two demos with different data folders could still be given one database: the second would
    rewrite the first's residence and its demo passwords.
    """
    import psycopg

    # The holder is named by its pid (application_name keeps 63 bytes: too few for a folder).
    conn = psycopg.connect(url, autocommit=True, application_name=f"coopwatt demo pid {os.getpid()}")
    stack.callback(conn.close)  # closing the session releases the lock
    if not conn.execute("SELECT pg_try_advisory_lock(%s)", (DEMO_DATABASE_LOCK_KEY,)).fetchone()[0]:  # type: ignore[index]
        row = conn.execute(
            "SELECT a.application_name FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid"
            " WHERE l.locktype = 'advisory' AND l.objid = %s AND l.granted AND l.database ="
            " (SELECT oid FROM pg_database WHERE datname = current_database()) LIMIT 1",
            (DEMO_DATABASE_LOCK_KEY,)).fetchone()
        raise DatabaseBusy(row[0] if row and row[0] else "unknown process")


def _start_embedded_postgres(settings: Settings, lock: DemoLock, stack: contextlib.ExitStack) -> str:
    from coopwatt.embedded import EmbeddedPostgres

    say(f"démarrage de PostgreSQL intégré (données dans {settings.data_dir}) …",
        f"starting the embedded PostgreSQL (data in {settings.data_dir}) …")
    started = time.monotonic()
    server = EmbeddedPostgres(settings.data_dir)
    server.start()
    previous = lock.previous
    if server.adopted_pid is None:
        owned = True
    elif previous is not None and previous.postgres_pid == server.adopted_pid:
        owned = True  # its demo ended (the lock was free) without stopping it: nobody else uses it
        say(f"PostgreSQL (pid {server.adopted_pid}) laissé en marche par une démo interrompue (pid {previous.pid}) : "
            "cette démo le reprend et l'arrêtera",
            f"PostgreSQL (pid {server.adopted_pid}) left running by a demo that was cut short (pid {previous.pid}): "
            "this demo takes it over and will stop it")
    else:
        owned = False
        say(f"un PostgreSQL (pid {server.adopted_pid}) tournait déjà sur ce dossier sans avoir été lancé par une démo : "
            "utilisé, et laissé en marche à la fin",
            f"a PostgreSQL (pid {server.adopted_pid}) was already running on this folder, not started by a demo: "
            "used, and left running at the end")
    if owned:
        lock.update(postgres_pid=server.server_pid)
        stack.callback(_stop_announced, "PostgreSQL intégré", "embedded PostgreSQL", server.stop)
    else:
        stack.callback(say, f"PostgreSQL (pid {server.adopted_pid}) laissé en marche : cette démo ne l'a pas lancé",
                       f"PostgreSQL (pid {server.adopted_pid}) left running: this demo did not start it")
    say(f"PostgreSQL intégré prêt sur 127.0.0.1:{server.port} en {time.monotonic() - started:.1f} s",
        f"embedded PostgreSQL ready on 127.0.0.1:{server.port} in {time.monotonic() - started:.1f} s")
    return server.url("coopwatt")


def _start_embedded_broker(stack: contextlib.ExitStack) -> str:
    from coopwatt.embedded import EmbeddedBroker

    broker = EmbeddedBroker()
    broker.start()
    stack.callback(_stop_announced, "broker MQTT intégré", "embedded MQTT broker", broker.stop)
    say(f"broker MQTT intégré (amqtt, MQTT 3.1.1) sur 127.0.0.1:{broker.port}, utilisateur {broker.username}",
        f"embedded MQTT broker (amqtt, MQTT 3.1.1) on 127.0.0.1:{broker.port}, user {broker.username}")
    return broker.url


def _stop_announced(french: str, english: str, stop: Any) -> None:
    stop()
    say(f"{french} arrêté", f"{english} stopped")


def port_free(host: str, port: int) -> bool:
    """True when nothing listens on host:port now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


def port_near(host: str, port: int) -> int:
    """`port` if free, else the first free one of the next few, else any free port."""
    for candidate in range(port, min(port + PORT_TRIES, 65_536)):
        if port_free(host, candidate):
            return candidate
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def _without_password(url: str) -> str:
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@")
    return parts._replace(netloc=netloc).geturl()


def serve_dashboard(settings: Settings, lock: DemoLock, stack: contextlib.ExitStack) -> str:
    """Serve the dashboard in this process, print its address and one demo account per role; its URL."""
    import psycopg

    from coopwatt.users import ensure_demo_accounts
    from dashboard.app import demo_settings
    from dashboard.serve import start_in_thread

    with psycopg.connect(settings.database_url) as conn:
        accounts = ensure_demo_accounts(conn)
        conn.commit()
    port = port_near(settings.dashboard_host, settings.dashboard_port)
    running = start_in_thread(demo_settings(settings), host=settings.dashboard_host, port=port)
    stack.callback(running.stop)
    lock.update(dashboard_url=running.url)
    if port != settings.dashboard_port:
        say(f"port {settings.dashboard_port} déjà pris : tableau de bord sur le port {port} (COOPWATT_DASHBOARD_PORT)",
            f"port {settings.dashboard_port} is taken: dashboard on port {port} (COOPWATT_DASHBOARD_PORT)")
    say(f"tableau de bord : {running.url}", f"dashboard: {running.url}")
    for username, password, role in accounts:
        print(f"    {role:<10} {username:<14} {password}", flush=True)
    return running.url
