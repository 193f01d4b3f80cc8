"""The seeded cooperative and its dashboard server, shared by the dashboard test modules that import them."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest

from tests.dashboard_support import PARIS, DashboardServer, Seed, seeded_cooperative
from tests.dashboard_views_support import AnalyticsSeed, seed_analytics


@pytest.fixture
def seeded(migrated_db_url: str) -> tuple[str, Seed, AnalyticsSeed]:
    """Dwellings, one account per role and analytics results written by hand, up to today (Paris time)."""
    today = datetime.now(PARIS).date()
    seed = seeded_cooperative(migrated_db_url, today=today)
    return migrated_db_url, seed, seed_analytics(migrated_db_url, seed, today=today)


@pytest.fixture
def server(seeded: tuple[str, Seed, AnalyticsSeed], tmp_path: Path) -> Iterator[DashboardServer]:
    """The dashboard under gunicorn on the seeded database."""
    with DashboardServer(seeded[0], tmp_path / "gunicorn.log") as running:
        yield running
