"""The nightly run stores hardship cases against the real PostgreSQL: flagged homes, evidence, estimated data left out."""

from __future__ import annotations

from datetime import UTC, date, datetime

import psycopg
import pytest

from coopwatt.rollups import refresh_rollups
from coopwatt.settings import Settings, load_settings
from tests.job_runs import nightly_ok
from tests.nightly_support import Home, write_coop

TODAY = date(2026, 3, 1)
NOW = datetime(2026, 3, 1, 3, tzinfo=UTC)
CUT = date(2025, 11, 1)


@pytest.fixture
def hardship_settings(migrated_db_url: str, tmp_path) -> Settings:
    """Settings for a nightly run on this test's database."""
    return load_settings({}, database_url=migrated_db_url, data_dir=tmp_path, analytics_comparison_months=1)


def _homes() -> list[Home]:
    peers = [Home(f"D{i}", slope_kwh_per_degree_day=1.2 + 0.03 * i) for i in range(7)]
    return peers + [
        Home("COLD", cut_from=CUT, cut_fraction=0.7),  # went cold from November
        Home("LOW", slope_kwh_per_degree_day=0.35),  # well insulated, the same both winters
        Home("EST", cut_from=CUT, cut_fraction=0.7),  # the same fall, but its recent hours are estimated
    ]


def _cases(settings: Settings) -> dict[int, tuple]:
    with psycopg.connect(settings.database_url) as conn:
        rows = conn.execute("SELECT dwelling_id, signal, status, evidence, still_flagged, run_id FROM hardship_case"
                            " ORDER BY id").fetchall()
    return {row[0]: row[1:] for row in rows}


def test_the_nightly_run_stores_a_case_for_the_home_that_went_cold_only(hardship_settings):
    coop = write_coop(hardship_settings, _homes(), TODAY)
    url = hardship_settings.database_url
    with psycopg.connect(url) as conn:
        conn.execute("UPDATE consumption_hourly SET estimated = true WHERE meter_id = %s AND hour >= %s",
                     (coop.meter_ids["EST"], datetime(2025, 11, 1, tzinfo=UTC)))
    refresh_rollups(url, hardship_settings, since=datetime(2025, 10, 30, tzinfo=UTC), until=NOW)
    summary = nightly_ok(url, hardship_settings, now=NOW)
    cases = _cases(hardship_settings)
    cold = coop.dwelling_ids["COLD"]
    assert set(cases) == {cold}
    signal, status, evidence, still, run_id = cases[cold]
    assert (signal, status, still, run_id) == ("under_heating", "open", True, summary.run_id)
    assert evidence["own_ratio"] < 0.6 and evidence["peer_ratio"] < 0.5
    assert evidence["current"]["start"] == "2025-12-01" and evidence["previous"]["end"] == "2025-03-01"
    assert evidence["current"]["measured_cold_days"] >= 20
    assert summary.hardship_flags == 1
    # A second night refreshes the same case rather than opening another.
    second = nightly_ok(url, hardship_settings, now=NOW)
    again = _cases(hardship_settings)
    assert list(again) == [cold] and again[cold][4] == second.run_id


def test_a_case_no_longer_raised_says_so_and_a_closed_one_is_not_reopened_in_place(hardship_settings):
    coop = write_coop(hardship_settings, _homes()[:8], TODAY)
    url = hardship_settings.database_url
    nightly_ok(url, hardship_settings, now=NOW)
    cold = coop.dwelling_ids["COLD"]
    with psycopg.connect(url) as conn:
        conn.execute("UPDATE hardship_case SET status = 'closed', closed_at = now()")
        # A case whose signal is no longer raised (another dwelling, set by hand) goes still_flagged = false.
        conn.execute("INSERT INTO hardship_case (dwelling_id, signal, evidence) VALUES (%s, 'high_cost', '{}')",
                     (coop.dwelling_ids["D0"],))
    nightly_ok(url, hardship_settings, now=NOW)
    with psycopg.connect(url) as conn:
        rows = conn.execute("SELECT dwelling_id, signal, status, still_flagged FROM hardship_case ORDER BY id").fetchall()
    assert rows == [(cold, "under_heating", "closed", True), (coop.dwelling_ids["D0"], "high_cost", "open", False),
                    (cold, "under_heating", "open", True)]
