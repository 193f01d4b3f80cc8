"""Job runs: each recorded in analytics_run; one failing meter is logged in analytics_failure and skipped."""

from __future__ import annotations

import json
import logging
import os
import socket
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone

import pandas as pd
import psycopg

from analytics.anomalies import (
    Anomaly, AnomalyThresholds, detect_above_baseline, detect_counter_reset, detect_frozen_index,
    detect_meter_silent, detect_spikes, detect_water_leak, interval_energy, interval_volumes,
)
from analytics.base_load import OpenRise, detect_base_load_rise, hold_open_rise
from analytics.job import incremental, load, nightly_load
from analytics.job.above_baseline import BaselineCheck, baseline_checks, primary_meters
from analytics.job.alerts import AlertChanges, reconcile_meter
from analytics.job.suspect import mark_suspect_hours
from coopwatt.db import connect
from coopwatt.settings import Settings

log = logging.getLogger(__name__)

ELECTRIC_HEATING = frozenset({"electric", "heat_pump"})
STILL_WHEN_UNUSED = frozenset({"water", "gas"})


@dataclass
class RunSummary:
    """What a run did, for logs and the demo."""

    run_id: int
    status: str
    meters_processed: int = 0
    dwellings_processed: int = 0
    failures: int = 0
    anomalies_by_kind: Counter[str] = field(default_factory=Counter)
    alerts_opened: int = 0
    alerts_resolved: int = 0
    mode: str = "full"  # or "incremental": only what changed since the previous run's data_until
    detector_groups: tuple[str, ...] = ("daily", "sub_hourly")
    meters_judged: int = 0  # frames read and the run's detector groups judged
    meters_silence_only: int = 0  # no reading since the previous run: only its latest reading time judged


def start_run(url: str, job: str) -> int:
    """Insert the analytics_run row in its own committed transaction (a crash leaves it 'running')."""
    with connect(url, autocommit=True) as conn:
        return conn.execute(
            "INSERT INTO analytics_run (job, detail) VALUES (%s, %s) RETURNING id",
            (job, json.dumps({"pid": os.getpid(), "host": socket.gethostname()})),
        ).fetchone()[0]


def mark_abandoned_runs(conn: psycopg.Connection, job: str) -> int:
    """Runs still 'running' when a new one starts died mid-run (only the leader runs jobs): mark them failed."""
    cur = conn.execute(
        """UPDATE analytics_run SET status = 'failed', finished_at = now(),
                  detail = detail || '{"reason": "unfinished: the process stopped during the run"}'
            WHERE job = %s AND status = 'running'""",
        (job,),
    )
    return cur.rowcount


def thresholds_from(settings: Settings) -> AnomalyThresholds:
    """Detector thresholds from settings (defaults of the analytics core where no setting exists)."""
    return AnomalyThresholds(
        leak_min_hours=settings.analytics_leak_min_hours,
        silent_period_multiple=settings.analytics_silent_period_multiple,
        spike_robust_z=settings.analytics_spike_robust_z,
        unheated_outdoor_c=settings.analytics_unheated_outdoor_c,
        above_baseline_min_ratio=settings.analytics_above_baseline_min_ratio,
        base_load_min_rise_w=settings.analytics_base_load_min_rise_w,
        frozen_min_hours=settings.analytics_frozen_min_hours,
        unheated_excluded_hours=tuple(settings.tariff_offpeak_hours),
    )


IndexReader = Callable[[pd.Timestamp, pd.Timestamp], "pd.DataFrame | None"]


def rise_index_windows(rises: list[Anomaly], index: pd.DataFrame | None,
                       period: pd.Timedelta) -> list[tuple[pd.Timestamp, pd.Timestamp]]:
    """Raw-index windows (since, until) that would date these base-load rises to the period, where ``index`` does not.

    A rise dated on hourly energy began within the hour before its start or later, and before the first night
    after it: that day of readings (and the one before, to difference) is all the periods need.
    """
    covered_from = index.index[0] if index is not None and len(index) else None
    windows = []
    for rise in rises:
        since = rise.start - pd.Timedelta(hours=1) - period
        if covered_from is not None and covered_from <= since + period:
            continue
        until = rise.start + pd.Timedelta(days=1)
        windows.append((since, until if covered_from is None else min(until, covered_from)))
    return windows


