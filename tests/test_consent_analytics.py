"""A household that withdraws its consent to comparisons leaves future groups; published ones stay frozen."""

from __future__ import annotations

from datetime import UTC, date, datetime

import psycopg

from coopwatt import consent
from coopwatt.settings import Settings
from tests.job_runs import nightly_ok
from tests.nightly_support import Home, write_coop
from tests.test_analytics_nightly import NOW, _groups, nightly_settings  # noqa: F401 - the fixture

__all__ = ["nightly_settings"]


def test_a_household_without_the_comparisons_consent_leaves_future_groups(nightly_settings: Settings) -> None:
    settings = nightly_settings.model_copy(update={"comparison_min_group_size": 5})
    homes = [Home(f"K{i}", slope_kwh_per_degree_day=1.0 + 0.1 * i) for i in range(6)]
    coop = write_coop(settings, homes, date(2026, 12, 1))
    nightly_ok(settings.database_url, settings, now=NOW)
    key = f"residence:{coop.residence_ids['R1']}|55-75|electric"
    before = _groups(settings)
    assert before[(key, date(2026, 10, 1))][:2] == (6, True)
    with psycopg.connect(settings.database_url) as conn:
        consent.withdraw(conn, coop.dwelling_ids["K5"], consent.COMPARISONS, by="household")
        conn.commit()
    nightly_ok(settings.database_url, settings, now=datetime(2026, 12, 1, 3, tzinfo=UTC))
    after = _groups(settings)
    # Months already published keep exactly their figures, the leaver's share included (k-anonymity freeze)…
    for period in (date(2026, 9, 1), date(2026, 10, 1)):
        assert after[(key, period)] == before[(key, period)]
    # …and the new month is computed without the household.
    assert after[(key, date(2026, 11, 1))][:2] == (5, True)
    with psycopg.connect(settings.database_url) as conn:
        november = {r[0] for r in conn.execute(
            "SELECT dwelling_id FROM comparison_member WHERE period_start = '2026-11-01'")}
    assert coop.dwelling_ids["K5"] not in november and len(november) == 5
