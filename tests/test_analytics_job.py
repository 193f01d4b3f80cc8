"""The analytics job over simulated history in the real PostgreSQL: faults found, alerts and outbox once."""

from __future__ import annotations

import json

from datetime import UTC, datetime, timedelta

import psycopg
import pytest

from coopwatt.simulator.faults import plan_faults
from coopwatt.simulator.register import backfill_to_db, register_residences
from coopwatt.simulator.residence import make_residences
from ingest.derive import derive_and_refresh
from tests.db_copies import copied_seed
from tests.job_runs import anomalies_ok

START = datetime(2025, 9, 1, tzinfo=UTC)
DAYS = 100
END = START + timedelta(days=DAYS)
FAULT_TO_ALERT = {"base_load_jump": "base_load_rise"}


def _simulate(settings, until: datetime):
    """14 dwellings, one fault of each kind, history from START to ``until``, consumption derived."""
    url = settings.database_url
    residences = make_residences(14, 3, per_residence=14)
    faults = plan_faults(residences, START, END, 3)
    with psycopg.connect(url) as conn:
        registered = register_residences(conn, residences, installed_at=START - timedelta(days=1))
        conn.commit()
        backfill_to_db(conn, residences, registered, START, until, seed=3, faults=faults, dwellings_per_chunk=14)
        conn.execute("INSERT INTO alert_recipient (building_id, channel, target) SELECT id, 'webhook', "
                     "'http://127.0.0.1:9/hook' FROM building")
        conn.commit()
    return _tuned(settings), faults, registered, residences


def _tuned(settings):
    """The settings with the whole simulated history in the job's look-backs."""
    return settings.model_copy(update={"analytics_lookback_days": DAYS + 5.0,
                                       "analytics_index_lookback_days": DAYS + 5.0})


@pytest.fixture
def simulated(settings):
    """14 dwellings, one fault of each kind, 100 days of history, consumption derived (built once per run and mode)."""

    def build(url: str):
        tuned, faults, registered, residences = _simulate(settings, END)
        derive_and_refresh(url, tuned)
        return tuned, faults, registered, residences

    _, faults, registered, residences = copied_seed(settings.database_url, ("analytics_job.simulated", END), build)
    return _tuned(settings), faults, registered, residences


def test_every_injected_fault_is_found_and_healthy_meters_stay_quiet(simulated):
    settings, faults, registered, residences = simulated
    url = settings.database_url
    summary = anomalies_ok(url, settings, now=END)
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
    anomalies_ok(url, short, now=END)
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
    anomalies_ok(url, settings, now=END)
    with psycopg.connect(url) as conn:
        before = conn.execute("SELECT count(*) FROM alert").fetchone()[0], \
            conn.execute("SELECT count(*) FROM alert_notification").fetchone()[0]
        open_before = conn.execute("SELECT id, meter_id, kind FROM alert WHERE status = 'open'").fetchall()
    assert before[0] > 0 and before[1] >= 2 * before[0] - len(open_before)
    anomalies_ok(url, settings, now=END)
    with psycopg.connect(url) as conn:
        after = conn.execute("SELECT count(*) FROM alert").fetchone()[0], \
            conn.execute("SELECT count(*) FROM alert_notification").fetchone()[0]
    assert after == before
    # Twelve hours without data: every meter falls silent and opens exactly one meter_silent alert.
    later = END + timedelta(hours=12)
    anomalies_ok(url, settings, now=later)
    with psycopg.connect(url) as conn:
        silent = conn.execute("SELECT id FROM alert WHERE kind = 'meter_silent' AND status = 'open'").fetchall()
        meters = conn.execute("SELECT count(*) FROM meter").fetchone()[0]
    assert len(silent) == meters
    # The meters report again (the simulation continues): the condition clears and the alerts resolve themselves.
    with psycopg.connect(url) as conn:
        backfill_to_db(conn, residences, registered, END, later, seed=3, faults=faults, dwellings_per_chunk=14)
    derive_and_refresh(url, settings)
    for _ in range(2):  # the second run changes nothing
        anomalies_ok(url, settings, now=later)
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
    anomalies_ok(url, settings, now=END)
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
        anomalies_ok(url, settings, now=END)
        # Judged (on its unheated hours): no rise in its data, so the alert resolves.
        assert conn.execute("SELECT status FROM alert WHERE id = %s", (first,)).fetchone() == ("resolved",)
        conn.execute("DELETE FROM outdoor_temperature WHERE residence_id = %s", (residence_id,))
        second = open_alert()
        conn.commit()
        anomalies_ok(url, settings, now=END, full=True)  # at the same `now`, an incremental run would not judge it
        # No temperature, no judgement: the alert is left as it is rather than resolved on a guess.
        assert conn.execute("SELECT status FROM alert WHERE id = %s", (second,)).fetchone() == ("open",)


