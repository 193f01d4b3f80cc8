"""The household view in a real browser (Debian's headless Chromium) against a real gunicorn server."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from datetime import date, datetime, timedelta
from pathlib import Path

import psycopg
import pytest

from dashboard.i18n import format_money_eur, format_quantity, round_as_shown
from dashboard.queries import first_period_shown
from tests.browser_support import launched_chromium
from tests.dashboard_support import PARIS, PASSWORD, DashboardServer, Seed, seeded_cooperative

pytestmark = pytest.mark.browser

GRAPH_Y = "() => document.querySelector('#household-consumption-graph .js-plotly-plot').data[0].y"
GRAPH_X = "() => document.querySelector('#household-consumption-graph .js-plotly-plot').data[0].x"
# Plotly redraws after Dash has placed the new figure: the total can be new while the bars are not yet.
BARS_ARE = """([want]) => {
  const plot = document.querySelector('#household-consumption-graph .js-plotly-plot');
  if (!plot || !plot.data || !plot.data.length) return false;
  const y = plot.data[0].y;
  return y.length === want.length && y.every((v, i) => Math.abs(v - want[i]) <= 1e-6 * Math.max(1, Math.abs(want[i])));
}"""


def _wait_for_bars(page: object, expected: list[float]) -> None:
    """Until the drawn bars are these values (the assertions after read them again)."""
    page.wait_for_function(BARS_ARE, arg=[expected])  # type: ignore[attr-defined]


@pytest.fixture
def seeded(migrated_db_url: str) -> tuple[str, Seed, date]:
    """A database with two households' data, up to today (Paris time)."""
    today = datetime.now(PARIS).date()
    return migrated_db_url, seeded_cooperative(migrated_db_url, today=today), today


@pytest.fixture
def server(seeded: tuple[str, Seed, date], tmp_path: Path) -> Iterator[DashboardServer]:
    """The dashboard served by gunicorn on the seeded database."""
    with DashboardServer(seeded[0], tmp_path / "gunicorn.log") as running:
        yield running


@pytest.fixture
def browser_page(tmp_path: Path) -> Iterator[object]:
    """A Chromium page (phone-sized later on demand) that accepts downloads."""
    with launched_chromium() as browser:
        context = browser.new_context(viewport={"width": 1280, "height": 900}, accept_downloads=True, locale="fr-FR")
        page = context.new_page()
        page.set_default_timeout(30_000)
        try:
            yield page
        finally:
            context.close()


def _monthly_kwh(url: str, meter_id: int, today: date, column: str = "energy_kwh") -> list[float]:
    """What the month view must show, computed straight from consumption_daily."""
    since = datetime.combine(first_period_shown(today, "month"), datetime.min.time(), PARIS)
    with psycopg.connect(url) as conn:
        rows = conn.execute(
            f"SELECT sum({column}) FROM consumption_daily WHERE meter_id = %s AND day >= %s"
            " GROUP BY date_trunc('month', day AT TIME ZONE 'Europe/Paris') ORDER BY 1 IS NULL,"
            " min(day)", (meter_id, since),
        ).fetchall()
    return [float(row[0]) for row in rows]


def _wait_for_total(page: object, expected: str) -> None:
    page.wait_for_function(  # type: ignore[attr-defined]
        "(text) => { const e = document.getElementById('consumption-total'); return e && e.innerText === text; }",
        arg=expected,
    )