def detect_meter(
    meter: load.MeterInfo, hourly: pd.DataFrame | None, index: pd.DataFrame | None,
    times: pd.DatetimeIndex | None, now: pd.Timestamp, thresholds: AnomalyThresholds,
    spike_min_power_w: float = 0.0, baseline: BaselineCheck | None = None, read_index: IndexReader | None = None,
    outdoor_c: pd.Series | None = None, daily: bool = True, open_rise: OpenRise | None = None,
) -> tuple[list[Anomaly], set[str]]:
    """Run every detector that fits the meter's kind and data; returns anomalies and the kinds checked.

    ``hourly`` may carry ``estimated`` (1.0 for hours spread over a gap): the shape detectors (leak, spike,
    base load) leave those hours out. ``read_index(since, until)``: the meter's raw index over a window,
    asked only to date a base-load rise that began before ``index`` starts. ``outdoor_c``: the residence's
    outdoor °C over ``hourly``, needed to judge the base load of an electrically heated home (on its
    unheated hours). ``daily`` False: the per-night
    and per-day detectors are not run (nor checked), for an incremental run between two completed nights.
    ``open_rise``: the meter's open base-load-rise alert, judged against the level it rose from when the
    detector no longer sees it (:func:`~analytics.base_load.hold_open_rise`).
    """
    found: list[Anomaly] = []
    checked: set[str] = set()
    m, d = meter.meter_id, meter.dwelling_id
    if daily and baseline is not None and baseline.daily["energy_kwh"].notna().any():
        found += detect_above_baseline(baseline.daily, baseline.rmse_kwh, m, d, thresholds)
        checked.add("above_baseline")
    if times is not None and len(times):
        usual = pd.Timedelta(seconds=meter.reporting_period_s) if meter.reporting_period_s else None
        found += detect_meter_silent(times, now, m, d, thresholds, usual_period=usual)
        checked.add("meter_silent")
    if index is not None and len(index) >= 2:
        found += detect_counter_reset(index, m, d, thresholds)
        checked.add("counter_reset")
        # A still water or gas index is a day without use (a weekend away, a vacant flat), not a stuck meter:
        # only counters that always move (base load, a heating loop) can be told frozen from the index alone.
        if meter.kind not in STILL_WHEN_UNUSED:
            found += detect_frozen_index(index, m, d, thresholds)
        # Checked either way: a frozen_index alert opened on a water or gas meter before this rule (or by hand)
        # then resolves instead of staying open for ever.
        checked.add("frozen_index")
    latest = _latest_reading(times, index)
    if hourly is not None and latest is not None:
        # The hour holding the latest reading is still filling: a minute into it, a leak reads as an hour
        # without flow and a night as a low one, and the alert would resolve and reopen every hour.
        hourly = hourly[hourly.index + pd.Timedelta(hours=1) <= latest]
    if hourly is not None and "estimated" in hourly.columns:
        # Hours a gap's use was spread over say nothing of when it flowed: a silent meter's nights would
        # read as a base-load rise and its spread volume as water running all night.
        hourly = hourly[hourly["estimated"] != 1.0]
    if hourly is not None and len(hourly) >= 3:
        if meter.kind == "water":
            volume = hourly[["volume_m3"]].dropna()
            if len(volume):
                periods = interval_volumes(index) if index is not None and len(index) >= 2 else None
                found += detect_water_leak(volume, m, d, thresholds, periods=periods)
                checked.add("water_leak")
        else:
            energy = hourly[["energy_kwh"]].dropna()
            energy = energy.asfreq("h") if len(energy) else energy
            energy = energy.dropna()
            if len(energy) >= 3:
                # Hourly sums blur a half-hour glitch into ordinary cooking peaks by ratio alone; a glitch
                # is also beyond what a home can draw, so keep only spikes above that power (per home served:
                # a building's heat meter draws for all of its dwellings).
                min_kwh = spike_min_power_w * max(meter.dwellings_served, 1) / 1000.0
                found += [a for a in detect_spikes(energy, m, d, thresholds)
                          if a.evidence.get("peak_kwh", 0.0) >= min_kwh]
                checked.add("spike")
                # An electrically heated home's nights are heated half the year (its night load rises every
                # autumn), so its base load is judged on the hours warm enough that no home heats, if known.
                electric_heating = meter.heating_type in ELECTRIC_HEATING
                if daily and meter.kind == "electricity" and (not electric_heating or outdoor_c is not None):
                    rises = _base_load_rises(meter, energy, index, thresholds, read_index,
                                             outdoor_c if electric_heating else None)
                    if open_rise is not None and not any(r.ongoing for r in rises):
                        # A load that stays on becomes the usual level within the look-back: it has not gone.
                        held = hold_open_rise(energy, m, d, open_rise, thresholds,
                                              outdoor_c if electric_heating else None)
                        rises += [held] if held is not None else []
                    found += rises
                    checked.add("base_load_rise")
    return found, checked


