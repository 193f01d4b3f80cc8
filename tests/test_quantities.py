"""The Python quantity enum and the database's quantity table agree."""

import psycopg

from coopwatt.quantities import Quantity


def test_enum_matches_database(migrated_db_url: str) -> None:
    with psycopg.connect(migrated_db_url) as conn:
        rows = conn.execute("SELECT id, name, cumulative FROM quantity ORDER BY id").fetchall()
    assert [(q.value, q.name.lower(), q.cumulative) for q in Quantity] == rows