def test_household_sees_own_consumption_switches_language_and_downloads(
    server: DashboardServer, seeded: tuple[str, Seed, date], browser_page: object, artifacts_dir: Path,
) -> None:
    url, seed, today = seeded
    page = browser_page
    page.goto(server.url + "/")  # type: ignore[attr-defined]
    assert page.url.endswith("/login")  # type: ignore[attr-defined]
    assert "Connexion" in page.inner_text("main")  # type: ignore[attr-defined]
    page.screenshot(path=str(artifacts_dir / "dashboard-login-fr.png"))  # type: ignore[attr-defined]

    page.fill("#username", "alice")  # type: ignore[attr-defined]
    page.fill("#password", PASSWORD)  # type: ignore[attr-defined]
    page.click("#login-submit")  # type: ignore[attr-defined]
    try:
        page.wait_for_selector("#consumption-total")  # type: ignore[attr-defined]
    except Exception as exc:  # a rare stall seen under load: keep what explains it
        page.screenshot(path=str(artifacts_dir / "failure-household-after-login.png"), full_page=True)  # type: ignore[attr-defined]
        raise AssertionError(f"household page did not render at {page.url}:\n"  # type: ignore[attr-defined]
                             f"{page.inner_text('body')[:500]}\n--- server log ---\n{server.log_tail()}") from exc
    assert "Ma consommation" in page.inner_text("body")  # type: ignore[attr-defined]
    assert "A-12" in page.inner_text("body")  # type: ignore[attr-defined]

    # Electricity by month, in kWh: each bar is the month's sum in consumption_daily.
    expected = _monthly_kwh(url, seed.meters["a-elec"], today)
    total = sum(expected)
    _wait_for_total(page, format_quantity(total, "kWh", "fr", digits=1 if total < 1000 else 0))
    _wait_for_bars(page, expected)
    shown = page.evaluate(GRAPH_Y)  # type: ignore[attr-defined]
    assert shown == pytest.approx(expected)
    assert len(page.evaluate(GRAPH_X)) == len(expected)  # type: ignore[attr-defined]
    page.wait_for_timeout(500)  # type: ignore[attr-defined]
    page.screenshot(path=str(artifacts_dir / "dashboard-household-fr.png"), full_page=True)  # type: ignore[attr-defined]

    # The same in euros, at the configured tariff (default settings).
    page.click("label:has-text('€')")  # type: ignore[attr-defined]
    _wait_for_total(page, format_money_eur(total * 0.2016, "fr"))
    # Costs come rounded to the cent, as shown: the browser gets no more digits than the page shows.
    _wait_for_bars(page, [round_as_shown(v * 0.2016, 2) for v in expected])
    assert page.evaluate(GRAPH_Y) == [round_as_shown(v * 0.2016, 2) for v in expected]  # type: ignore[attr-defined]

    # Water, in m³.
    page.click("label:has-text('kWh / m³')")  # type: ignore[attr-defined]
    page.click("label:has-text('Eau')")  # type: ignore[attr-defined]
    water = _monthly_kwh(url, seed.meters["a-water"], today, column="volume_m3")
    _wait_for_total(page, format_quantity(sum(water), "m³", "fr", digits=1 if sum(water) < 1000 else 0))
    _wait_for_bars(page, water)
    assert page.evaluate(GRAPH_Y) == pytest.approx(water)  # type: ignore[attr-defined]

    # Phone-sized screen.
    page.set_viewport_size({"width": 390, "height": 844})  # type: ignore[attr-defined]
    page.wait_for_timeout(800)  # type: ignore[attr-defined]
    page.screenshot(path=str(artifacts_dir / "dashboard-household-phone-fr.png"), full_page=True)  # type: ignore[attr-defined]
    page.set_viewport_size({"width": 1280, "height": 900})  # type: ignore[attr-defined]

    # English: labels and number formats follow.
    page.click("#lang-en")  # type: ignore[attr-defined]
    page.wait_for_selector("text=My consumption")  # type: ignore[attr-defined]
    _wait_for_total(page, format_quantity(total, "kWh", "en", digits=1 if total < 1000 else 0))
    page.wait_for_timeout(500)  # type: ignore[attr-defined]
    page.screenshot(path=str(artifacts_dir / "dashboard-household-en.png"), full_page=True)  # type: ignore[attr-defined]

    # "Download all my data": the daily CSV holds alice's meters and nobody else's.
    with page.expect_download() as download_info:  # type: ignore[attr-defined]
        page.click("#household-download-daily")  # type: ignore[attr-defined]
    path = download_info.value.path()
    # The page is in English now: "," and ".", English headers; the default range is the last 365 days.
    rows = list(csv.DictReader(io.StringIO(Path(path).read_text(encoding="utf-8-sig"))))
    since = datetime.combine(today - timedelta(days=364), datetime.min.time(), PARIS)
    with psycopg.connect(url) as conn:
        count = conn.execute(
            "SELECT count(*) FROM consumption_daily cd JOIN meter m ON m.id = cd.meter_id"
            " WHERE m.dwelling_id = %s AND cd.day >= %s", (seed.dwelling_a, since),
        ).fetchone()
    assert count is not None and len(rows) == count[0] > 0
    assert {row["Meter"] for row in rows} == {"src-a-elec", "src-a-gas", "src-a-water"}

    # "Ask for erasure": recorded for the admin.
    page.click("#household-erase")  # type: ignore[attr-defined]
    # The confirmation fully open before it is pressed: a click during its opening animation can be lost.
    page.wait_for_selector("#household-erase-collapse.collapse.show")  # type: ignore[attr-defined]
    page.click("#household-erase-confirm")  # type: ignore[attr-defined]
    page.wait_for_selector("text=Erasure request recorded")  # type: ignore[attr-defined]
    page.wait_for_timeout(600)  # type: ignore[attr-defined]  # let the confirmation fold away before the picture
    with psycopg.connect(url) as conn:
        requests_made = conn.execute(
            "SELECT account_id, dwelling_id, status FROM erasure_request").fetchall()
    assert requests_made == [(seed.accounts["alice"], seed.dwelling_a, "open")]
    page.screenshot(path=str(artifacts_dir / "dashboard-household-erasure-en.png"), full_page=True)  # type: ignore[attr-defined]

    # Logging out ends the session: the page is the login form again.
    page.click("#logout-link")  # type: ignore[attr-defined]
    page.wait_for_selector("#login-form")  # type: ignore[attr-defined]
    page.goto(server.url + "/")  # type: ignore[attr-defined]
    assert "/login" in page.url  # type: ignore[attr-defined]


