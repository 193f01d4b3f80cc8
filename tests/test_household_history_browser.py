"""The household page as people use energy dashboards, in Chromium: navigation, chosen ranges, the day view,
the calendar, the typical day, honest empty states; screenshots of each state at desktop and phone widths."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest

from dashboard.i18n import format_day
from tests.dashboard_fixtures import seeded, server  # noqa: F401 - the shared seeded dashboard
from tests.dashboard_support import PARIS, PASSWORD, DashboardServer, Seed
from tests.browser_support import launched_chromium, peers_text
from tests.axe_support import axe_source_or_skip, axe_violations, blocking
from tests.dashboard_views_support import AnalyticsSeed

pytestmark = pytest.mark.browser

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
    with launched_chromium() as chromium:
        yield chromium


@pytest.fixture(scope="module")
def axe_source() -> str:
    """axe-core, pinned (tests/axe_support.py)."""
    return axe_source_or_skip()


def _axe_clean(page: Any, source: str, state: str) -> None:
    """No serious or critical accessibility violation in this state of the page."""
    bad = blocking(axe_violations(page, source))
    assert not bad, state + ":\n" + "\n".join(v.describe() for v in bad)


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


def _shot_of(page: Any, artifacts_dir: Path, selector: str, name: str) -> None:
    """One part of the page at its real size (a full phone page is too long to read in one picture)."""
    page.wait_for_timeout(500)
    page.locator(selector).screenshot(path=str(artifacts_dir / f"household-{name}.png"))


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
    axe_source: str,
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
    _axe_clean(page, axe_source, "month-fr-desktop")

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
    # The pictures below follow the window and say the same of its dates, never "not yet".
    page.wait_for_selector("#calendar-empty")
    page.wait_for_selector("#typical-short")
    assert "encore" not in page.inner_text("#household-typical-day") + page.inner_text("#household-calendar")
    assert format_day(back_last, "fr") in page.inner_text("#typical-short")
    _shot(page, artifacts_dir, "empty-window-fr-desktop")
    _axe_clean(page, axe_source, "empty-window-fr-desktop")
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
    _axe_clean(page, axe_source, "day-fr-desktop")
    page.click("#household-window-prev")
    _bars(page, [value for value, _ in _hourly(url, meter, today - timedelta(days=1))])

    # A chosen range of days, typed in the picker: the bars are those days, the label says them.
    page.click("label:has-text('jour')")
    # The day view's window (several days) must be in the pickers before one is typed in: its callback's answer
    # would otherwise overwrite the typed date when it comes late.
    page.wait_for_function("() => document.getElementById('household-window-start').value"
                           " < document.getElementById('household-window-end').value")
    first_day, last_day = today - timedelta(days=20), today - timedelta(days=11)
    window_last = page.input_value("#household-window-end")
    page.fill("#household-window-start", first_day.isoformat())
    page.press("#household-window-start", "Enter")
    _label_is(page, f"{format_day(first_day, 'fr')} – {format_day(date.fromisoformat(window_last), 'fr')}")
    page.fill("#household-window-end", last_day.isoformat())
    page.press("#household-window-end", "Enter")
    _label_is(page, f"{format_day(first_day, 'fr')} – {format_day(last_day, 'fr')}")
    with psycopg.connect(url) as conn:
        days = [float(row[0]) for row in conn.execute(
            "SELECT energy_kwh FROM consumption_daily WHERE meter_id = %s AND day >= %s AND day < %s ORDER BY day",
            (meter, _midnight(first_day), _midnight(last_day + timedelta(days=1)))).fetchall()]
    assert len(days) == 10
    _bars(page, days)
    _shot(page, artifacts_dir, "range-fr-desktop")
    _axe_clean(page, axe_source, "range-fr-desktop")
    # Moving on from a chosen range keeps its length.
    page.click("#household-window-next")
    _label_is(page, f"{format_day(last_day + timedelta(days=1), 'fr')} – {format_day(last_day + timedelta(days=10), 'fr')}")

    # The export range: the links follow the days picked, and a range the download would refuse is said at once.
    page.fill("#household-export-start", first_day.isoformat())
    page.press("#household-export-start", "Enter")
    page.wait_for_function("() => document.getElementById('household-download-daily').href.includes('from=')")
    page.fill("#household-export-end", last_day.isoformat())
    page.press("#household-export-end", "Enter")
    page.wait_for_function(
        "(want) => document.getElementById('household-download-daily').getAttribute('href') === want",
        arg=f"/download/daily.csv?from={first_day.isoformat()}&to={last_day.isoformat()}")
    with page.expect_download() as download_info:
        page.click("#household-download-daily")
    exported = Path(download_info.value.path()).read_bytes()
    assert exported.startswith("\ufeff".encode())
    lines = exported.decode("utf-8-sig").splitlines()
    assert lines[0].startswith("Compteur;Énergie;Jour;") and len(lines) == 1 + 3 * 10
    year_ago = today - timedelta(days=400)
    page.fill("#household-export-start", year_ago.isoformat())
    page.press("#household-export-start", "Enter")
    page.wait_for_selector("#household-export-problem:has-text('au plus 366')")
    _shot(page, artifacts_dir, "export-range-fr-desktop")
    _axe_clean(page, axe_source, "export-range-fr-desktop")


def test_calendar_typical_day_and_honest_states_in_both_languages_and_widths(
    server: DashboardServer, seeded: tuple[str, Seed, AnalyticsSeed], browser: Any, artifacts_dir: Path,
    axe_source: str,
) -> None:
    url, seed, _ = seeded
    today = datetime.now(PARIS).date()
    for viewport, width in ((DESKTOP, "desktop"), (PHONE, "phone")):
        page = _logged_in(browser, server, "alice", viewport)
        # The calendar: one square per day with data over the last 365 days, estimated days ringed.
        page.wait_for_selector("#calendar-graph .js-plotly-plot")
        heat = page.evaluate("() => document.querySelector('#calendar-graph .js-plotly-plot').data")
        filled = sum(1 for row in heat[0]["z"] for value in row if value is not None)
        with psycopg.connect(url) as conn:
            row = conn.execute(
                "SELECT count(*), count(*) FILTER (WHERE estimated_hours > 0) FROM consumption_daily"
                " WHERE meter_id = %s AND day >= %s", (seed.meters["a-elec"], _midnight(today - timedelta(days=364)))
            ).fetchone()
        assert row is not None and filled == row[0] == 365
        assert len(heat[1]["x"]) == row[1] > 0  # the ringed (estimated) days
        # The typical day is the household's own, and says why similar homes' is not beside it.
        page.wait_for_selector("#typical-graph")
        assert "pas calculée pour votre logement" in peers_text(page, "pas calculée pour votre logement")
        assert "12 h" in page.inner_text("#typical-summary")  # the seeded use sits in the noon hour
        # The comparison also in the household's own kWh and euros (34,8 and 40,5 kWh/m² × 64 m²).
        own_terms = page.inner_text("#similar-own-terms")
        assert "2\u202f227\u00a0kWh" in own_terms or "2 227 kWh" in own_terms.replace("\u202f", " ").replace("\u00a0", " ")
        assert "2 592 kWh" in own_terms.replace("\u202f", " ").replace("\u00a0", " ")
        _shot(page, artifacts_dir, f"month-fr-{width}")
        _axe_clean(page, axe_source, f"month-fr-{width}")
        if width == "phone":
            for part in ("household-window-nav", "calendar", "typical-day", "latest", "similar-homes"):
                _shot_of(page, artifacts_dir, f"#household-{part}" if part != "household-window-nav" else f"#{part}",
                         f"part-{part}-fr-phone")
        # Water: never compared with similar homes, and the card says that (not "once readings cover enough time").
        page.click("label:has-text('Eau')")
        page.wait_for_selector("#similar-not-compared")
        assert "assez de temps" not in page.inner_text("body")
        _shot(page, artifacts_dir, f"water-fr-{width}")
        _axe_clean(page, axe_source, f"water-fr-{width}")
        # The day view on this width.
        page.click("label:has-text('Électricité')")
        page.click("label:has-text('heure')")
        page.wait_for_selector("text=Heure la plus forte")
        _shot(page, artifacts_dir, f"day-fr-{width}")
        _axe_clean(page, axe_source, f"day-fr-{width}")
        if width == "phone":
            _shot_of(page, artifacts_dir, ".card:has(#household-consumption-graph)", "part-day-chart-fr-phone")
        # English: the same page in English words and number formats.
        page.click("#lang-en")
        page.wait_for_selector("text=Your year, day by day")
        page.wait_for_selector("#calendar-graph .js-plotly-plot")
        assert "not computed for your home" in peers_text(page, "not computed for your home")
        _shot(page, artifacts_dir, f"month-en-{width}")
        _axe_clean(page, axe_source, f"month-en-{width}")
        page.click("label:has-text('hour')")
        page.wait_for_selector("text=Highest hour")
        _shot(page, artifacts_dir, f"day-en-{width}")
        _axe_clean(page, axe_source, f"day-en-{width}")
        page.click("#lang-fr")
        page.wait_for_selector("text=Votre année, jour par jour")
        page.context.close()