def _latest_reading(times: pd.DatetimeIndex | None, index: pd.DataFrame | None) -> pd.Timestamp | None:
    """The meter's latest reading among those given (None: none given, so every hour is taken as complete)."""
    candidates = [frame.max() for frame in (times, index.index if index is not None else None)
                  if frame is not None and len(frame)]
    return max(candidates) if candidates else None


def _base_load_rises(meter: load.MeterInfo, energy: pd.DataFrame, index: pd.DataFrame | None,
                     thresholds: AnomalyThresholds, read_index: IndexReader | None,
                     outdoor_c: pd.Series | None) -> list[Anomaly]:
    """Base-load rises dated to the reporting period where raw readings reach back to their start."""
    m, d = meter.meter_id, meter.dwelling_id
    has_index = index is not None and len(index) >= 2
    rises = detect_base_load_rise(energy, m, d, thresholds, periods=interval_energy(index) if has_index else None,
                                  outdoor_c=outdoor_c)
    if read_index is None or not rises:
        return rises
    period = pd.Timedelta(seconds=meter.reporting_period_s or 1800)
    extra = [read_index(since, until) for since, until in rise_index_windows(rises, index, period)]
    extra = [frame for frame in extra if frame is not None and len(frame)]
    if not extra:
        return rises
    readings = pd.concat([*extra, *([index] if index is not None else [])]).sort_index()
    readings = readings[~readings.index.duplicated()]
    if len(readings) < 2:
        return rises
    return detect_base_load_rise(energy, m, d, thresholds, periods=interval_energy(readings), outdoor_c=outdoor_c)


def _index_reader(conn: psycopg.Connection, meter_id: int, tz: str) -> IndexReader:
    """Reads one meter's raw index over a window (for dating a base-load rise older than the index look-back)."""
    def read(since: pd.Timestamp, until: pd.Timestamp) -> pd.DataFrame | None:
        frames = load.index_frames(conn, [meter_id], since.to_pydatetime(), tz, until=until.to_pydatetime())
        return frames.get(meter_id)
    return read


Judgement = Callable[[], tuple[list[Anomaly], set[str]]]