def _log_in(page: object, base_url: str, username: str) -> None:
    page.goto(base_url + "/login")  # type: ignore[attr-defined]
    page.fill("#username", username)  # type: ignore[attr-defined]
    page.fill("#password", PASSWORD)  # type: ignore[attr-defined]
    page.click("#login-submit")  # type: ignore[attr-defined]
    page.wait_for_selector("#navbar")  # type: ignore[attr-defined]


def test_household_url_tampering_and_staff_drill_down_in_the_browser(
    server: DashboardServer, seeded: tuple[str, Seed], browser_page: object, artifacts_dir: Path,
) -> None:
    url, seed, today = seeded
    page = browser_page
    _log_in(page, server.url, "alice")
    # Editing the address bar to bob's dwelling shows a refusal, not bob's home.
    page.goto(f"{server.url}/?dwelling={seed.dwelling_b}")  # type: ignore[attr-defined]
    page.wait_for_selector("#household-denied")  # type: ignore[attr-defined]
    assert "A-13" not in page.inner_text("body")  # type: ignore[attr-defined]
    assert page.query_selector("#household-consumption-graph") is None  # type: ignore[attr-defined]
    page.click("#logout-link")  # type: ignore[attr-defined]
    page.wait_for_selector("#login-form")  # type: ignore[attr-defined]

    # An adviser lands on the staff page, and opens a dwelling of their residence.
    _log_in(page, server.url, "claire")
    # The navbar comes with the layout; the staff page's content with its callback, which can come later.
    page.wait_for_selector("text=conseiller")  # type: ignore[attr-defined]
    assert "conseiller" in page.inner_text("body")  # type: ignore[attr-defined]
    page.goto(f"{server.url}/?dwelling={seed.dwelling_c}")  # type: ignore[attr-defined]
    expected = _monthly_kwh(url, seed.meters["c-elec"], today)
    total = sum(expected)
    _wait_for_total(page, format_quantity(total, "kWh", "fr", digits=1 if total < 1000 else 0))
    assert "B-01" in page.inner_text("body")  # type: ignore[attr-defined]
    # Staff download the dwelling's data through the same scope check; they cannot ask for its erasure.
    assert page.query_selector("#household-erase") is None  # type: ignore[attr-defined]
    href = page.get_attribute("#household-download-daily", "href")  # type: ignore[attr-defined]
    assert href == f"/download/daily.csv?dwelling={seed.dwelling_c}"
    page.wait_for_timeout(500)  # type: ignore[attr-defined]
    page.screenshot(path=str(artifacts_dir / "dashboard-adviser-drilldown-fr.png"), full_page=True)  # type: ignore[attr-defined]
    # Switching language keeps the dwelling open.
    page.click("#lang-en")  # type: ignore[attr-defined]
    page.wait_for_selector("text=This home's consumption")  # type: ignore[attr-defined]
    assert page.url.endswith(f"/?dwelling={seed.dwelling_c}")  # type: ignore[attr-defined]
    _wait_for_total(page, format_quantity(total, "kWh", "en", digits=1 if total < 1000 else 0))
    # A dwelling outside the adviser's residence is refused.
    page.goto(f"{server.url}/?dwelling={seed.dwelling_a}")  # type: ignore[attr-defined]
    page.wait_for_selector("#household-denied")  # type: ignore[attr-defined]
