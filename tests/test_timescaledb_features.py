"""TimescaleDB's own features, with its background jobs running (not only manual refreshes).

The policies are the ones coopwatt creates (migration 0002 and coopwatt.policies);
the tests only bring their next run forward with alter_job and wait for it, bounded.
The DST test runs in both modes: both must cut days at Paris midnight.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import psycopg
import pytest

from coopwatt.policies import apply_policies
from coopwatt.quantities import Quantity
from coopwatt.rollups import refresh_rollups
from coopwatt.settings import Settings, load_settings
from coopwatt.status import collect_status, print_status
from coopwatt.storage import failed_jobs
from ingest.service import IngestService
from ingest.store import store_readings
from tests.dashboard_support import free_port
from tests.factories import make_meters, native_payload
from tests.mqtt_tools import ReliablePublisher

PARIS = ZoneInfo("Europe/Paris")
JOB_WAIT_S = 90.0


def _wait_for(condition: Callable[[], bool], what: str, timeout_s: float = JOB_WAIT_S) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.5)
    raise AssertionError(f"timed out after {timeout_s:.0f} s waiting for {what}")


def _run_soon(conn: psycopg.Connection, job_id: int) -> None:
    """Bring a policy job's next run forward to now (its scheduler, not this test, runs it)."""
    conn.execute("SELECT alter_job(%s, next_start => now())", (job_id,))


def _cagg_job(conn: psycopg.Connection, view: str) -> int:
    return _policy_job(conn, "policy_refresh_continuous_aggregate", view)


def _policy_job(conn: psycopg.Connection, proc: str, hypertable: str) -> int:
    row = conn.execute("SELECT job_id FROM timescaledb_information.jobs WHERE proc_name = %s AND hypertable_name = %s",
                       (proc, hypertable)).fetchone()
    assert row is not None, f"no {proc} on {hypertable}"
    return int(row[0])


def _successes(conn: psycopg.Connection, job_id: int) -> int:
    row = conn.execute("SELECT total_successes FROM timescaledb_information.job_stats WHERE job_id = %s",
                       (job_id,)).fetchone()
    return int(row[0]) if row and row[0] is not None else 0


def _store(url: str, rows: list[tuple[int, int, datetime, float]]) -> None:
    """Store readings through the ingester's write path, in a transaction of their own (as the writer does)."""
    with psycopg.connect(url) as conn:
        store_readings(conn, rows)


def _run_and_wait(conn: psycopg.Connection, job_id: int, what: str) -> None:
    """Bring a job's next run forward and wait until its scheduler has run it once more, successfully."""
    before = _successes(conn, job_id)
    _run_soon(conn, job_id)
    _wait_for(lambda: _successes(conn, job_id) > before, what)


def _meter(url: str) -> int:
    return make_meters(url, ["tsdb-1"])["tsdb-1"]


@pytest.mark.storage("timescaledb")
def test_refresh_policy_materialises_and_real_time_aggregation_shows_newer_readings(migrated_db_url: str) -> None:
    url = migrated_db_url
    meter = _meter(url)
    now = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    older = [now - timedelta(hours=5) + timedelta(minutes=10 * i) for i in range(18)]  # 3 whole hours
    _store(url, [(meter, int(Quantity.POWER_W), t, 100.0) for t in older])
    with psycopg.connect(url, autocommit=True) as conn:
        # Only what the policy materialised is visible with real-time aggregation off.
        conn.execute("ALTER MATERIALIZED VIEW reading_hourly SET (timescaledb.materialized_only = true)")
        assert conn.execute("SELECT count(*) FROM reading_hourly").fetchone() == (0,)
        _run_and_wait(conn, _cagg_job(conn, "reading_hourly"), "the reading_hourly refresh policy to run")
        rows = conn.execute("SELECT bucket, n FROM reading_hourly WHERE meter_id = %s ORDER BY bucket",
                            (meter,)).fetchall()
        assert rows == [(now - timedelta(hours=h), 6) for h in (5, 4, 3)]
        # A reading newer than the policy's end offset: not materialised, yet shown by real-time aggregation.
        conn.execute("ALTER MATERIALIZED VIEW reading_hourly SET (timescaledb.materialized_only = false)")
        fresh = datetime.now(UTC) - timedelta(minutes=1)
        _store(url, [(meter, int(Quantity.POWER_W), fresh, 250.0)])
        latest = conn.execute("SELECT bucket, value_max, n FROM reading_hourly WHERE meter_id = %s"
                              " ORDER BY bucket DESC LIMIT 1", (meter,)).fetchone()
        assert latest == (fresh.replace(minute=0, second=0, microsecond=0), 250.0, 1)
        assert failed_jobs(conn) == []


