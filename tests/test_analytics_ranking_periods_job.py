"""The nightly run ranks homes over every adviser period, each from known truth, and the next night replaces them."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import numpy as np
import pandas as pd
import psycopg
import pytest

from analytics.degree_days import normal_year_temperature_c
from analytics.dwelling_year import normal_temperature_for
from analytics.job import nightly_load as load
from analytics.ranking_periods import (
    CALENDAR_YEAR, HEATING_SEASON, LAST_12_MONTHS, PREVIOUS_12_MONTHS, SEASON_TO_DATE,
)
from coopwatt.settings import Settings, load_settings
from dashboard import queries
from tests.job_runs import nightly_ok
from tests.nightly_support import TZ, Home, write_coop

TODAY = date(2026, 12, 5)
NOW = datetime(2026, 12, 5, 3, tzinfo=UTC)
PERIODS = {
    LAST_12_MONTHS: (date(2025, 12, 5), TODAY),
    SEASON_TO_DATE: (date(2026, 10, 1), TODAY),
    HEATING_SEASON: (date(2025, 10, 1), date(2026, 6, 1)),
    CALENDAR_YEAR: (date(2025, 1, 1), date(2026, 1, 1)),
    PREVIOUS_12_MONTHS: (date(2024, 12, 5), date(2025, 12, 5)),
}
# Eight ordinary homes, one heating far more, and one measured only from mid-November last year.
HOMES = [Home(f"D{i}", slope_kwh_per_degree_day=0.8 + 0.1 * i, intercept_kwh=5.0 + 0.2 * i) for i in range(8)] + [
    Home("BIG", slope_kwh_per_degree_day=3.0), Home("LATE", first_day=date(2025, 11, 15))]


@pytest.fixture
def settings(migrated_db_url: str, tmp_path) -> Settings:
    """Settings for a nightly run on this test's database (the default heating season: October to May)."""
    return load_settings({}, database_url=migrated_db_url, data_dir=tmp_path, analytics_comparison_months=1)


def _truth_kwh_per_m2(home: Home, start: date, end: date, normal_c: pd.Series) -> float:
    """The home's true use over [start, end) in normal weather, per m² (its own daily model, no noise)."""
    days = pd.date_range(pd.Timestamp(start), pd.Timestamp(end), freq="D", inclusive="left")
    normal = normal_temperature_for(days, normal_c)
    kwh = home.intercept_kwh + home.slope_kwh_per_degree_day * np.maximum(home.balance_c - normal, 0.0)
    return float(kwh.sum()) / home.floor_area_m2


def test_each_period_ranks_the_homes_measured_over_it_by_their_use_in_normal_weather(settings: Settings) -> None:
    coop = write_coop(settings, HOMES, TODAY)
    nightly_ok(settings.database_url, settings, now=NOW)
    with psycopg.connect(settings.database_url) as conn:
        rows = conn.execute(
            "SELECT period_kind, period_start, period_end, dwelling_id, rank, normalised_kwh_per_m2, ratio_to_group,"
            " reasons FROM high_consumer WHERE energy_kind = 'electricity'").fetchall()
        temps = load.daily_temperatures(conn, [coop.residence_ids["R1"]], TODAY - timedelta(days=730), TODAY, TZ)
    normal_c = normal_year_temperature_c(temps[coop.residence_ids["R1"]])
    stored = {kind: {} for kind in PERIODS}
    for kind, start, end, dwelling, rank, per_m2, ratio, reasons in rows:
        assert (start, end) == PERIODS[kind], kind
        stored[kind][dwelling] = (rank, per_m2, ratio, {r["code"] for r in reasons})
    late, big = coop.dwelling_ids["LATE"], coop.dwelling_ids["BIG"]
    for kind, (start, end) in PERIODS.items():
        ranked = stored[kind]
        # Coverage: LATE's readings start on 15 November 2025, so it has under 90 % of the days of the last
        # season (81 %), of 2025 (13 %) and none of the year before; the other periods it covers entirely.
        assert (late in ranked) == (kind in (LAST_12_MONTHS, SEASON_TO_DATE)), kind
        assert len(ranked) == len(HOMES) - (late not in ranked), kind
        assert sorted(rank for rank, *_ in ranked.values()) == list(range(1, len(ranked) + 1)), kind
        rank, _, ratio, codes = ranked[big]
        assert rank == 1 and ratio >= 1.5 and "intensity_above_similar" in codes, kind
        if kind in (LAST_12_MONTHS, PREVIOUS_12_MONTHS):
            continue  # a normal year's use, from the model of that year (tested in test_analytics_nightly)
        for home in HOMES:
            if coop.dwelling_ids[home.code] in ranked:
                got = ranked[coop.dwelling_ids[home.code]][1]
                assert got == pytest.approx(_truth_kwh_per_m2(home, start, end, normal_c), rel=0.04), (kind, home.code)
    # The verdict's standing stays the last twelve months' (the season so far ends on the same day).
    with psycopg.connect(settings.database_url) as conn:
        standing = {s.energy_kind: s for s in queries.standings_of_dwelling(conn, coop.dwelling_ids["D3"])}
    assert standing["electricity"].rank == stored[LAST_12_MONTHS][coop.dwelling_ids["D3"]][0]

    # The next night the season so far ends a day later: its rows replace last night's, the others stay.
    nightly_ok(settings.database_url, settings, now=NOW + timedelta(days=1))
    with psycopg.connect(settings.database_url) as conn:
        periods = conn.execute("SELECT DISTINCT period_kind, period_start, period_end FROM high_consumer").fetchall()
    next_day = {kind: (start, end) for kind, (start, end) in PERIODS.items()}
    next_day[LAST_12_MONTHS] = (date(2025, 12, 6), date(2026, 12, 6))
    next_day[SEASON_TO_DATE] = (date(2026, 10, 1), date(2026, 12, 6))
    next_day[PREVIOUS_12_MONTHS] = (date(2024, 12, 6), date(2025, 12, 6))
    assert sorted(periods) == sorted((kind, *days) for kind, days in next_day.items())
