"""Issue 13's cases on the seeded cooperative: what the household page and the adviser's ranking say agrees.

The analytics results are written as the nightly and anomaly jobs store them (alerts, ranking
rows, suggestions): a home with an urgent leak and the highest electricity use per m², the top
gas user at 1.9× similar homes, and a home whose standby rose from 137 W to 548 W whose ranking
row had no reason. Today's pages told all three "vous êtes sur la bonne voie".
"""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import plotly.utils
import psycopg
import pytest
from psycopg.types.json import Jsonb

from coopwatt.settings import Settings, load_settings
from dashboard import alert_queries, household_analytics, staff_queries
from dashboard.app import create_app
from tests.dashboard_support import PARIS, Seed, seeded_cooperative

PRAISE = ("bonne voie", "Continuez", "Bravo", "Belle performance", "right track", "Well done", "Nice work",
          "Keep it up")


@pytest.fixture
def coop(migrated_db_url: str, tmp_path: Path) -> tuple[Settings, Seed, date]:
    """The seeded cooperative with issue 13's three homes' analytics results."""
    today = datetime.now(PARIS).date()
    seed = seeded_cooperative(migrated_db_url, today=today)
    settings = load_settings({}, database_url=migrated_db_url, data_dir=tmp_path, timezone="Europe/Paris",
                             dashboard_secret_key="verdicts-test-secret-" + "x" * 40)
    now = datetime.now(PARIS)
    period = (today - timedelta(days=365), today)
    with psycopg.connect(migrated_db_url) as conn:
        conn.execute(  # 10 l/h all day and night: 87.6 m³ a year
            "INSERT INTO alert (kind, severity, meter_id, dwelling_id, started_at, evidence)"
            " VALUES ('water_leak', 'critical', %s, %s, %s, %s)",
            (seed.meters["a-water"], seed.dwelling_a, now - timedelta(days=2), Jsonb({"min_flow_l_per_h": 10.0})))
        conn.execute(
            "INSERT INTO alert (kind, severity, meter_id, dwelling_id, started_at, evidence)"
            " VALUES ('base_load_rise', 'warning', %s, %s, %s, %s)",
            (seed.meters["c-elec"], seed.dwelling_c, now - timedelta(days=5),
             Jsonb({"base_load_w": 548.0, "reference_w": 137.0, "rise_w": 411.0, "nights": 5.0})))
        for dwelling, kind, use, median, rank in ((seed.dwelling_a, "electricity", 52.0, 40.0, 1),
                                                  (seed.dwelling_c, "electricity", 46.0, 40.0, 2),
                                                  (seed.dwelling_b, "gas", 190.0, 100.0, 1)):
            conn.execute(
                "INSERT INTO high_consumer (dwelling_id, energy_kind, normalised_kwh_per_m2, group_median_kwh_per_m2,"
                " ratio_to_group, rank, reasons, period_start, period_end) VALUES (%s, %s, %s, %s, %s, %s, '[]', %s, %s)",
                (dwelling, kind, use, median, use / median, rank, *period))
        conn.commit()
    return settings, seed, today


def _text(component: object) -> str:
    text = json.dumps(component, cls=plotly.utils.PlotlyJSONEncoder, ensure_ascii=False)
    return text.replace("\u202f", " ").replace("\u00a0", " ")


def _page(settings: Settings, dwelling_id: int, kind: str, lang: str) -> str:
    with psycopg.connect(settings.database_url) as conn:
        return _text(household_analytics.cards(conn, dwelling_id, kind, lang, settings))


@pytest.mark.parametrize("lang", ["fr", "en"])
def test_no_praise_beside_a_leak_a_standby_rise_or_a_top_ranking(coop: tuple[Settings, Seed, date],
                                                                 lang: str) -> None:
    """The three homes get no praise anywhere on their page, and an action for what is wrong."""
    settings, seed, _ = coop
    leak_home = _page(settings, seed.dwelling_a, "electricity", lang)
    top_gas = _page(settings, seed.dwelling_b, "electricity", lang)
    standby = _page(settings, seed.dwelling_c, "electricity", lang)
    for page in (leak_home, top_gas, standby):
        assert not [word for word in PRAISE if word in page]
    assert "88 m³" in leak_home  # 10 l/h × 8,760 h = 87.6 m³ a year, rounded as shown
    assert ("137 W" in standby and "548 W" in standby)
    assert ("parmi les plus élevées" if lang == "fr" else "among the highest") in top_gas
    assert ("gaz" if lang == "fr" else "gas") in top_gas


def test_a_home_with_nothing_open_and_not_ranked_high_may_still_be_praised(coop: tuple[Settings, Seed, date]) -> None:
    """The rule is not "never praise": once the leak is over and the ranking row gone, the page may."""
    settings, seed, _ = coop
    with psycopg.connect(settings.database_url) as conn:
        conn.execute("UPDATE alert SET status = 'resolved', resolved_at = now() WHERE dwelling_id = %s",
                     (seed.dwelling_a,))
        conn.execute("DELETE FROM high_consumer WHERE dwelling_id = %s", (seed.dwelling_a,))
        conn.commit()
    assert "bonne voie" in _page(settings, seed.dwelling_a, "electricity", "fr")


