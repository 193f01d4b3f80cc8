"""Test support for the dashboard: seeded dwellings and accounts, and a real gunicorn server."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import psycopg
import requests

from coopwatt.rollups import refresh_rollups
from coopwatt.settings import load_settings
from dashboard.auth import hash_password
from tests.factories import consent_to_all

REPO = Path(__file__).resolve().parent.parent
PARIS = ZoneInfo("Europe/Paris")
PASSWORD = "correct horse battery"
SECRET = "test-secret-" + "x" * 40


@dataclass
class Seed:
    """What seed_cooperative created: ids by name."""

    residence_id: int
    other_residence_id: int
    building_id: int
    other_building_id: int
    dwelling_a: int
    dwelling_b: int
    dwelling_c: int
    meters: dict[str, int] = field(default_factory=dict)
    accounts: dict[str, int] = field(default_factory=dict)


def _day_start(day: date) -> datetime:
    return datetime.combine(day, datetime.min.time(), PARIS)


def local_hours(day: date) -> list[datetime]:
    """The UTC hours of one local day: 23, 24 or 25 of them."""
    start, stop = _day_start(day).astimezone(UTC), _day_start(day + timedelta(days=1)).astimezone(UTC)
    return [start + timedelta(hours=h) for h in range(int((stop - start) / timedelta(hours=1)))]


def seed_cooperative(url: str, *, today: date, days: int = 400) -> Seed:
    """Two residences, three dwellings, meters, daily consumption, some raw readings and one account per role.

    Dwelling A (alice) has electricity, gas (volume only) and water; dwelling B (bob)
    lives next door with electricity whose daily use (777.xx kWh) is easy to spot if it leaks.
    """
    with psycopg.connect(url) as conn:
        def one(query: str, params: tuple[object, ...]) -> int:
            row = conn.execute(query, params).fetchone()
            assert row is not None
            return int(row[0])

        residence = one("INSERT INTO residence (code, name, city) VALUES ('TIL', 'Les Tilleuls', 'Lyon') RETURNING id", ())
        other_residence = one("INSERT INTO residence (code, name) VALUES ('ERA', 'Les Érables') RETURNING id", ())
        building = one("INSERT INTO building (residence_id, code, name) VALUES (%s, 'A', 'Bâtiment A') RETURNING id",
                       (residence,))
        other_building = one("INSERT INTO building (residence_id, code) VALUES (%s, 'B') RETURNING id",
                             (other_residence,))
        dwelling_a = one("INSERT INTO dwelling (building_id, code, floor_area_m2, heating_type)"
                         " VALUES (%s, 'A-12', 64, 'gas') RETURNING id", (building,))
        dwelling_b = one("INSERT INTO dwelling (building_id, code, floor_area_m2, heating_type)"
                         " VALUES (%s, 'A-13', 48, 'electric') RETURNING id", (building,))
        dwelling_c = one("INSERT INTO dwelling (building_id, code, floor_area_m2, heating_type)"
                         " VALUES (%s, 'B-01', 70, 'district') RETURNING id", (other_building,))
        for dwelling in (dwelling_a, dwelling_b, dwelling_c):
            consent_to_all(conn, dwelling)
        seed = Seed(residence, other_residence, building, other_building, dwelling_a, dwelling_b, dwelling_c)
        for name, dwelling, kind in (("a-elec", dwelling_a, "electricity"), ("a-gas", dwelling_a, "gas"),
                                     ("a-water", dwelling_a, "water"), ("b-elec", dwelling_b, "electricity"),
                                     ("c-elec", dwelling_c, "electricity")):
            seed.meters[name] = one(
                "INSERT INTO meter (dwelling_id, kind, mode, source) VALUES (%s, %s, 'index', %s) RETURNING id",
                (dwelling, kind, "src-" + name),
            )
        # Daily use goes in through the product's path: hourly consumption (as the derivation writes it),
        # then the rollup refresh, so consumption_daily is built by coopwatt in either storage mode.
        # A day's whole use sits in its local-noon hour, so the daily sums are exact; its first
        # `estimated` hours are marked estimated.
        rows = []
        for n in range(days):
            day = today - timedelta(days=n)
            estimated = 3 if n % 17 == 0 else 0
            for meter, energy, volume in (("a-elec", 6.0 + (n % 7) * 0.75, None), ("a-gas", None, 1.0 + (n % 5) * 0.2),
                                          ("a-water", None, 0.1 + (n % 3) * 0.05),
                                          ("b-elec", 777.0 + (n % 10) * 0.01, None), ("c-elec", 555.0, None)):
                hours = local_hours(day)
                for h, hour in enumerate(hours):
                    at_noon = hour.astimezone(PARIS).hour == 12
                    rows.append((seed.meters[meter], hour,
                                 (energy if at_noon else 0.0) if energy is not None else None,
                                 (volume if at_noon else 0.0) if volume is not None else None,
                                 meter == "a-elec" and h < estimated))
        with conn.cursor().copy(
            "COPY consumption_hourly (meter_id, hour, energy_kwh, volume_m3, estimated) FROM STDIN"
        ) as copy:
            for row in rows:
                copy.write_row(row)
        # A few raw readings so the export has something to stream.
        for name, value0 in (("a-elec", 1000.0), ("b-elec", 99999.0)):
            for i in range(48):
                conn.execute("INSERT INTO reading VALUES (%s, 1, %s, %s)",
                             (seed.meters[name], _day_start(today) - timedelta(hours=48 - i), value0 + i * 0.5))
        password_hash = hash_password(PASSWORD)
        for username, role, dwelling in (("alice", "household", dwelling_a), ("bob", "household", dwelling_b),
                                         ("claire", "adviser", None), ("marc", "manager", None),
                                         ("root", "admin", None)):
            seed.accounts[username] = one(
                "INSERT INTO account (username, password_hash, role, dwelling_id) VALUES (%s, %s, %s, %s) RETURNING id",
                (username, password_hash, role, dwelling),
            )
        conn.execute("INSERT INTO account_residence VALUES (%s, %s)", (seed.accounts["claire"], other_residence))
        conn.execute("INSERT INTO account_building VALUES (%s, %s)", (seed.accounts["marc"], other_building))
    refresh_rollups(url, load_settings({}, database_url=url, timezone="Europe/Paris"),
                    since=_day_start(today - timedelta(days=days)), until=_day_start(today + timedelta(days=1)))
    return seed


def seeded_cooperative(url: str, *, today: date, days: int = 400) -> Seed:
    """`seed_cooperative` into a freshly migrated database: built once per run, storage mode and dates, then copied."""
    from tests.db_copies import copied_seed

    return copied_seed(url, ("seed_cooperative", today, days), lambda fresh: seed_cooperative(fresh, today=today, days=days))


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class DashboardServer:
    """gunicorn serving dashboard.app:server on a free port, in a subprocess of its own."""

    def log_tail(self, lines: int = 40) -> str:
        """The end of the server's log, to explain a failure."""
        self._log.flush()
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])

    def __init__(self, database_url: str, log_path: Path, *, workers: int = 2, **settings: str) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        env = {key: value for key, value in os.environ.items() if not key.startswith("COOPWATT_")}
        env.update({
            "COOPWATT_DATABASE_URL": database_url,
            "COOPWATT_DASHBOARD_SECRET_KEY": SECRET,
            "COOPWATT_LOG_LEVEL": "INFO",
            # Plain HTTP on 127.0.0.1: a Secure cookie would never come back.
            "COOPWATT_DASHBOARD_COOKIE_SECURE": "false",
        })
        env.update({"COOPWATT_" + key.upper(): value for key, value in settings.items()})
        self._log = open(log_path, "wb")  # noqa: SIM115 - closed in stop()
        self.process = subprocess.Popen(
            # --preload: the app built once before the fork, as `coopwatt dashboard` does (dashboard/serve.py),
            # rather than imported again by each worker.
            [sys.executable, "-m", "gunicorn", "--workers", str(workers), "--threads", "4", "--preload",
             "--worker-class", "gthread", "--no-control-socket", "--bind", f"127.0.0.1:{self.port}", "--timeout", "60",
             # a worker stuck at shutdown is killed by its arbiter after 5 s, not gunicorn's default 30
             "--graceful-timeout", "5", "dashboard.app:server"],
            cwd=REPO, env=env, stdout=self._log, stderr=subprocess.STDOUT,
            start_new_session=True,  # a process group of its own: stop() can reach a worker its arbiter lost
        )
        self.log_path = log_path

    def __enter__(self) -> DashboardServer:
        """Wait until it answers; a server that never does is stopped, not left behind."""
        try:
            self.wait_ready()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def wait_ready(self, timeout_s: float = 60.0) -> None:
        """Wait until the health route answers (or fail with the server's log)."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError("dashboard server exited:\n" + self.log_path.read_text(errors="replace"))
            try:
                if requests.get(self.url + "/healthz", timeout=10).status_code == 200:
                    return
            except requests.RequestException:
                pass
            time.sleep(0.2)
        raise RuntimeError("dashboard server did not start:\n" + self.log_path.read_text(errors="replace"))

    def stop(self) -> None:
        """Stop gunicorn at once (SIGINT to the arbiter: its quick shutdown), then kill what is left of its group.

        Not SIGTERM's graceful one: that waits for each worker's idle keep-alive connections to time out
        (3 s a server here, over a hundred servers a run); nothing is in flight when a test is done with it.
        A gthread worker told to quit while its main thread hands a connection to its thread pool can deadlock
        in its own signal handler (the pool's shutdown lock is not re-entrant): its arbiter gives up on it after
        the graceful timeout, and a worker left behind would keep its database connections. The group kill
        makes sure none is.
        """
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                pass
        try:
            os.killpg(self.process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.process.wait()
        self._log.close()


def login(base_url: str, username: str, password: str = PASSWORD) -> requests.Session:
    """A requests session logged in through the real login form (with its CSRF token)."""
    session = requests.Session()
    page = session.get(base_url + "/login", timeout=10)
    token = csrf_from(page.text)
    response = session.post(base_url + "/login", data={"csrf_token": token, "username": username, "password": password},
                            allow_redirects=False, timeout=30)
    assert response.status_code == 302, (response.status_code, response.text[:300])
    return session


def csrf_from(html: str) -> str:
    """The CSRF token of a login page."""
    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match, "no CSRF token in the login page"
    return match.group(1)


def post_form(session: requests.Session, base_url: str, path: str, **fields: str) -> requests.Response:
    """POST to a state-changing route the way the pages' forms do: with the session's CSRF token."""
    token = csrf_from(session.get(base_url + "/login", timeout=10).text)
    return session.post(base_url + path, data={"csrf_token": token, **fields}, allow_redirects=False, timeout=30)