def test_an_open_base_load_rise_is_judged_against_the_level_it_rose_from(simulated):
    """Held open while the nights stay above its own reference + half its rise; resolved once they fall below."""
    settings, faults, registered, _ = simulated
    url = settings.database_url
    jumped = {registered.meter_ids[f.meter_source] for f in faults if f.kind == "base_load_jump"}
    with psycopg.connect(url) as conn:
        meters = [row for row in conn.execute(
            "SELECT m.id, m.dwelling_id, d.building_id FROM meter m JOIN dwelling d ON d.id = m.dwelling_id"
            " WHERE m.kind = 'electricity' AND d.heating_type <> 'electric' ORDER BY m.id").fetchall()
            if row[0] not in jumped][:2]

        def open_alert(meter: tuple[int, int, int], reference_w: float, rise_w: float) -> int:
            return conn.execute(
                "INSERT INTO alert (kind, severity, meter_id, dwelling_id, building_id, started_at, evidence)"
                " VALUES ('base_load_rise', 'warning', %s, %s, %s, %s, %s) RETURNING id",
                (*meter, END - timedelta(days=60), json.dumps({"reference_w": reference_w, "rise_w": rise_w})),
            ).fetchone()[0]

        # Nights of this meter draw far more than 1 W + 10/2 W: the load it rose by is still on.
        still_on = open_alert(meters[0], 1.0, 10.0)
        # … and far less than 1 W + 100 kW/2: that load has gone.
        gone = open_alert(meters[1], 1.0, 100_000.0)
        conn.commit()
        anomalies_ok(url, settings, now=END, full=True)
        status, evidence = conn.execute("SELECT status, evidence FROM alert WHERE id = %s", (still_on,)).fetchone()
        assert status == "open" and evidence["judged_against_alert"] == 1.0 and evidence["reference_w"] == 1.0
        assert evidence["base_load_w"] > 6.0 and evidence["nights"] == 3.0
        assert conn.execute("SELECT status FROM alert WHERE id = %s", (gone,)).fetchone() == ("resolved",)


# Incremental runs: END is 01:00 in Paris, so END + 15 min is the same day, before the night ends at 05:00.
SUB_HOURLY = ("meter_silent", "counter_reset", "frozen_index", "spike", "water_leak")
DAILY = ("above_baseline", "base_load_rise")


def _alerts(url: str) -> set[tuple]:
    """Every alert as (kind, meter, start, status, severity): what a manager sees change."""
    with psycopg.connect(url) as conn:
        return set(conn.execute("SELECT kind, meter_id, started_at, status, severity FROM alert").fetchall())


def _of_kinds(alerts: set[tuple], kinds: tuple[str, ...]) -> set[tuple]:
    return {a for a in alerts if a[0] in kinds}


def _outbox_rows(url: str, kinds: tuple[str, ...] = SUB_HOURLY + DAILY) -> int:
    with psycopg.connect(url) as conn:
        return conn.execute("SELECT count(*) FROM alert_notification n JOIN alert a ON a.id = n.alert_id"
                            " WHERE a.kind = ANY(%s)", (list(kinds),)).fetchone()[0]


def _meters_to_judge(url: str, since: datetime) -> tuple[int, int]:
    """(meters with a reading after ``since`` or an open sub-hourly alert, all meters)."""
    with psycopg.connect(url) as conn:
        judged = conn.execute(
            "SELECT count(*) FROM meter m"
            " WHERE EXISTS (SELECT 1 FROM reading r WHERE r.meter_id = m.id AND r.time > %s)"
            " OR EXISTS (SELECT 1 FROM alert a WHERE a.meter_id = m.id AND a.status = 'open' AND a.kind = ANY(%s))",
            (since, list(SUB_HOURLY))).fetchone()[0]
        return judged, conn.execute("SELECT count(*) FROM meter").fetchone()[0]


