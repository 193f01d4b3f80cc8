"""The broker takes a rotated password without anyone signalling it (issue 14, defect 1).

deploy/mosquitto/run-broker.sh, the compose broker's entrypoint, runs a real Mosquitto with the
deploy configuration (this test's ports and folders) while make-passwd.sh rewrites the password
files as the mosquitto-auth service does after a password change in .env: the new password must
be accepted and the old one refused, with no SIGHUP sent by hand.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.acl_broker import (
    DEPLOY_MOSQUITTO,
    METER_LISTENER_PORT,
    SERVICE_LISTENER_PORT,
    derive_config,
    require_tools,
    wait_listening,
)
from tests.mqtt_tools import free_port

RUN_BROKER = DEPLOY_MOSQUITTO / "run-broker.sh"
ROTATION_BOUND_S = 30.0  # an upper bound for the watcher's poll and the reload, not an expectation


def _make_passwd(auth_dir: Path, ingest_password: str) -> None:
    env = dict(os.environ, OUTPUT=str(auth_dir / "passwd"), METERS_PASSWD=str(auth_dir / "none"),
               MQTT_INGEST_PASSWORD=ingest_password, MQTT_ANALYTICS_PASSWORD=secrets.token_hex(8),
               MQTT_DASHBOARD_PASSWORD=secrets.token_hex(8))
    made = subprocess.run(["sh", str(DEPLOY_MOSQUITTO / "make-passwd.sh")], env=env, capture_output=True, text=True)
    assert made.returncode == 0, made.stderr


def _accepted(port: int, password: str) -> bool:
    """Whether the service listener lets coopwatt-ingest in with this password (a QoS 1 publish it may make)."""
    result = subprocess.run(["mosquitto_pub", "-h", "127.0.0.1", "-p", str(port), "-V", "mqttv5", "-q", "1",
                             "-u", "coopwatt-ingest", "-P", password, "-i", "coopwatt-ingest-reload-test",
                             "-t", "coopwatt/ingest/presence/reload-test", "-m", "online"],
                            capture_output=True, text=True, timeout=20)
    return result.returncode == 0


@pytest.fixture()
def wrapped_broker(tmp_path: Path) -> Iterator[tuple[subprocess.Popen[bytes], int, Path]]:
    """run-broker.sh running Mosquitto with the deploy configuration; its service port; the auth folder."""
    require_tools()
    auth_dir = tmp_path / "auth"
    (tmp_path / "data").mkdir()
    ports = {METER_LISTENER_PORT: free_port(), SERVICE_LISTENER_PORT: free_port()}
    config = tmp_path / "mosquitto.conf"
    config.write_text(derive_config((DEPLOY_MOSQUITTO / "mosquitto.conf").read_text(), ports=ports,
                                    workdir=tmp_path, auth_dir=auth_dir, acl_dir=DEPLOY_MOSQUITTO))
    _make_passwd(auth_dir, "first-" + secrets.token_hex(8))
    env = dict(os.environ, WATCH_FILES=f"{auth_dir / 'passwd'} {auth_dir / 'services.passwd'}",
               WATCH_INTERVAL_S="0.2")
    # Its own process group: the broker it starts is stopped with it, whatever the test did.
    process = subprocess.Popen(["sh", str(RUN_BROKER), "mosquitto", "-c", str(config)], env=env,
                               start_new_session=True)
    try:
        assert all(wait_listening(port, process) for port in ports.values()), "the wrapped broker did not start"
        yield process, ports[SERVICE_LISTENER_PORT], auth_dir
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()


def test_a_rewritten_password_file_is_reloaded_without_a_signal(
        wrapped_broker: tuple[subprocess.Popen[bytes], int, Path]) -> None:
    process, port, auth_dir = wrapped_broker
    old = (auth_dir / "services.passwd").read_text()
    old_password = "old-" + secrets.token_hex(8)
    _make_passwd(auth_dir, old_password)
    assert (auth_dir / "services.passwd").read_text() != old
    deadline = time.monotonic() + ROTATION_BOUND_S
    while not _accepted(port, old_password):
        assert time.monotonic() < deadline, "the broker never took the first rewritten password file"
        time.sleep(0.2)

    new_password = "new-" + secrets.token_hex(8)
    _make_passwd(auth_dir, new_password)
    deadline = time.monotonic() + ROTATION_BOUND_S
    while not _accepted(port, new_password):
        assert time.monotonic() < deadline, "the broker kept the old password file"
        time.sleep(0.2)
    assert not _accepted(port, old_password), "the old password still works after the rotation"
    assert process.poll() is None, "the broker restarted instead of reloading"


def test_stopping_the_wrapper_stops_the_broker(wrapped_broker: tuple[subprocess.Popen[bytes], int, Path]) -> None:
    process, port, _auth_dir = wrapped_broker
    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=30) == 0, "the broker did not stop cleanly on SIGTERM (docker compose stop)"
