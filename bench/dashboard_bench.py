"""Dashboard benchmark: server time per callback with concurrent sessions, 10,000 dwellings × one year.

Target (issue 4): p95 ≤ 300 ms for each household-view callback and ≤ 1 s for the adviser
ranking, with 20 concurrent sessions, on loopback.

Method:
  1. the database comes from ``bench/rollup_seed.py`` (cached); the analytics results from the
     real jobs (``analytics.job.run.run_anomalies`` on the seeded last days of raw readings, then
     ``analytics.job.nightly.run_nightly``), run once with "now" at the end of the seeded period
     and skipped when a successful run is recorded;
  2. accounts with coopwatt.users: households of distinct dwellings, an adviser whose scope is
     every residence, a manager;
  3. the dashboard served the production way: ``coopwatt dashboard`` (gunicorn, gthread, the
     settings' workers, 4 threads each) on loopback;
  4. sessions (threads with ``requests``) log in through the login form, then repeat what a page
     load fires: the page callback, then every callback whose inputs the page holds (read from
     ``/_dash-dependencies`` and the rendered layout, in the renderer's order: a callback whose input
     another one writes waits for its answer, as the chart waits for the date window; see
     ``bench/dash_replay.py``), then the interactions (household: the other granularities;
     adviser: the ranking with each filter), each sending what the browser would.
     Time per request is measured from send to the last byte of the answer (loopback).
Baseline in the same run: the same requests from one household and one adviser session at a
time (no concurrency); the concurrent p95 is also printed as a multiple of that one.

Run:  uv run python bench/dashboard_bench.py [--dwellings 10000] [--households 16 --advisers 4] [--seconds 60]
      --quick: a throwaway seed of 20 dwellings, 2 households + 1 adviser for a few seconds, one gunicorn
      worker (under a minute; checks the script runs, its figures mean little), dropped after.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import resource
import secrets
import signal
import socket
import subprocess
import sys
import threading
import time
from argparse import Namespace
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import psycopg
import requests

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.dash_replay import fire, props_by_id  # noqa: E402
from bench.rollup_seed import ADMIN_URL, SeedInfo, ensure_seeded, quick_seed  # noqa: E402
from coopwatt.settings import Settings, load_settings  # noqa: E402
from coopwatt.users import add_user, remove_user  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
PASSWORD = "bench-" + "p" * 20
HOUSEHOLD_TARGET_S = 0.300
RANKING_TARGET_S = 1.0
HOUSEHOLD_ACCOUNTS = 20
ALL = "all"


# ---------------------------------------------------------------- data: analytics and accounts

def ensure_analytics(url: str, settings: Settings, now: datetime, *, rerun: bool) -> list[str]:
    """Run the anomaly job and the nightly job once at the end of the seeded year (each skipped once it succeeded)."""
    from analytics.job.nightly import run_nightly
    from analytics.job.run import run_anomalies

    done = []
    for job, run in (("nightly", run_nightly), ("anomalies", run_anomalies)):
        with psycopg.connect(url) as conn:
            ran = conn.execute("SELECT count(*) FROM analytics_run WHERE job = %s AND status IN ('ok', 'partial')"
                               " AND finished_at IS NOT NULL", (job,)).fetchone()[0]
        if ran and not rerun:
            done.append(f"{job}: results already in the database")
            continue
        started = time.perf_counter()
        summary = run(url, settings, now=now)
        done.append(f"{job} ({summary.status}) in {time.perf_counter() - started:.0f} s: {summary}")
    with psycopg.connect(url, autocommit=True) as conn:
        # What autovacuum does soon after a nightly run in production. It is off on the development server, and
        # the seeder's VACUUM ANALYZE saw these tables empty: with "0 rows" the planner nested-loops the
        # 13,000-row ranking (measured 109 ms against 54 ms once analysed).
        conn.execute("ANALYZE")
    return done


@dataclass(frozen=True)
class Accounts:
    """Bench accounts: household user names with their dwellings, the adviser, the manager."""

    households: list[tuple[str, int]]
    adviser: str
    manager: str


def ensure_accounts(url: str, households: int) -> Accounts:
    """Households of distinct dwellings spread over the residences, an adviser of every residence, a manager."""
    with psycopg.connect(url) as conn:
        for (name,) in conn.execute("SELECT username FROM account WHERE username LIKE 'bench-%'").fetchall():
            remove_user(conn, name)
        # Every n-th dwelling, so the households live in different residences with different heating.
        total = conn.execute("SELECT count(*) FROM dwelling").fetchone()[0]
        step = max(total // households, 1)
        dwellings = [row[0] for row in conn.execute(
            "SELECT id FROM (SELECT id, row_number() OVER (ORDER BY id) - 1 AS n FROM dwelling) d"
            " WHERE n %% %s = 0 ORDER BY id LIMIT %s", (step, households)).fetchall()]
        base = {"dwelling": None, "residence": [], "building": [], "language": "fr"}
        made = []
        for number, dwelling in enumerate(dwellings):
            name = f"bench-household-{number:02d}"
            add_user(conn, Namespace(**{**base, "username": name, "role": "household", "dwelling": str(dwelling)}),
                     PASSWORD)
            made.append((name, dwelling))
        residences = [str(r) for (r,) in conn.execute("SELECT id FROM residence ORDER BY id").fetchall()]
        add_user(conn, Namespace(**{**base, "username": "bench-adviser", "role": "adviser", "residence": residences}),
                 PASSWORD)
        first_building = conn.execute("SELECT min(id) FROM building").fetchone()[0]
        add_user(conn, Namespace(**{**base, "username": "bench-manager", "role": "manager",
                                    "building": [str(first_building)]}), PASSWORD)
        conn.commit()
    return Accounts(made, "bench-adviser", "bench-manager")


# ---------------------------------------------------------------- the server

def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Server:
    """``coopwatt dashboard`` (gunicorn) in a subprocess, on a free loopback port."""

    def __init__(self, url: str, workers: int, log_path: Path) -> None:
        self.port = _free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        env = {k: v for k, v in os.environ.items() if not k.startswith("COOPWATT_")}
        env.update({"COOPWATT_DATABASE_URL": url, "COOPWATT_DASHBOARD_SECRET_KEY": secrets.token_urlsafe(48),
                    "COOPWATT_DASHBOARD_WORKERS": str(workers), "COOPWATT_LOG_LEVEL": "WARNING",
                    # Plain HTTP on loopback: a Secure cookie (the default) would never come back.
                    "COOPWATT_DASHBOARD_COOKIE_SECURE": "false"})
        self._log = open(log_path, "wb")  # noqa: SIM115 - closed in stop()
        self.process = subprocess.Popen(
            [sys.executable, "-m", "coopwatt.cli", "dashboard", "--host", "127.0.0.1", "--port", str(self.port)],
            cwd=REPO, env=env, stdout=self._log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError("the dashboard exited: see " + str(log_path))
            try:
                if requests.get(self.base + "/healthz", timeout=5).status_code == 200:
                    return
            except requests.RequestException:
                pass
            time.sleep(0.3)
        self.stop()
        raise RuntimeError("the dashboard did not start: see " + str(log_path))

    def stop(self) -> None:
        """SIGTERM to the gunicorn arbiter, which stops its workers."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self._log.close()


