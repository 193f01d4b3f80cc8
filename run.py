#!/usr/bin/env python3
"""Set up coopwatt on a fresh machine (only Python 3.11+ needed) and run it.

    python3 run.py demo    # the whole pipeline on embedded defaults
    python3 run.py test    # the test suite

It creates ./.venv, installs the locked dependencies with uv, then runs the
command inside it. Further arguments are passed on (to `coopwatt demo` or pytest).
"""

from __future__ import annotations

import os
import re
import shutil
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
        _say(f"2/3 installation de uv {UV_VERSION} ({time.monotonic() - started:.0f} s jusqu'ici) …",
             f"2/3 installing uv {UV_VERSION} ({time.monotonic() - started:.0f} s so far) …")
        subprocess.run([_bin("python"), "-m", "pip", "install", "-q", f"uv=={UV_VERSION}"], check=True)
    lock, marker = ROOT / "uv.lock", VENV / ".coopwatt-synced"
    # Quiet when nothing changed (a fraction of a second); said when the lock file is newer than the last sync.
    syncing = not marker.exists() or marker.stat().st_mtime < lock.stat().st_mtime
    if syncing:
        packages = lock.read_text(encoding="utf-8").count("[[package]]")
        _say(f"3/3 installation des {packages} paquets verrouillés (uv.lock) ({time.monotonic() - started:.0f} s "
             "jusqu'ici) …", f"3/3 installing the {packages} locked packages (uv.lock) "
             f"({time.monotonic() - started:.0f} s so far) …")
    env = dict(os.environ, UV_PROJECT_ENVIRONMENT=str(VENV))
    # --inexact keeps uv itself, which is not in the lock file; the demo extra brings the
    # embedded database and broker that `coopwatt demo` (and the tests) fall back on.
    _uv_sync(env, tell=syncing)
    marker.touch()
    if syncing or fresh:
        _say(f".venv prêt en {time.monotonic() - started:.0f} s", f".venv ready in {time.monotonic() - started:.0f} s")


# uv's summary lines (the per-package "+ name==version" lines are left out), in both languages.
_UV_STEPS = {"Resolved": "résolus", "Prepared": "préparés (téléchargés ou pris du cache)",
             "Installed": "installés", "Uninstalled": "désinstallés", "Audited": "vérifiés"}
_UV_SUMMARY = re.compile(r"^(?P<step>%s) (?P<count>\d+) packages? in (?P<took>\S+)$" % "|".join(_UV_STEPS))


def _uv_sync(env: dict[str, str], *, tell: bool) -> None:
    """uv sync, relaying its summary lines (resolved, prepared, installed …) when `tell`; stop on failure."""
    command = [str(_bin("uv")), "sync", "--frozen", "--inexact", "--extra", "demo"]
    uv = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    assert uv.stderr is not None
    errors = []
    for line in uv.stderr:
        match = _UV_SUMMARY.match(line.strip())
        if match is None:
            errors.append(line)
        elif tell:
            step, count, took = match["step"], match["count"], match["took"]
            fr = _UV_STEPS[step] if count != "1" else _UV_STEPS[step].replace("s ", " ", 1).rstrip("s")
            _say(f"    {count} paquet{'s' if count != '1' else ''} {fr} en {took}",
                 f"    {step.lower()} {count} package{'s' if count != '1' else ''} in {took}")
    if uv.wait() != 0:
        sys.stderr.write("".join(line for line in errors if not line.lstrip().startswith(("+ ", "- "))))
        raise subprocess.CalledProcessError(uv.returncode, command)


# Debian packages coopwatt needs at run time: Pango and a font for WeasyPrint (the letters' PDF);
# the tests also read PDFs back with poppler's pdftotext and pdftoppm.
RUNTIME_DEBIAN_PACKAGES = ("libpango-1.0-0", "libpangoft2-1.0-0", "fonts-dejavu-core")
TEST_DEBIAN_PACKAGES = ("poppler-utils",)


def _missing_debian_packages(packages: tuple[str, ...]) -> list[str]:
    missing = []
    for package in packages:
        result = subprocess.run(["dpkg-query", "-W", "-f=${Status}", package], capture_output=True, text=True)
        if result.returncode != 0 or "install ok installed" not in result.stdout:
            missing.append(package)
    return missing


def ensure_debian_packages(packages: tuple[str, ...]) -> None:
    """Install the Debian packages that are missing (as root, with apt-get); say what is missing otherwise."""
    if not shutil.which("dpkg-query"):
        return  # not Debian: the README lists what to install
    missing = _missing_debian_packages(packages)
    if not missing:
        return
    if not shutil.which("apt-get") or os.geteuid() != 0:
        print(f"warning: missing Debian packages (install them as root): {' '.join(missing)}", flush=True)
        return
    print(f"installing Debian packages: {' '.join(missing)} …", flush=True)
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    install = ["apt-get", "install", "-y", "-qq", "--no-install-recommends", *missing]
    if subprocess.run(install, env=env, stdout=subprocess.DEVNULL).returncode != 0:
        # A fresh machine has no package lists yet.
        subprocess.run(["apt-get", "update", "-qq"], env=env, check=True)
        subprocess.run(install, env=env, check=True, stdout=subprocess.DEVNULL)


def _parallel_args(rest: list[str]) -> list[str]:
    """pytest-xdist's options for a whole-suite run; none when the caller chose tests or a worker count."""
    if any(arg.startswith(("-n", "--numprocesses", "--dist", "-p")) for arg in rest):
        return []
    if any(not arg.startswith("-") and Path(arg.split("::")[0]).exists() for arg in rest):
        return []  # a few chosen tests: one process, readable output
    # One worker more than cores: a worker waiting on a browser or a child process leaves its core to the others
    # (at 2 cores the suite is CPU-bound all the same: 1.3x, docs/benchmarks.md "Test suite").
    workers = os.environ.get("COOPWATT_TEST_WORKERS") or str(max(2, (os.cpu_count() or 1) + 1))
    # Whole files per worker, longest first (tests/conftest.py orders them): a module's shared fixtures are set up
    # once. (pytest-xdist's finer "loadgroup" does not group under pytest 9: its node ids can no longer be renamed.)
    return ["-n", workers, "--dist", "loadfile", "--no-loadscope-reorder"]


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
    ensure_debian_packages(RUNTIME_DEBIAN_PACKAGES + (TEST_DEBIAN_PACKAGES if command == "test" else ()))
    if command == "demo":
        args = [str(_bin("coopwatt")), "demo", *rest]
    else:
        args = [str(_bin("python")), "-m", "pytest", *_parallel_args(rest), *rest]
    os.chdir(ROOT)
    child = subprocess.Popen(args)
    # The terminal sends Ctrl-C to the child as well; this process only waits for it to finish stopping.
    # Ignored rather than caught: the interpreter resets caught signals to the default as it exits, and a late
    # Ctrl-C would then kill this process instead of letting it return the child's status.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, lambda signum, frame: child.send_signal(signal.SIGTERM))
    code = child.wait()
    return 128 - code if code < 0 else code  # killed by signal N: the shell's 128 + N


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
