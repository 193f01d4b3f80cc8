"""Settings: read once, validated, errors name the variable."""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from analytics.anomalies import detect_frozen_index
from analytics.job.run import thresholds_from
from coopwatt.settings import SettingsError, load_settings


def test_defaults_need_no_environment() -> None:
    settings = load_settings({})
    assert settings.database_url is None
    assert settings.ingest_batch_size > 0
    assert settings.tz.key == "Europe/Paris"


def test_wrong_value_names_the_variable() -> None:
    with pytest.raises(SettingsError) as info:
        load_settings({"COOPWATT_INGEST_BATCH_SIZE": "lots"})
    assert "COOPWATT_INGEST_BATCH_SIZE" in str(info.value)
    assert "'lots'" in str(info.value)


def test_unknown_variable_is_refused() -> None:
    with pytest.raises(SettingsError, match="COOPWATT_BATCH_SIZ: unknown setting"):
        load_settings({"COOPWATT_BATCH_SIZ": "10"})


@pytest.mark.parametrize(
    ("name", "value", "expected"),
    [
        ("COOPWATT_DATABASE_URL", "mysql://x/y", "postgresql://"),
        ("COOPWATT_MQTT_URL", "http://broker", "mqtt://"),
        ("COOPWATT_TIMEZONE", "Mars/Olympus", "IANA"),
        ("COOPWATT_MQTT_PROTOCOL", "3", "MQTT 5"),
        ("COOPWATT_RETENTION_DAYS", "0", "greater than or equal to 1"),
    ],
)
def test_each_check_explains_what_is_expected(name: str, value: str, expected: str) -> None:
    with pytest.raises(SettingsError) as info:
        load_settings({name: value})
    assert name in str(info.value) and expected in str(info.value)


def test_toml_file_and_environment_precedence(tmp_path: Path) -> None:
    config = tmp_path / "coopwatt.toml"
    config.write_text('ingest_batch_size = 123\nmqtt_topics = ["a/#"]\ntimezone = "UTC"\n')
    settings = load_settings({"COOPWATT_CONFIG": str(config), "COOPWATT_TIMEZONE": "Europe/Brussels"})
    assert settings.ingest_batch_size == 123
    assert settings.mqtt_topics == ("a/#",)
    assert settings.timezone == "Europe/Brussels"


def test_unreadable_config_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match="COOPWATT_CONFIG"):
        load_settings({"COOPWATT_CONFIG": str(tmp_path / "missing.toml")})


def test_comma_separated_topics() -> None:
    assert load_settings({"COOPWATT_MQTT_TOPICS": "a/+, b/#"}).mqtt_topics == ("a/+", "b/#")


def test_detector_thresholds_set_in_the_environment_reach_the_detectors() -> None:
    settings = load_settings({"COOPWATT_ANALYTICS_FROZEN_MIN_HOURS": "10",
                              "COOPWATT_ANALYTICS_BASE_LOAD_MIN_RISE_W": "200",
                              "COOPWATT_ANALYTICS_ABOVE_BASELINE_MIN_RATIO": "2"})
    chosen = thresholds_from(settings)
    assert (chosen.frozen_min_hours, chosen.base_load_min_rise_w, chosen.above_baseline_min_ratio) == (10, 200, 2)
    # An index stuck for 12 hours: not frozen at the default 24 h, frozen at 10 h.
    times = pd.date_range("2026-01-05", periods=96, freq="30min", tz="Europe/Paris")
    steps = np.where((np.arange(96) >= 40) & (np.arange(96) < 64), 0.0, 0.2)
    readings = pd.DataFrame({"index_value": 1000.0 + np.cumsum(steps)}, index=times)
    assert detect_frozen_index(readings, 1, 1, thresholds_from(load_settings({}))) == []
    found = detect_frozen_index(readings, 1, 1, chosen)
    assert len(found) == 1 and found[0].evidence["hours"] == 12.0


def test_a_frozen_index_longer_than_the_readings_read_is_refused() -> None:
    with pytest.raises(SettingsError) as info:
        load_settings({"COOPWATT_ANALYTICS_FROZEN_MIN_HOURS": "80"})
    assert "COOPWATT_ANALYTICS_FROZEN_MIN_HOURS" in str(info.value)
    assert "COOPWATT_ANALYTICS_INDEX_LOOKBACK_DAYS" in str(info.value)
    assert load_settings({"COOPWATT_ANALYTICS_FROZEN_MIN_HOURS": "80",
                          "COOPWATT_ANALYTICS_INDEX_LOOKBACK_DAYS": "4"}).analytics_frozen_min_hours == 80


def test_failover_settings_are_checked_with_the_session_they_rely_on() -> None:
    """A failover delay the session would not outlive, or a client id that cannot be a topic level, stops start-up."""
    group = {"COOPWATT_MQTT_SHARED_GROUP": "coopwatt-ingest", "COOPWATT_MQTT_CLIENT_ID": "coopwatt-ingest-1"}
    assert load_settings({**group}).mqtt_failover_after_s == 30
    with pytest.raises(SettingsError, match="COOPWATT_MQTT_FAILOVER_AFTER_S.*COOPWATT_MQTT_SESSION_EXPIRY_S"):
        load_settings({**group, "COOPWATT_MQTT_FAILOVER_AFTER_S": "3600", "COOPWATT_MQTT_SESSION_EXPIRY_S": "600"})
    with pytest.raises(SettingsError, match="COOPWATT_MQTT_CLIENT_ID"):
        load_settings({**group, "COOPWATT_MQTT_CLIENT_ID": "ingest/1"})
    # Off, or without a group: nothing to check.
    load_settings({**group, "COOPWATT_MQTT_FAILOVER_AFTER_S": "0", "COOPWATT_MQTT_SESSION_EXPIRY_S": "0"})
    load_settings({"COOPWATT_MQTT_CLIENT_ID": "ingest/1"})
