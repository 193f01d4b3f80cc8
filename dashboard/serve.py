"""``coopwatt dashboard``: serve the Dash app with gunicorn (a real WSGI server, several workers)."""

from __future__ import annotations

import argparse
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


def main(settings: Settings, args: argparse.Namespace) -> int:
    """Serve the dashboard with the configured (or given) address and workers."""
    from dashboard.app import require_secret_key

    require_secret_key(settings)
    host = args.host or settings.dashboard_host
    port = args.port or settings.dashboard_port
    print(f"coopwatt dashboard on http://{host}:{port}/")
    serve(settings, host=host, port=port, workers=args.workers or settings.dashboard_workers)
    return 0
