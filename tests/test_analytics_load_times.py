"""The anomaly job's reading-times loader: each meter's distinct reading times, whatever quantities share them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import psycopg

from analytics.job.load import reading_times
from coopwatt.quantities import Quantity
from tests.factories import make_meters

START = datetime(2026, 3, 29, 0, tzinfo=UTC)  # 01:00 in Paris, an hour before the clocks go forward


def test_reading_times_are_distinct_sorted_local_and_per_meter(migrated_db_url: str) -> None:
    """Three quantities at each time and times given out of order: one time each, in order, in local time."""
    ids = make_meters(migrated_db_url, ["t1", "t2"])
    times = [START + timedelta(minutes=30 * step) for step in (5, 0, 3, 1, 4, 2)]
    with psycopg.connect(migrated_db_url) as conn:
        for meter in ids.values():
            for time in times:
                for quantity in (Quantity.ENERGY_INDEX_KWH, Quantity.ENERGY_INDEX_OFFPEAK_KWH, Quantity.POWER_W):
                    conn.execute("INSERT INTO reading VALUES (%s, %s, %s, %s)", (meter, int(quantity), time, 1.0))
        # Before `since`: never read.
        conn.execute("INSERT INTO reading VALUES (%s, 1, %s, 1.0)", (ids["t1"], START - timedelta(hours=1)))
        conn.commit()
        loaded = reading_times(conn, [ids["t1"]], START, "Europe/Paris")
    assert list(loaded) == [ids["t1"]]
    index = loaded[ids["t1"]]
    assert list(index) == sorted(index) and index.is_unique
    assert [t.to_pydatetime() for t in index] == sorted(times)
    assert str(index.tz) == "Europe/Paris"
    # 01:30 is followed by 03:00 local: the clocks went forward, the half-hours did not.
    assert [t.strftime("%H:%M") for t in index] == ["01:00", "01:30", "03:00", "03:30", "04:00", "04:30"]
