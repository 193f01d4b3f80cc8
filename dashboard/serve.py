"""``coopwatt dashboard``: serve the Dash app with gunicorn (a real WSGI server, several workers)."""

from __future__ import annotations

import argparse
import threading
from dataclasses import dataclass
from typing import Any

from coopwatt.settings import Settings


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``coopwatt dashboard`` (defaults come from the settings)."""
    parser.add_argument("--host", default=None, help="address to listen on (COOPWATT_DASHBOARD_HOST)")
    parser.add_argument("--port", type=int, default=None, help="port (COOPWATT_DASHBOARD_PORT)")
    parser.add_argument("--workers", type=int, default=None, help="gunicorn workers (COOPWATT_DASHBOARD_WORKERS)")


def serve(settings: Settings, *, host: str, port: int, workers: int) -> None:
    """Run gunicorn in this process until it is stopped."""
    from gunicorn.app.base import BaseApplication

    from dashboard.app import create_app

    # Built before the fork; each worker opens its own connection pool on first use.
    server = create_app(settings).server

    class _Gunicorn(BaseApplication):  # type: ignore[misc]
        def load_config(self) -> None:
            options: dict[str, Any] = {
                "bind": f"{host}:{port}", "workers": workers, "threads": 4, "worker_class": "gthread",
                "timeout": 60, "accesslog": "-", "errorlog": "-", "loglevel": settings.log_level.lower(),
                "proc_name": "coopwatt-dashboard",
                # No shared control socket in the home directory: several dashboards may run on one host.
                "control_socket_disable": True,
            }
            for key, value in options.items():
                self.cfg.set(key, value)

        def load(self) -> Any:
            return server

    _Gunicorn().run()


@dataclass
class RunningDashboard:
    """A dashboard served from a thread of this process (the demo's way; production uses gunicorn)."""

    url: str
    _server: Any
    _thread: threading.Thread
    _context: Any

    def stop(self) -> None:
        """Stop serving, wait for the thread and close the connection pool."""
        self._server.shutdown()
        self._thread.join(timeout=10)
        self._server.server_close()
        self._context.close()


def start_in_thread(settings: Settings, *, host: str = "127.0.0.1", port: int = 0) -> RunningDashboard:
    """Serve the dashboard with werkzeug's threaded server in a background thread (port 0: any free port)."""
    from werkzeug.serving import make_server

    from dashboard.app import create_app
    from dashboard.context import CONFIG_KEY

    flask_server = create_app(settings).server
    server = make_server(host, port, flask_server, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="coopwatt-dashboard", daemon=True)
    thread.start()
    return RunningDashboard(f"http://{host}:{server.server_port}/", server, thread, flask_server.config[CONFIG_KEY])


def main(settings: Settings, args: argparse.Namespace) -> int:
    """Serve the dashboard with the configured (or given) address and workers."""
    from dashboard.app import require_secret_key

    require_secret_key(settings)
    host = args.host or settings.dashboard_host
    port = args.port or settings.dashboard_port
    print(f"coopwatt dashboard on http://{host}:{port}/")
    serve(settings, host=host, port=port, workers=args.workers or settings.dashboard_workers)
    return 0
