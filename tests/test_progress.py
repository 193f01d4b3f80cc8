"""The residence's collective progress: what is published, what is withheld, and figures that agree with the data."""

from __future__ import annotations

from datetime import date, datetime, timezone

import psycopg
import pytest

from coopwatt.rollups import refresh_rollups
from reports.progress import HomeSeason, baseline_start, collective_progress, heating_season
from reports.progress_store import progress_of_residence, refresh_progress
from tests.letters_support import TODAY, seed_residence, settings_for

K = 5
GOAL = -0.08


def _homes(building: int, changes: list[float], first_id: int = 1) -> list[HomeSeason]:
    return [HomeSeason(first_id + n, building, 100.0 * (1 + change), 100.0) for n, change in enumerate(changes)]


def _by_scope(groups: list) -> dict:
    return {group.building_id: group for group in groups}


def test_heating_season_runs_from_october_and_ends_in_may() -> None:
    assert heating_season(date(2026, 12, 5), 10, 5) == (date(2026, 10, 1), date(2026, 12, 5))
    assert heating_season(date(2027, 2, 1), 10, 5) == (date(2026, 10, 1), date(2027, 2, 1))
    # Summer: the season that ended, whole.
    assert heating_season(date(2026, 8, 15), 10, 5) == (date(2025, 10, 1), date(2026, 6, 1))
    assert heating_season(date(2026, 4, 1), 1, 3) == (date(2026, 1, 1), date(2026, 4, 1))
    # The baseline season: the one before (setting 0), or the year the cooperative chose.
    assert baseline_start(date(2026, 10, 1), 0) == date(2025, 10, 1)
    assert baseline_start(date(2026, 10, 1), 2023) == date(2023, 10, 1)


def test_residence_of_k_homes_is_published_with_rounded_figures() -> None:
    groups = _by_scope(collective_progress(1, _homes(10, [-0.10, -0.10, -0.10, 0.0, 0.013]), k=K, goal_fraction=GOAL))
    residence = groups[None]
    assert residence.published and residence.home_count == K
    assert residence.change_fraction == -0.06  # (−10 −10 −10 + 0 + 1.3) / 5 = −5.74 % → −6 %
    assert residence.improved_fraction == 0.6  # three homes in five improved by more than 3 %
    assert not residence.goal_reached
    # The residence is one building: its figure is not repeated for the building.
    assert not groups[10].published and groups[10].change_fraction is None


def test_fewer_than_k_homes_show_nothing() -> None:
    groups = collective_progress(1, _homes(10, [-0.1] * (K - 1)), k=K, goal_fraction=GOAL)
    assert [g.published for g in groups] == [False]
    assert groups[0].home_count is None and groups[0].change_fraction is None and groups[0].improved_fraction is None


def test_building_of_k_minus_one_homes_shows_nothing_and_does_not_leak_through_the_residence() -> None:
    homes = _homes(10, [-0.1] * K) + _homes(20, [0.2] * (K - 1), first_id=100)
    groups = _by_scope(collective_progress(1, homes, k=K, goal_fraction=GOAL))
    assert groups[None].published
    # Building 20 (k−1 homes) is withheld; building 10 (k homes) must be too: residence − building 10
    # would give building 20's figure.
    assert not groups[20].published and groups[20].change_fraction is None
    assert not groups[10].published and groups[10].change_fraction is None


def test_buildings_are_shown_when_the_rest_is_empty_or_holds_k_homes() -> None:
    homes = _homes(10, [-0.1] * K) + _homes(20, [0.0] * K, first_id=100) + _homes(30, [0.3], first_id=200)
    groups = _by_scope(collective_progress(1, homes, k=K, goal_fraction=GOAL))
    # Building 30's single home would be residence − 10 − 20: one of the two is withheld, the other shown.
    shown = [b for b in (10, 20) if groups[b].published]
    assert len(shown) == 1 and not groups[30].published
    homes_two = _homes(10, [-0.1] * K) + _homes(20, [0.0] * K, first_id=100)
    groups_two = _by_scope(collective_progress(1, homes_two, k=K, goal_fraction=GOAL))
    assert groups_two[10].change_fraction == -0.1 and groups_two[20].change_fraction == 0.0
    assert groups_two[None].change_fraction == -0.05