def _run_detail(url: str, run_id: int) -> dict:
    with psycopg.connect(url) as conn:
        return conn.execute("SELECT detail FROM analytics_run WHERE id = %s", (run_id,)).fetchone()[0]


def test_an_incremental_run_without_new_data_reads_no_frames_and_changes_nothing(simulated):
    settings, _, _, _ = simulated
    url = settings.database_url
    anomalies_ok(url, settings, now=END)
    alerts, outbox = _alerts(url), _outbox_rows(url)
    summary = anomalies_ok(url, settings, now=END + timedelta(minutes=15))
    judged, meters = _meters_to_judge(url, END)
    assert summary.mode == "incremental" and summary.detector_groups == ("sub_hourly",)
    # Only meters carrying an open sub-hourly alert are read (to keep its start and evidence); the rest: silence.
    assert summary.meters_judged == judged < meters
    assert summary.meters_silence_only == meters - judged
    assert _alerts(url) == alerts and _outbox_rows(url) == outbox
    detail = _run_detail(url, summary.run_id)
    assert detail["mode"] == "incremental"
    assert detail["previous_data_until"] == _run_detail(url, summary.run_id - 1)["data_until"]
    assert detail["meters_silence_only"] == meters - judged


@pytest.fixture
def arriving(settings):
    """The simulated history up to END, with the readings of the next half hour held back until released."""
    tuned, _, _, _ = _simulate(settings, END + NEW_DATA)
    url = tuned.database_url
    with psycopg.connect(url) as conn:
        # The simulator starts its indexes afresh on each backfill: hold the tail back rather than simulate it later.
        conn.execute("CREATE TABLE held_back AS SELECT * FROM reading WHERE time > %s", (END,))
        conn.execute("DELETE FROM reading WHERE time > %s", (END,))
    derive_and_refresh(url, tuned)

    def release() -> None:
        """The held-back readings arrive, as the ingester stores them (consumption pending from their time)."""
        with psycopg.connect(url) as conn:
            conn.execute("INSERT INTO reading SELECT * FROM held_back")
            conn.execute("INSERT INTO consumption_pending (meter_id, from_time) SELECT meter_id, min(time)"
                         " FROM held_back GROUP BY meter_id ON CONFLICT (meter_id) DO UPDATE"
                         " SET from_time = least(consumption_pending.from_time, excluded.from_time)")
        derive_and_refresh(url, tuned)
    return tuned, release


NEW_DATA = timedelta(minutes=30)  # a reporting period: 15 minutes may hold no reading


def test_an_incremental_run_on_new_data_finds_what_a_full_run_finds(arriving):
    settings, release = arriving
    url = settings.database_url
    anomalies_ok(url, settings, now=END)
    later = END + NEW_DATA
    release()
    before = _alerts(url)
    incremental = anomalies_ok(url, settings, now=later)
    judged, meters = _meters_to_judge(url, END)
    assert incremental.mode == "incremental" and incremental.meters_judged == judged == meters
    detail = _run_detail(url, incremental.run_id)
    assert detail["kinds_left_unchecked"] == {}
    # Eight days of hourly rollups (a spike's weekly level around the last half week) and 26 hours of readings
    # (a frozen index or a leak first reported now), not the 105 days of a full run here.
    assert datetime.fromisoformat(detail["read_since"]["hourly"]) == END - timedelta(days=8)
    assert datetime.fromisoformat(detail["read_since"]["index"]) == END - timedelta(hours=26)
    after_incremental, outbox = _alerts(url), _outbox_rows(url, SUB_HOURLY)
    # The nights are judged once complete (05:00): their alerts are carried as they were.
    assert _of_kinds(after_incremental, DAILY) == _of_kinds(before, DAILY)
    assert ("base_load_rise", "open") in {(kind, status) for kind, _, _, status, _ in after_incremental}
    # A full run on the same data and the same `now` finds nothing the incremental run missed or closed.
    full = anomalies_ok(url, settings, now=later, full=True)
    assert full.mode == "full" and full.meters_judged == meters
    assert _of_kinds(_alerts(url), SUB_HOURLY) == _of_kinds(after_incremental, SUB_HOURLY)
    assert _outbox_rows(url, SUB_HOURLY) == outbox