# ---------------------------------------------------------------- what a browser sends

def login(base: str, username: str) -> requests.Session:
    """A session logged in through the login form, CSRF token included."""
    session = requests.Session()
    page = session.get(base + "/login", timeout=30)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert token, "no CSRF token on the login page"
    answer = session.post(base + "/login", data={"csrf_token": token[1], "username": username, "password": PASSWORD},
                          allow_redirects=False, timeout=60)
    assert answer.status_code == 302, (answer.status_code, answer.text[:200])
    return session


@dataclass
class Request:
    """One callback request: a label for the report, the JSON body, and a check on the answer."""

    label: str
    body: dict[str, Any]
    check: Callable[[dict[str, Any]], bool] = lambda _: True
    action: bool = False  # the first request of a user action (a page load, a click): think time comes before it


def page_request(label: str, pathname: str, search: str = "") -> Request:
    """The body Dash posts to render a page (dash.page_container's callback)."""
    return Request(label, action=True, body={
        "output": ".._pages_content.children..._pages_store.data..",
        "outputs": [{"id": "_pages_content", "property": "children"}, {"id": "_pages_store", "property": "data"}],
        "inputs": [{"id": "_pages_location", "property": "pathname", "value": pathname},
                   {"id": "_pages_location", "property": "search", "value": search}],
        "changedPropIds": ["_pages_location.pathname"], "state": []})


def _label(body: dict[str, Any]) -> str:
    outputs = body["outputs"] if isinstance(body["outputs"], list) else [body["outputs"]]
    return outputs[0]["id"]


