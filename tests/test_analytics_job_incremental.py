"""What a short window may judge in an incremental anomaly run: pure rules, no database."""

from __future__ import annotations

import pandas as pd

from analytics.anomalies import Anomaly, AnomalyKind, AnomalyThresholds, Severity
from analytics.job.incremental import daily_due, meter_window, plan_run, settle

TZ = "Europe/Paris"
NOW = pd.Timestamp("2025-12-10 14:00", tz=TZ)
WATERMARK = NOW - pd.Timedelta(minutes=15)
T = AnomalyThresholds()


def _anomaly(kind: AnomalyKind, start: pd.Timestamp, end: pd.Timestamp, ongoing: bool = True, **evidence: float):
    return Anomaly(kind, Severity.WARNING, 1, 1, start, end, ongoing, evidence)


def test_a_run_is_full_when_asked_first_after_a_night_or_a_day_or_earlier_than_the_last():
    assert plan_run(WATERMARK, NOW, T).full is False
    assert plan_run(WATERMARK, NOW, T, full=True).full
    assert plan_run(None, NOW, T).full
    assert plan_run(NOW, WATERMARK, T).full
    five = NOW.normalize() + pd.Timedelta(hours=5)
    assert daily_due(five - pd.Timedelta(minutes=10), five + pd.Timedelta(minutes=5), T)
    assert not daily_due(five, five + pd.Timedelta(minutes=15), T)
    assert daily_due(NOW.normalize() - pd.Timedelta(minutes=10), NOW.normalize() + pd.Timedelta(minutes=5), T)


def test_an_open_alert_stretches_its_meters_windows_back_to_its_start():
    usual = meter_window(WATERMARK, NOW, None, T, 42.0, 3.0)
    assert usual.hourly_since == WATERMARK - pd.Timedelta(days=8) and usual.hourly_cut
    assert usual.index_since == WATERMARK - pd.Timedelta(hours=26) and usual.index_cut
    opened = meter_window(WATERMARK, NOW, NOW - pd.Timedelta(days=2), T, 42.0, 3.0)
    assert opened.index_since == NOW - pd.Timedelta(days=3) and not opened.index_cut  # never beyond a full run's
    assert opened.hourly_since == usual.hourly_since


def test_an_episode_the_window_may_have_cut_leaves_its_kind_unchecked():
    window = meter_window(WATERMARK, NOW, None, T, 42.0, 3.0)
    first_hour = window.hourly_since.ceil("h")
    first_reading = window.index_since + pd.Timedelta(minutes=10)
    leak = _anomaly(AnomalyKind.WATER_LEAK, first_reading, NOW, hours=30.0)  # its onset readings are not all read
    frozen = _anomaly(AnomalyKind.FROZEN_INDEX, first_reading, NOW)  # may have begun before the first reading
    old_spike = _anomaly(AnomalyKind.SPIKE, WATERMARK - pd.Timedelta(days=6), WATERMARK - pd.Timedelta(days=6),
                         ongoing=False)  # judged by earlier runs on a week around it
    silent = _anomaly(AnomalyKind.METER_SILENT, NOW - pd.Timedelta(hours=4), NOW)
    checked = {"water_leak", "frozen_index", "spike", "meter_silent", "counter_reset"}
    found, still, unsure = settle([leak, frozen, old_spike, silent], checked, window, WATERMARK, T,
                                  first_hour, first_reading)
    assert found == [silent]
    assert still == {"spike", "meter_silent", "counter_reset"}
    assert unsure == {"water_leak", "frozen_index"}
    recent = _anomaly(AnomalyKind.WATER_LEAK, NOW - pd.Timedelta(hours=25), NOW, hours=25.0)
    assert settle([recent], {"water_leak"}, window, WATERMARK, T, first_hour, first_reading)[:2] == (
        [recent], {"water_leak"})
