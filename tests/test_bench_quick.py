"""Every benchmark in bench/ still runs: its --quick mode (tiny scale, seconds) exits 0 and prints its ratios.

The figures in docs/benchmarks.md come from these scripts; a script broken by a change elsewhere would leave
them standing unverifiable. Nothing here looks at a timing: only that each script runs to its end and prints
the lines its table is read from. A new script in bench/ must be listed here (the first test fails otherwise).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "bench"
NUMBER = r"[0-9][0-9,]*(?:\.[0-9]+)?"

# Script -> the lines (regular expressions, multiline) its quick run must print: its ratios or recall counts.
QUICK: dict[str, tuple[str, ...]] = {
    "above_baseline_alarms.py": (
        rf"^ *electricity: home-years with an alarm [0-9]+/[1-9][0-9]* \(95% upper bound {NUMBER}\), alarms [0-9]+ ",
        rf"^ *gas: home-years with an alarm [0-9]+/[1-9][0-9]* \(95% upper bound {NUMBER}\), alarms [0-9]+ ",
    ),
    "analytics_instructions.py": (rf"^this / baseline per dwelling: {NUMBER} \(CPU ms",),
    "analytics_nightly.py": (
        rf"^nightly vs target 600 s: {NUMBER}",
        rf"^baseline \(naive loop over [1-9][0-9]* dwellings\).* ratio {NUMBER}×\)$",
    ),
    "analytics_nightly_db.py": (
        rf"^vs target 600 s: {NUMBER}",
        rf"→ chunked reads {NUMBER}× faster$",
        rf"vs its interval: {NUMBER}$",
    ),
    "analytics_opendsm.py": (
        rf"^CV\(RMSE\) coopwatt/opendsm: worst {NUMBER}, median {NUMBER} .* speed-up: slowest {NUMBER}×",
    ),
    "anomaly_incremental.py": (rf"^full / incremental: {NUMBER}× \(new readings\), {NUMBER}× \(nothing new\)$",),
    "baseline_terms.py": (
        r"^\| in-sample \| [0-9]+/[1-9][0-9]* \| [0-9]+/[1-9][0-9]* \| [0-9]+/[1-9][0-9]* \| — \|$",
        r"^\| out-of-sample \| [0-9]+/[1-9][0-9]* \| [0-9]+/[1-9][0-9]* \| [0-9]+/[1-9][0-9]* \| [0-9]+/[1-9][0-9]* \|$",
    ),
    # Failures 0: every replayed request got the answer its page needs (a chart with data, a ranking table).
    "dashboard_bench.py": (
        rf"^\| household page \|.*\| \*\*{NUMBER}\*\* \| {NUMBER}× \| 0 \|$",
        rf"^\| consumption by day \|.*\| \*\*{NUMBER}\*\* \| {NUMBER}× \| 0 \|$",
        rf"^\| ranking, filtered \|.*\| \*\*{NUMBER}\*\* \| {NUMBER}× \| 0 \|$",
        r"^1 session \(baseline\), requests per label: .*consumption by day [1-9][0-9]*.*; failures 0$",
    ),
    "electric_night_load.py": (
        r"^base-load rises with the daily baseline's heating share .*: [0-9]+ false alarms on [0-9]+ of [1-9][0-9]* ",
        r"^base-load rises against a night weather model .*: [0-9]+ false alarms on [0-9]+ of [1-9][0-9]* homes$",
    ),
    "fault_recall.py": (
        r"^ *water_leak: found [0-9]+/[1-9][0-9]*, within one period [0-9]+/[0-9]+",
        r"^alarms on meters without a fault: [0-9]+ ",
    ),
    "hardship_recall.py": (
        r"^under-heating homes found: [0-9]+/[1-9][0-9]* \(95% lower bound",
        r"^false alarms: [0-9]+/[1-9][0-9]*; typical [0-9]+/[0-9]+, insulated_low [0-9]+/[0-9]+, gappy",
    ),
    "import_bench.py": (rf"^ratio coopwatt / naive = {NUMBER}x faster$",),
    "ingest_bench.py": (rf"^ratio coopwatt / bare  = {NUMBER}", rf"^ratio coopwatt / naive = {NUMBER}x"),
    "restart_guard_bench.py": (rf"^ratio guard / no guard, ingester CPU per message = {NUMBER}$",
                               rf"^ratio guard / no guard, time to store an outage's backlog = {NUMBER}$"),
    "letters_bench.py": (
        rf"^queue / \(N x one letter\) = {NUMBER}$",
        rf"^print file / \(M x one PDF\) = {NUMBER}$",
    ),
    "leak_dating.py": (
        r"^ *per period: found [0-9]+/[1-9][0-9]*, within one period",
        r"^ *hourly only: found [0-9]+/[1-9][0-9]*, within one period",
    ),
    "recall_bars.py": (rf"^ *[a-z_]+: dated within one period [0-9]+/[1-9][0-9]*, 95% lower bound {NUMBER}",
                       rf"^false alarms: [0-9]+/[0-9]+ meter-years, 95% upper bound {NUMBER} per meter-year, bar "),
    "rollup_seed.py": (rf"^chunk time per row, last 3 / first 3 chunks: {NUMBER} ",),
    "standby_truth.py": (
        rf"^electric heating: measured [0-9]+/[1-9][0-9]* home-months; median \|error\| before {NUMBER} W, now "
        rf"(?:{NUMBER}|nan) W \(before/now (?:{NUMBER}|nan)×\); impossible figures before [0-9]+, now [0-9]+$",
        rf"^other heating: measured [0-9]+/[1-9][0-9]* home-months; median \|error\| before {NUMBER} W",
    ),
    "storage_bench.py": (rf"\(stored/JSON = {NUMBER}\)$",),
}
# Modules that are no benchmark of their own, and the benchmark whose quick run runs them.
RUN_BY: dict[str, str] = {"opendsm_runner.py": "analytics_opendsm.py", "seed_rows.py": "rollup_seed.py",
                          "dash_replay.py": "dashboard_bench.py"}
OPENDSM_PYTHON = os.environ.get("OPENDSM_PYTHON", "/tmp/opendsm-venv/bin/python")


def test_every_bench_script_has_a_quick_run_here() -> None:
    scripts = {path.name for path in BENCH.glob("*.py")} - {"__init__.py"}
    assert scripts - set(QUICK) - set(RUN_BY) == set(), "bench script(s) without a quick run in this test"
    assert set(QUICK) | set(RUN_BY) <= scripts, "listed here but gone from bench/"
    assert set(RUN_BY.values()) <= set(QUICK)
    for script in QUICK:
        assert '"--quick"' in (BENCH / script).read_text(encoding="utf-8"), f"{script} has no --quick option"


def _uses_a_database(script: str) -> bool:
    """Whether the script (or the bench module it runs) talks to a database: then it runs on both storage modes."""
    names = [script] + [module for module, runner in RUN_BY.items() if runner == script]
    return any(re.search(r"\bpsycopg\b|\bquick_seed\b|\bADMIN_URL\b", (BENCH / name).read_text(encoding="utf-8"))
               for name in names)


IN_MEMORY = sorted(script for script in QUICK if not _uses_a_database(script))
ON_STORAGE = sorted(set(QUICK) - set(IN_MEMORY))


def test_the_split_by_storage_is_what_the_scripts_import() -> None:
    """The scripts run once per storage mode are the ones with a database; the in-memory ones run once."""
    assert {"dashboard_bench.py", "rollup_seed.py", "storage_bench.py", "recall_bars.py"} <= set(ON_STORAGE)
    assert {"fault_recall.py", "analytics_nightly.py", "leak_dating.py"} <= set(IN_MEMORY)
    for script in IN_MEMORY:  # nor does anything they import from the product open a connection by itself
        text = (BENCH / script).read_text(encoding="utf-8")
        assert "database_url" not in text and "year_job_support" not in text, script


def _run_quick(script: str, pg_admin_url: str | None) -> None:
    if script == "analytics_opendsm.py" and not Path(OPENDSM_PYTHON).exists():
        pytest.skip(f"opendsm runs in its own venv, absent here: `sh bench/opendsm_env.sh` makes {OPENDSM_PYTHON}")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("COOPWATT_", "TEST_PG_", "TEST_TSDB_"))}
    # No COOPWATT_* variable: the scripts' settings would refuse one they do not know. An in-memory script gets no
    # database URL at all, so one that starts using a database fails here instead of running on one mode only.
    env.update({"PYTHONPATH": str(ROOT), "OPENDSM_PYTHON": OPENDSM_PYTHON})
    if pg_admin_url is not None:
        env["TEST_PG_ADMIN_URL"] = pg_admin_url
    else:
        env["TEST_PG_ADMIN_URL"] = "postgresql://nobody@127.0.0.1:1/none"
    result = subprocess.run([sys.executable, str(BENCH / script), "--quick"], cwd=ROOT, env=env,
                            capture_output=True, text=True, timeout=280)
    assert result.returncode == 0, f"{script} --quick exited {result.returncode}:\n{result.stderr[-4000:]}"
    missing = [p for p in QUICK[script] if not re.search(p, result.stdout, re.MULTILINE)]
    assert not missing, f"{script} --quick did not print {missing}; it printed:\n{result.stdout[-4000:]}"


@pytest.mark.parametrize("script", ON_STORAGE)
def test_quick_mode_runs_and_prints_its_ratios(script: str, pg_admin_url: str) -> None:
    _run_quick(script, pg_admin_url)


@pytest.mark.parametrize("script", IN_MEMORY)
def test_in_memory_quick_mode_runs_and_prints_its_ratios(script: str) -> None:
    _run_quick(script, None)