@pytest.mark.parametrize("lang", ["fr", "en"])
def test_a_home_that_may_be_going_cold_is_told_its_figures_never_cheered(coop: tuple[Settings, Seed, date],
                                                                         lang: str) -> None:
    """On the advisers' hardship list, a lower use is stated, never praised; the list itself is never named."""
    settings, seed, _ = coop
    with psycopg.connect(settings.database_url) as conn:
        conn.execute("UPDATE alert SET status = 'resolved', resolved_at = now() WHERE dwelling_id = %s",
                     (seed.dwelling_a,))
        conn.execute("DELETE FROM high_consumer WHERE dwelling_id = %s", (seed.dwelling_a,))
        conn.execute("INSERT INTO hardship_case (dwelling_id, signal, evidence) VALUES (%s, 'under_heating', '{}')",
                     (seed.dwelling_a,))
        conn.commit()
    page = _page(settings, seed.dwelling_a, "electricity", lang)
    assert not [word for word in PRAISE if word in page]
    assert ("Pas de piste d'économie chiffrée pour l'instant." if lang == "fr"
            else "No costed saving to suggest for now.") in page
    assert not [word for word in ("précarité", "hardship", "conseiller", "adviser") if word in page]
    # Closed by the adviser: nothing holds the praise back any more.
    with psycopg.connect(settings.database_url) as conn:
        conn.execute("UPDATE hardship_case SET status = 'closed', closed_at = now() WHERE dwelling_id = %s",
                     (seed.dwelling_a,))
        conn.commit()
    assert ("bonne voie" if lang == "fr" else "right track") in _page(settings, seed.dwelling_a, "electricity", lang)


@pytest.mark.parametrize("lang", ["fr", "en"])
def test_every_ranked_home_has_a_why(coop: tuple[Settings, Seed, date], lang: str) -> None:
    """The standby home's "Pourquoi" cell was empty; it now names the open alert with 137 W → 548 W."""
    settings, seed, _ = coop
    create_app(settings)  # the pages register themselves on an app
    from dashboard.pages.adviser import ranking_table

    with psycopg.connect(settings.database_url) as conn:
        rows = staff_queries.high_consumers(conn, [seed.residence_id, seed.other_residence_id])
        alerts = alert_queries.open_alerts_of_dwellings(conn, [row.dwelling_id for row in rows])
    # One table per energy kind; the "why" column is the sixth (rank, home, use, median, ratio, why, follow-up).
    cells: dict[str, list[Any]] = {}
    for kind in sorted({row.energy_kind for row in rows}):
        table = ranking_table([row for row in rows if row.energy_kind == kind], kind, alerts, lang)
        for row in json.loads(_text(table))["props"]["children"][1]["props"]["children"]:
            cells.setdefault(row["props"]["data-dwelling"], []).append(row["props"]["children"][5])
    assert set(cells) == {str(seed.dwelling_a), str(seed.dwelling_b), str(seed.dwelling_c)}
    for dwelling_cells in cells.values():
        for cell in dwelling_cells:
            assert cell["props"]["children"]["props"]["children"], "a ranked home without a reason"
    assert "548" in json.dumps(cells[str(seed.dwelling_c)]) and "137" in json.dumps(cells[str(seed.dwelling_c)])
    assert "1,9" in json.dumps(cells[str(seed.dwelling_b)]) or "1.9" in json.dumps(cells[str(seed.dwelling_b)])
    leak = json.dumps(cells[str(seed.dwelling_a)], ensure_ascii=False)
    assert ("Fuite d'eau probable" if lang == "fr" else "Probable water leak") in leak


@pytest.mark.parametrize("lang", ["fr", "en"])
def test_the_page_shows_the_contract_and_the_offpeak_bills(coop: tuple[Settings, Seed, date], lang: str) -> None:
    """The contract of the day is on the page; an off-peak suggestion shows whole bills and its days, and
    disappears once the household is on heures creuses."""
    settings, seed, today = coop
    evidence = {"base_cost_eur_per_year": 1210.4, "offpeak_tariff_cost_eur_per_year": 1150.2,
                "base_subscription_eur_per_year": 185.64, "offpeak_subscription_eur_per_year": 188.88,
                "covered_days": 56.0, "extrapolated": 1.0, "subscribed_kva": 6.0, "contract_known": 1.0,
                "energy_kind": "electricity"}
    with psycopg.connect(settings.database_url) as conn:
        conn.execute("INSERT INTO supply_contract (dwelling_id, valid_from, option, subscribed_kva)"
                     " VALUES (%s, %s, 'base', 6)", (seed.dwelling_b, today - timedelta(days=700)))
        conn.execute("INSERT INTO suggestion (dwelling_id, kind, energy_kwh_per_year, cost_eur_per_year, evidence)"
                     " VALUES (%s, 'offpeak_tariff', 0, 60.2, %s)", (seed.dwelling_b, Jsonb(evidence)))
        conn.commit()
    page = _page(settings, seed.dwelling_b, "electricity", lang)
    assert ("option Base, 6 kVA" if lang == "fr" else "Base option, 6 kVA") in page
    assert ("Extrapolé à une année à partir de 56 jours" if lang == "fr"
            else "Extrapolated to a year from only 56 days") in page
    assert "1 210" in page or "1,210" in page
    with psycopg.connect(settings.database_url) as conn:
        conn.execute("INSERT INTO supply_contract (dwelling_id, valid_from, option, subscribed_kva, offpeak_hours)"
                     " VALUES (%s, %s, 'hphc', 9, '{22,23,0,1,2,3,4,5}')", (seed.dwelling_b, today - timedelta(days=10)))
        conn.commit()
    page = _page(settings, seed.dwelling_b, "electricity", lang)
    assert "22 h – 6 h" in page and "9 kVA" in page
    assert ("Passer à l'option heures creuses" if lang == "fr" else "Switch to the off-peak tariff option") not in page
    assert "Extrapol" not in page