def _record_meter(conn: psycopg.Connection, run_id: int, meter: load.MeterInfo, judge: Judgement,
                  settings: Settings, summary: RunSummary, dwellings: set[int]) -> None:
    """Judge one meter and reconcile its alerts in one transaction; a failure is recorded and skipped."""
    try:
        with conn.transaction():
            found, checked = judge()
            # Nothing found or checked changes no alert: spare the round trip (most meters of an incremental run).
            changes = (reconcile_meter(conn, meter.meter_id, meter.building_id, found, settings, checked)
                       if found or checked else AlertChanges())
            if found or checked:
                # After the alerts: their episodes are what marks hours suspect (frozen index, reset, spike).
                mark_suspect_hours(conn, meter.meter_id)
        conn.commit()
    except Exception as exc:  # one meter never stops the run; the reason is kept
        conn.rollback()
        log.warning("analytics: meter %s failed: %s", meter.meter_id, exc)
        conn.execute(
            "INSERT INTO analytics_failure (run_id, dwelling_id, meter_id, reason) VALUES (%s, %s, %s, %s)",
            (run_id, meter.dwelling_id, meter.meter_id, f"{type(exc).__name__}: {exc}"),
        )
        conn.commit()
        summary.failures += 1
        return
    summary.meters_processed += 1
    if meter.dwelling_id is not None:
        dwellings.add(meter.dwelling_id)
    summary.anomalies_by_kind.update(a.kind.value for a in found)
    summary.alerts_opened += changes.opened
    summary.alerts_resolved += changes.resolved


def _full_chunk(conn: psycopg.Connection, chunk: list[load.MeterInfo], now_ts: pd.Timestamp, settings: Settings,
                thresholds: AnomalyThresholds, registry: dict[int, nightly_load.DwellingInfo],
                primary: dict[tuple[int, str], int]) -> dict[int, Judgement]:
    """Per meter of the chunk: every detector over the full look-back windows."""
    ids = [m.meter_id for m in chunk]
    since_hourly = load.lookback(now_ts.to_pydatetime(), settings.analytics_lookback_days)
    since_index = load.lookback(now_ts.to_pydatetime(), settings.analytics_index_lookback_days)
    hourly = load.hourly_frames(conn, ids, since_hourly, settings.timezone)
    index = load.index_frames(conn, ids, since_index, settings.timezone)
    times = load.reading_times(conn, ids, since_index, settings.timezone)
    checks = baseline_checks(conn, chunk, registry, primary, now_ts.date(), settings.timezone, settings.gas_kwh_per_m3)
    open_rises = load.open_base_load_rises(conn, ids, settings.timezone)
    # Outdoor °C only where an electrically heated home's base load needs it.
    outdoor = load.outdoor_hourly(
        conn, sorted({m.residence_id for m in chunk if m.heating_type in ELECTRIC_HEATING
                      and m.kind == "electricity" and m.residence_id is not None}),
        since_hourly, settings.timezone)
    conn.commit()

    def judge(meter: load.MeterInfo) -> Judgement:
        m, r = meter.meter_id, meter.residence_id
        return lambda: detect_meter(meter, hourly.get(m), index.get(m), times.get(m), now_ts, thresholds,
                                    settings.analytics_spike_min_power_w, checks.get(m),
                                    _index_reader(conn, m, settings.timezone),
                                    outdoor.get(r) if r is not None else None, open_rise=open_rises.get(m))
    return {meter.meter_id: judge(meter) for meter in chunk}


def _silence_only(meter: load.MeterInfo, latest: pd.Timestamp | None, now_ts: pd.Timestamp,
                  thresholds: AnomalyThresholds) -> tuple[list[Anomaly], set[str]]:
    """A meter with nothing new: only the silence since its latest reading can have changed."""
    if latest is None:  # nothing within the index look-back: a full run does not judge it either
        return [], set()
    found = detect_meter_silent(pd.DatetimeIndex([latest]), now_ts, meter.meter_id, meter.dwelling_id, thresholds,
                                usual_period=pd.Timedelta(seconds=meter.reporting_period_s))
    # Nothing found, nothing to reconcile: a meter with an open meter_silent alert is judged on frames instead.
    return found, {"meter_silent"} if found else set()