@pytest.mark.storage("timescaledb")
def test_consumption_daily_policy_refreshes_derived_hours(migrated_db_url: str) -> None:
    url = migrated_db_url
    meter = _meter(url)
    yesterday = (datetime.now(PARIS) - timedelta(days=1)).replace(hour=0, minute=0, second=0, microsecond=0)
    hours = [yesterday.astimezone(UTC) + timedelta(hours=h) for h in range(24)]
    with psycopg.connect(url, autocommit=True) as conn:
        with conn.cursor().copy("COPY consumption_hourly (meter_id, hour, energy_kwh) FROM STDIN") as copy:
            for hour in hours:
                copy.write_row((meter, hour, 0.5))
        conn.execute("ALTER MATERIALIZED VIEW consumption_daily SET (timescaledb.materialized_only = true)")
        _run_and_wait(conn, _cagg_job(conn, "consumption_daily"), "the consumption_daily refresh policy to run")
        day = conn.execute("SELECT day, energy_kwh FROM consumption_daily WHERE meter_id = %s AND day = %s",
                           (meter, yesterday)).fetchone()
    # A DST day has 23 or 25 hours; 24 were written, all inside that local day unless it was the short one.
    assert day is not None and day[0] == yesterday and day[1] == pytest.approx(0.5 * 24)


@pytest.mark.storage("timescaledb")
def test_compression_policy_compresses_old_chunks_and_late_readings_still_land(
        settings: Settings, broker, topic_prefix: str) -> None:
    url = settings.database_url
    assert url is not None
    apply_policies(url, settings.model_copy(update={"compress_after_days": 2}))
    meter = make_meters(url, ["late-1"])["late-1"]
    ten_days_ago = (datetime.now(UTC) - timedelta(days=10)).replace(hour=0, minute=0, second=0, microsecond=0)
    times = [ten_days_ago + timedelta(minutes=15 * i) for i in range(0, 96, 2)]  # every 30 min of one day
    _store(url, [(meter, int(Quantity.ENERGY_INDEX_KWH), t, 1000.0 + i) for i, t in enumerate(times)])
    with psycopg.connect(url, autocommit=True) as conn:
        _run_and_wait(conn, _policy_job(conn, "policy_compression", "reading"), "the compression policy to run")
        _wait_for(lambda: conn.execute(
            "SELECT count(*) FROM timescaledb_information.chunks WHERE hypertable_name = 'reading'"
            " AND is_compressed AND range_start <= %s AND range_end > %s",
            (ten_days_ago, ten_days_ago)).fetchone()[0] == 1, "the compression policy to compress the old chunk")
        before = conn.execute("SELECT count(*) FROM reading WHERE meter_id = %s", (meter,)).fetchone()[0]
    # Through the running ingester: one late reading between two stored ones, and one redelivered duplicate.
    late = ten_days_ago + timedelta(minutes=15)
    service = IngestService(settings)
    service.start()
    try:
        assert service.subscriber.subscribed.wait(10)
        publisher = ReliablePublisher(broker.host, broker.port)
        publisher.publish_all([
            (f"{topic_prefix}/coopwatt/late-1/reading", native_payload(late, 1000.5)),
            (f"{topic_prefix}/coopwatt/late-1/reading", native_payload(times[3], 1003.0)),
        ])
        publisher.close()
        _wait_for(lambda: service.counts()["stored"] + service.counts()["duplicate"] >= 2, "the ingester to commit", 30)
    finally:
        service.stop()
    assert service.counts() == {"received": 2, "stored": 1, "duplicate": 1, "rejected": 0}
    with psycopg.connect(url) as conn:
        assert conn.execute("SELECT count(*) FROM reading WHERE meter_id = %s", (meter,)).fetchone()[0] == before + 1
        assert conn.execute("SELECT value FROM reading WHERE meter_id = %s AND time = %s",
                            (meter, late)).fetchone() == (1000.5,)
        assert conn.execute("SELECT count(*) FROM dead_letter").fetchone() == (0,)
        assert failed_jobs(conn) == []


