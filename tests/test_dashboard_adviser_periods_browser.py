"""The adviser's period choices in Chromium, on rankings the nightly run computed: each period named with its
dates, each choice showing that period's ranking with its unit and rule, in French and English, desktop and
phone, axe-clean; screenshots under artifacts/."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import psycopg
import pytest

from analytics.ranking_periods import CALENDAR_YEAR, HEATING_SEASON, SEASON_TO_DATE, adviser_periods
from coopwatt.settings import Settings, load_settings
from dashboard.adviser_text import period_label
from dashboard.auth import hash_password
from dashboard.i18n import format_number
from dashboard.ranking_queries import OfferedPeriod
from tests.axe_support import axe_source_or_skip, axe_violations, blocking
from tests.browser_support import launched_chromium
from tests.dashboard_support import PARIS, PASSWORD, DashboardServer
from tests.job_runs import nightly_ok
from tests.nightly_support import Home, write_coop

pytestmark = pytest.mark.browser

DESKTOP = {"width": 1366, "height": 900}
PHONE = {"width": 390, "height": 844}
HOMES = [Home(f"D{i}", slope_kwh_per_degree_day=0.8 + 0.1 * i) for i in range(7)] + [
    Home("BIG", slope_kwh_per_degree_day=3.0), Home("LATE", first_day=date(2025, 11, 15))]
USES = "() => [...document.querySelectorAll('.ranking-use')].map(c => c.innerText).join('|')"


@pytest.fixture
def ranked(migrated_db_url: str, tmp_path: Path) -> tuple[Settings, date]:
    """Two years of nine homes up to today (Paris), tonight's nightly run, and an adviser of their residence."""
    settings = load_settings({}, database_url=migrated_db_url, data_dir=tmp_path, analytics_comparison_months=1)
    today = datetime.now(PARIS).date()
    coop = write_coop(settings, HOMES, today)
    nightly_ok(migrated_db_url, settings, now=datetime.now(UTC))
    with psycopg.connect(migrated_db_url) as conn:
        adviser = conn.execute("INSERT INTO account (username, password_hash, role) VALUES ('conseil', %s, 'adviser')"
                               " RETURNING id", (hash_password(PASSWORD),)).fetchone()[0]
        conn.execute("INSERT INTO account_residence VALUES (%s, %s)", (adviser, coop.residence_ids["R1"]))
    return settings, today


@pytest.fixture
def server(ranked: tuple[Settings, date], tmp_path: Path) -> Iterator[DashboardServer]:
    """The dashboard under gunicorn on this database."""
    with DashboardServer(ranked[0].database_url or "", tmp_path / "gunicorn.log") as running:
        yield running


@pytest.fixture
def browser() -> Iterator[Any]:
    """Headless Chromium (Debian's)."""
    with launched_chromium() as chromium:
        yield chromium


def period_value(period: tuple[date, date]) -> str:
    """The period filter's value (dashboard.pages.adviser.period_value: that module registers a page on import)."""
    return f"{period[0].isoformat()}/{period[1].isoformat()}"


def _uses(url: str, period: OfferedPeriod, lang: str) -> str:
    """What the ranking must show for a period: each home's stored figure, by rank, as the page formats it."""
    with psycopg.connect(url) as conn:
        rows = conn.execute("SELECT normalised_kwh_per_m2 FROM high_consumer WHERE period_start = %s"
                            " AND period_end = %s ORDER BY rank", (period.start, period.end)).fetchall()
    return "|".join(format_number(row[0], lang, digits=1) for row in rows)


def test_the_adviser_picks_seasons_and_years_and_sees_each_periods_ranking(
        server: DashboardServer, ranked: tuple[Settings, date], browser: Any, artifacts_dir: Path) -> None:
    source = axe_source_or_skip()
    settings, today = ranked
    expected = [OfferedPeriod(p.kind, p.start, p.end) for p in adviser_periods(
        today, settings.progress_season_start_month, settings.progress_season_end_month)]
    assert {p.kind for p in expected} >= {HEATING_SEASON, CALENDAR_YEAR}
    for viewport, width in ((DESKTOP, "desktop"), (PHONE, "phone")):
        page = browser.new_context(viewport=viewport, locale="fr-FR", timezone_id="Europe/Paris").new_page()
        page.set_default_timeout(30_000)
        page.goto(server.url + "/login")
        page.fill("#username", "conseil")
        page.fill("#password", PASSWORD)
        page.click("#login-submit")
        page.wait_for_selector("#navbar")
        page.goto(server.url + "/adviser")
        page.wait_for_selector("#ranking-table")
        for lang in ("fr", "en"):
            # (dbc.Select adds an empty, hidden placeholder option first.)
            options = page.eval_on_selector_all("#adviser-period option:not([value=''])",
                                                "os => os.map(o => [o.value, o.text])")
            # Every period, named with its days, the last twelve months first (the default).
            assert options == [[period_value((p.start, p.end)), period_label(p, lang)] for p in expected], options
            for period in expected:
                page.select_option("#adviser-period", value=period_value((period.start, period.end)))
                page.wait_for_function(
                    "label => document.getElementById('ranking-period-rule')"
                    " && document.getElementById('ranking-period-rule').innerText.includes(label)",
                    arg=period_label(period, lang))
                want = _uses(settings.database_url or "", period, lang)
                page.wait_for_function(f"want => ({USES})() === want", arg=want)
                header = page.inner_text("#ranking-table thead .col-use")
                per_period = "sur la période" if lang == "fr" else "over the period"
                assert (per_period in header) == (period.kind not in ("last_12_months", "previous_12_months")), header
                if period.kind in (HEATING_SEASON, SEASON_TO_DATE):
                    page.wait_for_timeout(400)
                    page.screenshot(path=str(artifacts_dir / f"adviser-period-{period.kind}-{lang}-{width}.png"),
                                    full_page=True)
                    bad = blocking(axe_violations(page, source))
                    assert not bad, "\n".join(v.describe() for v in bad)
            if lang == "fr":
                page.click("#lang-en")
                page.wait_for_selector("text=Adviser: high consumers")
                page.wait_for_selector("#ranking-table")
        page.click("#lang-fr")  # the account keeps its language: the next width starts in French again
        page.wait_for_selector("text=Conseiller : gros consommateurs")
        page.context.close()
