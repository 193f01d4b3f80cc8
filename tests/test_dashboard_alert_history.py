"""Alert actions that do what they say, through the real callbacks: resolve closes, who did what is shown,
resolved alerts stay in a history, and one resolved by hand that comes back says so."""

from __future__ import annotations

import json
from datetime import datetime, timedelta

import pandas as pd
import psycopg
import requests

from analytics.anomalies import Anomaly, AnomalyKind, Severity
from analytics.job.alerts import reconcile_meter
from coopwatt.settings import load_settings
from dashboard import alert_queries
from tests.dashboard_support import PARIS, DashboardServer, Seed, login, post_form
from tests.dashboard_views_support import AnalyticsSeed
from tests.dashboard_callbacks import alert_action
from tests.dashboard_fixtures import own_seeded, own_server  # noqa: F401 - fixtures




def manager_page(session: requests.Session, base_url: str) -> str:
    """The manager page as rendered for this session, as text (non-ASCII kept)."""
    body = {"output": ".._pages_content.children..._pages_store.data..",
            "outputs": [{"id": "_pages_content", "property": "children"}, {"id": "_pages_store", "property": "data"}],
            "inputs": [{"id": "_pages_location", "property": "pathname", "value": "/manager"},
                       {"id": "_pages_location", "property": "search", "value": ""}],
            "changedPropIds": ["_pages_location.pathname"], "state": []}
    response = session.post(base_url + "/_dash-update-component", json=body, timeout=30)
    assert response.status_code == 200, response.text[:300]
    return json.dumps(response.json(), ensure_ascii=False)


def test_resolve_closes_the_alert_and_the_history_keeps_it_with_who_and_when(
    own_server: DashboardServer, own_seeded: tuple[str, Seed, AnalyticsSeed],
) -> None:
    url, seed, analytics = own_seeded
    spike, rise = analytics.c_alerts[1], analytics.c_alerts[2]
    marc = login(own_server.url, "marc")
    assert "Prise en compte" not in manager_page(marc, own_server.url)
    answer = alert_action(marc, own_server.url, spike, "alert-resolve", comment="Réglé avec le gardien").text
    assert "l'alerte est résolue" in answer
    assert "Action enregistrée." in alert_action(marc, own_server.url, rise, comment="Plombier prévenu").text
    with psycopg.connect(url) as conn:
        status = conn.execute("SELECT status, resolved_at IS NOT NULL, ended_at IS NOT NULL FROM alert WHERE id = %s",
                              (spike,)).fetchone()
        still_open = conn.execute("SELECT status FROM alert WHERE id = %s", (rise,)).fetchone()
    assert status == ("resolved", True, True) and still_open == ("open",)
    page = manager_page(marc, own_server.url)
    open_part, history = page.split("Alertes résolues récemment")
    # The resolved alert left the open list for the history, with its span, who resolved it and the comment.
    assert f'"data-alert": "{spike}"' not in open_part and f'"data-alert": "{spike}"' in history
    assert "Marquée résolue par marc le" in history and "« Réglé avec le gardien »" in history
    assert "Du " in history and "(durée : " in history
    # The acknowledged one stays open, saying who took it in hand and what they wrote.
    assert "Prise en compte par marc le" in open_part and "« Plombier prévenu »" in open_part

    # The condition is still there at the next analytics run: a new alert, which says it came back.
    settings = load_settings({}, database_url=url)
    meter = seed.meters["c-elec"]
    now = pd.Timestamp(datetime.now(PARIS))
    back = Anomaly(AnomalyKind.SPIKE, Severity.INFO, meter, seed.dwelling_c, now - pd.Timedelta(hours=1), now, True,
                   {"peak_kwh": 9.0})
    with psycopg.connect(url) as conn:
        changes = reconcile_meter(conn, meter, seed.other_building_id, [back], settings, {"spike"})
        assert changes.opened == 1
        reopened = conn.execute("SELECT id, reopens_alert_id FROM alert WHERE kind = 'spike' AND status = 'open'"
                                " AND meter_id = %s", (meter,)).fetchone()
    assert reopened is not None and reopened[1] == spike
    page = manager_page(marc, own_server.url)
    assert "Réapparue : la même alerte avait été marquée résolue le" in page
    assert post_form(marc, own_server.url, "/lang/en").status_code == 302
    english = manager_page(marc, own_server.url)
    assert "Back again" in english and "Marked resolved by marc on" in english and "Recently resolved alerts" in english


def test_the_history_is_bounded_and_most_recently_resolved_first(
    own_seeded: tuple[str, Seed, AnalyticsSeed],
) -> None:
    url, seed, _ = own_seeded
    now = datetime.now(PARIS)
    with psycopg.connect(url) as conn:
        ids = [conn.execute(
            "INSERT INTO alert (kind, severity, meter_id, dwelling_id, started_at, ended_at, status, resolved_at)"
            " VALUES ('spike', 'info', %s, %s, %s, %s, 'resolved', %s) RETURNING id",
            (seed.meters["c-elec"], seed.dwelling_c, now - timedelta(days=n, hours=2), now - timedelta(days=n, hours=1),
             now - timedelta(days=n))).fetchone()[0] for n in range(30, 0, -1)]
        shown = alert_queries.resolved_alerts_of_buildings(conn, [seed.other_building_id], limit=20)
        elsewhere = alert_queries.resolved_alerts_of_buildings(conn, [seed.building_id], limit=20)
    assert [alert.id for alert in shown] == ids[::-1][:20]
    assert elsewhere == []
