"""Suspect hours through the product's paths: readings with a frozen index → derivation → anomaly job →
the hours are marked, and their days enter no fit, comparison or ranking and are shown as suspect."""

from __future__ import annotations

import math
from datetime import UTC, date, datetime, timedelta

import psycopg

from analytics.job.nightly_load import daily_use, list_dwellings
from analytics.job.run import run_anomalies
from coopwatt.simulator.faults import Fault
from coopwatt.simulator.register import backfill_to_db, register_residences
from coopwatt.simulator.residence import make_residences
from dashboard import export_queries, queries
from dashboard.downloads import DAILY_HEADER
from ingest.derive import derive_and_refresh

START, END = datetime(2025, 10, 1, tzinfo=UTC), datetime(2025, 11, 1, tzinfo=UTC)
# Frozen from 08:00 Paris on 20 October for 60 hours (to 20:00 on the 22nd); the index then resumes from
# the frozen value, so the energy used meanwhile is lost, as on a real stuck register.
FROZEN_FROM = datetime(2025, 10, 20, 6, tzinfo=UTC)
FROZEN_HOURS = 60
FROZEN_DAYS = {date(2025, 10, 20), date(2025, 10, 21), date(2025, 10, 22)}


def test_a_frozen_index_is_marked_suspect_and_left_out_of_the_daily_use_fitted(settings):
    url = settings.database_url
    residences = make_residences(6, 11, per_residence=6)
    dwelling = residences[0].dwellings[0]
    meter = next(m for m in residences[0].meters if m.dwelling_code == dwelling.code and m.kind == "electricity")
    fault = Fault("frozen_index", meter.source, dwelling.code, residences[0].code, FROZEN_FROM,
                  FROZEN_FROM + timedelta(hours=FROZEN_HOURS),
                  {"duration_h": float(FROZEN_HOURS), "resumes": "from_frozen_value"})
    with psycopg.connect(url) as conn:
        registered = register_residences(conn, residences, installed_at=START - timedelta(days=1))
        conn.commit()
        backfill_to_db(conn, residences, registered, START, END, seed=11, faults=[fault], dwellings_per_chunk=6)
        conn.commit()
    derive_and_refresh(url, settings)
    meter_id = registered.meter_ids[meter.source]
    dwelling_id = registered.dwelling_ids[(residences[0].code, dwelling.code)]
    tz = settings.timezone

    def frozen_days_as_stored(conn: psycopg.Connection) -> dict[date, tuple[float, int, int]]:
        rows = conn.execute(
            "SELECT (day AT TIME ZONE %s)::date, energy_kwh, estimated_hours, suspect_hours"
            " FROM consumption_daily_all WHERE meter_id = %s", (tz, meter_id)).fetchall()
        return {row[0]: (row[1], row[2], row[3]) for row in rows}

    with psycopg.connect(url) as conn:
        before = frozen_days_as_stored(conn)
        fitted_before = daily_use(conn, list_dwellings(conn), date(2025, 10, 2), date(2025, 10, 31), tz,
                                  settings.gas_kwh_per_m3)[(dwelling_id, "electricity")]
    # The bug as found: the frozen days look measured (no estimated hour) and enter the fit.
    assert all(before[day][1] == 0 and before[day][2] == 0 for day in FROZEN_DAYS)
    assert all(not math.isnan(fitted_before[day.isoformat()]) for day in FROZEN_DAYS)

    # The job looks back over the whole month (its default index look-back is shorter than 12 days).
    tuned = settings.model_copy(update={"analytics_lookback_days": 35.0, "analytics_index_lookback_days": 35.0})
    summary = run_anomalies(url, tuned, END, full=True)
    assert summary.failures == 0
    with psycopg.connect(url) as conn:
        alert = conn.execute("SELECT id, started_at, ended_at FROM alert WHERE kind = 'frozen_index'"
                             " AND meter_id = %s", (meter_id,)).fetchone()
        assert alert is not None, "the frozen index was not found"
        marked = {row[0] for row in conn.execute(
            "SELECT hour FROM consumption_suspect WHERE meter_id = %s AND alert_id = %s AND kind = 'frozen_index'",
            (meter_id, alert[0])).fetchall()}
        after = frozen_days_as_stored(conn)
        fitted = daily_use(conn, list_dwellings(conn), date(2025, 10, 2), date(2025, 10, 31), tz,
                           settings.gas_kwh_per_m3)[(dwelling_id, "electricity")]
        periods = queries.consumption_by_period(conn, dwelling_id, "electricity", "day", timezone=tz,
                                                gas_kwh_per_m3=settings.gas_kwh_per_m3, today=date(2025, 11, 1))
        exported = [row for row in export_queries.iter_daily(conn, dwelling_id, "dwelling", START, END, timezone=tz)
                    if row.meter == meter.source]
    # Every hour of the stretch but its first and last (the detector dates the episode from its readings).
    inner = {FROZEN_FROM + timedelta(hours=h) for h in range(1, FROZEN_HOURS - 1)}
    assert inner <= marked, sorted(inner - marked)[:5]
    assert len(marked) <= FROZEN_HOURS + 2
    for day in FROZEN_DAYS:
        assert after[day][2] > 0, day
        assert math.isnan(fitted[day.isoformat()]), day
    # The rest of the month is untouched: nothing else marked, every other day still fitted.
    far = [day for day in fitted.index if abs((day.date() - date(2025, 10, 21)).days) >= 3]
    assert all(after[day.date()][2] == 0 for day in far)
    assert not fitted[far].isna().any()
    # Shown as such: the day bars say which days are suspect, and so does the export.
    suspect_bars = {period.start for period in periods if period.suspect_days}
    assert FROZEN_DAYS <= suspect_bars and len(suspect_bars) <= len(FROZEN_DAYS) + 1
    assert "csv.suspect_hours" in DAILY_HEADER and DAILY_HEADER[-1] == "csv.quality"
    assert {row.day for row in exported if row.suspect_hours > 0} == suspect_bars
