"""The nightly's year of electricity by local hour of the day against the hourly truth it sums.

One dwelling with one meter is summed in a single pass, one with two meters hour by hour first
(an hour counts once, and only when neither meter is estimated or suspect): both must agree with
the hours as stored, across the autumn DST change, with a removed meter and a gas meter ignored.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd
import psycopg

from analytics.job.nightly_load import hour_of_day_electricity, hourly_electricity, local_midnight
from tests.factories import make_meters

TZ = "Europe/Paris"
# 24 October to 29 October 2025 local: the clocks go back on the 26th (that day has 25 hours).
SINCE = local_midnight(pd.Timestamp("2025-10-24").date(), TZ)
UNTIL = local_midnight(pd.Timestamp("2025-10-29").date(), TZ)


def _add_meter(conn: psycopg.Connection, dwelling_id: int, source: str, kind: str, removed: bool = False) -> int:
    return conn.execute(
        "INSERT INTO meter (dwelling_id, kind, mode, source, installed_at, reporting_period_s, removed_at)"
        " VALUES (%s, %s, 'index', %s, '2020-01-01', 60, %s) RETURNING id",
        (dwelling_id, kind, source, datetime(2025, 11, 5, tzinfo=UTC) if removed else None)).fetchone()[0]


def test_hour_of_day_sums_match_the_hourly_rows_with_one_and_two_meters_across_dst(settings) -> None:
    url = settings.database_url
    ids = make_meters(url, ["alone", "pair"])
    rng = np.random.default_rng(5)
    hours = pd.date_range(SINCE - timedelta(days=1), UNTIL + timedelta(days=1), freq="h", inclusive="left")
    with psycopg.connect(url) as conn:
        dwelling = {s: conn.execute("SELECT dwelling_id FROM meter WHERE id = %s", (m,)).fetchone()[0]
                    for s, m in ids.items()}
        second = _add_meter(conn, dwelling["pair"], "pair-2", "electricity")
        removed = _add_meter(conn, dwelling["alone"], "alone-old", "electricity", removed=True)
        gas = _add_meter(conn, dwelling["alone"], "alone-gas", "gas")
        meters = {"a": ids["alone"], "b1": ids["pair"], "b2": second, "removed": removed, "gas": gas}
        rows = []  # (meter, hour, kWh or None, estimated)
        for name, meter in meters.items():
            for i, hour in enumerate(hours):
                if name == "b2" and i % 7 == 3:
                    continue  # no row: the pair's hour rests on its other meter alone
                kwh = None if (name in ("a", "b2") and i % 11 == 5) else float(rng.uniform(0.05, 2.0))
                rows.append((meter, hour.to_pydatetime(), kwh, name in ("a", "b1") and i % 13 == 2))
        with conn.cursor().copy("COPY consumption_hourly (meter_id, hour, energy_kwh, estimated) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)
        # Suspect hours as the anomaly job marks them (analytics.job.suspect), under an alert of their own.
        suspect = {meters["a"]: hours[30:40], meters["b2"]: hours[60:75]}
        for meter, marked in suspect.items():
            alert = conn.execute(
                "INSERT INTO alert (kind, severity, meter_id, dwelling_id, started_at) VALUES"
                " ('frozen_index', 'warning', %s, %s, %s) RETURNING id",
                (meter, dwelling["alone" if meter == meters["a"] else "pair"], marked[0].to_pydatetime())).fetchone()[0]
            for hour in marked:
                conn.execute("INSERT INTO consumption_suspect (meter_id, hour, alert_id, kind)"
                             " VALUES (%s, %s, %s, 'frozen_index')", (meter, hour.to_pydatetime(), alert))
        conn.commit()

        got = hour_of_day_electricity(conn, list(dwelling.values()), SINCE, UNTIL, TZ)
        hourly = hourly_electricity(conn, list(dwelling.values()), SINCE, UNTIL, TZ)

    frame = pd.DataFrame(rows, columns=["meter", "hour", "kwh", "estimated"])
    frame["hour"] = pd.to_datetime(frame["hour"], utc=True)
    frame = frame[(frame["hour"] >= SINCE) & (frame["hour"] < UNTIL)]
    marked = {(m, h) for m, hs in suspect.items() for h in hs}
    frame["suspect"] = [(m, h) in marked for m, h in zip(frame["meter"], frame["hour"])]
    owners = {meters["a"]: "alone", meters["b1"]: "pair", meters["b2"]: "pair"}  # installed electricity only
    frame = frame[frame["meter"].isin(owners)]
    frame["home"] = frame["meter"].map(owners)
    per_hour = frame.groupby(["home", "hour"]).agg(kwh=("kwh", "sum"), any_kwh=("kwh", "count"),
                                                   estimated=("estimated", "any"), suspect=("suspect", "any"))
    measured = per_hour[(per_hour["any_kwh"] > 0) & ~per_hour["estimated"] & ~per_hour["suspect"]].reset_index()
    measured["local_hour"] = measured["hour"].dt.tz_convert(TZ).dt.hour
    for home in ("alone", "pair"):
        truth = measured[measured["home"] == home].groupby("local_hour")["kwh"].agg(["sum", "count"])
        use = got[dwelling[home]]
        assert list(use.hours) == [int(truth["count"].get(h, 0)) for h in range(24)], home
        assert np.allclose(use.kwh, [float(truth["sum"].get(h, 0.0)) for h in range(24)], rtol=1e-12), home
    # The window holds the 25-hour day of the DST change, whose 02:00 comes twice.
    assert frame[frame["meter"] == meters["b1"]]["hour"].nunique() == 5 * 24 + 1
    assert sum(got[dwelling["pair"]].hours) < 5 * 24 + 1  # estimated and suspect hours of the pair are out
    # The eight weeks' hourly read of the same meters: every hour with a value and nothing suspect.
    pair_hours = per_hour.loc["pair"]
    expected = pair_hours[(pair_hours["any_kwh"] > 0) & ~pair_hours["suspect"]]["kwh"]
    read = hourly[dwelling["pair"]]["energy_kwh"]
    assert len(read) == len(expected)
    assert np.allclose(read.to_numpy(), expected.sort_index().to_numpy(), rtol=1e-12)
    alone = frame[(frame["home"] == "alone") & frame["kwh"].notna() & ~frame["suspect"]].sort_values("hour")
    read = hourly[dwelling["alone"]]["energy_kwh"]  # estimated hours stay: the night base load takes them
    assert len(read) == len(alone) and np.array_equal(read.to_numpy(), alone["kwh"].to_numpy())
