"""Periods as the household sees them: inclusive last days, partial periods marked and kept out of averages."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import date, datetime, timedelta
from pathlib import Path

import plotly.utils
import psycopg
import pytest

from dashboard import household_analytics
from dashboard.figures import Tariffs, consumption_figure, consumption_summary, period_length_days, period_partial
from dashboard.i18n import format_quantity
from dashboard.queries import PeriodUse
from tests.dashboard_support import PARIS, DashboardServer, Seed, login, post_form, seeded_cooperative
from tests.test_dashboard_scope import consumption_payload

TARIFFS = Tariffs(electricity_eur_per_kwh=0.25, gas_eur_per_kwh=0.1, water_eur_per_m3=4.0, heat_eur_per_kwh=0.12)
# Readings began on 22 October 2025; today is 5 January 2026.
MONTHS = [
    PeriodUse(date(2025, 10, 1), 100.0, 10, 0),
    PeriodUse(date(2025, 11, 1), 300.0, 30, 0),
    PeriodUse(date(2025, 12, 1), 310.0, 31, 0),
    PeriodUse(date(2026, 1, 1), 50.0, 5, 0),
]
TODAY = date(2026, 1, 5)


def _plain(text: str) -> str:
    return text.replace("\u202f", " ").replace("\u00a0", " ")


def test_period_lengths_and_partial_periods() -> None:
    assert [period_length_days(d, g) for d, g in ((date(2024, 2, 1), "month"), (date(2025, 2, 1), "month"),
                                                  (date(2024, 1, 1), "year"), (date(2025, 1, 1), "year"),
                                                  (date(2025, 3, 3), "week"), (date(2025, 3, 3), "day"))] == \
        [29, 28, 366, 365, 7, 1]
    assert [period_partial(p, "month", TODAY) for p in MONTHS] == [True, False, False, True]
    # Without a today, only missing days make a period partial.
    assert [period_partial(p, "month", None) for p in MONTHS] == [True, False, False, True]
    assert not period_partial(PeriodUse(date(2026, 1, 1), 310.0, 31, 0), "month", date(2026, 2, 1))


@pytest.mark.parametrize("lang, average, described", [
    ("fr", 305.0, ["oct. 2025 (10 j sur 31)", "janv. 2026 (en cours, 5 j sur 31)"]),
    ("en", 305.0, ["Oct 2025 (10 of 31 days)", "Jan 2026 (so far, 5 of 31 days)"]),
])
def test_the_average_leaves_the_partial_first_and_current_months_out(lang: str, average: float,
                                                                     described: list[str]) -> None:
    summary = consumption_summary(MONTHS, kind="electricity", granularity="month", measure="amount", lang=lang,
                                  tariffs=TARIFFS, today=TODAY)
    assert summary is not None
    # (300 + 310) / 2, not (100 + 300 + 310 + 50) / 4 = 190.
    assert summary.average == format_quantity(average, "kWh", lang)
    assert list(summary.partial) == described
    figure = consumption_figure(MONTHS, kind="electricity", granularity="month", measure="amount", lang=lang,
                                tariffs=TARIFFS, today=TODAY)
    bar = figure["data"][0]
    assert bar["marker"]["opacity"] == [0.45, 1.0, 1.0, 0.45]
    assert bar["hovertext"] == [described[0], "", "", described[1]]


def test_two_partial_years_have_no_average_and_are_named() -> None:
    years = [PeriodUse(date(2025, 1, 1), 600.0, 61, 0), PeriodUse(date(2026, 1, 1), 3300.0, 334, 0)]
    summary = consumption_summary(years, kind="electricity", granularity="year", measure="amount", lang="fr",
                                  tariffs=TARIFFS, today=date(2026, 11, 30))
    assert summary is not None and summary.average == "—"
    assert list(summary.partial) == ["2025 (61 j sur 365)", "2026 (en cours, 334 j sur 365)"]


def test_the_similar_homes_period_shows_its_last_day(migrated_db_url: str, tmp_path: Path) -> None:
    """The nightly job stores a month as [1 Nov, 1 Dec): the card says "au 30 nov.", not "au 1 déc."."""
    seed = seeded_cooperative(migrated_db_url, today=date(2026, 12, 5), days=10)
    with psycopg.connect(migrated_db_url) as conn:
        conn.execute(
            "INSERT INTO comparison_group (group_key, energy_kind, period_start, period_end, member_count, published,"
            " average_kwh, average_kwh_per_m2) VALUES ('g', 'electricity', '2026-11-01', '2026-12-01', 6, true, 300, 5)")
        conn.execute("INSERT INTO comparison_member VALUES ('g', 'electricity', '2026-11-01', '2026-12-01', %s, 250,"
                     " 4.0, 30)", (seed.dwelling_a,))
        for lang, wanted, wrong in (("fr", "Du 1 nov. 2026 au 30 nov. 2026", "1 déc."),
                                    ("en", "From 1 Nov 2026 to 30 Nov 2026", "1 Dec")):
            card = household_analytics.similar_homes(conn, seed.dwelling_a, "electricity", lang, min_group_size=5)
            text = json.dumps(card, cls=plotly.utils.PlotlyJSONEncoder, ensure_ascii=False)
            assert wanted in text and wrong not in text, text


@pytest.fixture
def seeded(migrated_db_url: str) -> tuple[str, Seed, date]:
    """The dashboard tests' cooperative: 400 days of daily use up to today."""
    today = datetime.now(PARIS).date()
    return migrated_db_url, seeded_cooperative(migrated_db_url, today=today), today


@pytest.fixture
def server(seeded: tuple[str, Seed, date], tmp_path: Path) -> Iterator[DashboardServer]:
    """The dashboard under gunicorn on the seeded database."""
    with DashboardServer(seeded[0], tmp_path / "gunicorn.log") as running:
        yield running


def test_the_year_view_says_its_years_are_incomplete(server: DashboardServer, seeded: tuple[str, Seed, date]) -> None:
    _, _, today = seeded
    first_day = today - timedelta(days=399)
    # 400 days of readings: the first year shown holds only its last days, the current one runs to today.
    first_year_days = (date(first_day.year, 12, 31) - first_day).days + 1
    alice = login(server.url, "alice")
    endpoint = server.url + "/_dash-update-component"
    answer = alice.post(endpoint, json=consumption_payload(None), timeout=30).json()["response"]
    source = _plain(json.dumps(answer["household-consumption-source"], ensure_ascii=False))
    assert "Années incomplètes" in source, source
    assert f"{first_day.year} ({first_year_days} j sur {period_length_days(date(first_day.year, 1, 1), 'year')})" \
        in source
    assert f"{today.year} (en cours, " in source
    summary = json.dumps(answer["household-consumption-summary"], ensure_ascii=False)
    assert "Moyenne par période entière" in summary and "—" in summary
    assert post_form(alice, server.url, "/lang/en").status_code == 302
    english = json.dumps(alice.post(endpoint, json=consumption_payload(None), timeout=30).json()["response"]
                         ["household-consumption-source"], ensure_ascii=False)
    assert "Incomplete years" in english and f"{first_day.year} ({first_year_days} of " in english
