"""The analytics job over simulated history in the real PostgreSQL: faults found, alerts and outbox once."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import psycopg
import pytest

from analytics.job.run import run_anomalies
from coopwatt.simulator.faults import plan_faults
from coopwatt.simulator.register import backfill_to_db, register_residences
from coopwatt.simulator.residence import make_residences
from ingest.derive import derive_and_refresh

START = datetime(2025, 9, 1, tzinfo=UTC)
DAYS = 100
END = START + timedelta(days=DAYS)
FAULT_TO_ALERT = {"base_load_jump": "base_load_rise"}


@pytest.fixture
def simulated(settings):
    """14 dwellings, one fault of each kind, 100 days of history, consumption derived."""
    url = settings.database_url
    residences = make_residences(14, 3, per_residence=14)
    faults = plan_faults(residences, START, END, 3)
    with psycopg.connect(url) as conn:
        registered = register_residences(conn, residences, installed_at=START - timedelta(days=1))
        conn.commit()
        backfill_to_db(conn, residences, registered, START, END, seed=3, faults=faults, dwellings_per_chunk=14)
        conn.execute("INSERT INTO alert_recipient (building_id, channel, target) SELECT id, 'webhook', "
                     "'http://127.0.0.1:9/hook' FROM building")
        conn.commit()
    tuned = settings.model_copy(update={"analytics_lookback_days": DAYS + 5.0,
                                        "analytics_index_lookback_days": DAYS + 5.0})
    derive_and_refresh(url, tuned)
    return tuned, faults, registered, residences


def test_every_injected_fault_is_found_and_healthy_meters_stay_quiet(simulated):
    settings, faults, registered, residences = simulated
    url = settings.database_url
    summary = run_anomalies(url, settings, now=END)
    assert summary.status == "ok" and summary.failures == 0
    with psycopg.connect(url) as conn:
        alerts = conn.execute("SELECT kind, meter_id, started_at, status FROM alert").fetchall()
    step = timedelta(minutes=30)
    found = 0
    faulty_meters = set()
    for fault in faults:
        meter_id = registered.meter_ids[fault.meter_source]
        faulty_meters.add(meter_id)
        kind = FAULT_TO_ALERT.get(fault.kind, fault.kind)
        hits = [a for a in alerts if a[0] == kind and a[1] == meter_id]
        # Hourly consumption: one hour plus one reporting period. A base-load rise and a leak are dated to one
        # reporting period (on the meter's own periods).
        tolerance = {"base_load_rise": step, "water_leak": step}.get(kind, step * 3)
        if any(abs(a[2] - fault.start) <= tolerance for a in hits):
            found += 1
        else:
            print("MISSED", fault, hits)
    false_alarms = [a for a in alerts if a[1] not in faulty_meters]
    print(f"recall {found}/{len(faults)}, false alarms {len(false_alarms)}: {false_alarms}")
    assert found == len(faults)
    assert false_alarms == []


def test_a_base_load_rise_older_than_the_index_look_back_is_dated_from_readings_read_for_it(simulated):
    settings, faults, registered, _ = simulated
    url = settings.database_url
    # Three days of raw index (the default): the rise began weeks earlier, so its start needs readings of its own.
    short = settings.model_copy(update={"analytics_index_lookback_days": 3.0})
    run_anomalies(url, short, now=END)
    fault = next(f for f in faults if f.kind == "base_load_jump")
    with psycopg.connect(url) as conn:
        started = conn.execute("SELECT started_at FROM alert WHERE kind = 'base_load_rise' AND meter_id = %s",
                               (registered.meter_ids[fault.meter_source],)).fetchall()
    assert fault.start < END - timedelta(days=4)
    assert len(started) == 1
    # Never after the rise began, and within the hour before it (per-period readings, not hourly energy).
    assert fault.start - timedelta(hours=1) <= started[0][0] <= fault.start


def test_second_run_adds_no_alert_or_outbox_row_and_alerts_resolve(simulated):
    settings, faults, registered, residences = simulated
    url = settings.database_url
    run_anomalies(url, settings, now=END)
    with psycopg.connect(url) as conn:
        before = conn.execute("SELECT count(*) FROM alert").fetchone()[0], \
            conn.execute("SELECT count(*) FROM alert_notification").fetchone()[0]
        open_before = conn.execute("SELECT id, meter_id, kind FROM alert WHERE status = 'open'").fetchall()
    assert before[0] > 0 and before[1] >= 2 * before[0] - len(open_before)
    run_anomalies(url, settings, now=END)
    with psycopg.connect(url) as conn:
        after = conn.execute("SELECT count(*) FROM alert").fetchone()[0], \
            conn.execute("SELECT count(*) FROM alert_notification").fetchone()[0]
    assert after == before
    # Twelve hours without data: every meter falls silent and opens exactly one meter_silent alert.
    later = END + timedelta(hours=12)
    run_anomalies(url, settings, now=later)
    with psycopg.connect(url) as conn:
        silent = conn.execute("SELECT id FROM alert WHERE kind = 'meter_silent' AND status = 'open'").fetchall()
        meters = conn.execute("SELECT count(*) FROM meter").fetchone()[0]
    assert len(silent) == meters
    # The meters report again (the simulation continues): the condition clears and the alerts resolve themselves.
    with psycopg.connect(url) as conn:
        backfill_to_db(conn, residences, registered, END, later, seed=3, faults=faults, dwellings_per_chunk=14)
    derive_and_refresh(url, settings)
    for _ in range(2):  # the second run changes nothing
        run_anomalies(url, settings, now=later)
        with psycopg.connect(url) as conn:
            statuses = conn.execute("SELECT status FROM alert WHERE id = ANY(%s)", ([i for (i,) in silent],)).fetchall()
            events = conn.execute("SELECT event, count(*) FROM alert_notification WHERE alert_id = ANY(%s)"
                                  " AND channel = 'mqtt' GROUP BY event ORDER BY event",
                                  ([i for (i,) in silent],)).fetchall()
            still_open = conn.execute("SELECT count(*) FROM alert WHERE kind = 'meter_silent' AND status = 'open'"
                                      ).fetchone()[0]
        assert {s for (s,) in statuses} == {"resolved"}
        assert events == [("opened", len(silent)), ("resolved", len(silent))]
        assert still_open == 0


def test_a_frozen_index_alert_on_a_water_meter_resolves(simulated):
    """A still water index is days without use, not a fault: an alert opened on one before that rule resolves."""
    settings, _, _, _ = simulated
    url = settings.database_url
    with psycopg.connect(url) as conn:
        meter_id, dwelling_id, building_id = conn.execute(
            "SELECT m.id, m.dwelling_id, d.building_id FROM meter m JOIN dwelling d ON d.id = m.dwelling_id"
            " WHERE m.kind = 'water' ORDER BY m.id LIMIT 1").fetchone()
        conn.execute("INSERT INTO alert (kind, severity, meter_id, dwelling_id, building_id, started_at, evidence)"
                     " VALUES ('frozen_index', 'warning', %s, %s, %s, %s, '{}')",
                     (meter_id, dwelling_id, building_id, END - timedelta(days=2)))
    run_anomalies(url, settings, now=END)
    with psycopg.connect(url) as conn:
        rows = conn.execute("SELECT status FROM alert WHERE kind = 'frozen_index' AND meter_id = %s",
                            (meter_id,)).fetchall()
    assert rows == [("resolved",)]


def test_an_electrically_heated_home_has_its_base_load_judged_when_outdoor_temperatures_are_known(simulated):
    """Its nights are heated, so the job needs the residence's outdoor °C to judge it; without them it waits."""
    settings, faults, registered, _ = simulated
    url = settings.database_url
    jumped = {registered.meter_ids[f.meter_source] for f in faults if f.kind == "base_load_jump"}
    with psycopg.connect(url) as conn:
        meter_id, dwelling_id, building_id, residence_id = next(
            row for row in conn.execute(
                "SELECT m.id, m.dwelling_id, d.building_id, b.residence_id FROM meter m"
                " JOIN dwelling d ON d.id = m.dwelling_id JOIN building b ON b.id = d.building_id"
                " WHERE m.kind = 'electricity' AND d.heating_type = 'electric' ORDER BY m.id").fetchall()
            if row[0] not in jumped)

        def open_alert() -> int:
            return conn.execute(
                "INSERT INTO alert (kind, severity, meter_id, dwelling_id, building_id, started_at, evidence)"
                " VALUES ('base_load_rise', 'warning', %s, %s, %s, %s, '{}') RETURNING id",
                (meter_id, dwelling_id, building_id, END - timedelta(days=20))).fetchone()[0]

        first = open_alert()
        conn.commit()
        run_anomalies(url, settings, now=END)
        # Judged (on its unheated hours): no rise in its data, so the alert resolves.
        assert conn.execute("SELECT status FROM alert WHERE id = %s", (first,)).fetchone() == ("resolved",)
        conn.execute("DELETE FROM outdoor_temperature WHERE residence_id = %s", (residence_id,))
        second = open_alert()
        conn.commit()
        run_anomalies(url, settings, now=END)
        # No temperature, no judgement: the alert is left as it is rather than resolved on a guess.
        assert conn.execute("SELECT status FROM alert WHERE id = %s", (second,)).fetchone() == ("open",)
