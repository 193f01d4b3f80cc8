"""Schema upgrades meet data: from every released version to the latest, two migrators at once, a failed migration.

Each upgrade starts from a database migrated to version N and filled as far as N allows (tests/upgrade_support.py),
then checks what an upgrade must keep: every row of every table (over the columns it had), the sums they carry, the
constraints the new version adds, and what the dashboard's queries return.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from datetime import date, timedelta
from pathlib import Path

import psycopg
import pytest
from psycopg import errors

from coopwatt.db import StorageMode, storage_mode
from coopwatt.migrations import MigrationError, migrate, migrations_for, schema_version
from coopwatt.rollups import refresh_rollups
from coopwatt.settings import Settings, load_settings
from coopwatt.status import collect_status
from dashboard import alert_queries, queries, staff_queries
from tests.upgrade_support import NOW, START, fill

VERSIONS = [m.version for m in migrations_for(StorageMode.POSTGRESQL)]
LATEST = VERSIONS[-1]
_MIGRATE_LOCK_KEY = 0x636F_6F70_6D69_6772  # coopwatt.migrations' advisory lock


def _settings(url: str, tmp_path: Path) -> Settings:
    return load_settings({}, database_url=url, data_dir=tmp_path / "data", metrics_port=0)


def _tables(conn: psycopg.Connection) -> dict[str, list[str]]:
    """Every table and view of the public schema with its columns."""
    out: dict[str, list[str]] = {}
    for table, column in conn.execute(
            "SELECT table_name, column_name FROM information_schema.columns WHERE table_schema = 'public'"
            " ORDER BY table_name, ordinal_position"):
        out.setdefault(table, []).append(column)
    return out


def _digest(conn: psycopg.Connection, table: str, columns: list[str]) -> tuple[int, str]:
    cols = ", ".join(f'"{c}"' for c in columns)
    row = conn.execute(
        f'SELECT count(*), coalesce(md5(string_agg(r::text, \'|\' ORDER BY r::text)), \'\')'
        f' FROM (SELECT {cols} FROM "{table}") r').fetchone()
    return row[0], row[1]


def _snapshot(url: str) -> dict[str, tuple[list[str], tuple[int, str]]]:
    with psycopg.connect(url) as conn:
        return {t: (cols, _digest(conn, t, cols)) for t, cols in _tables(conn).items() if t != "schema_migration"}


@pytest.mark.parametrize("from_version", VERSIONS[:-1])
def test_an_upgrade_from_every_released_version_keeps_every_row_and_the_dashboard_sees_it(
        db_url: str, tmp_path: Path, from_version: int) -> None:
    settings = _settings(db_url, tmp_path)
    migrate(db_url, target_version=from_version)
    with psycopg.connect(db_url) as conn:
        assert schema_version(conn) == from_version
    filled = fill(db_url, settings, from_version)
    before = _snapshot(db_url)
    assert before["reading"][1][0] > 1000 and before["consumption_hourly"][1][0] > 300

    mode, applied = migrate(db_url)
    assert [m.version for m in applied] == [v for v in VERSIONS if v > from_version]

    with psycopg.connect(db_url) as conn:
        assert schema_version(conn) == LATEST and storage_mode(conn) == mode
        assert [r[0] for r in conn.execute("SELECT version FROM schema_migration ORDER BY 1")] == VERSIONS
        # Every row of every table that existed, over the columns it had, exactly as it was.
        for table, (columns, digest) in before.items():
            assert _digest(conn, table, columns) == digest, table
        status = collect_status(conn)
        assert status["schema_version"] == LATEST

    if from_version < 2:
        # The rollups arrive empty with 0002; the maintenance step's refresh fills them from the kept readings.
        refresh_rollups(db_url, settings, since=START, until=NOW + timedelta(hours=1))
    with psycopg.connect(db_url) as conn:
        # What a household sees: its daily use, from the day rollup, across the spring-forward day (23 hours).
        a01 = filled.dwellings["A01"]
        days = queries.consumption_by_period(conn, a01, "electricity", "day", timezone=settings.timezone,
                                             gas_kwh_per_m3=settings.gas_kwh_per_m3, today=NOW.date())
        # 0.05 kWh per quarter hour from 13:00 CET on 26 March to 14:00 CEST on 30 March.
        expected = {date(2026, 3, 26): 11 * 0.2, date(2026, 3, 27): 24 * 0.2, date(2026, 3, 28): 24 * 0.2,
                    date(2026, 3, 29): 23 * 0.2, date(2026, 3, 30): 14 * 0.2}
        assert {d.start: round(d.amount, 6) for d in days} == {k: round(v, 6) for k, v in expected.items()}

        if from_version >= 3:
            silent = [a.kind for a in alert_queries.open_alerts_of_dwelling(conn, filled.dwellings["A03"])]
            assert "meter_silent" in silent
            ranked = staff_queries.high_consumers(conn, [filled.residence_id])
            assert [(r.dwelling_id, r.rank) for r in ranked] == [(filled.dwellings["A03"], 1), (a01, 2)]
            # 0007's backfill: a ranking from before periods covers the year up to the local day it was computed
            # on (00:30 in Paris on 30 March, still the 29th in UTC).
            assert staff_queries.ranking_periods(conn, [filled.residence_id]) == [(date(2025, 3, 30), date(2026, 3, 30))]
            assert len(staff_queries.high_consumers(conn, [filled.residence_id],
                                              period=(date(2025, 3, 30), date(2026, 3, 30)))) == 2
            # 0007's key: one row per dwelling, kind and period end; a second period is a second row.
            conn.execute(
                "INSERT INTO high_consumer (dwelling_id, energy_kind, period_start, period_end, normalised_kwh_per_m2,"
                " rank) VALUES (%s, 'electricity', '2024-03-30', '2025-03-30', 80.0, 1)", (a01,))
            with pytest.raises(errors.UniqueViolation), conn.transaction():
                conn.execute(
                    "INSERT INTO high_consumer (dwelling_id, energy_kind, period_start, period_end,"
                    " normalised_kwh_per_m2, rank) VALUES (%s, 'electricity', '2024-03-30', '2025-03-30', 81.0, 3)",
                    (a01,))
            with pytest.raises(errors.CheckViolation), conn.transaction():
                conn.execute(
                    "INSERT INTO high_consumer (dwelling_id, energy_kind, period_start, period_end,"
                    " normalised_kwh_per_m2, rank) VALUES (%s, 'gas', '2025-03-30', '2025-03-30', 81.0, 3)", (a01,))
            # 0018: the rankings from before are the twelve-month periods, the latest the last twelve months; a
            # period is its start and end (the season so far ends the same day as the twelve months) and its kind.
            assert conn.execute(
                "SELECT period_end, period_kind FROM high_consumer WHERE period_end = '2026-03-30'").fetchall() == [
                (date(2026, 3, 30), "last_12_months")] * 2
            conn.execute(
                "INSERT INTO high_consumer (dwelling_id, energy_kind, period_start, period_end, period_kind,"
                " normalised_kwh_per_m2, rank) VALUES (%s, 'electricity', '2025-10-01', '2026-03-30', 'season_to_date',"
                " 40.0, 1)", (a01,))
            with pytest.raises(errors.CheckViolation), conn.transaction():
                conn.execute(
                    "INSERT INTO high_consumer (dwelling_id, energy_kind, period_start, period_end, period_kind,"
                    " normalised_kwh_per_m2, rank) VALUES (%s, 'electricity', '2025-11-01', '2026-03-30', 'winter',"
                    " 40.0, 1)", (a01,))
            # 0018's typical day of similar homes: figures only when published, 24 of them, members per dwelling.
            conn.execute("INSERT INTO peer_day_profile (group_key, energy_kind, period_start, period_end, member_count,"
                         " published, mean_by_hour) VALUES ('residence:1|35-55|electric', 'electricity',"
                         " '2026-02-01', '2026-03-29', 5, true, %s)", ([0.1] * 24,))
            conn.execute("INSERT INTO peer_day_member VALUES ('residence:1|35-55|electric', 'electricity',"
                         " '2026-02-01', '2026-03-29', %s)", (a01,))
            for published, means, reason in ((True, None, None), (False, [0.1] * 24, "group_too_small"),
                                             (True, [0.1] * 23, None), (False, None, None)):
                with pytest.raises(errors.CheckViolation), conn.transaction():
                    conn.execute("INSERT INTO peer_day_profile (group_key, energy_kind, period_start, period_end,"
                                 " member_count, published, withheld_reason, mean_by_hour) VALUES ('x', 'gas',"
                                 " '2026-02-01', '2026-03-29', 5, %s, %s, %s)", (published, reason, means))
            # 0008's reminders are accepted in the outbox; anything else still is not.
            alert_id = conn.execute("SELECT min(id) FROM alert").fetchone()[0]
            conn.execute("INSERT INTO alert_notification (alert_id, event, channel, target)"
                         " VALUES (%s, 'reminder-1', 'webhook', 'http://127.0.0.1:9/hook')", (alert_id,))
            with pytest.raises(errors.CheckViolation), conn.transaction():
                conn.execute("INSERT INTO alert_notification (alert_id, event, channel, target)"
                             " VALUES (%s, 'reminder-0', 'webhook', 'x')", (alert_id,))
        if from_version >= 4:
            from dashboard.auth import attempt_login

            outcome = attempt_login(conn, settings, "foyer-a01", "mot de passe 1", "127.0.0.1")
            assert outcome.account_id is not None
        conn.rollback()


def test_two_migrators_at_once_end_with_one_correct_schema(db_url: str, tmp_path: Path) -> None:
    """Two real `coopwatt migrate` processes, released together: one applies everything, the other nothing."""
    env = dict(os.environ, COOPWATT_DATABASE_URL=db_url, COOPWATT_DATA_DIR=str(tmp_path / "data"),
               COOPWATT_MQTT_URL="mqtt://127.0.0.1:1883")
    holder = psycopg.connect(db_url, autocommit=True)
    holder.execute("SELECT pg_advisory_lock(%s)", (_MIGRATE_LOCK_KEY,))
    procs = [subprocess.Popen([sys.executable, "-m", "coopwatt.cli", "migrate"], env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for _ in range(2)]
    try:
        # Both wait on the lock before either starts: then they really race for it.
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            waiting = holder.execute("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted"
                                     ).fetchone()[0]
            if waiting == 2 or any(p.poll() is not None for p in procs):
                break
            time.sleep(0.05)
        assert waiting == 2, [p.poll() for p in procs]
    finally:
        holder.execute("SELECT pg_advisory_unlock(%s)", (_MIGRATE_LOCK_KEY,))
        holder.close()
    outputs = [p.communicate(timeout=120) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outputs
    applied = sorted(out.strip().rsplit("applied ", 1)[1] for out, _ in outputs)
    assert applied == [f"0 migration(s)", f"{len(VERSIONS)} migration(s)"], outputs
    with psycopg.connect(db_url) as conn:
        assert [r[0] for r in conn.execute("SELECT version FROM schema_migration ORDER BY 1")] == VERSIONS
        assert conn.execute("SELECT count(*) FROM coopwatt_meta WHERE key = 'storage_mode'").fetchone()[0] == 1


def test_a_failed_migration_leaves_the_previous_schema_usable_and_says_what_failed(
        db_url: str, tmp_path: Path) -> None:
    settings = _settings(db_url, tmp_path)
    migrate(db_url, target_version=6)
    filled = fill(db_url, settings, 6)
    before = _snapshot(db_url)
    # A copy of the migrations where 0007 does all its work and then fails on its last statement.
    broken = tmp_path / "schema"
    broken.mkdir()
    source = Path(__file__).resolve().parent.parent / "coopwatt" / "schema"
    for path in source.glob("*.sql"):
        text = path.read_text(encoding="utf-8")
        if path.name.startswith("0007_"):
            text += "\nSELECT 1 / 0;\n"
        (broken / path.name).write_text(text, encoding="utf-8")

    with pytest.raises(MigrationError) as failed:
        migrate(db_url, directory=broken)
    message = str(failed.value)
    assert "0007_ranking_periods" in message and "division by zero" in message
    assert "version 6" in message

    with psycopg.connect(db_url) as conn:
        assert schema_version(conn) == 6
        # Nothing of 0007 stayed: its columns, key and index went with its transaction.
        assert "period_end" not in _tables(conn)["high_consumer"]
        assert conn.execute("SELECT to_regclass('high_consumer_period_idx')").fetchone()[0] is None
        for table, (columns, digest) in before.items():
            assert _digest(conn, table, columns) == digest, table
        # Version 6 is still usable: its alerts and rankings as they were (today's queries read later columns).
        assert conn.execute("SELECT kind FROM alert WHERE dwelling_id = %s AND status = 'open'",
                            (filled.dwellings["A03"],)).fetchall() == [("meter_silent",)]
        conn.execute("UPDATE high_consumer SET rank = rank")
    # The file mended, the same upgrade goes through.
    mode, applied = migrate(db_url)
    assert [m.version for m in applied] == [v for v in VERSIONS if v > 6]
