"""Standby suggestions with known truth, through the nightly run on the real PostgreSQL, then the page and the letter.

Ten homes heated by electricity (radiators on whenever the hour is cold, nights included) and ten heated by gas,
in one residence; one of each has a high true standby (450 W), the others 60–105 W.
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime

import plotly
import psycopg
import pytest

from coopwatt.settings import Settings, load_settings
from dashboard import household_analytics
from reports.letter_content import build_content
from tests.job_runs import nightly_ok
from tests.nightly_support import Home, quiet_hour_w, write_coop

AUTUMN = date(2026, 10, 1)  # standby window: August and September, many hours without heating
WINTER = date(2027, 1, 1)  # standby window: November and December, heated every day
DAYS = 460  # a year before AUTUMN, and the weeks up to WINTER

ELECTRIC = [Home(f"E{i}", heating_type="electric", heating_by_the_hour=True, base_load_w=60.0 + 5 * i,
                 slope_kwh_per_degree_day=1.5 + 0.1 * i) for i in range(9)]
ELECTRIC.append(Home("E-HIGH", heating_type="electric", heating_by_the_hour=True, base_load_w=450.0,
                     intercept_kwh=14.0, slope_kwh_per_degree_day=2.0))
GAS = [Home(f"G{i}", heating_type="gas", slope_kwh_per_degree_day=0.0, base_load_w=90.0 + 5 * i) for i in range(9)]
GAS.append(Home("G-HIGH", heating_type="gas", slope_kwh_per_degree_day=0.0, base_load_w=450.0, intercept_kwh=14.0))


@pytest.fixture
def standby_settings(migrated_db_url: str, tmp_path) -> Settings:
    """Settings for nightly runs on this test's database."""
    return load_settings({}, database_url=migrated_db_url, data_dir=tmp_path, analytics_comparison_months=1,
                         timezone="Europe/Paris")


def _suggestions(settings: Settings) -> dict[tuple[int, str], tuple[float, dict]]:
    with psycopg.connect(settings.database_url) as conn:
        return {(d, k): (kwh, evidence) for d, k, kwh, evidence in conn.execute(
            "SELECT dwelling_id, kind, energy_kwh_per_year, evidence FROM suggestion")}


def _used_kwh(settings: Settings, dwelling_id: int, today: date) -> float:
    """What the home's meter measured over the 365 days before ``today`` (the year its suggestions are judged on)."""
    with psycopg.connect(settings.database_url) as conn:
        (kwh,) = conn.execute(
            "SELECT sum(ch.energy_kwh) FROM consumption_hourly ch JOIN meter m ON m.id = ch.meter_id"
            " WHERE m.dwelling_id = %s AND ch.hour >= (%s::date - 365)::timestamp AT TIME ZONE 'Europe/Paris'"
            " AND ch.hour < %s::timestamp AT TIME ZONE 'Europe/Paris'", (dwelling_id, today, today)).fetchone()
    return float(kwh)


def _text(component: object) -> str:
    return json.dumps(component, cls=plotly.utils.PlotlyJSONEncoder, ensure_ascii=False).replace("\u202f", " ")


def _shown(settings: Settings, dwelling_id: int, month: date, lang: str) -> tuple[str, dict]:
    """The household page's suggestions card and the letter's suggestion section."""
    with psycopg.connect(settings.database_url) as conn:
        card = _text(household_analytics.suggestions(conn, dwelling_id, lang))
        letter = build_content(conn, dwelling_id, month, settings, lang)
    assert letter is not None
    return card, letter["suggestion"]


def test_standby_suggestions_agree_with_what_each_home_used(standby_settings: Settings) -> None:
    settings = standby_settings
    coop = write_coop(settings, ELECTRIC + GAS, WINTER, days=DAYS)
    ids = coop.dwelling_ids
    electric = {ids[h.code] for h in ELECTRIC}

    # Autumn: the heated homes' standby measured on their unheated hours, compared among themselves.
    summary = nightly_ok(settings.database_url, settings, now=datetime(2026, 10, 1, 3, tzinfo=UTC))
    found = _suggestions(settings)
    for (dwelling, kind), (kwh, evidence) in found.items():
        assert kwh <= _used_kwh(settings, dwelling, AUTUMN), (dwelling, kind)
    high = ids["E-HIGH"]
    kwh, evidence = found[(high, "base_load")]
    assert 450.0 - 1.0 <= evidence["base_load_w"] <= 450.0 + quiet_hour_w(ELECTRIC[-1])
    assert evidence["unheated_days"] >= 7 and evidence["group_size"] == 10.0
    # The efficient level is the heated homes' lowest five (60–80 W), measured the same way.
    assert 60.0 - 1.0 <= evidence["efficient_base_load_w"] <= 80.0 + max(quiet_hour_w(h) for h in ELECTRIC[:5])
    assert kwh == pytest.approx((evidence["base_load_w"] - evidence["efficient_base_load_w"]) * 8.76)
    assert not any(kind == "base_load" and d in electric and d != high for d, kind in found)
    assert (ids["G-HIGH"], "base_load") in found and summary.suggestions_refused == 0
    card, letter = _shown(settings, high, date(2026, 9, 1), "fr")
    assert "mesurée hors période de chauffage" in card and "hors période de chauffage" in letter["evidence"]
    assert "jours sans chauffage" in letter["evidence"] and not letter["note"]
    card, letter = _shown(settings, high, date(2026, 9, 1), "en")
    assert "outside the heating period" in card and "days without heating" in letter["evidence"]

    # Winter: heated every day of the window, so no standby figure and no standby suggestion for heated homes.
    summary = nightly_ok(settings.database_url, settings, now=datetime(2027, 1, 1, 3, tzinfo=UTC))
    found = _suggestions(settings)
    for (dwelling, kind), (kwh, _) in found.items():
        assert kwh <= _used_kwh(settings, dwelling, WINTER), (dwelling, kind)
    assert not any(kind == "base_load" and d in electric for d, kind in found)
    # The home heated by gas with a high standby is still told, against the gas homes' 90–110 W.
    kwh, evidence = found[(ids["G-HIGH"], "base_load")]
    assert evidence["base_load_w"] == pytest.approx(450.0, abs=2.0)
    assert evidence["efficient_base_load_w"] == pytest.approx(100.0, abs=3.0)
    assert "unheated_days" not in evidence and summary.suggestions_refused == 0
    with psycopg.connect(settings.database_url) as conn:
        reasons = dict(conn.execute(
            "SELECT dwelling_id, reasons FROM baseline WHERE energy_kind = 'electricity' AND qualified"))
    for dwelling in ids.values():
        codes = [r["code"] for r in reasons[dwelling]]
        assert ("standby_not_measured" in codes) == (dwelling in electric)
    # Where the page and the letter would have shown the standby, they say why there is none.
    for lang, words in (("fr", "hors période de chauffage"), ("en", "outside the heating period")):
        card, letter = _shown(settings, ids["E0"], date(2026, 12, 1), lang)
        assert "suggestions-standby" in card and words in card and words in letter["note"]
        card, letter = _shown(settings, ids["G0"], date(2026, 12, 1), lang)
        assert "suggestions-standby" not in card and not letter["note"]
