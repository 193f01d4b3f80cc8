"""The COPY write path: idempotent, marks consumption to derive, keeps dead letters whole."""

from datetime import UTC, datetime, timedelta

import psycopg

from coopwatt.quantities import Quantity
from ingest.derive import derive_pending
from ingest.store import store_dead_letters, store_readings
from tests.factories import consent_to_all


def _meter(conn: psycopg.Connection) -> int:
    conn.execute("INSERT INTO residence (code, name) VALUES ('R', 'R')")
    conn.execute("INSERT INTO building (residence_id, code) SELECT id, 'B' FROM residence")
    dwelling = conn.execute("INSERT INTO dwelling (building_id, code, floor_area_m2, heating_type)"
                            " SELECT id, 'D', 60, 'gas' FROM building RETURNING id").fetchone()[0]
    consent_to_all(conn, dwelling)
    return conn.execute(
        "INSERT INTO meter (dwelling_id, kind, mode, source) SELECT id, 'electricity', 'index', 'dev1' FROM dwelling RETURNING id"
    ).fetchone()[0]


def test_store_twice_stores_once_and_marks_pending(migrated_db_url: str) -> None:
    t0 = datetime(2026, 1, 1, tzinfo=UTC)
    with psycopg.connect(migrated_db_url) as conn:
        meter = _meter(conn)
        rows = [(meter, int(Quantity.ENERGY_INDEX_KWH), t0 + timedelta(minutes=i), 100.0 + i) for i in range(50)]
        assert store_readings(conn, rows) == 50
        conn.commit()
        # A redelivered batch, plus one duplicate inside the batch itself and one earlier reading.
        late = (meter, int(Quantity.ENERGY_INDEX_KWH), t0 - timedelta(hours=1), 99.0)
        assert store_readings(conn, [*rows, rows[0], late]) == 1
        conn.commit()
        assert conn.execute("SELECT count(*) FROM reading").fetchone()[0] == 51
        pending = conn.execute("SELECT meter_id, from_time FROM consumption_pending").fetchall()
    assert pending == [(meter, t0 - timedelta(hours=1))]


def test_restoring_a_stored_batch_marks_nothing_to_derive(migrated_db_url: str, settings) -> None:
    t0 = datetime(2026, 1, 1, tzinfo=UTC)
    with psycopg.connect(migrated_db_url) as conn:
        meter = _meter(conn)
        rows = [(meter, int(Quantity.ENERGY_INDEX_KWH), t0 + timedelta(minutes=30 * i), 100.0 + i) for i in range(10)]
        assert store_readings(conn, rows) == 10
        conn.commit()
        derive_pending(conn, settings)
        assert conn.execute("SELECT count(*) FROM consumption_pending").fetchone()[0] == 0
        assert store_readings(conn, rows) == 0  # redelivered: nothing new, so no consumption to derive again
        conn.commit()
        assert conn.execute("SELECT count(*) FROM consumption_pending").fetchone()[0] == 0


def test_power_readings_do_not_mark_consumption(migrated_db_url: str) -> None:
    with psycopg.connect(migrated_db_url) as conn:
        meter = _meter(conn)
        store_readings(conn, [(meter, int(Quantity.POWER_W), datetime(2026, 1, 1, tzinfo=UTC), 500.0)])
        conn.commit()
        assert conn.execute("SELECT count(*) FROM consumption_pending").fetchone()[0] == 0


def test_dead_letters_keep_raw_bytes(migrated_db_url: str) -> None:
    raw = b'\xff{"not json'
    now = datetime.now(UTC)
    with psycopg.connect(migrated_db_url) as conn:
        assert store_dead_letters(conn, [("mqtt", "tele/x/SENSOR", raw, "malformed JSON", now)]) == 1
        conn.commit()
        row = conn.execute("SELECT source, topic, payload, reason FROM dead_letter").fetchone()
    assert row == ("mqtt", "tele/x/SENSOR", raw, "malformed JSON")