def test_removing_one_home_from_a_group_of_k_reveals_nothing() -> None:
    homes = _homes(10, [-0.1, -0.2, 0.0, 0.05, -0.04])
    before = collective_progress(1, homes, k=K, goal_fraction=GOAL)
    after = collective_progress(1, homes[1:], k=K, goal_fraction=GOAL)
    assert before[0].published
    # With one home fewer nothing is published, so before − after cannot be taken.
    assert not any(group.published for group in after)
    assert all(group.change_fraction is None and group.home_count is None for group in after)


@pytest.mark.parametrize("changes, expected", [([-0.10] * K, -0.10), ([0.0] * K, 0.0)])
def test_stored_progress_is_weather_normalised(migrated_db_url: str, changes: list[float], expected: float) -> None:
    seed_residence(migrated_db_url, {"A": changes})
    settings = settings_for(migrated_db_url)
    with psycopg.connect(migrated_db_url, autocommit=True) as conn:
        assert refresh_progress(conn, settings, TODAY) == 1
        rows = progress_of_residence(conn, _residence(conn), min_group_size=K)
    residence = rows[0]
    # This season was colder: raw use rose, but weather-normalised the homes changed by exactly `expected`.
    assert residence.building_id is None and residence.published
    assert residence.change_fraction == pytest.approx(expected, abs=1e-9)
    assert residence.improved_fraction == (1.0 if expected < 0 else 0.0)
    assert residence.season_start == date(2026, 10, 1) and residence.period_end == TODAY


def test_stored_building_of_k_minus_one_and_its_residence(migrated_db_url: str) -> None:
    seeded = seed_residence(migrated_db_url, {"A": [-0.1] * K, "B": [0.1] * (K - 1)})
    settings = settings_for(migrated_db_url)
    with psycopg.connect(migrated_db_url, autocommit=True) as conn:
        refresh_progress(conn, settings, TODAY)
        rows = {row.building_id: row for row in progress_of_residence(conn, seeded.residence_id, min_group_size=K)}
        stored = conn.execute("SELECT building_id, home_count, change_fraction FROM collective_progress"
                              " WHERE building_id IS NOT NULL").fetchall()
    assert rows[None].published and rows[None].change_fraction == pytest.approx(-0.01, abs=0.005)
    assert not rows[seeded.buildings["A"]].published and not rows[seeded.buildings["B"]].published
    # Nothing of a withheld group is even stored.
    assert all(count is None and change is None for _, count, change in stored)


def test_a_home_with_a_gap_is_left_out(migrated_db_url: str) -> None:
    seeded = seed_residence(migrated_db_url, {"A": [-0.1] * K})
    with psycopg.connect(migrated_db_url, autocommit=True) as conn:
        # A month of one home's days gone: below 80 % comparable days, so the residence has k − 1 homes.
        conn.execute("DELETE FROM consumption_hourly WHERE meter_id = %s AND hour >= '2026-10-01' AND hour < '2026-11-01'",
                     (seeded.meters["A-1"],))
        refresh_rollups(conn, settings_for(migrated_db_url), datetime(2026, 9, 29, tzinfo=timezone.utc),
                        datetime(2026, 11, 2, tzinfo=timezone.utc))
        refresh_progress(conn, settings_for(migrated_db_url), TODAY)
        rows = progress_of_residence(conn, seeded.residence_id, min_group_size=K)
    assert rows and not any(row.published or row.change_fraction is not None for row in rows)


def _residence(conn: psycopg.Connection) -> int:
    return int(conn.execute("SELECT id FROM residence").fetchone()[0])  # type: ignore[index]
