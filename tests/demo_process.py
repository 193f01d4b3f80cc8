"""A `coopwatt demo` (or `python3 run.py demo`) process as a person runs it in a terminal, watched line by line."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import psutil

from tests.mqtt_tools import free_port

ROOT = Path(__file__).resolve().parent.parent


def demo_environment(data_dir: Path, **settings: str) -> dict[str, str]:
    """This environment without COOPWATT_* settings, plus a data directory, a free dashboard port and the given settings.

    The port is free rather than the default 8050 so that demos in parallel test workers never meet.
    """
    env = {k: v for k, v in os.environ.items() if not k.startswith("COOPWATT_")}
    return env | {"COOPWATT_DATA_DIR": str(data_dir), "COOPWATT_METRICS_PORT": "0",
                  "COOPWATT_DASHBOARD_PORT": str(free_port())} | {
        f"COOPWATT_{k.upper()}": v for k, v in settings.items()}


class DemoProcess:
    """A demo in a session of its own (its own terminal, as it were), its output collected as it comes."""

    def __init__(self, env: dict[str, str], *args: str, via_run_py: bool = False) -> None:
        command = ([sys.executable, str(ROOT / "run.py"), "demo", *args] if via_run_py
                   else [sys.executable, "-m", "coopwatt.cli", "demo", *args])
        self.process = subprocess.Popen(command, env=env, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                        text=True, start_new_session=True)
        self.lines: list[str] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.append(line)

    @property
    def output(self) -> str:
        """Everything printed so far."""
        return "".join(self.lines)

    def wait_for(self, text: str, timeout_s: float = 300.0) -> None:
        """Return once a printed line contains `text`; fail with the output if it does not come."""
        deadline = time.monotonic() + timeout_s
        while not any(text in line for line in self.lines):
            if self.process.poll() is not None and not self._reader.is_alive():
                raise AssertionError(f"the demo ended ({self.process.returncode}) before {text!r}:\n{self.output}")
            if time.monotonic() > deadline:
                raise AssertionError(f"no {text!r} within {timeout_s:.0f} s:\n{self.output}")
            time.sleep(0.2)

    def ctrl_c(self) -> None:
        """What Ctrl-C in its terminal does: SIGINT to every process of the foreground group."""
        os.killpg(self.process.pid, signal.SIGINT)

    def finish(self, timeout_s: float = 300.0) -> int:
        """Wait for the end; its exit status."""
        try:
            code = self.process.wait(timeout_s)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            raise AssertionError(f"the demo did not end within {timeout_s:.0f} s:\n{self.output}") from None
        self._reader.join(10)
        return code


def postgres_running_on(data_dir: Path) -> list[psutil.Process]:
    """PostgreSQL server processes whose data directory is under `data_dir`."""
    found = []
    for proc in psutil.process_iter(attrs=["name", "cmdline"]):
        cmdline = proc.info.get("cmdline") or []
        if proc.info.get("name") == "postgres" and any(str(data_dir) in part for part in cmdline):
            found.append(proc)
    return found