def _incremental_chunk(conn: psycopg.Connection, chunk: list[load.MeterInfo], now_ts: pd.Timestamp,
                       watermark: pd.Timestamp, settings: Settings, thresholds: AnomalyThresholds,
                       counts: incremental.PlanCounts) -> dict[int, Judgement]:
    """Per meter of the chunk: sub-hourly detectors on short windows, or the silence check alone."""
    tz = settings.timezone
    ids = [m.meter_id for m in chunk]
    since_index = load.lookback(now_ts.to_pydatetime(), settings.analytics_index_lookback_days)
    latest = incremental.latest_readings(conn, ids, since_index, tz)
    open_starts = incremental.open_sub_hourly_starts(conn, ids, tz)
    # A meter without a known period tells its usual spacing only from several readings: judged on frames.
    judged = [m for m in chunk if m.meter_id in open_starts or not m.reporting_period_s
              or (m.meter_id in latest and latest[m.meter_id] > watermark)]
    windows = {m.meter_id: incremental.meter_window(
        watermark, now_ts, open_starts.get(m.meter_id), thresholds,
        settings.analytics_lookback_days, settings.analytics_index_lookback_days) for m in judged}
    hourly, index, times = _frames_by_window(conn, windows, tz)
    conn.commit()
    counts.judged += len(judged)
    counts.silence_only += len(chunk) - len(judged)

    def judge(meter: load.MeterInfo) -> Judgement:
        m = meter.meter_id
        if m not in windows:
            return lambda: _silence_only(meter, latest.get(m), now_ts, thresholds)

        def run() -> tuple[list[Anomaly], set[str]]:
            found, checked = detect_meter(meter, hourly.get(m), index.get(m), times.get(m), now_ts, thresholds,
                                          settings.analytics_spike_min_power_w, daily=False)
            first_hour = hourly[m].index[0] if m in hourly and len(hourly[m]) else None
            first_reading = index[m].index[0] if m in index and len(index[m]) else None
            found, checked, unsure = incremental.settle(found, checked, windows[m], watermark, thresholds,
                                                        first_hour, first_reading)
            for kind in unsure:
                counts.kinds_left_unchecked[kind] = counts.kinds_left_unchecked.get(kind, 0) + 1
            return found, checked
        return run
    return {meter.meter_id: judge(meter) for meter in chunk}


def _frames_by_window(conn: psycopg.Connection, windows: dict[int, incremental.MeterWindow], tz: str,
                      ) -> tuple[dict[int, pd.DataFrame], dict[int, pd.DataFrame], dict[int, pd.DatetimeIndex]]:
    """Hourly, index and reading-time frames, one query each per distinct window (most meters share one)."""
    groups: dict[tuple[pd.Timestamp, pd.Timestamp], list[int]] = {}
    for meter_id, window in windows.items():
        groups.setdefault((window.hourly_since, window.index_since), []).append(meter_id)
    hourly: dict[int, pd.DataFrame] = {}
    index: dict[int, pd.DataFrame] = {}
    times: dict[int, pd.DatetimeIndex] = {}
    for (since_hourly, since_index), ids in groups.items():
        hourly.update(load.hourly_frames(conn, ids, since_hourly.to_pydatetime(), tz))
        index.update(load.index_frames(conn, ids, since_index.to_pydatetime(), tz))
        times.update(load.reading_times(conn, ids, since_index.to_pydatetime(), tz))
    return hourly, index, times