def test_an_incremental_run_opens_silences_as_a_full_run_would(simulated):
    settings, _, _, _ = simulated
    url = settings.database_url
    anomalies_ok(url, settings, now=END)
    quiet = END + timedelta(hours=3, minutes=30)  # 04:30 in Paris: longer than every meter's silence limit
    summary = anomalies_ok(url, settings, now=quiet)
    assert summary.mode == "incremental"
    with psycopg.connect(url) as conn:
        silent = conn.execute("SELECT count(*) FROM alert WHERE kind = 'meter_silent' AND status = 'open'"
                              ).fetchone()[0]
        meters = conn.execute("SELECT count(*) FROM meter").fetchone()[0]
    assert silent == meters
    after, outbox = _alerts(url), _outbox_rows(url)
    full = anomalies_ok(url, settings, now=quiet, full=True)
    assert (full.alerts_opened, full.alerts_resolved) == (0, 0)
    assert _alerts(url) == after and _outbox_rows(url) == outbox


def test_daily_detectors_run_when_a_night_or_a_day_has_completed(simulated):
    settings, _, _, _ = simulated
    url = settings.database_url
    first = anomalies_ok(url, settings, now=END)
    assert first.mode == "full" and "daily" in first.detector_groups
    steps = [(timedelta(minutes=15), False), (timedelta(hours=3, minutes=45), False),
             (timedelta(hours=4, minutes=5), True),  # 05:05 in Paris: last night's base load is complete
             (timedelta(hours=12), False), (timedelta(hours=23, minutes=5), True)]  # 00:05: yesterday is complete
    for offset, daily in steps:
        summary = anomalies_ok(url, settings, now=END + offset)
        assert ("daily" in summary.detector_groups) is daily, offset
        assert summary.mode == ("full" if daily else "incremental")
    # `now` before the previous run's: judged in full, as tests and replays expect.
    assert anomalies_ok(url, settings, now=END).mode == "full"


def test_a_silent_meter_that_resumes_raises_no_base_load_rise_or_leak(settings):
    """A two-day silence is spread over its hours (estimated): those hours are not judged as nights or flow."""
    from coopwatt.simulator.faults import Fault

    url = settings.database_url
    residences = make_residences(6, 7, per_residence=6)
    dwelling = residences[0].dwellings[0]
    meters = {m.kind: m for m in residences[0].meters if m.dwelling_code == dwelling.code}
    start, end = datetime(2025, 10, 1, tzinfo=UTC), datetime(2025, 11, 1, tzinfo=UTC)
    silence = end - timedelta(days=4)
    faults = [Fault("meter_silent", meters[kind].source, dwelling.code, residences[0].code, silence,
                    silence + timedelta(hours=51), {"duration_h": 51.0}) for kind in ("electricity", "water")]
    with psycopg.connect(url) as conn:
        registered = register_residences(conn, residences, installed_at=start - timedelta(days=1))
        conn.commit()
        backfill_to_db(conn, residences, registered, start, end, seed=7, faults=faults, dwellings_per_chunk=6)
        conn.commit()
    derive_and_refresh(url, settings)
    with psycopg.connect(url) as conn:
        estimated = conn.execute("SELECT count(*) FROM consumption_hourly WHERE estimated AND meter_id = ANY(%s)",
                                 ([registered.meter_ids[m.source] for m in meters.values()],)).fetchone()[0]
    assert estimated >= 2 * 48  # the silence was spread over its hours, for both meters
    summary = anomalies_ok(url, settings, end, full=True)
    assert summary.failures == 0
    with psycopg.connect(url) as conn:
        alerts = conn.execute("SELECT m.source, a.kind FROM alert a JOIN meter m ON m.id = a.meter_id").fetchall()
    silent = {meters["electricity"].source, meters["water"].source}
    assert [(s, k) for s, k in alerts if s in silent and k in ("base_load_rise", "water_leak", "spike")] == []
