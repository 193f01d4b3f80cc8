"""A cooperative written into a database at an older schema version, through the product's own paths where the
code of today still runs against that version, and as that version's code wrote it where it does not."""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import psycopg

from coopwatt.quantities import Quantity
from coopwatt.registry_import import import_registry, parse_registry
from coopwatt.settings import Settings
from ingest.derive import derive_pending
from ingest.store import store_dead_letters, store_readings, store_temperatures

# Just after the spring-forward change (29 March 2026): the daily rollups hold a 23-hour day.
NOW = datetime(2026, 3, 30, 12, tzinfo=UTC)
START = NOW - timedelta(days=4)
STEP = timedelta(minutes=15)
REGISTRY = """residence,building,dwelling,floor_area_m2,heating_type,meter_source,meter_kind,meter_mode
TIL,A,A01,54,electric,up-a01,electricity,index
TIL,A,A02,71.5,gas,up-a02,electricity,index
TIL,A,A03,38,electric,up-a03,electricity,index
TIL,A,A03,38,electric,up-a03-w,water,index
"""
SILENT = "up-a03"  # stops reporting a day and a half before NOW: the anomaly run opens a 'meter_silent' alert
# A ranking computed at 00:30 in Paris on 30 March (22:30 UTC on the 29th), before rankings had periods (0007).
RANKED_AT = datetime(2026, 3, 29, 22, 30, tzinfo=UTC)


@dataclass(frozen=True)
class Filled:
    """What was written, for the checks after the upgrade."""

    residence_id: int
    building_id: int
    dwellings: dict[str, int]  # code → id
    meters: dict[str, int]  # source → id
    used: list[str]  # what the product's own paths wrote (the rest was written as the old code did)


def _index_rows(meter_id: int, quantity: Quantity, per_step: float, until: datetime) -> list[tuple[int, int, datetime, float]]:
    rows, t, value = [], START, 100.0
    while t <= until:
        rows.append((meter_id, int(quantity), t, round(value, 6)))
        t += STEP
        value += per_step
    return rows


def fill(url: str, settings: Settings, version: int) -> Filled:
    """Write a small cooperative into a database migrated to ``version`` (and no further)."""
    used: list[str] = []
    with psycopg.connect(url) as conn:
        rows, errors = parse_registry(REGISTRY)
        assert not errors
        import_registry(conn, rows)
        residence_id = conn.execute("SELECT id FROM residence WHERE code = 'TIL'").fetchone()[0]
        building_id = conn.execute("SELECT id FROM building WHERE code = 'A'").fetchone()[0]
        dwellings = dict(conn.execute("SELECT code, id FROM dwelling").fetchall())
        meters = dict(conn.execute("SELECT source, id FROM meter").fetchall())
        if version >= CONSENT_SINCE:
            # From 0013 a dwelling registered is collected and judged only once its household consents (a
            # database upgraded across 0013 got its consents from the migration instead).
            from coopwatt.consent import FLOWS, record_first_decisions

            record_first_decisions(conn, {d: dict.fromkeys(FLOWS, True) for d in dwellings.values()},
                                   recorded_by="household")
            used.append("consents (coopwatt.consent)")
        conn.execute("UPDATE meter SET installed_at = %s, reporting_period_s = 900", (START - timedelta(days=1),))
        readings = []
        for n, source in enumerate(("up-a01", "up-a02", "up-a03")):
            until = NOW - timedelta(hours=36) if source == SILENT else NOW
            readings += _index_rows(meters[source], Quantity.ENERGY_INDEX_KWH, 0.05 + 0.02 * n, until)
        readings += _index_rows(meters["up-a03-w"], Quantity.VOLUME_INDEX_M3, 0.001, NOW)
        store_readings(conn, readings)
        store_temperatures(conn, [(residence_id, START + timedelta(hours=h), 8.0 + (h % 24) / 4) for h in range(96)])
        store_dead_letters(conn, [("up-zz", "coopwatt/up-zz/reading", b"{not json", "payload is not JSON", NOW)])
        conn.commit()
        used.append("registry import, readings, temperatures and dead letters (ingest.store)")
        derive_pending(conn, settings)
        used.append("consumption derivation")
    if version >= 2:
        from coopwatt.rollups import refresh_rollups

        refresh_rollups(url, settings, since=START, until=NOW + timedelta(hours=1))
        used.append("rollup refresh")
    if version >= 3:
        _fill_analytics(url, settings, version, building_id, dwellings, used)
    if version >= 4:
        _fill_accounts(url, residence_id, building_id, used)
    return Filled(residence_id, building_id, dwellings, meters, used)


# Today's anomaly run reads suspect hours (0011), records alert actions (0012) and judges meters by
# their households' consents (0013): before those versions its alert is written as the anomaly run of
# the time wrote it.
ANOMALY_RUN_SINCE = 13
CONSENT_SINCE = 13


