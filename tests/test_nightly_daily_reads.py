"""The nightly's one read of a chunk's days gives the hardship step exactly what a read of its own window gives."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import numpy as np
import pandas as pd
import psycopg

from analytics.job.nightly_load import daily_use, daily_use_and_measured, list_dwellings
from coopwatt.rollups import refresh_rollups
from tests.factories import make_meters

TZ = "Europe/Paris"
START, END = date(2025, 9, 1), date(2025, 11, 15)
RECENT = date(2025, 10, 10)  # the hardship window's first day in this test


def test_measured_days_read_with_the_chunk_equal_their_own_read(settings) -> None:
    url = settings.database_url
    ids = make_meters(url, ["home"])
    rng = np.random.default_rng(9)
    hours = pd.date_range(datetime(2025, 8, 31, 22, tzinfo=UTC), datetime(2025, 11, 15, tzinfo=UTC), freq="h",
                          inclusive="left")
    with psycopg.connect(url) as conn:
        dwelling = conn.execute("SELECT dwelling_id FROM meter WHERE id = %s", (ids["home"],)).fetchone()[0]
        # A second meter that stopped reporting before the recent window (unplugged, still installed): its
        # absence blanks the later days of the whole window, never those of the recent one.
        early = conn.execute(
            "INSERT INTO meter (dwelling_id, kind, mode, source, installed_at, reporting_period_s)"
            " VALUES (%s, 'electricity', 'index', 'home-early', '2020-01-01', 60) RETURNING id", (dwelling,)).fetchone()[0]
        with conn.cursor().copy("COPY consumption_hourly (meter_id, hour, energy_kwh, estimated) FROM STDIN") as copy:
            for i, hour in enumerate(hours):
                # Estimated stretches both before and inside the recent window.
                copy.write_row((ids["home"], hour.to_pydatetime(), float(rng.uniform(0.1, 1.5)), 200 <= i % 500 < 230))
                if hour < pd.Timestamp("2025-10-01", tz=TZ):
                    copy.write_row((early, hour.to_pydatetime(), float(rng.uniform(0.1, 1.5)), False))
        conn.commit()
    refresh_rollups(url, settings, since=hours[0].to_pydatetime(), until=hours[-1].to_pydatetime() + timedelta(hours=1))
    with psycopg.connect(url) as conn:
        dwellings = list_dwellings(conn)
        whole, measured = daily_use_and_measured(conn, dwellings, START, END, TZ, settings.gas_kwh_per_m3, RECENT)
        alone = daily_use(conn, dwellings, START, END, TZ, settings.gas_kwh_per_m3)
        own = daily_use(conn, dwellings, RECENT, END, TZ, settings.gas_kwh_per_m3, measured_only=True)
    key = (dwelling, "electricity")
    pd.testing.assert_series_equal(whole[key], alone[key])
    pd.testing.assert_series_equal(measured[key], own[key])
    assert set(measured) == set(own) == {key}
    # What the test is about: after 1 October the whole window misses the early meter, the recent one does not;
    # estimated days are blank in the measured read only.
    assert whole[key]["2025-10-12":].isna().all()
    assert measured[key].notna().sum() > 20 and measured[key].isna().sum() > 0
    assert alone[key]["2025-09-02":"2025-09-29"].notna().all()
