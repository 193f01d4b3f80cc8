"""The household page as people use energy dashboards, in Chromium: navigation, chosen ranges, the day view,
the calendar, the typical day, honest empty states; screenshots of each state at desktop and phone widths."""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest

from dashboard.i18n import format_day
from tests.dashboard_fixtures import seeded, server  # noqa: F401 - the shared seeded dashboard
from tests.dashboard_support import PARIS, PASSWORD, DashboardServer, Seed
from tests.dashboard_views_support import AnalyticsSeed

pytestmark = pytest.mark.browser

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]
DESKTOP = {"width": 1366, "height": 900}
PHONE = {"width": 390, "height": 844}
PLOT = "document.querySelector('#household-consumption-graph .js-plotly-plot')"
BARS_ARE = """([want]) => {
  const plot = """ + PLOT + """;
  if (!plot || !plot.data || !plot.data.length) return false;
  const y = plot.data[0].y;
  return y.length === want.length && y.every((v, i) => Math.abs(v - want[i]) <= 1e-6 * Math.max(1, Math.abs(want[i])));
}"""


@pytest.fixture
def browser() -> Iterator[Any]:
    """Headless Chromium (Debian's)."""
    if not Path(CHROMIUM).exists():
        message = f"{CHROMIUM} is missing (apt-get install -y chromium)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            yield chromium
        finally:
            chromium.close()


def _logged_in(browser: Any, server: DashboardServer, username: str, viewport: dict[str, int]) -> Any:
    base_url = server.url
    context = browser.new_context(viewport=viewport, locale="fr-FR", timezone_id="Europe/Paris")
    page = context.new_page()
    page.set_default_timeout(30_000)
    errors: list[str] = []
    page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
    page.goto(base_url + "/login")
    page.fill("#username", username)
    page.fill("#password", PASSWORD)
    page.click("#login-submit")
    try:
        page.wait_for_selector("#consumption-total")
    except Exception as exc:
        raise AssertionError(f"household page did not render:\n{page.inner_text('body')[:800]}\n{errors}\n{server.log_tail()}") from exc
    return page


def _shot(page: Any, artifacts_dir: Path, name: str) -> None:
    page.wait_for_timeout(700)  # Plotly finishes its transitions after Dash has placed the figure
    page.screenshot(path=str(artifacts_dir / f"household-{name}.png"), full_page=True)


def _label_is(page: Any, text: str) -> None:
    try:
        page.wait_for_function("(t) => document.getElementById('household-window-label').innerText === t", arg=text)
    except Exception as exc:
        shown = page.inner_text("#household-window-label")
        raise AssertionError(f"window label {shown!r}, expected {text!r}") from exc


def _bars(page: Any, expected: list[float]) -> None:
    page.wait_for_function(BARS_ARE, arg=[expected])


def _midnight(day: date) -> datetime:
    return datetime.combine(day, datetime.min.time(), PARIS)


def _monthly(url: str, meter_id: int, first: date, last: date) -> list[float]:
    with psycopg.connect(url) as conn:
        rows = conn.execute(
            "SELECT sum(energy_kwh) FROM consumption_daily WHERE meter_id = %s AND day >= %s AND day < %s"
            " GROUP BY date_trunc('month', day AT TIME ZONE 'Europe/Paris') ORDER BY 1 IS NULL, min(day)",
            (meter_id, _midnight(first), _midnight(last + timedelta(days=1)))).fetchall()
    return [float(row[0]) for row in rows]


def _hourly(url: str, meter_id: int, day: date) -> list[tuple[float, bool]]:
    with psycopg.connect(url) as conn:
        rows = conn.execute(
            "SELECT energy_kwh, estimated FROM consumption_hourly WHERE meter_id = %s AND hour >= %s AND hour < %s"
            " ORDER BY hour", (meter_id, _midnight(day), _midnight(day + timedelta(days=1)))).fetchall()
    return [(float(row[0]), bool(row[1])) for row in rows]


def test_household_moves_through_time_opens_a_day_and_picks_a_range(
    server: DashboardServer, seeded: tuple[str, Seed, AnalyticsSeed], browser: Any, artifacts_dir: Path,
) -> None:
    url, seed, _ = seeded
    today = datetime.now(PARIS).date()
    meter = seed.meters["a-elec"]
    page = _logged_in(browser, server, "alice", DESKTOP)
    # The default window: 24 months to today, said in words above the bars.
    months = today.year * 12 + today.month - 1 - 23
    first = date(months // 12, months % 12 + 1, 1)
    _label_is(page, f"{format_day(first, 'fr')} – {format_day(today, 'fr')}")
    _bars(page, _monthly(url, meter, first, today))
    assert page.is_disabled("#household-window-next")
    page.wait_for_selector("#calendar-graph")
    _shot(page, artifacts_dir, "month-fr-desktop")

    # One window back: the 24 months before, every bar the month's sum in the database.
    page.click("#household-window-prev")
    back_last = first - timedelta(days=1)
    months_back = months - 24
    back_first = date(months_back // 12, months_back % 12 + 1, 1)
    _label_is(page, f"{format_day(back_first, 'fr')} – {format_day(back_last, 'fr')}")
    # The seeded 400 days do not reach back there: the page says so for these dates, not "no data yet".
    assert _monthly(url, meter, back_first, back_last) == []
    page.wait_for_selector("#consumption-empty")
    assert f"du {format_day(back_first, 'fr')} au {format_day(back_last, 'fr')}" in page.inner_text("#consumption-empty")
    _shot(page, artifacts_dir, "empty-window-fr-desktop")
    assert not page.is_disabled("#household-window-next")
    page.click("#household-window-next")
    _label_is(page, f"{format_day(first, 'fr')} – {format_day(today, 'fr')}")

    # The day view: today's hours, estimated ones lighter; then yesterday.
    page.click("label:has-text('heure')")
    hours = _hourly(url, meter, today)
    _bars(page, [value for value, _ in hours])
    opacity = page.evaluate(f"() => {PLOT}.data[0].marker.opacity")
    assert opacity == [0.45 if estimated else 1.0 for _, estimated in hours]
    _shot(page, artifacts_dir, "day-fr-desktop")
    page.click("#household-window-prev")
    _bars(page, [value for value, _ in _hourly(url, meter, today - timedelta(days=1))])

    # A chosen range of days, typed in the picker.
    page.click("label:has-text('jour')")
    print(page.inner_html("#household-window-nav"))
    _shot(page, artifacts_dir, "range-fr-desktop")