def _poster(session: requests.Session, base: str) -> Callable[[dict[str, Any]], dict[str, Any] | None]:
    """Send one callback request while the script is built (the answers shape the requests that follow)."""
    def post(body: dict[str, Any]) -> dict[str, Any] | None:
        answer = session.post(base + "/_dash-update-component", json=body, timeout=120)
        answer.raise_for_status()
        return answer.json() if answer.status_code == 200 and answer.content else None
    return post


def _granularity(body: dict[str, Any]) -> str:
    return next(i["value"] for i in body["inputs"] if i["id"] == "household-granularity")


def _household_request(body: dict[str, Any], action: bool = False) -> Request:
    name = _label(body)
    if name == "household-consumption-graph":
        return Request(f"consumption by {_granularity(body)}", body, _has_figure, action=action)
    if name == "household-similar-homes-body":
        return Request("analytics cards (comparison, year-on-year, anomalies, suggestions)", body,
                       lambda r: "analytics-denied" not in json.dumps(r), action=action)
    if name == "household-calendar-body":
        return Request("calendar, typical day, latest readings", body, action=action)
    if name == "household-window":
        return Request(f"dates shown, {_granularity(body)}", body, action=action)
    return Request(name, body, action=action)


def household_script(session: requests.Session, base: str, deps: list[dict[str, Any]]) -> list[Request]:
    """What one household page load and its granularity clicks send, in order, chains as the renderer runs them."""
    page = page_request("household page", "/")
    layout = _render(session, base, page)
    post = _poster(session, base)
    requests_: list[Request] = [page]
    requests_ += [_household_request(body) for body in fire(post, deps, layout)]
    for granularity in ("day", "week", "year"):
        chain = fire(post, deps, layout, {"household-granularity.value": granularity})
        requests_ += [_household_request(body, action=n == 0) for n, body in enumerate(chain)]
    return requests_


