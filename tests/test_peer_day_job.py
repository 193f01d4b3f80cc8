"""The nightly run's typical day of similar homes, against the real database: known truth, the k boundary, the
homes that do not count (no consent, too few days, estimated hours), the freeze, and what a household reads."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import psycopg
import pytest

from analytics.job.peer_day_step import window
from coopwatt.consent import COMPARISONS, withdraw
from coopwatt.settings import Settings, load_settings
from dashboard.peer_day_queries import peer_day_of
from tests.job_runs import nightly_ok
from tests.peer_day_support import PeerHome, rounded_as_shown, true_mean, write_peer_homes

TODAY = date(2026, 12, 5)
NOW = datetime(2026, 12, 5, 3, tzinfo=UTC)
# R1: five homes that count (k = 5), one of them with estimated evening hours, and one measured for six days only.
R1 = [PeerHome(f"A{i}", "R1", 1.0 + 0.17 * i, estimated_days=10 if i == 0 else 0) for i in range(5)]
SHORT = PeerHome("A-SHORT", "R1", 5.0, days=6)
# R2: four homes that count and one whose household does not take part in comparisons: k − 1 in the district pool.
R2 = [PeerHome(f"B{i}", "R2", 2.0 + 0.31 * i) for i in range(4)]
REFUSING = PeerHome("B-NO", "R2", 7.0, comparisons=False)


@pytest.fixture
def settings(migrated_db_url: str, tmp_path) -> Settings:
    """Settings for a nightly run on this test's database, k = 5."""
    return load_settings({}, database_url=migrated_db_url, data_dir=tmp_path, comparison_min_group_size=5,
                         analytics_comparison_months=1)


def test_groups_of_k_homes_get_their_true_mean_per_hour_and_smaller_ones_only_a_reason(settings: Settings) -> None:
    coop = write_peer_homes(settings, [*R1, SHORT, *R2, REFUSING], TODAY)
    summary = nightly_ok(settings.database_url, settings, now=NOW)
    assert (summary.peer_days_published, summary.peer_days_withheld) == (1, 1)
    start, end = window(TODAY)
    assert (start, end) == (date(2026, 10, 10), TODAY)  # eight weeks, as the household's card
    with psycopg.connect(settings.database_url) as conn:
        groups = {row[0]: row[1:] for row in conn.execute(
            "SELECT group_key, period_start, period_end, member_count, published, withheld_reason, mean_by_hour"
            " FROM peer_day_profile WHERE energy_kind = 'electricity'").fetchall()}
        members = {row[0]: set(row[1]) for row in conn.execute(
            "SELECT group_key, array_agg(dwelling_id) FROM peer_day_member GROUP BY 1").fetchall()}
        ids = coop.dwelling_ids
        r1 = f"residence:{coop.residence_ids['R1']}|55-75|electric"
        assert groups[r1][:4] == (start, end, 5, True) and groups[r1][4] is None
        # The estimated 19:00 hours (9 kWh each) and the six-day home (5 × SHAPE) are not in the mean.
        assert rounded_as_shown(groups[r1][5], true_mean(R1))
        assert members[r1] == {ids[h.code] for h in R1}
        pool = "district:Bacalan|55-75|electric"
        assert groups[pool] == (start, end, 4, False, "group_too_small", None)
        assert members[pool] == {ids[h.code] for h in R2}
        # What each household's card reads: its own group only.
        mine = peer_day_of(conn, ids["A2"], "electricity")
        assert mine is not None and mine.published and mine.member_count == 5
        assert list(mine.mean_by_hour or ()) == groups[r1][5]
        withheld = peer_day_of(conn, ids["B0"], "electricity")
        assert withheld is not None and not withheld.published and withheld.member_count is None
        assert withheld.mean_by_hour is None and withheld.withheld_reason == "group_too_small"
        for outside in ("A-SHORT", "B-NO"):
            assert peer_day_of(conn, ids[outside], "electricity") is None
            assert peer_day_of(conn, ids["A2"], "water") is None

        # The same night again after a member withdraws its consent: the figures shown stay as they were shown.
        withdraw(conn, ids["A4"], COMPARISONS, by="household")
        conn.commit()
    nightly_ok(settings.database_url, settings, now=NOW + timedelta(hours=1))
    with psycopg.connect(settings.database_url) as conn:
        again = conn.execute("SELECT member_count, published, mean_by_hour FROM peer_day_profile WHERE group_key = %s",
                             (r1,)).fetchone()
        assert again == (5, True, groups[r1][5])
    # The next night has its own window: A4 is no longer counted, R1's four homes fall below k and join the
    # district's pool with R2's four, which makes eight.
    nightly_ok(settings.database_url, settings, now=NOW + timedelta(days=1))
    with psycopg.connect(settings.database_url) as conn:
        rows = conn.execute("SELECT DISTINCT period_start, period_end, published FROM peer_day_profile"
                            " ORDER BY 1").fetchall()
        # Last night's published window is kept while it overlaps tonight's (the check against differencing),
        # its withheld rows are not; households read tonight's window only.
        assert rows == [(*window(TODAY), True), (*window(TODAY + timedelta(days=1)), True)]
        assert peer_day_of(conn, ids["A4"], "electricity") is None
        after = peer_day_of(conn, ids["A2"], "electricity")
        assert after is not None and after.published and after.member_count == 8
        assert after.group_key == "district:Bacalan|55-75|electric"
        assert rounded_as_shown(list(after.mean_by_hour or ()), true_mean(R1[:4] + R2))


def test_one_home_leaving_between_two_nights_withholds_the_group_while_the_windows_overlap(settings: Settings) -> None:
    six = [PeerHome(f"C{i}", "R1", 1.0 + 0.2 * i) for i in range(6)]
    coop = write_peer_homes(settings, six, TODAY)
    nightly_ok(settings.database_url, settings, now=NOW)
    ids = coop.dwelling_ids
    with psycopg.connect(settings.database_url) as conn:
        first = peer_day_of(conn, ids["C0"], "electricity")
        assert first is not None and first.published and first.member_count == 6
        withdraw(conn, ids["C5"], COMPARISONS, by="household")
        conn.commit()
    # The next night: five homes, still k, but last night's mean over six covers 55 of the same 56 days, so
    # 6 × last night's mean − 5 × tonight's would give C5's day. Withheld, and the card says why.
    nightly_ok(settings.database_url, settings, now=NOW + timedelta(days=1))
    with psycopg.connect(settings.database_url) as conn:
        tonight = peer_day_of(conn, ids["C0"], "electricity")
        assert tonight is not None and (tonight.period_start, tonight.period_end) == window(TODAY + timedelta(days=1))
        assert (tonight.published, tonight.withheld_reason, tonight.mean_by_hour) == (False, "membership_changed", None)
        assert peer_day_of(conn, ids["C5"], "electricity") is None
