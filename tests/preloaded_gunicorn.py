"""gunicorn started from a process that has already imported the dashboard: the tests' server, without 4 s of imports.

A run starts about 150 dashboard servers. Each is ``python -m gunicorn … dashboard.app:server``; most of its start-up
was importing pandas, Dash, Flask and the dashboard's own modules (4–5 s of CPU each). Here a multiprocessing
fork server imports them once per test worker and each server is a fork of it that runs gunicorn's own command line
(``gunicorn.app.wsgiapp.run``) with its own argv, environment and working directory: the same arbiter, workers,
``--preload`` and ``dashboard.app:server`` as production. Importing ``dashboard.app`` reads no settings (``server``
is built from the environment on first use, in the fork), so nothing of one server leaks into the next.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import sys
from collections.abc import Mapping, Sequence
from multiprocessing.process import BaseProcess
from pathlib import Path

# What the fork server imports before its first fork. Not "__main__": under pytest-xdist there is no main script.
PRELOAD = ["dashboard.app", "gunicorn.app.wsgiapp", "gunicorn.workers.gthread", "tests.preloaded_gunicorn"]

_CONTEXT = multiprocessing.get_context("forkserver")
_CONTEXT.set_forkserver_preload(PRELOAD)


def _serve(argv: Sequence[str], env: Mapping[str, str], cwd: str, log_path: str) -> None:
    """In the fork: gunicorn's command line with this server's argv, environment, directory and log."""
    log = os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    # gunicorn writes its log to stderr; both standard streams go to the server's log file, as with Popen.
    sys.stdout.flush()
    sys.stderr.flush()
    os.dup2(log, 1)
    os.dup2(log, 2)
    os.close(log)
    # A process group of its own: stopping the server can then reach a worker its arbiter lost (see stop()).
    os.setsid()
    os.environ.clear()
    os.environ.update(env)
    os.chdir(cwd)
    sys.argv = ["gunicorn", *argv]
    from gunicorn.app.wsgiapp import run

    run()


def start(argv: Sequence[str], env: Mapping[str, str], cwd: Path, log_path: Path) -> BaseProcess:
    """Start ``gunicorn <argv>`` as a fork of the preloaded server; the process is returned running."""
    process = _CONTEXT.Process(target=_serve, args=(list(argv), dict(env), str(cwd), str(log_path)),
                               name="gunicorn", daemon=True)  # daemon: one a test left running is stopped at exit
    process.start()
    return process


def stop(process: BaseProcess, timeout_s: float = 20.0) -> None:
    """SIGINT to the arbiter (gunicorn's quick shutdown), then SIGKILL to whatever is left of its process group.

    A gthread worker told to quit while its main thread is handing a connection to its thread pool can deadlock
    in its own signal handler (the pool's shutdown lock is not re-entrant); its arbiter kills it only after the
    graceful timeout, and a worker left behind keeps its database connections. The group kill makes sure none is.
    """
    if process.pid is None:
        return
    if process.is_alive():
        os.kill(process.pid, signal.SIGINT)
        process.join(timeout=timeout_s)
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    process.join()