@pytest.mark.storage("timescaledb")
def test_retention_policy_drops_old_chunks_and_the_rollups_outlive_them(migrated_db_url: str) -> None:
    url = migrated_db_url
    settings = load_settings({}, database_url=url, retention_days=5, compress_after_days=30)
    meter = _meter(url)
    old = (datetime.now(UTC) - timedelta(days=20)).replace(hour=10, minute=0, second=0, microsecond=0)
    recent = datetime.now(UTC) - timedelta(days=1)
    _store(url, [(meter, int(Quantity.POWER_W), old, 10.0), (meter, int(Quantity.POWER_W), recent, 20.0)])
    with psycopg.connect(url, autocommit=True) as conn:
        # The day is rolled up while its readings are kept, as in service; once the retention policy exists,
        # coopwatt's refresh leaves days before its horizon as they are (retention_horizon).
        refresh_rollups(conn, settings, since=old - timedelta(days=1), until=old + timedelta(days=1))
        apply_policies(url, settings)
        assert conn.execute("SELECT count(*) FROM reading WHERE time < %s", (recent - timedelta(days=1),)).fetchone() == (1,)
        _run_and_wait(conn, _policy_job(conn, "policy_retention", "reading"), "the retention policy to run")
        _wait_for(lambda: conn.execute("SELECT count(*) FROM reading WHERE time < %s",
                                       (recent - timedelta(days=1),)).fetchone()[0] == 0,
                  "the retention policy to drop the old chunk")
        assert conn.execute("SELECT value FROM reading WHERE meter_id = %s", (meter,)).fetchall() == [(20.0,)]
        chunks = conn.execute("SELECT count(*) FROM timescaledb_information.chunks"
                              " WHERE hypertable_name = 'reading' AND range_end <= %s", (old + timedelta(days=1),))
        assert chunks.fetchone() == (0,)
        # The daily rollup of the dropped day stays (rollups outlive raw readings).
        assert conn.execute("SELECT n, value_max FROM reading_daily WHERE meter_id = %s AND bucket < %s",
                            (meter, recent - timedelta(days=2))).fetchall() == [(1, 10.0)]
        assert failed_jobs(conn) == []


def test_daily_buckets_start_at_paris_midnight_across_both_dst_changes(migrated_db_url: str) -> None:
    url = migrated_db_url
    settings = load_settings({}, database_url=url, timezone="Europe/Paris")
    meter = _meter(url)
    spans = ((datetime(2026, 3, 28, tzinfo=PARIS), datetime(2026, 3, 31, tzinfo=PARIS)),   # spring forward on the 29th
             (datetime(2026, 10, 24, tzinfo=PARIS), datetime(2026, 10, 27, tzinfo=PARIS)))  # fall back on the 25th
    with psycopg.connect(url, autocommit=True) as conn:
        for start, stop in spans:
            first, last = start.astimezone(UTC), stop.astimezone(UTC)
            n_hours = int((last - first) / timedelta(hours=1))
            with conn.cursor().copy("COPY consumption_hourly (meter_id, hour, energy_kwh) FROM STDIN") as copy:
                for h in range(n_hours):
                    copy.write_row((meter, first + timedelta(hours=h), 1.0))
            refresh_rollups(conn, settings, since=first, until=last)
        days = conn.execute("SELECT day, hours, energy_kwh FROM consumption_daily WHERE meter_id = %s ORDER BY day",
                            (meter,)).fetchall()
    expected = [(datetime(2026, 3, d, tzinfo=PARIS), h, float(h)) for d, h in ((28, 24), (29, 23), (30, 24))]
    expected += [(datetime(2026, 10, d, tzinfo=PARIS), h, float(h)) for d, h in ((24, 24), (25, 25), (26, 24))]
    assert days == expected


