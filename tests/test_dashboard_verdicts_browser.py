"""What the household reads beside faulty data, in Chromium: silent and frozen days, partial months (FR and EN)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import psycopg
import pytest

from analytics.job.suspect import mark_suspect_hours
from tests.dashboard_support import PARIS, PASSWORD, DashboardServer, Seed, seeded_cooperative
from tests.dashboard_views_support import AnalyticsSeed, seed_analytics
from tests.test_dashboard_browser import browser_page  # noqa: F401 - the shared Chromium fixture

pytestmark = pytest.mark.browser


@pytest.fixture
def seeded(migrated_db_url: str) -> tuple[str, Seed]:
    """Bob's electricity: silent for the last 3 days, frozen (0.3 kWh a day) 5 to 7 days ago, alerts open."""
    today = datetime.now(PARIS).date()
    seed = seeded_cooperative(migrated_db_url, today=today)
    meter = seed.meters["b-elec"]

    def day(n: int) -> datetime:
        return datetime.combine(today - timedelta(days=n), datetime.min.time(), PARIS)

    with psycopg.connect(migrated_db_url) as conn:
        conn.execute("DELETE FROM consumption_daily WHERE meter_id = %s AND day = ANY(%s)",
                     (meter, [day(n) for n in (0, 1, 2, 3)]))
        conn.execute("UPDATE consumption_daily SET energy_kwh = 0.3 WHERE meter_id = %s AND day = ANY(%s)",
                     (meter, [day(n) for n in (5, 6, 7)]))
        conn.execute("INSERT INTO alert (kind, severity, meter_id, dwelling_id, building_id, started_at, ended_at,"
                     " status) VALUES ('frozen_index', 'warning', %s, %s, %s, %s, %s, 'resolved')",
                     (meter, seed.dwelling_b, seed.building_id, day(7), day(5) + timedelta(hours=23)))
        conn.execute("INSERT INTO alert (kind, severity, meter_id, dwelling_id, building_id, started_at)"
                     " VALUES ('meter_silent', 'warning', %s, %s, %s, %s)",
                     (meter, seed.dwelling_b, seed.building_id, day(3)))
        mark_suspect_hours(conn, meter)
    return migrated_db_url, seed


@pytest.fixture
def server(seeded: tuple[str, Seed], tmp_path: Path) -> Iterator[DashboardServer]:
    """The dashboard served by gunicorn on the seeded database."""
    with DashboardServer(seeded[0], tmp_path / "gunicorn.log") as running:
        yield running


def test_household_with_a_silent_then_frozen_meter(server: DashboardServer, browser_page: object,  # noqa: F811
                                                   artifacts_dir: Path) -> None:
    page = browser_page
    page.goto(server.url + "/login")  # type: ignore[attr-defined]
    page.fill("#username", "bob")  # type: ignore[attr-defined]
    page.fill("#password", PASSWORD)  # type: ignore[attr-defined]
    page.click("#login-submit")  # type: ignore[attr-defined]
    page.wait_for_selector("#lastyear-verdict")  # type: ignore[attr-defined]
    page.wait_for_selector("#household-consumption-source:has-text('suspectes')")  # type: ignore[attr-defined]
    body = page.inner_text("body")  # type: ignore[attr-defined]
    # 30 days less 3 silent and 3 frozen: compared on 24, the use did not change; no praise beside the alert.
    assert "stable" in body and "24 jours sur 30" in body and "Continuez" not in body
    assert "3 jours contiennent des heures suspectes" in body
    assert "Périodes incomplètes" in body and "Moyenne par période entière" in body
    page.wait_for_timeout(600)  # type: ignore[attr-defined]
    page.screenshot(path=str(artifacts_dir / "dashboard-household-verdicts-fr.png"), full_page=True)  # type: ignore[attr-defined]
    page.click("#lang-en")  # type: ignore[attr-defined]
    page.wait_for_selector("#household-consumption-source:has-text('suspect hours')")  # type: ignore[attr-defined]
    page.wait_for_selector("#lastyear-verdict:has-text('steady')")  # type: ignore[attr-defined]
    body = page.inner_text("body")  # type: ignore[attr-defined]
    assert "24 of 30 days" in body and "Keep it up" not in body and "Incomplete periods" in body
    page.wait_for_timeout(600)  # type: ignore[attr-defined]
    page.screenshot(path=str(artifacts_dir / "dashboard-household-verdicts-en.png"), full_page=True)  # type: ignore[attr-defined]


@pytest.fixture
def with_alerts(migrated_db_url: str) -> tuple[str, Seed, AnalyticsSeed]:
    """The dashboard tests' cooperative and hand-written analytics results (marc manages building B)."""
    today = datetime.now(PARIS).date()
    seed = seeded_cooperative(migrated_db_url, today=today)
    return migrated_db_url, seed, seed_analytics(migrated_db_url, seed, today=today)


@pytest.fixture
def manager_server(with_alerts: tuple[str, Seed, AnalyticsSeed], tmp_path: Path) -> Iterator[DashboardServer]:
    """The dashboard served by gunicorn on the database with alerts."""
    with DashboardServer(with_alerts[0], tmp_path / "gunicorn.log") as running:
        yield running


def test_manager_resolves_an_alert_and_finds_it_in_the_history(
    manager_server: DashboardServer, with_alerts: tuple[str, Seed, AnalyticsSeed], browser_page: object,  # noqa: F811
    artifacts_dir: Path,
) -> None:
    _, _, analytics = with_alerts
    page = browser_page
    page.goto(manager_server.url + "/login")  # type: ignore[attr-defined]
    page.fill("#username", "marc")  # type: ignore[attr-defined]
    page.fill("#password", PASSWORD)  # type: ignore[attr-defined]
    page.click("#login-submit")  # type: ignore[attr-defined]
    page.goto(manager_server.url + "/manager")  # type: ignore[attr-defined]
    page.wait_for_selector("#manager-alerts")  # type: ignore[attr-defined]
    assert page.query_selector("#manager-history-none") is not None  # type: ignore[attr-defined]
    card = f"#manager-alerts .alert-card[data-alert='{analytics.c_alerts[1]}']"
    page.fill(f"{card} input", "Disjoncteur remplacé")  # type: ignore[attr-defined]
    page.click(f"{card} button:has-text('Marquer comme résolue')")  # type: ignore[attr-defined]
    page.wait_for_selector(f"{card} >> text=l'alerte est résolue")  # type: ignore[attr-defined]
    page.reload()  # type: ignore[attr-defined]
    page.wait_for_selector("#manager-history")  # type: ignore[attr-defined]
    assert page.query_selector(card) is None  # type: ignore[attr-defined]
    item = page.inner_text(f"#manager-history .history-item[data-alert='{analytics.c_alerts[1]}']")  # type: ignore[attr-defined]
    assert "Marquée résolue par marc le" in item and "« Disjoncteur remplacé »" in item and "durée" in item
    page.wait_for_timeout(600)  # type: ignore[attr-defined]
    page.screenshot(path=str(artifacts_dir / "dashboard-manager-history-fr.png"), full_page=True)  # type: ignore[attr-defined]
    page.click("#lang-en")  # type: ignore[attr-defined]
    page.wait_for_selector("text=Recently resolved alerts")  # type: ignore[attr-defined]
    assert "Marked resolved by marc on" in page.inner_text("#manager-history")  # type: ignore[attr-defined]
    page.wait_for_timeout(600)  # type: ignore[attr-defined]
    page.screenshot(path=str(artifacts_dir / "dashboard-manager-history-en.png"), full_page=True)  # type: ignore[attr-defined]
