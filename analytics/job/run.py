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
    Anomaly, AnomalyThresholds, detect_above_baseline, detect_base_load_rise, detect_counter_reset,
    detect_frozen_index, detect_meter_silent, detect_spikes, detect_water_leak, interval_energy, interval_volumes,
)
from analytics.job import load, nightly_load
from analytics.job.above_baseline import BaselineCheck, baseline_checks, primary_meters
from analytics.job.alerts import reconcile_meter
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
    outdoor_c: pd.Series | None = None,
) -> tuple[list[Anomaly], set[str]]:
    """Run every detector that fits the meter's kind and data; returns anomalies and the kinds checked.

    ``read_index(since, until)``: the meter's raw index over a window, asked only to date a base-load rise
    that began before ``index`` starts. ``outdoor_c``: the residence's outdoor °C over ``hourly``, needed to
    judge the base load of an electrically heated home (on its unheated hours).
    """
    found: list[Anomaly] = []
    checked: set[str] = set()
    m, d = meter.meter_id, meter.dwelling_id
    if baseline is not None and baseline.daily["energy_kwh"].notna().any():
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
                if meter.kind == "electricity" and (not electric_heating or outdoor_c is not None):
                    found += _base_load_rises(meter, energy, index, thresholds, read_index,
                                              outdoor_c if electric_heating else None)
                    checked.add("base_load_rise")
    return found, checked


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


def run_anomalies(url: str, settings: Settings, now: datetime | None = None) -> RunSummary:
    """Detect anomalies on every meter in chunks and reconcile alerts; recorded as an 'anomalies' run."""
    job = "anomalies"
    with connect(url, autocommit=True) as conn:
        mark_abandoned_runs(conn, job)
    run_id = start_run(url, job)
    now_ts = pd.Timestamp(now or datetime.now(timezone.utc)).tz_convert(settings.timezone)
    summary = RunSummary(run_id=run_id, status="running")
    thresholds = thresholds_from(settings)
    dwellings: set[int] = set()
    with connect(url) as conn:
        meters = load.list_meters(conn)
        # Above-baseline needs each dwelling's stored baseline (from the nightly run) and its residence's weather.
        registry = {d.dwelling_id: d for d in nightly_load.list_dwellings(conn)}
        primary = primary_meters(conn)
        conn.commit()
        size = settings.analytics_chunk_meters
        for offset in range(0, len(meters), size):
            chunk = meters[offset:offset + size]
            ids = [m.meter_id for m in chunk]
            since_hourly = load.lookback(now_ts.to_pydatetime(), settings.analytics_lookback_days)
            since_index = load.lookback(now_ts.to_pydatetime(), settings.analytics_index_lookback_days)
            hourly = load.hourly_frames(conn, ids, since_hourly, settings.timezone)
            index = load.index_frames(conn, ids, since_index, settings.timezone)
            times = load.reading_times(conn, ids, since_index, settings.timezone)
            checks = baseline_checks(conn, chunk, registry, primary, now_ts.date(), settings.timezone,
                                     settings.gas_kwh_per_m3)
            # Outdoor °C only where an electrically heated home's base load needs it.
            outdoor = load.outdoor_hourly(
                conn, sorted({m.residence_id for m in chunk if m.heating_type in ELECTRIC_HEATING
                              and m.kind == "electricity" and m.residence_id is not None}),
                since_hourly, settings.timezone)
            conn.commit()
            for meter in chunk:
                try:
                    with conn.transaction():
                        found, checked = detect_meter(
                            meter, hourly.get(meter.meter_id), index.get(meter.meter_id),
                            times.get(meter.meter_id), now_ts, thresholds, settings.analytics_spike_min_power_w,
                            checks.get(meter.meter_id), _index_reader(conn, meter.meter_id, settings.timezone),
                            outdoor.get(meter.residence_id) if meter.residence_id is not None else None,
                        )
                        changes = reconcile_meter(
                            conn, meter.meter_id, meter.building_id, found, settings, checked,
                        )
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
                    continue
                summary.meters_processed += 1
                if meter.dwelling_id is not None:
                    dwellings.add(meter.dwelling_id)
                summary.anomalies_by_kind.update(a.kind.value for a in found)
                summary.alerts_opened += changes.opened
                summary.alerts_resolved += changes.resolved
            del hourly, index, times, checks, outdoor  # keep memory bounded to one chunk
        summary.dwellings_processed = len(dwellings)
        summary.status = "partial" if summary.failures else "ok"
        conn.execute(
            """UPDATE analytics_run SET finished_at = now(), status = %s, dwellings_processed = %s, failures = %s,
                      detail = detail || %s WHERE id = %s""",
            (summary.status, summary.dwellings_processed, summary.failures,
             json.dumps({"meters_processed": summary.meters_processed,
                         "anomalies_by_kind": dict(summary.anomalies_by_kind),
                         "alerts_opened": summary.alerts_opened, "alerts_resolved": summary.alerts_resolved}),
             run_id),
        )
        conn.commit()
    return summary


def run_maintenance(url: str, settings: Settings, *, retention: bool = True) -> None:
    """Derive pending consumption and refresh rollups; with plain PostgreSQL, delete expired raw readings."""
    from coopwatt.db import StorageMode, storage_mode
    from coopwatt.policies import delete_expired_readings
    from ingest.derive import derive_and_refresh

    derive_and_refresh(url, settings)
    if not retention:
        return
    with connect(url) as conn:
        if storage_mode(conn) == StorageMode.POSTGRESQL:  # TimescaleDB drops old chunks by its own policy
            deleted = delete_expired_readings(conn, settings.retention_days)
            conn.commit()
            log.info("analytics: %d expired readings deleted", deleted)
