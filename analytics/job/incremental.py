"""What a 15-minute anomaly run needs to read: the plan of an incremental run from the previous run's watermark.

A run records the ``now`` it judged as ``data_until`` in its ``analytics_run.detail``; the next run reads only
what lies around the data that came after it. Daily detectors (base_load_rise per night, above_baseline per
local day) change only when a night or a day completes, and then the run is a full one (it doubles as the
nightly pass after the rollups' refresh). In between, meters with readings after the watermark (or with an
open alert of a sub-hourly kind) are judged on short windows; the others only for silence.

Correctness rule: a kind is checked only where the short window judges it as a full run would; an anomaly
the window may have cut (its start at the window's edge) leaves its kind unchecked for that meter, so the
open alert is carried to the next full run instead of being resolved or duplicated.

Limits: "new" means a reading time after the watermark. Readings that arrive late with older times (the
scheduled job derives their hours just before each run) are judged by an incremental run only within its
windows (eight days of hours, a day of readings); beyond, they wait for the next full run.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime

import pandas as pd
import psycopg

from analytics.anomalies import Anomaly, AnomalyKind, AnomalyThresholds

DAILY_KINDS = frozenset({AnomalyKind.ABOVE_BASELINE.value, AnomalyKind.BASE_LOAD_RISE.value})
SUB_HOURLY_KINDS = frozenset(k.value for k in AnomalyKind) - DAILY_KINDS
# Margin before a window's edge: an hour of rollup plus a reporting period.
EDGE = pd.Timedelta(hours=2)
# How far before an open alert's start its meter's windows reach: a leak's onset is dated within its run's hours,
# which may begin a little before the start; a day keeps the dry hour and the readings before them.
OPEN_MARGIN = pd.Timedelta(days=1)


@dataclass(frozen=True)
class RunPlan:
    """How one anomaly run judges: full, or incremental from the previous run's ``data_until``."""

    full: bool
    reason: str
    watermark: pd.Timestamp | None = None
    groups: tuple[str, ...] = ("daily", "sub_hourly")


@dataclass(frozen=True)
class MeterWindow:
    """Where one meter's frames start in an incremental run."""

    hourly_since: pd.Timestamp
    index_since: pd.Timestamp
    hourly_cut: bool  # the hourly window starts after the full run's
    index_cut: bool


@dataclass
class PlanCounts:
    """How many meters an incremental run judged on frames, and how many only for silence."""

    judged: int = 0
    silence_only: int = 0
    kinds_left_unchecked: dict[str, int] = field(default_factory=dict)


def previous_watermark(conn: psycopg.Connection) -> pd.Timestamp | None:
    """``data_until`` of the latest anomaly run that finished ok or partial (None: no such run)."""
    row = conn.execute(
        """SELECT detail->>'data_until' FROM analytics_run
            WHERE job = 'anomalies' AND status IN ('ok', 'partial') AND detail ? 'data_until'
            ORDER BY id DESC LIMIT 1"""
    ).fetchone()
    return pd.Timestamp(row[0]) if row else None


def daily_due(watermark: pd.Timestamp, now: pd.Timestamp, thresholds: AnomalyThresholds) -> bool:
    """A night (ends at ``night_end_hour``) or a local day has completed since the watermark."""
    then = watermark.tz_convert(now.tz)
    if then.date() != now.date():
        return True
    night_end = now.normalize() + pd.Timedelta(hours=thresholds.night_end_hour)
    return then < night_end <= now


def plan_run(watermark: pd.Timestamp | None, now: pd.Timestamp, thresholds: AnomalyThresholds,
             full: bool = False) -> RunPlan:
    """Full when asked, on a first run, when ``now`` precedes the watermark, or when a day or night completed."""
    if full:
        return RunPlan(True, "asked")
    if watermark is None:
        return RunPlan(True, "no previous run")
    if now < watermark:
        return RunPlan(True, "now precedes the previous run's data_until")
    if daily_due(watermark, now, thresholds):
        return RunPlan(True, "a night or a day completed", watermark)
    return RunPlan(False, "incremental", watermark, ("sub_hourly",))


def latest_readings(conn: psycopg.Connection, meter_ids: list[int], since: datetime,
                    tz: str) -> dict[int, pd.Timestamp]:
    """Per meter: its latest reading time since ``since`` (any quantity), in local time."""
    rows = conn.execute(
        "SELECT meter_id, max(time) FROM reading WHERE meter_id = ANY(%s) AND time >= %s GROUP BY meter_id",
        (meter_ids, since),
    ).fetchall()
    return {m: pd.Timestamp(t).tz_convert(tz) for m, t in rows}


