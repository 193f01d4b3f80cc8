"""Collection follows consent, end to end: the ingester (real Mosquitto) and the importers store only what
households consented to; what they may not store becomes a dead letter that says why, without the values."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg

from coopwatt import consent
from coopwatt.settings import Settings
from ingest.importer import import_file
from ingest.service import IngestService
from tests.factories import make_meters
from tests.mqtt_tools import ReliablePublisher
from tests.test_ingest_service import wait_until

START = datetime(2026, 1, 5, tzinfo=UTC)  # 01:00 in Paris
SIX_HOURS = timedelta(hours=6)


def _dwelling(conn: psycopg.Connection, meter_id: int) -> int:
    return conn.execute("SELECT dwelling_id FROM meter WHERE id = %s", (meter_id,)).fetchone()[0]


def _refuse(url: str, meter_id: int, *flows: str) -> None:
    """The household of a meter withdraws its consent to ``flows`` (make_meters consented to all)."""
    with psycopg.connect(url) as conn:
        for flow in flows:
            consent.withdraw(conn, _dwelling(conn, meter_id), flow, by="household", choice="keep")
        conn.commit()


def _messages(topic_prefix: str, source: str, first: datetime, count: int) -> list[tuple[str, bytes]]:
    """An index every six hours, and a power value beside it (finer than daily: a load curve)."""
    out = []
    for i in range(count):
        at = first + i * SIX_HOURS
        out.append((f"{topic_prefix}/coopwatt/{source}/reading", json.dumps({
            "time": at.isoformat(),
            "readings": [{"quantity": "energy_index", "value": 1234.5 + 3.25 * i, "unit": "kWh"},
                         {"quantity": "power", "value": 777.0 + i, "unit": "W"}],
        }).encode()))
    return out


def _readings(url: str, meter_id: int) -> list[tuple[datetime, int]]:
    with psycopg.connect(url) as conn:
        return conn.execute("SELECT time, quantity_id FROM reading WHERE meter_id = %s ORDER BY time, quantity_id",
                            (meter_id,)).fetchall()


def _count(url: str, query: str, *args: object) -> int:
    with psycopg.connect(url) as conn:
        return int(conn.execute(query, args).fetchone()[0])


def test_ingester_stores_only_what_households_consented_to(settings: Settings, broker, topic_prefix: str) -> None:
    url = settings.database_url
    assert url is not None
    ids = make_meters(url, ["full", "daily", "none"])
    _refuse(url, ids["daily"], consent.LOAD_CURVE)
    _refuse(url, ids["none"], consent.LOAD_CURVE, consent.ELECTRICITY_DAILY)
    service = IngestService(settings.model_copy(update={"ingest_consent_refresh_s": 0.2}))
    service.start()
    try:
        assert service.subscriber.subscribed.wait(10)
        publisher = ReliablePublisher(broker.host, broker.port)
        for source in ("full", "daily", "none"):
            publisher.publish_all(_messages(topic_prefix, source, START, 12))  # three local days
        wait_until(lambda: len(_readings(url, ids["full"])) == 24
                   and _count(url, "SELECT count(*) FROM dead_letter") == 12, 30, "the first three days")
        # The load curve refused: one index a local day (the day's first), no power at all.
        daily = _readings(url, ids["daily"])
        assert daily == [(START + d * timedelta(days=1), 1) for d in range(3)]
        assert _readings(url, ids["none"]) == []
        with psycopg.connect(url) as conn:
            letters = conn.execute("SELECT topic, payload, reason FROM dead_letter").fetchall()
        assert {topic for topic, _, _ in letters} == {"coopwatt/none/reading"}
        for _, payload, reason in letters:
            assert payload is None
            assert "electricity_daily" in reason and "'none'" in reason and "not stored" in reason
            assert "1234" not in reason and "777" not in reason  # never a value

        # Withdrawal stops collection from then on (within the refresh interval); granting again resumes it.
        _refuse(url, ids["full"], consent.LOAD_CURVE, consent.ELECTRICITY_DAILY)
        later = START + timedelta(days=3)
        time.sleep(1.0)  # five refresh intervals
        publisher.publish_all(_messages(topic_prefix, "full", later, 4))
        wait_until(lambda: _count(url, "SELECT count(*) FROM dead_letter WHERE topic LIKE %s", "%/full/%") == 4,
                   30, "the withdrawn meter's messages dead-lettered")
        assert len(_readings(url, ids["full"])) == 24
        with psycopg.connect(url) as conn:
            consent.record_decision(conn, _dwelling(conn, ids["full"]), consent.LOAD_CURVE, True,
                                    recorded_by="household")
            conn.commit()
        wait_until(lambda: (publisher.publish_all(_messages(topic_prefix, "full", later + 4 * SIX_HOURS, 1))
                            or len(_readings(url, ids["full"])) == 26), 30, "collection to resume")
        publisher.close()
    finally:
        service.stop()


ENEDIS_HEAD = ("Identifiant PRM;Type de donnees;Date de debut;Date de fin;Grandeur physique;Grandeur metier;"
               "Etape metier;Unite;Pas en minutes\n"
               "{prm};Courbe de charge;05/01/2026;07/01/2026;Energie active;Consommation;Comptage Brut;W;30\n"
               "Horodate;Valeur\n")


def _enedis_curve(tmp_path: Path, prm: str) -> Path:
    """Two whole local days (5 and 6 January 2026) of 30-minute steps at 1000 W, then 2000 W: 24 and 48 kWh."""
    lines = [ENEDIS_HEAD.format(prm=prm)]
    midnight = datetime(2026, 1, 4, 23, tzinfo=UTC)
    for step in range(1, 97):
        lines.append(f"{(midnight + step * timedelta(minutes=30)).isoformat()};{1000 if step <= 48 else 2000}\n")
    path = tmp_path / f"curve-{prm}.csv"
    path.write_text("".join(lines), encoding="utf-8")
    return path


def test_importers_follow_consent(settings: Settings, tmp_path: Path) -> None:
    url = settings.database_url
    assert url is not None
    ids = make_meters(url, ["11111111111111", "22222222222222", "33333333333333"], mode="interval")
    full, daily, none = ids["11111111111111"], ids["22222222222222"], ids["33333333333333"]
    _refuse(url, daily, consent.LOAD_CURVE)
    _refuse(url, none, consent.LOAD_CURVE, consent.ELECTRICITY_DAILY)
    with psycopg.connect(url) as conn:
        summaries = {meter: import_file(conn, _enedis_curve(tmp_path, prm), settings, progress=False)
                     for prm, meter in ids.items()}
        # The same file twice: nothing new, no second dead letter.
        import_file(conn, _enedis_curve(tmp_path, "33333333333333"), settings, progress=False)
        days = conn.execute("SELECT meter_id, day, energy_kwh, estimated, origin FROM consumption_day"
                            " ORDER BY meter_id, day").fetchall()
        letters = conn.execute("SELECT topic, payload, reason FROM dead_letter").fetchall()
    assert summaries[full].stored == 96 and len(_readings(url, full)) == 96
    # Load curve refused, daily allowed: the curve became the two days' totals, measured (whole days).
    assert _readings(url, daily) == [] and summaries[daily].reduced == 96
    paris = settings.tz
    assert [(d.astimezone(paris).date().isoformat(), kwh, est, origin) for m, d, kwh, est, origin in days
            if m == daily] == [("2026-01-05", 24.0, False, "enedis"), ("2026-01-06", 48.0, False, "enedis")]
    # Nothing consented: nothing stored, one dead letter without values.
    assert _readings(url, none) == [] and not [d for d in days if d[0] == none]
    assert summaries[none].not_consented == 96 and summaries[none].stored == 0
    assert len(letters) == 1
    topic, payload, reason = letters[0]
    assert topic == "curve-33333333333333.csv" and payload is None
    assert "96 row(s)" in reason and "electricity_daily" in reason and "1000" not in reason


def test_utility_export_without_consent_stores_nothing(settings: Settings, tmp_path: Path) -> None:
    url = settings.database_url
    assert url is not None
    water = make_meters(url, ["W-77"], kind="water")["W-77"]
    path = tmp_path / "water.csv"
    path.write_text("Date de relevé;Index (m3)\n01/01/2026;100,0\n02/01/2026;100,4\n03/01/2026;100,9\n",
                    encoding="utf-8")
    with psycopg.connect(url) as conn:
        consented = import_file(conn, path, settings, fmt="water", meter_source="W-77", progress=False)
    assert consented.days.stored == 2
    _refuse(url, water, consent.WATER)
    path.write_text("Date de relevé;Index (m3)\n03/01/2026;100,9\n04/01/2026;101,2\n05/01/2026;101,8\n",
                    encoding="utf-8")
    with psycopg.connect(url) as conn:
        refused = import_file(conn, path, settings, fmt="water", meter_source="W-77", progress=False)
        reasons = [r[0] for r in conn.execute("SELECT reason FROM dead_letter WHERE payload IS NULL")]
    assert refused.days.stored == 0 and refused.not_consented == 2
    assert _count(url, "SELECT count(*) FROM consumption_day WHERE meter_id = %s", water) == 2
    assert len(reasons) == 1 and "'water'" in reasons[0] and "101" not in reasons[0]


def test_plain_csv_of_a_daily_only_household_keeps_one_index_a_day(settings: Settings, tmp_path: Path) -> None:
    url = settings.database_url
    assert url is not None
    meter = make_meters(url, ["plain-d"])["plain-d"]
    _refuse(url, meter, consent.LOAD_CURVE)
    rows = ["meter,time,value,unit"]
    for hour in range(0, 48, 6):  # an index every six hours over two local days, and a power value
        at = datetime(2026, 1, 5, tzinfo=settings.tz) + timedelta(hours=hour)
        rows += [f"plain-d,{at.isoformat()},{1000 + hour},kWh", f"plain-d,{at.isoformat()},{300 + hour},W"]
    path = tmp_path / "plain.csv"
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    with psycopg.connect(url) as conn:
        summary = import_file(conn, path, settings, fmt="plain", progress=False)
    kept = _readings(url, meter)
    assert [t.astimezone(settings.tz).isoformat() for t, _ in kept] == [
        "2026-01-05T00:00:00+01:00", "2026-01-06T00:00:00+01:00"]
    assert {q for _, q in kept} == {1} and summary.stored == 2 and summary.reduced == 14