def adviser_script(session: requests.Session, base: str, deps: list[dict[str, Any]]) -> list[Request]:
    """What one adviser page load and a few filter changes send, in order."""
    page = page_request("adviser page", "/adviser")
    layout = _render(session, base, page)
    post = _poster(session, base)
    requests_: list[Request] = [page]
    for body in fire(post, deps, layout):
        requests_.append(Request("ranking, no filter" if _label(body) == "adviser-ranking" else _label(body), body,
                                 _has_ranking))
    options = {key: [o["value"] for o in layout[key].get("options", []) if o["value"] != ALL]
               for key in ("adviser-residence", "adviser-building", "adviser-heating", "adviser-kind")}
    filters = [("adviser-residence", options["adviser-residence"][len(options["adviser-residence"]) // 2]),
               ("adviser-heating", "gas"), ("adviser-kind", "electricity"),
               ("adviser-building", options["adviser-building"][len(options["adviser-building"]) // 3])]
    for component, value in filters:
        for n, body in enumerate(fire(post, deps, layout, {f"{component}.value": value})):
            label = "ranking, filtered" if _label(body) == "adviser-ranking" else _label(body)
            requests_.append(Request(label, body, lambda r: "ranking-denied" not in json.dumps(r), action=n == 0))
    return requests_


def _has_figure(answer: dict[str, Any]) -> bool:
    figure = answer["response"]["household-consumption-graph"]["figure"]
    return bool(figure.get("data"))


def _has_ranking(answer: dict[str, Any]) -> bool:
    return "ranking-table" in json.dumps(answer)


def _render(session: requests.Session, base: str, page: Request) -> dict[str, dict[str, Any]]:
    answer = session.post(base + "/_dash-update-component", json=page.body, timeout=60)
    answer.raise_for_status()
    return props_by_id(answer.json()["response"]["_pages_content"]["children"], {})


# ---------------------------------------------------------------- running sessions

@dataclass
class Results:
    """Seconds per request label, and failures."""

    times: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    failures: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    lock: threading.Lock = field(default_factory=threading.Lock)

    reconnects: int = 0

    def reconnect(self) -> None:
        """Count a request sent again on a new connection."""
        with self.lock:
            self.reconnects += 1

    def add(self, label: str, seconds: float, ok: bool) -> None:
        with self.lock:
            self.times[label].append(seconds)
            if not ok:
                self.failures[label] += 1


def run_session(base: str, username: str, script: Callable[..., list[Request]], deps: list[dict[str, Any]],
                seconds: float, results: Results, start: threading.Barrier | None, think_s: float = 0.0) -> None:
    """Log in, build the page's requests, then (once every session is ready) fire them in a loop for `seconds`.

    With `think_s` > 0 a user pauses before each action for an exponentially distributed time of that mean.
    """
    session = login(base, username)
    requests_ = script(session, base, deps)
    rng = random.Random(username)
    if start is not None:
        start.wait()
    stop_at = time.monotonic() + seconds
    while time.monotonic() < stop_at:
        for request in requests_:
            if request.action and think_s > 0:
                time.sleep(min(rng.expovariate(1 / think_s), max(stop_at - time.monotonic(), 0)))
                if time.monotonic() >= stop_at:
                    break
            try:
                began = time.perf_counter()
                answer = session.post(base + "/_dash-update-component", json=request.body, timeout=120)
            except requests.ConnectionError:
                # gunicorn closes a keep-alive connection idle for 2 s; a browser reconnects and sends again.
                results.reconnect()
                began = time.perf_counter()
                answer = session.post(base + "/_dash-update-component", json=request.body, timeout=120)
            body = answer.content  # read to the last byte before stopping the clock
            elapsed = time.perf_counter() - began
            ok = answer.status_code == 200
            if ok:
                try:
                    ok = request.check(json.loads(body))
                except (ValueError, KeyError, TypeError):
                    ok = False
            results.add(request.label, elapsed, ok)
            if time.monotonic() >= stop_at:
                break


def run_phase(base: str, users: list[tuple[str, Callable[..., list[Request]]]], deps: list[dict[str, Any]],
              seconds: float, think_s: float = 0.0) -> tuple[Results, float]:
    """All sessions at once for `seconds`; the results and the wall time."""
    results = Results()
    barrier = threading.Barrier(len(users) + 1)
    threads = [threading.Thread(target=run_session, daemon=True,
                                args=(base, username, script, deps, seconds, results, barrier, think_s))
               for username, script in users]
    for thread in threads:
        thread.start()
    barrier.wait()
    began = time.monotonic()
    for thread in threads:
        thread.join()
    return results, time.monotonic() - began


def run_sequential(base: str, users: list[tuple[str, Callable[..., list[Request]]]], deps: list[dict[str, Any]],
                   seconds: float) -> Results:
    """One session at a time, each for `seconds` (the baseline without concurrency)."""
    results = Results()
    for username, script in users:
        run_session(base, username, script, deps, seconds, results, None)
    return results


# ---------------------------------------------------------------- report

def target_of(label: str) -> float:
    """The label's target: the ranking has 1 s, everything of the household view 300 ms."""
    return RANKING_TARGET_S if label.startswith("ranking") else HOUSEHOLD_TARGET_S


def report(single: Results, concurrent: Results, order: list[str]) -> list[str]:
    """One Markdown table row per request label: one session, then the concurrent phase against its target."""
    rows = []
    for label in order:
        many = np.array(concurrent.times.get(label, []))
        one = np.array(single.times.get(label, []))
        if not len(many):
            continue
        p95, p95_one = np.percentile(many, 95), (np.percentile(one, 95) if len(one) else float("nan"))
        target = target_of(label)
        rows.append(f"| {label} | {np.median(one) * 1000:.0f} | {p95_one * 1000:.0f} | {len(many)} | "
                    f"{np.median(many) * 1000:.0f} | **{p95 * 1000:.0f}** | {many.max() * 1000:.0f} | "
                    f"{target * 1000:.0f} | **{p95 / target:.2f}** | {p95 / p95_one:.1f}× | "
                    f"{concurrent.failures.get(label, 0)} |")
    return rows


def worker_cpu_s(arbiter: int) -> float:
    """CPU seconds (user + system) used so far by the gunicorn workers (Linux /proc)."""
    total = 0
    try:
        children = Path(f"/proc/{arbiter}/task/{arbiter}/children").read_text().split()
        for pid in children:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])
    except OSError:
        return float("nan")
    return total / os.sysconf("SC_CLK_TCK")


def own_cpu_s() -> float:
    """CPU seconds used by this process (the load generator)."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


ORDER = ["household page", "consumption by month", "analytics cards (comparison, year-on-year, anomalies, suggestions)",
         "dates shown, day", "consumption by day", "dates shown, week", "consumption by week", "dates shown, year",
         "consumption by year", "calendar, typical day, latest readings", "adviser page",
         "ranking, no filter", "ranking, filtered"]


def main() -> None:
    """Seed (cached), analyse (cached), serve, load and print the tables."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dwellings", type=int, default=10_000)
    parser.add_argument("--households", type=int, default=16, help="concurrent household sessions")
    parser.add_argument("--advisers", type=int, default=4, help="concurrent adviser sessions")
    parser.add_argument("--seconds", type=float, default=60.0, help="length of each concurrent phase")
    parser.add_argument("--think", type=float, action="append", default=None,
                        help="mean think time before each user action, s (repeatable; default: 0 and 3)")
    parser.add_argument("--baseline-seconds", type=float, default=20.0, help="per single session")
    parser.add_argument("--workers", type=int, default=None, help="gunicorn workers (default: the settings')")
    parser.add_argument("--rerun-analytics", action="store_true")
    parser.add_argument("--admin-url", default=ADMIN_URL)
    parser.add_argument("--quick", action="store_true", help="a tiny throwaway seed, seconds: checks it still runs")
    args = parser.parse_args()
    settings = load_settings({})
    if args.quick:
        args.households, args.advisers, args.seconds, args.baseline_seconds = 2, 1, 3.0, 2.0
        args.workers, args.think = 1, args.think or [0.0]
        with quick_seed(args.admin_url, settings=settings) as info:
            bench(args, settings, info, warm_up_s=2.0, accounts=args.households)
    else:
        info = ensure_seeded(args.admin_url, args.dwellings, settings=settings)
        bench(args, settings, info, warm_up_s=10.0, accounts=max(HOUSEHOLD_ACCOUNTS, args.households))


def bench(args: argparse.Namespace, settings: Settings, info: SeedInfo, warm_up_s: float, accounts: int) -> None:
    """Analyse (cached), serve, load the seeded database's dashboard and print the tables."""
    workers = args.workers or settings.dashboard_workers
    thinks = args.think if args.think is not None else [0.0, 3.0]
    print("\n".join(ensure_analytics(info.url, settings, info.end, rerun=args.rerun_analytics)), flush=True)
    accounts = ensure_accounts(info.url, accounts)
    log_path = Path("/tmp") / f"coopwatt-dashboard-bench-{os.getpid()}.log"
    server = Server(info.url, workers, log_path)
    phases: list[tuple[float, Results, float, tuple[float, float], float, float]] = []
    try:
        # The callback graph the browser's renderer reads (it needs a logged-in session, like every /_dash route).
        deps = login(server.base, accounts.adviser).get(server.base + "/_dash-dependencies", timeout=30).json()
        homes = [(name, household_script) for name, _ in accounts.households[:args.households]]
        advisers = [(accounts.adviser, adviser_script)] * args.advisers
        # Warm-up: each worker's pool and imports, the database's caches for these dwellings.
        run_phase(server.base, homes + advisers, deps, warm_up_s)
        single = run_sequential(server.base, homes[:1] + advisers[:1], deps, args.baseline_seconds)
        for think in thinks:
            load_start = os.getloadavg()[0]
            cpu_server, cpu_client = worker_cpu_s(server.process.pid), own_cpu_s()
            results, wall = run_phase(server.base, homes + advisers, deps, args.seconds, think)
            phases.append((think, results, wall, (load_start, os.getloadavg()[0]),
                           (worker_cpu_s(server.process.pid) - cpu_server) / wall, (own_cpu_s() - cpu_client) / wall))
    finally:
        server.stop()
    print(f"{datetime.now().isoformat(timespec='minutes')} · {info.dwellings} dwellings, {info.meters} meters, "
          f"{info.hourly_rows:,} hourly rows · gunicorn {workers} workers × 4 threads (gthread) · "
          f"{args.households} household + {args.advisers} adviser sessions · {os.cpu_count()} cores")
    for think, results, wall, (load_a, load_b), server_cores, client_cores in phases:
        total = sum(len(v) for v in results.times.values())
        print(f"\n{args.households + args.advisers} sessions, think time {think:g} s (mean, before each action): "
              f"{total} requests in {wall:.0f} s ({total / wall:.1f}/s); load average {load_a:.2f} → {load_b:.2f}; "
              f"CPU: dashboard workers {server_cores:.2f} cores, load generator {client_cores:.2f} cores; "
              f"{results.reconnects} requests sent again after a closed keep-alive connection")
        print("| callback | 1 session: median ms | p95 ms | concurrent: n | median ms | p95 ms | max ms | target ms "
              "| p95 / target | p95 vs 1 session | failures |")
        print("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
        print("\n".join(report(single, results, ORDER + sorted(set(results.times) - set(ORDER)))))
    print("\n1 session (baseline), requests per label: " + ", ".join(
        f"{label} {len(single.times.get(label, []))}" for label in ORDER + sorted(set(single.times) - set(ORDER))) +
        f"; failures {sum(single.failures.values())}")


if __name__ == "__main__":
    main()
