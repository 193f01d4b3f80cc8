"""Two demos on one machine never share a data directory, and a demo stops only the PostgreSQL it started."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest

from coopwatt.demo_lock import LOCK_FILE, DemoBusy, DemoLock, claim_data_dir
from coopwatt.embedded import EmbeddedPostgres
from tests.demo_process import DemoProcess, demo_environment, postgres_running_on

SHORT = ("--days", "2", "--dwellings", "6")


@pytest.fixture
def holder(tmp_path: Path) -> Iterator[subprocess.Popen[str]]:
    """Another process holding the demo lock on tmp_path/data (as a running demo does), until the test ends."""
    script = textwrap.dedent(f"""
        import sys, time
        from coopwatt.demo_lock import DemoLock
        lock = DemoLock({str(tmp_path / 'data')!r}).acquire()
        lock.update(dashboard_url="http://127.0.0.1:8050/")
        print("held", flush=True)
        time.sleep(600)
    """)
    process = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    assert process.stdout is not None and process.stdout.readline().strip() == "held"
    yield process
    process.kill()
    process.wait()


def test_a_held_folder_names_its_demo(tmp_path: Path, holder: subprocess.Popen[str]) -> None:
    with pytest.raises(DemoBusy) as busy:
        DemoLock(tmp_path / "data").acquire()
    (info,) = busy.value.holders
    assert info.pid == holder.pid and info.dashboard_url == "http://127.0.0.1:8050/"
    assert info.data_dir == str((tmp_path / "data").resolve())


def test_the_default_folder_busy_the_next_demo_takes_its_own(tmp_path: Path, holder: subprocess.Popen[str]) -> None:
    lock, busy = claim_data_dir(tmp_path / "data", chosen=False)
    try:
        assert lock.data_dir == (tmp_path / "data-2").resolve()
        assert [b.pid for b in busy] == [holder.pid]
        with pytest.raises(DemoBusy):  # and data-2 is now held in its turn
            claim_data_dir(tmp_path / "data-2", chosen=True)
    finally:
        lock.release()
    with pytest.raises(DemoBusy):  # a folder the user chose is never swapped for another
        claim_data_dir(tmp_path / "data", chosen=True)


def test_the_lock_of_a_killed_demo_is_free_and_remembered(tmp_path: Path) -> None:
    script = textwrap.dedent(f"""
        import time
        from coopwatt.demo_lock import DemoLock
        DemoLock({str(tmp_path)!r}).acquire().update(postgres_pid=4242)
        print("held", flush=True)
        time.sleep(600)
    """)
    process = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    assert process.stdout is not None and process.stdout.readline().strip() == "held"
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    lock = DemoLock(tmp_path).acquire()
    assert lock.previous is not None and lock.previous.pid == process.pid and lock.previous.postgres_pid == 4242
    assert json.loads((tmp_path / LOCK_FILE).read_text())["pid"] == os.getpid()
    lock.release()
    assert (tmp_path / LOCK_FILE).read_text() == "", "a clean end leaves no record to take over"
    assert DemoLock(tmp_path).acquire().previous is None


def test_a_second_demo_on_a_busy_folder_says_who_runs_where(tmp_path: Path) -> None:
    """Two real demos, one folder: the second stops at once, naming the first; the first runs on untouched."""
    data = tmp_path / "data"
    env = demo_environment(data)
    first = DemoProcess(env, *SHORT, "--duration-s", "20")
    try:
        first.wait_for("dashboard: http://")
        url = next(line for line in first.lines if "dashboard: http://" in line).split("dashboard: ")[1].strip()
        postgres_before = json.loads((data / LOCK_FILE).read_text())["postgres_pid"]
        second = subprocess.run([sys.executable, "-m", "coopwatt.cli", "demo", *SHORT, "--duration-s", "5"],
                                env=env, capture_output=True, text=True, timeout=60, check=False)
        assert second.returncode == 1, second.stdout + second.stderr
        assert f"a demo is already running: pid {first.process.pid}, {url}, data in {data}" in second.stdout
        assert f"COOPWATT_DATA_DIR={data}-2 python3 run.py demo" in second.stdout, second.stdout
        assert "PostgreSQL" not in second.stdout, "the second demo must start (and stop) nothing"
        assert json.loads((data / LOCK_FILE).read_text())["postgres_pid"] == postgres_before
        assert first.finish() == 0, first.output
    finally:
        if first.process.poll() is None:
            first.process.kill()
    assert "embedded PostgreSQL stopped" in first.output and "goodbye" in first.output
    assert postgres_running_on(data) == []


def test_a_demo_leaves_running_a_server_it_did_not_start(tmp_path: Path) -> None:
    server = EmbeddedPostgres(tmp_path / "data").start()
    try:
        result = subprocess.run([sys.executable, "-m", "coopwatt.cli", "demo", *SHORT, "--duration-s", "5"],
                                env=demo_environment(tmp_path / "data"), capture_output=True, text=True,
                                timeout=600, check=False)
        assert result.returncode == 0, result.stdout + result.stderr
        assert f"PostgreSQL (pid {server.server_pid}) left running: this demo did not start it" in result.stdout
        with psycopg.connect(server.url("coopwatt")) as conn:  # still serving whoever started it
            assert conn.execute("SELECT count(*) FROM meter").fetchone()[0] > 0  # type: ignore[index]
    finally:
        server.stop()


def test_a_demo_takes_over_the_server_an_interrupted_demo_left(tmp_path: Path) -> None:
    data = tmp_path / "data"
    server = EmbeddedPostgres(data).start()
    left_pid = server.server_pid
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    # What a demo killed with SIGKILL leaves: its record, naming the server it started, and no lock held.
    (data / LOCK_FILE).write_text(json.dumps({"pid": int(dead.stdout), "data_dir": str(data),
                                              "postgres_pid": left_pid}))
    try:
        result = subprocess.run([sys.executable, "-m", "coopwatt.cli", "demo", *SHORT, "--duration-s", "5"],
                                env=demo_environment(data, demo_language="en"), capture_output=True, text=True,
                                timeout=600, check=False)
        assert result.returncode == 0, result.stdout + result.stderr
        assert f"[demo] PostgreSQL (pid {left_pid}) left running by a demo that was cut short" in result.stdout
        # COOPWATT_DEMO_LANGUAGE=en: English only, not French / English.
        demo_lines = [line for line in result.stdout.splitlines() if line.startswith("[demo]")]
        assert len(demo_lines) > 10 and not any(" / " in line or "démo" in line for line in demo_lines), demo_lines
        assert "embedded PostgreSQL stopped" in result.stdout
        assert postgres_running_on(data) == []
    finally:
        server.stop()


def test_two_demos_given_one_database_do_not_share_it(db_url: str, broker: Any, topic_prefix: str,
                                                      tmp_path: Path) -> None:
    """Different folders, one COOPWATT_DATABASE_URL: the second would rewrite the first's residence and passwords."""
    settings = {"database_url": db_url, "mqtt_url": broker.url, "mqtt_topic_prefix": topic_prefix,
                "mqtt_client_id": "demo-" + topic_prefix}
    first = DemoProcess(demo_environment(tmp_path / "a", **settings), "--days", "40", "--dwellings", "12")
    try:
        first.wait_for("using the configured database")
        second = subprocess.run([sys.executable, "-m", "coopwatt.cli", "demo", *SHORT, "--duration-s", "5"],
                                env=demo_environment(tmp_path / "b", **settings), capture_output=True, text=True,
                                timeout=120, check=False)
        assert second.returncode == 1, second.stdout + second.stderr
        assert f"another demo is using this database (coopwatt demo pid {first.process.pid})" in second.stdout, \
            second.stdout
        assert "Traceback" not in second.stdout + second.stderr
        # Stopped during its set-up, before any meter went live: no MQTT session is left on the shared broker.
        assert "live (Ctrl-C" not in first.output, first.output
        first.ctrl_c()
        assert first.finish() == 130, first.output
    finally:
        if first.process.poll() is None:
            first.process.kill()
