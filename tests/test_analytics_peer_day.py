"""Similar homes' typical day (pure): the comparisons' groups, k homes or none, rounded as shown, frozen once shown."""

from __future__ import annotations

import numpy as np
import pandas as pd

from analytics.comparison import ComparisonSettings
from analytics.peer_day import HOURS, PROFILE_DIGITS, peer_day_profiles
from dashboard.history_figures import HOUR_DIGITS

SHAPE = np.array([1, 1, 1, 1, 1, 1, 2, 4, 3, 2, 2, 2, 3, 2, 2, 2, 2, 3, 5, 6, 5, 4, 3, 2], dtype=float) / 10


def _homes(spec: list[tuple[int, int, float]], district: str = "Bacalan") -> pd.DataFrame:
    """(dwelling id, residence id, scale): a 60 m² electrically heated home using scale × SHAPE per hour."""
    return pd.DataFrame([{"dwelling_id": d, "residence_id": r, "district": district, "floor_area_m2": 60.0,
                          "heating_type": "electric", "mean_by_hour": list(scale * SHAPE)} for d, r, scale in spec])


def test_a_group_of_k_homes_gets_its_mean_per_hour_rounded_as_the_card_shows_it() -> None:
    homes = _homes([(i, 1, 1.0 + 0.123 * i) for i in range(1, 6)])
    [group] = peer_day_profiles(homes, ComparisonSettings(min_group_size=5))
    assert group.published and group.key == "residence:1|55-75|electric" and group.member_count == 5
    assert group.members == frozenset(range(1, 6))
    expected = np.mean([1.0 + 0.123 * i for i in range(1, 6)]) * SHAPE
    assert group.mean_by_hour == tuple(round(float(v), 2) for v in expected) and len(group.mean_by_hour) == HOURS
    assert PROFILE_DIGITS == HOUR_DIGITS  # nothing finer leaves the server than the card draws


def test_fewer_than_k_homes_publish_nothing_and_a_small_residence_pools_into_its_district() -> None:
    # Residence 1 has k homes; residence 2 has k − 1, which join the district's pool (still k − 1: withheld).
    homes = _homes([(i, 1, 1.0) for i in range(1, 6)] + [(i, 2, 2.0) for i in range(6, 10)])
    groups = {g.key: g for g in peer_day_profiles(homes, ComparisonSettings(min_group_size=5))}
    assert groups["residence:1|55-75|electric"].published
    pool = groups["district:Bacalan|55-75|electric"]
    assert (pool.published, pool.withheld_reason, pool.mean_by_hour, pool.member_count) == (
        False, "group_too_small", None, 4)
    # One more home in residence 2's district pool, from a third small residence: k homes, published.
    groups = {g.key: g for g in peer_day_profiles(pd.concat([homes, _homes([(10, 3, 4.0)])], ignore_index=True),
                                                  ComparisonSettings(min_group_size=5))}
    pool = groups["district:Bacalan|55-75|electric"]
    assert pool.published and pool.member_count == 5
    assert pool.mean_by_hour == tuple(round(float(v), 2) for v in (4 * 2.0 + 4.0) / 5 * SHAPE)


def test_k_is_the_settings_and_every_group_is_a_partition() -> None:
    homes = _homes([(i, 1, 1.0) for i in range(1, 7)])
    assert not peer_day_profiles(homes, ComparisonSettings(min_group_size=7))[0].published
    assert peer_day_profiles(homes, ComparisonSettings(min_group_size=6))[0].published
    homes = _homes([(i, 1 + i % 3, 1.0) for i in range(1, 20)])
    members = [m for g in peer_day_profiles(homes, ComparisonSettings(min_group_size=5)) for m in g.members]
    assert sorted(members) == list(range(1, 20))


def test_a_group_published_for_the_window_is_withheld_when_its_members_would_change() -> None:
    settings = ComparisonSettings(min_group_size=5)
    first = peer_day_profiles(_homes([(i, 1, 1.0) for i in range(1, 7)]), settings)
    before = {g.key: g.members for g in first if g.published}
    # The same window again with a home gone: two means over five and six homes would give the sixth's day.
    again = peer_day_profiles(_homes([(i, 1, 1.0) for i in range(1, 6)]), settings, before)
    assert [(g.published, g.withheld_reason) for g in again] == [(False, "membership_changed")]
    # Unchanged members: published again (the job keeps the first figures as they were shown).
    assert peer_day_profiles(_homes([(i, 1, 1.0) for i in range(1, 7)]), settings, before)[0].published


def test_a_group_whose_members_differ_by_fewer_than_k_from_an_overlapping_window_is_withheld() -> None:
    settings = ComparisonSettings(min_group_size=5)
    yesterday = [frozenset(range(1, 7))]  # published over yesterday's window, which overlaps tonight's
    key = "residence:1|55-75|electric"
    # One home gone since: tonight's mean over five and yesterday's over six, nearly the same days, give its day.
    tonight = peer_day_profiles(_homes([(i, 1, 1.0) for i in range(1, 6)]), settings, None, {key: yesterday})
    assert [(g.published, g.withheld_reason, g.mean_by_hour) for g in tonight] == [(False, "membership_changed", None)]
    # One home more: the same.
    more = peer_day_profiles(_homes([(i, 1, 1.0) for i in range(1, 8)]), settings, None, {key: yesterday})
    assert [(g.published, g.withheld_reason) for g in more] == [(False, "membership_changed")]
    # The same members, or k homes changed (a difference of the means mixes k homes), or no overlapping window left:
    # published.
    for homes, overlapping in (([(i, 1, 1.0) for i in range(1, 7)], {key: yesterday}),
                               ([(i, 1, 1.0) for i in range(1, 12)], {key: yesterday}),
                               ([(i, 1, 1.0) for i in range(1, 6)], {})):
        assert peer_day_profiles(_homes(homes), settings, None, overlapping)[0].published
    # Another group's earlier publication does not hold this one back.
    assert peer_day_profiles(_homes([(i, 1, 1.0) for i in range(1, 6)]), settings, None,
                             {"residence:2|55-75|electric": yesterday})[0].published