@pytest.mark.storage("timescaledb")
def test_a_failed_job_shows_in_status_metrics_and_health(settings: Settings, capsys: pytest.CaptureFixture[str]) -> None:
    url = settings.database_url
    assert url is not None
    with psycopg.connect(url, autocommit=True) as conn:
        assert failed_jobs(conn) == []
        conn.execute("CREATE PROCEDURE failing_job(job_id int, config jsonb) LANGUAGE plpgsql AS"
                     " $$ BEGIN RAISE EXCEPTION 'deliberate failure for the test'; END $$")
        job = conn.execute("SELECT add_job('failing_job', INTERVAL '1 hour', initial_start => now())").fetchone()[0]
        _wait_for(lambda: conn.execute("SELECT last_run_status FROM timescaledb_information.job_stats"
                                       " WHERE job_id = %s", (job,)).fetchone() == ("Failed",), "the job to fail")
        try:
            failed = failed_jobs(conn)
            assert [(j.job_id, j.proc_name) for j in failed] == [(job, "failing_job")]
            assert "deliberate failure for the test" in (failed[0].error or "")
            assert collect_status(conn)["timescaledb_jobs_failed"] == [failed[0].describe()]
            assert print_status(url, settings) == 3
            assert f"WARNING: TimescaleDB job {job} (failing_job) failed" in capsys.readouterr().out

            port = free_port()
            service = IngestService(settings.model_copy(update={"metrics_port": port}))
            service.start()
            try:
                # Healthy once subscribed: the broker's SUBACK may come after start() returns.
                assert service.subscriber.subscribed.wait(30), "the ingester never subscribed"
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as response:
                    metrics = response.read().decode()
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=5) as response:
                    health = json.loads(response.read())
                # The container health check (deploy/healthcheck.py) as Docker runs it.
                probe = subprocess.run(
                    [sys.executable, str(Path(__file__).resolve().parent.parent / "deploy" / "healthcheck.py")],
                    env={**os.environ, "HEALTHCHECK_URL": f"http://127.0.0.1:{port}/health"},
                    capture_output=True, text=True, timeout=30)
            finally:
                service.stop()
            assert "coopwatt_timescaledb_jobs_failed 1.0" in metrics
            assert health["timescaledb_jobs_failed"] == [failed[0].describe()]
            assert probe.returncode == 0  # ingest itself works: shown, not counted against health
            assert "warning: TimescaleDB job" in probe.stdout and "deliberate failure" in probe.stdout
        finally:
            # Not left behind: the fixtures stop the whole run at a failed job.
            conn.execute("SELECT delete_job(%s)", (job,))


FAILING_RUN = '''
import time
import psycopg
import pytest


@pytest.mark.storage("timescaledb")
def test_leaves_a_failed_job(migrated_db_url):
    with psycopg.connect(migrated_db_url, autocommit=True) as conn:
        conn.execute("CREATE PROCEDURE failing_job(job_id int, config jsonb) LANGUAGE plpgsql AS"
                     " $$ BEGIN RAISE EXCEPTION 'deliberate failure in a fixture test'; END $$")
        job = conn.execute("SELECT add_job('failing_job', INTERVAL '1 hour', initial_start => now())").fetchone()[0]
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline and conn.execute(
                "SELECT last_run_status FROM timescaledb_information.job_stats WHERE job_id = %s",
                (job,)).fetchone() != ("Failed",):
            time.sleep(0.5)
        stats = conn.execute("SELECT * FROM timescaledb_information.job_stats WHERE job_id = %s", (job,)).fetchone()
        assert stats is not None and "Failed" in stats, f"the job never ran in 90 s: {stats}"


@pytest.mark.storage("timescaledb")
def test_never_reached(migrated_db_url):
    pass
'''


@pytest.mark.storage("timescaledb")
def test_the_fixtures_stop_the_run_at_the_first_failed_job(pytester: pytest.Pytester, pg_admin_url: str) -> None:
    """The run ends at the failed job with its error, instead of going on to pile up follow-on failures."""
    pytester.makeconftest((Path(__file__).resolve().parent / "conftest.py").read_text())
    pytester.makeini("[pytest]\nmarkers =\n    storage(*modes): storage modes\n    browser: browser\n")
    pytester.makepyfile(test_failing_run=FAILING_RUN)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-v")
    output = result.stdout.str() + result.stderr.str()
    assert result.ret == 1, output
    assert "TimescaleDB background job failed" in output and "deliberate failure in a fixture test" in output
    assert "test_never_reached" not in output.split("test_leaves_a_failed_job", 1)[1], output