def _write_silence_alert(url: str) -> None:
    """The 'meter_silent' alert on SILENT's meter and its webhook 'opened' row, in 0003's columns."""
    with psycopg.connect(url) as conn:
        row = conn.execute(
            "SELECT m.id, m.dwelling_id, coalesce(m.building_id, d.building_id)"
            " FROM meter m LEFT JOIN dwelling d ON d.id = m.dwelling_id WHERE m.source = %s", (SILENT,)).fetchone()
        assert row is not None
        alert = conn.execute(
            "INSERT INTO alert (kind, severity, meter_id, dwelling_id, building_id, started_at, evidence)"
            " VALUES ('meter_silent', 'warning', %s, %s, %s, %s, '{\"silent_hours\": 36}') RETURNING id",
            (row[0], row[1], row[2], NOW - timedelta(hours=36))).fetchone()
        assert alert is not None
        conn.execute("INSERT INTO alert_notification (alert_id, event, channel, target)"
                     " VALUES (%s, 'opened', 'webhook', 'http://127.0.0.1:9/hook')", (alert[0],))
        conn.commit()


def _fill_analytics(url: str, settings: Settings, version: int, building_id: int, dwellings: dict[str, int],
                    used: list[str]) -> None:
    from analytics.job.run import run_anomalies

    with psycopg.connect(url) as conn:
        conn.execute("INSERT INTO alert_recipient (building_id, channel, target) VALUES (%s, 'webhook', %s)",
                     (building_id, "http://127.0.0.1:9/hook"))
        conn.commit()
    if version >= ANOMALY_RUN_SINCE:
        summary = run_anomalies(url, settings, now=NOW, full=True)
        assert summary.failures == 0 and summary.alerts_opened >= 1, summary
        used.append("anomaly run (alerts and their outbox)")
    else:
        _write_silence_alert(url)
        used.append("a silence alert and its outbox row, as that version's anomaly run wrote them")
    with psycopg.connect(url) as conn:
        a03 = dwellings["A03"]
        conn.execute(
            "INSERT INTO baseline (dwelling_id, energy_kind, period_start, period_end, qualified, reasons)"
            " VALUES (%s, 'electricity', '2025-03-29', '2026-03-29', false, %s)",
            (a03, '[{"code": "too_short"}]'))
        conn.execute(
            "INSERT INTO suggestion (dwelling_id, kind, energy_kwh_per_year, cost_eur_per_year)"
            " VALUES (%s, 'standby', 180.5, 45.1)", (a03,))
        if version < 7:
            # 0003's ranking: one row per dwelling and kind, no period.
            conn.execute(
                "INSERT INTO high_consumer (dwelling_id, energy_kind, computed_at, normalised_kwh_per_m2,"
                " group_median_kwh_per_m2, ratio_to_group, rank) VALUES (%s, 'electricity', %s, 92.0, 61.0, 1.51, 1),"
                " (%s, 'electricity', %s, 70.0, 61.0, 1.15, 2)",
                (a03, RANKED_AT, dwellings["A01"], RANKED_AT))
        else:
            conn.execute(
                "INSERT INTO high_consumer (dwelling_id, energy_kind, computed_at, period_start, period_end,"
                " normalised_kwh_per_m2, group_median_kwh_per_m2, ratio_to_group, rank)"
                " VALUES (%s, 'electricity', %s, '2025-03-30', '2026-03-30', 92.0, 61.0, 1.51, 1),"
                " (%s, 'electricity', %s, '2025-03-30', '2026-03-30', 70.0, 61.0, 1.15, 2)",
                (a03, RANKED_AT, dwellings["A01"], RANKED_AT))
        conn.commit()


def _fill_accounts(url: str, residence_id: int, building_id: int, used: list[str]) -> None:
    from coopwatt.users import add_user

    def args(username: str, role: str, **scope: object) -> argparse.Namespace:
        return argparse.Namespace(username=username, role=role, dwelling=scope.get("dwelling"),
                                  residence=scope.get("residence", []), building=scope.get("building", []),
                                  language="fr")

    with psycopg.connect(url) as conn:
        add_user(conn, args("foyer-a01", "household", dwelling="TIL/A/A01"), "mot de passe 1")
        add_user(conn, args("conseil", "adviser", residence=[str(residence_id)]), "mot de passe 2")
        add_user(conn, args("gardien", "manager", building=[str(building_id)]), "mot de passe 3")
        conn.execute("INSERT INTO login_attempt (username, remote_addr, succeeded) VALUES ('conseil', '127.0.0.1', true)")
        conn.commit()
    used.append("accounts (coopwatt.users)")