def open_sub_hourly_starts(conn: psycopg.Connection, meter_ids: list[int], tz: str) -> dict[int, pd.Timestamp]:
    """Per meter: the earliest start of its open alerts of sub-hourly kinds (their windows reach back to it)."""
    rows = conn.execute(
        """SELECT meter_id, min(started_at) FROM alert
            WHERE meter_id = ANY(%s) AND status = 'open' AND kind = ANY(%s) GROUP BY meter_id""",
        (meter_ids, sorted(SUB_HOURLY_KINDS)),
    ).fetchall()
    return {m: pd.Timestamp(t).tz_convert(tz) for m, t in rows}


def meter_window(watermark: pd.Timestamp, now: pd.Timestamp, open_start: pd.Timestamp | None,
                 thresholds: AnomalyThresholds, lookback_days: float, index_lookback_days: float) -> MeterWindow:
    """The smallest windows that judge, as a full run does, what may have changed since the watermark.

    Hourly: a spike's level is a centred median over ``spike_window_days``, so hours up to half a window before
    the watermark may change verdict; their level needs another half window before them. Index: a frozen index
    or a leak first reported now began at most ``frozen_min_hours`` / ``leak_min_hours`` before the watermark.
    Both reach back to the start of an open alert, so an ongoing episode keeps its start and evidence.
    """
    full_hourly = now - pd.Timedelta(days=lookback_days)
    full_index = now - pd.Timedelta(days=index_lookback_days)
    hourly = watermark - pd.Timedelta(days=thresholds.spike_window_days) - pd.Timedelta(days=1)
    index = watermark - pd.Timedelta(hours=max(thresholds.frozen_min_hours, thresholds.leak_min_hours)) - EDGE
    if open_start is not None:
        hourly, index = min(hourly, open_start - OPEN_MARGIN), min(index, open_start - OPEN_MARGIN)
    return MeterWindow(max(hourly, full_hourly), max(index, full_index), hourly > full_hourly, index > full_index)


def spike_judged_from(watermark: pd.Timestamp, thresholds: AnomalyThresholds) -> pd.Timestamp:
    """Spikes starting before this were judged by earlier runs on the same data (their level is settled)."""
    return watermark - pd.Timedelta(days=thresholds.spike_window_days / 2.0) - pd.Timedelta(days=1)


def _cut(anomaly: Anomaly, window: MeterWindow, first_hour: pd.Timestamp | None,
         first_reading: pd.Timestamp | None) -> bool:
    """The anomaly starts where its window starts: a full run might date it earlier, or see it differently."""
    if anomaly.kind == AnomalyKind.WATER_LEAK:
        # The run's first hour (its onset may be dated later within it) at the hourly window's edge, or the
        # readings that date its onset (from the hour before that one) starting after them.
        run_first_hour = anomaly.end - pd.Timedelta(hours=anomaly.evidence.get("hours", 0.0))
        at_hourly_edge = window.hourly_cut and first_hour is not None and run_first_hour <= first_hour
        return at_hourly_edge or (window.index_cut and run_first_hour - pd.Timedelta(hours=1) < window.index_since)
    if anomaly.kind == AnomalyKind.FROZEN_INDEX:
        # A stretch from the window's first reading may have begun before it.
        return window.index_cut and first_reading is not None and anomaly.start <= first_reading
    return False


def settle(found: list[Anomaly], checked: set[str], window: MeterWindow, watermark: pd.Timestamp,
           thresholds: AnomalyThresholds, first_hour: pd.Timestamp | None,
           first_reading: pd.Timestamp | None) -> tuple[list[Anomaly], set[str], set[str]]:
    """Drop what a short window cannot judge; returns anomalies, kinds checked and kinds left unchecked."""
    spikes_from = spike_judged_from(watermark, thresholds)
    unsure = {a.kind.value for a in found if _cut(a, window, first_hour, first_reading)}
    kept = [a for a in found if a.kind.value not in unsure
            and not (a.kind == AnomalyKind.SPIKE and window.hourly_cut and a.start < spikes_from)]
    return kept, checked - unsure, unsure


def detail(plan: RunPlan, now: pd.Timestamp, counts: PlanCounts, usual: MeterWindow | None) -> str:
    """The run's watermark and plan, as JSON for ``analytics_run.detail`` (``usual``: a judged meter's windows)."""
    read_since = None if usual is None else {"hourly": usual.hourly_since.isoformat(),
                                             "index": usual.index_since.isoformat()}
    return json.dumps({"read_since": read_since,
        "data_until": now.isoformat(), "mode": "full" if plan.full else "incremental", "mode_reason": plan.reason,
        "previous_data_until": plan.watermark.isoformat() if plan.watermark is not None else None,
        "detector_groups": list(plan.groups), "meters_judged": counts.judged,
        "meters_silence_only": counts.silence_only, "kinds_left_unchecked": counts.kinds_left_unchecked,
    })