def run_anomalies(url: str, settings: Settings, now: datetime | None = None, *, full: bool = False) -> RunSummary:
    """Detect anomalies on every meter in chunks and reconcile alerts; recorded as an 'anomalies' run.

    Incremental from the previous run's ``data_until`` unless ``full`` (see :mod:`analytics.job.incremental`).
    """
    job = "anomalies"
    with connect(url, autocommit=True) as conn:
        mark_abandoned_runs(conn, job)
    run_id = start_run(url, job)
    now_ts = pd.Timestamp(now or datetime.now(timezone.utc)).tz_convert(settings.timezone)
    summary = RunSummary(run_id=run_id, status="running")
    thresholds = thresholds_from(settings)
    dwellings: set[int] = set()
    counts = incremental.PlanCounts()
    with connect(url) as conn:
        plan = incremental.plan_run(incremental.previous_watermark(conn), now_ts, thresholds, full)
        meters = load.list_meters(conn)
        if plan.full:
            # Above-baseline needs each dwelling's stored baseline (from the nightly run) and its residence's weather.
            registry = {d.dwelling_id: d for d in nightly_load.list_dwellings(conn)}
            primary = primary_meters(conn)
        conn.commit()
        size = settings.analytics_chunk_meters
        for offset in range(0, len(meters), size):
            chunk = meters[offset:offset + size]
            if plan.full:
                judges = _full_chunk(conn, chunk, now_ts, settings, thresholds, registry, primary)
                counts.judged += len(chunk)
            else:
                judges = _incremental_chunk(conn, chunk, now_ts, plan.watermark, settings, thresholds, counts)
            for meter in chunk:
                _record_meter(conn, run_id, meter, judges[meter.meter_id], settings, summary, dwellings)
            del judges  # the frames go with them: memory stays bounded to one chunk
        summary.dwellings_processed = len(dwellings)
        summary.status = "partial" if summary.failures else "ok"
        summary.mode = "full" if plan.full else "incremental"
        summary.detector_groups = plan.groups
        summary.meters_judged, summary.meters_silence_only = counts.judged, counts.silence_only
        conn.execute(
            """UPDATE analytics_run SET finished_at = now(), status = %s, dwellings_processed = %s, failures = %s,
                      detail = detail || %s || %s WHERE id = %s""",
            (summary.status, summary.dwellings_processed, summary.failures,
             json.dumps({"meters_processed": summary.meters_processed,
                         "anomalies_by_kind": dict(summary.anomalies_by_kind),
                         "alerts_opened": summary.alerts_opened, "alerts_resolved": summary.alerts_resolved}),
             incremental.detail(plan, now_ts, counts, None if plan.full else incremental.meter_window(
                 plan.watermark, now_ts, None, thresholds, settings.analytics_lookback_days,
                 settings.analytics_index_lookback_days)),
             run_id),
        )
        conn.commit()
    return summary


def derive_new_consumption(url: str, settings: Settings) -> int:
    """Hourly consumption of the readings stored since the last derivation; returns the meters derived.

    Leaks and spikes are judged on hourly consumption: without this, a 15-minute run would see only what the
    nightly maintenance derived (about 2.5 ms per meter with new readings, in one timing on the 500-dwelling seed).
    """
    from ingest.derive import derive_pending

    with psycopg.connect(url, application_name="coopwatt-analytics-derive") as conn:
        return derive_pending(conn, settings).meters


def run_maintenance(url: str, settings: Settings, *, retention: bool = True) -> None:
    """Derive pending consumption and refresh rollups; delete what outlived its retention, access log included."""
    from coopwatt.access_log import delete_expired_accesses
    from coopwatt.db import StorageMode, storage_mode
    from coopwatt.policies import delete_expired_readings
    from coopwatt.retention import delete_expired
    from ingest.derive import derive_and_refresh

    derive_and_refresh(url, settings)
    if not retention:
        return
    with connect(url) as conn:
        if storage_mode(conn) == StorageMode.POSTGRESQL:  # TimescaleDB drops old chunks by its own policy
            deleted = delete_expired_readings(conn, settings.retention_days)
            conn.commit()
            log.info("analytics: %d expired readings deleted", deleted)
        # Hourly and daily values and resolved alerts: the same deletes in both storage modes.
        delete_expired(conn, settings)
    with connect(url) as conn:  # both storage modes: the access log is a plain table
        expired = delete_expired_accesses(conn, settings.retention_access_log_days)
        conn.commit()
        log.info("analytics: %d access-log entries older than %d days deleted", expired,
                 settings.retention_access_log_days)
