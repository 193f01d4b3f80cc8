"""Migrations: from empty, re-run, recorded, and the status report."""

import psycopg

from coopwatt.db import StorageMode, storage_mode
from coopwatt.migrations import migrate, migrations_for, schema_version
from coopwatt.status import collect_status


def test_migrate_from_empty_then_rerun(db_url: str) -> None:
    mode, applied = migrate(db_url)
    expected = migrations_for(mode)
    assert [m.version for m in applied] == [m.version for m in expected]
    again_mode, again = migrate(db_url)
    assert again_mode == mode and again == []
    with psycopg.connect(db_url) as conn:
        assert schema_version(conn) == expected[-1].version
        assert storage_mode(conn) == mode
        rows = conn.execute("SELECT version, mode FROM schema_migration ORDER BY version").fetchall()
    assert [r[0] for r in rows] == [m.version for m in expected]
    assert {r[1] for r in rows} == {str(mode)}


def test_plain_postgres_has_the_same_rollup_relations(migrated_db_url: str) -> None:
    with psycopg.connect(migrated_db_url) as conn:
        for relation in ("reading", "reading_hourly", "reading_daily", "consumption_hourly",
                         "consumption_daily", "dead_letter", "meter", "outdoor_temperature"):
            assert conn.execute("SELECT to_regclass(%s)", (relation,)).fetchone()[0] is not None, relation


def test_each_mode_has_a_complete_set_of_versions() -> None:
    timescale = [m.version for m in migrations_for(StorageMode.TIMESCALEDB)]
    plain = [m.version for m in migrations_for(StorageMode.POSTGRESQL)]
    assert timescale == plain == sorted(set(plain))


def test_status_reports_mode_version_and_counts(migrated_db_url: str) -> None:
    with psycopg.connect(migrated_db_url) as conn:
        conn.execute("INSERT INTO residence (code, name) VALUES ('R1', 'Les Tilleuls')")
        status = collect_status(conn)
    assert status["storage_mode"] in ("postgresql", "timescaledb")
    assert status["schema_version"] == migrations_for(StorageMode(status["storage_mode"]))[-1].version
    assert status["counts"]["residence"] == 1
    assert status["counts"]["reading"] == 0
