"""All of coopwatt's settings, read once at start-up and validated.

Settings come from environment variables named ``COOPWATT_<FIELD>`` (upper
case) and, when ``COOPWATT_CONFIG`` names a TOML file, from that file's keys
(lower case, same names). The environment wins over the file. A missing or
wrong value stops start-up with a :class:`SettingsError` that names the
variable and says what was expected.
"""

from __future__ import annotations

import os
import tomllib
from datetime import date
from collections.abc import Mapping
from email.utils import parseaddr
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from coopwatt.tariffs import TariffGrid, load_tariff_grids

ENV_PREFIX = "COOPWATT_"


class SettingsError(ValueError):
    """A setting is missing or wrong; the message names it."""


class Settings(BaseModel):
    """Validated configuration for every coopwatt process."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    # Services. None means "start the embedded one" (demo and fresh machines).
    database_url: str | None = Field(None, description="PostgreSQL URL, e.g. postgresql://user@host:5432/coopwatt")
    mqtt_url: str | None = Field(None, description="MQTT URL, e.g. mqtt://user:password@host:1883")
    data_dir: Path = Field(default_factory=lambda: _default_data_dir(), description="where embedded services keep data")

    # Ingest.
    mqtt_topics: tuple[str, ...] = Field(
        (
            "coopwatt/+/reading",
            "tele/+/SENSOR",
            "teleinfo/+",
            "shellies/+/emeter/+/+",
            "shellies/+/relay/+/+",
            "+/status/em:0",
            "+/status/em1:0",
            "+/status/emdata:0",
            "zigbee2mqtt/+",
            "esphome/+/sensor/+/state",
            "+/sensor/+/state",  # ESPHome's default topic prefix: the node name
            "coopwatt/+/temperature",
        ),
        description="topic filters the ingester subscribes to",
    )
    mqtt_topic_prefix: str = Field("", description="prepended to every topic (a broker shared by several cooperatives)")
    mqtt_client_id: str = Field("coopwatt-ingest", min_length=1, max_length=64)
    mqtt_shared_group: str | None = Field(None, description="MQTT 5 shared-subscription group name")
    mqtt_protocol: int = Field(5, description="MQTT protocol version: 5 or 4 (3.1.1)")
    mqtt_session_expiry_s: int = Field(3600, ge=0, description="how long the broker keeps our session")
    # Shared-group failover (ingest/failover.py): a group member gone this long has its session
    # taken over by a surviving member, which stores the readings the broker kept queuing for it.
    mqtt_failover_after_s: int = Field(30, ge=0, le=86_400,
                                       description="seconds before a dead group member's session is taken over; 0: never")
    # Mosquitto 2.0 forgets shared subscriptions over a restart (ingest/restart_guard.py): one member
    # also holds a plain subscription so that what the broker routed to no one meanwhile is stored.
    mqtt_restart_guard: bool = Field(True, description="keep readings published before a restarted broker's "
                                                       "group subscribes again (needs the failover)")
    ingest_batch_size: int = Field(5000, ge=1, le=100_000)
    ingest_flush_interval_s: float = Field(0.5, gt=0, le=60)
    ingest_max_inflight: int = Field(20_000, ge=1, le=65_535, description="MQTT 5 Receive Maximum")
    ingest_queue_size: int = Field(50_000, ge=1)
    ingest_auto_register: bool = Field(False, description="register unknown devices instead of dead-lettering them")
    ingest_max_future_s: float = Field(300.0, ge=0, description="readings further in the future are rejected")
    ingest_max_power_w: float = Field(100_000.0, gt=0, description="a dwelling drawing more is implausible")
    # Ingest validation (payload adapters): a water/gas/heat index rising faster than this is a glitch.
    ingest_max_flow_m3_per_h: float = Field(10.0, gt=0, description="a meter passing more m³/h is implausible")
    # Ingest robustness (ingest/adapters/bounds.py, ingest/validate.py): what one message may be, and the
    # physical limits beyond which a reading is a glitch. Past a limit a message becomes a dead letter.
    ingest_max_payload_bytes: int = Field(65_536, ge=1024, le=16 * 1024 * 1024, description="largest MQTT payload read")
    ingest_max_json_depth: int = Field(16, ge=4, le=256, description="deepest JSON nesting read")
    ingest_max_number_digits: int = Field(40, ge=20, le=4000, description="longest run of digits in a payload")
    ingest_max_text_chars: int = Field(256, ge=64, le=65_536, description="longest topic read")
    ingest_max_readings_per_message: int = Field(1000, ge=1, le=100_000, description="most readings one message may carry")
    ingest_max_device_states: int = Field(10_000, ge=10, description="devices whose partial TIC frames are remembered")
    ingest_max_energy_kwh_per_year: float = Field(
        500_000.0, gt=0, description="most an energy index may rise in a year (any gap up to a year gets this much)")
    ingest_max_volume_m3_per_year: float = Field(
        100_000.0, gt=0, description="most a volume index may rise in a year")
    ingest_max_index_kwh: float = Field(1e9, gt=0, description="largest energy index any meter can show")
    ingest_max_index_m3: float = Field(1e9, gt=0, description="largest volume index any meter can show")
    ingest_min_temperature_c: float = Field(-60.0, ge=-273.15, description="colder outdoor readings are sensor faults")
    ingest_max_temperature_c: float = Field(60.0, le=100.0, description="warmer outdoor readings are sensor faults")
    metrics_host: str = "127.0.0.1"
    metrics_port: int = Field(9108, ge=0, le=65_535, description="0 disables the health/metrics endpoint")

    # Units and storage.
    gas_kwh_per_m3: float = Field(11.2, gt=0, description="gas calorific coefficient (kWh per m³)")
    timezone: str = "Europe/Paris"
    retention_days: int = Field(1095, ge=1, description="how long raw readings are kept (CNIL: personal data)")
    # Retention per data kind (issue 19; coopwatt.retention, run by the analytics job's maintenance step in both
    # storage modes). Raw readings are the load curve at its finest: retention_days above. The others:
    retention_hourly_days: int = Field(
        1095, ge=1, description="how long hourly values (consumption_hourly, reading_hourly: the load curve by hour) are kept")
    retention_daily_days: int = Field(
        1826, ge=1, description="how long daily values (consumption_day, consumption_daily, reading_daily) are kept")
    retention_alerts_days: int = Field(
        1095, ge=1, description="how long a resolved alert (with its actions and notifications) is kept after it ended")
    retention_access_log_days: int = Field(
        365, ge=1, description="how long a record of a staff member's access to a household's data is kept")
    # Consent (coopwatt.consent): the ingester re-reads the consents in force this often, not per message,
    # so a withdrawal stops collection at most this many seconds later.
    ingest_consent_refresh_s: float = Field(5.0, gt=0, le=3600, description="how often the ingester re-reads consents")
    compress_after_days: int = Field(7, ge=1, description="TimescaleDB compresses raw chunks older than this")
    # Staff access log (coopwatt/access_log.py; its retention is retention_access_log_days above).
    access_log_repeat_window_s: float = Field(
        300.0, ge=0, description="a staff member's repeat of the same access to a home within this is not logged again")
    # Storage mode of a new database (an existing one keeps the mode it was migrated in; see coopwatt.storage).
    storage: Literal["auto", "timescaledb", "postgresql"] = Field(
        "auto", description="auto (TimescaleDB when it can be created, else plain PostgreSQL), timescaledb or postgresql")

    # Derived consumption (ingest/derive.py): hours sharing an index step longer than this are "estimated".
    consumption_max_gap_s: float = Field(7200.0, gt=0, description="longest index step still counted as measured")

    # Dashboard (dashboard/, coopwatt users). The secret signs session cookies; only the demo may generate one.
    dashboard_secret_key: str | None = Field(None, min_length=32, description="session-signing secret (32+ characters)")
    dashboard_host: str = "127.0.0.1"
    dashboard_port: int = Field(8050, ge=1, le=65_535)
    dashboard_workers: int = Field(2, ge=1, le=64, description="gunicorn worker processes")
    dashboard_session_hours: float = Field(12.0, gt=0, le=24 * 90, description="how long a login lasts")
    # On by default: production is served over HTTPS by a reverse proxy; the demo (plain HTTP on localhost) turns it off.
    dashboard_cookie_secure: bool = Field(True, description="send the session cookie over HTTPS only (false: plain HTTP)")
    dashboard_login_max_failures: int = Field(5, ge=1, description="failed logins per user or address before a pause")
    dashboard_login_window_s: int = Field(900, ge=1, description="window failures are counted over, and the longest login pause")
    # Login throttle and reverse proxy (dashboard/throttle.py, dashboard/client_address.py).
    dashboard_login_first_pause_s: float = Field(
        30.0, gt=0, description="first pause after too many failed logins; it doubles with each further failure")
    dashboard_trusted_proxies: tuple[str, ...] = Field(
        (), description="reverse proxies (addresses or networks, comma-separated) whose X-Forwarded-For is read")
    tariff_electricity_eur_per_kwh: float = Field(0.2016, ge=0, description="electricity price shown to households")
    tariff_gas_eur_per_kwh: float = Field(0.1050, ge=0, description="gas price per kWh")
    tariff_water_eur_per_m3: float = Field(4.30, ge=0, description="water price per m³ (supply and sanitation)")
    tariff_heat_eur_per_kwh: float = Field(0.1100, ge=0, description="collective heat price per kWh")
    # Electricity contracts' prices (Base, HP/HC, Tempo kWh prices and subscriptions per kVA, dated), used to
    # tell a household whether heures creuses would pay: the bundled regulated tariffs (coopwatt/tariffs_trv.toml)
    # unless this names a file in the same format.
    tariff_file: Path | None = Field(None, description="TOML grid of dated electricity tariffs (default: the bundled TRV)")
    tariff_offpeak_hours: tuple[int, ...] = Field((22, 23, 0, 1, 2, 3, 4, 5), description="local hours billed off-peak when a contract does not say, e.g. 22,23,0,1,2,3,4,5")
    # Neighbourhood comparisons: a group of fewer homes is never published (k-anonymity).
    comparison_min_group_size: int = Field(5, ge=3, le=1000, description="smallest group of similar homes ever published (k)")
    # Energy hardship signal (analytics/hardship.py), shown to advisers only: thresholds stated here and on the page.
    hardship_window_days: int = Field(90, ge=28, le=180, description="recent days whose cold days are compared with the same days a year before")
    hardship_cold_min_degree_days: float = Field(4.0, gt=0, description="a cold day: at least this many K·day below 16 °C")
    hardship_min_cold_days: int = Field(20, ge=5, description="measured cold days needed in each compared window")
    hardship_min_coverage: float = Field(0.8, gt=0, le=1, description="share of a window's cold days that must be measured (not missing, estimated or suspect)")
    hardship_peer_ratio_max: float = Field(0.5, gt=0, lt=1, description="under-heating: heating kWh per degree-day per m² at most this share of similar homes' median")
    hardship_own_ratio_max: float = Field(0.6, gt=0, lt=1, description="under-heating: and at most this share of the home's own previous winter")
    hardship_tariff_rise_dates: tuple[str, ...] = Field((), description="days prices rose (YYYY-MM-DD, comma-separated): a sharp fall in heating after one is flagged")
    hardship_tariff_window_days: int = Field(45, ge=14, le=120, description="days compared before and after a price rise")
    hardship_tariff_drop_ratio_max: float = Field(0.6, gt=0, lt=1, description="after a price rise: heating per degree-day at most this share of before")
    hardship_cost_ratio_min: float = Field(1.8, gt=1, description="costs: yearly € per m² at least this many times similar homes' median")

    # Analytics job (analytics/job/): schedule, look-back windows, chunking and detector thresholds.
    analytics_interval_min: float = Field(15.0, gt=0, description="minutes between incremental anomaly runs")
    analytics_lookback_days: float = Field(42.0, gt=0, description="hourly history the detectors see (base load needs ~35 nights)")
    analytics_index_lookback_days: float = Field(3.0, gt=0, description="raw index readings read for silent/frozen/reset")
    analytics_chunk_meters: int = Field(200, ge=1, description="meters loaded at once (bounds memory)")
    analytics_leak_min_hours: int = Field(24, ge=1, description="hours without a zero-flow hour before a water leak")
    analytics_silent_period_multiple: float = Field(6.0, gt=1, description="silence longer than this many usual periods")
    analytics_spike_robust_z: float = Field(10.0, gt=0, description="spike threshold in robust standard deviations")
    analytics_unheated_outdoor_c: float = Field(18.0, ge=10, le=30, description="outdoor °C at and above which no home heats: an electrically heated home's base load is judged on such hours")
    analytics_spike_min_power_w: float = Field(9000.0, ge=0, description="a spike hour averages at least this power (beyond a home's subscription)")
    analytics_above_baseline_min_ratio: float = Field(1.5, gt=1, le=10, description="a day's use over its weather-normalised baseline prediction at or above which it counts as far above (for 2 days running)")
    analytics_base_load_min_rise_w: float = Field(50.0, ge=10, le=5000, description="night-time base load (always-on use) must rise by at least this many watts, and by 30 %, to be a base-load rise")
    analytics_frozen_min_hours: float = Field(24.0, ge=1, le=720, description="hours an electricity or heat index must repeat the same non-zero value before it counts as frozen")
    analytics_nightly_hour: int = Field(3, ge=0, le=23, description="local hour of the nightly baselines, comparisons and rankings")
    analytics_chunk_dwellings: int = Field(500, ge=1, description="dwellings loaded at once by the nightly run (bounds memory)")
    analytics_comparison_months: int = Field(12, ge=1, le=36, description="complete calendar months compared each night")
    alert_deliver_interval_s: float = Field(60.0, gt=0, le=3600, description="how often pending alert notifications are sent")

    # Alerts to building managers (analytics/notify/): e-mail, webhook and the MQTT alert topic.
    # No smtp_host = the e-mail channel is off: its outbox rows are closed with a clear error, never retried.
    smtp_host: str | None = Field(None, description="SMTP server for alert e-mails; unset turns e-mail off")
    smtp_port: int = Field(587, ge=1, le=65_535)
    smtp_security: str = Field("starttls", description="starttls (usually port 587), ssl (465) or none (local relay)")
    smtp_username: str | None = Field(None, description="SMTP login; unset = no authentication")
    smtp_password: str | None = None
    smtp_from: str | None = Field(None, description="sender of alert e-mails, e.g. coopwatt <alertes@coop.example>")
    alert_mqtt_topic_prefix: str = Field("coopwatt/alerts", min_length=1, description="alerts go to <prefix>/<residence>/<building>")
    alert_send_timeout_s: float = Field(10.0, gt=0, le=300, description="per-message timeout (webhook, SMTP, MQTT PUBACK)")
    alert_max_attempts: int = Field(8, ge=1, le=100, description="failed sends are retried this many times in all")
    alert_retry_base_s: float = Field(60.0, gt=0, description="first retry delay; doubles after each failure")
    alert_retry_max_s: float = Field(6 * 3600.0, gt=0, description="longest delay between two retries")
    alert_reminder_interval_h: float = Field(
        24.0, ge=0, le=24 * 30,
        description="an open warning or critical alert nobody acknowledged is sent again this often (0: never)")

    # Monthly letters (reports/) and the residence's collective progress (reports/progress.py).
    letters_default_language: Literal["fr", "en"] = Field(
        "fr", description="language of a household's letter when neither its preferences nor its account name one")
    letters_after_nightly_h: int = Field(
        2, ge=1, le=20, description="hours after the nightly run of the 1st that the month's letters are built and queued")
    letters_print_dir: str = Field("letters", min_length=1, description="folder the office's print files (PDF) are written to")
    letters_sender_name: str = Field("Votre coopérative", min_length=1, max_length=120,
                                     description="who signs the letters (the cooperative's name)")
    progress_goal_fraction: float = Field(
        -0.08, ge=-0.5, le=0, description="the cooperative's goal for a residence's weather-normalised use over the heating season (-0.08: 8 % less than the baseline season)")
    progress_baseline_season: int = Field(
        0, ge=0, le=2100, description="year the baseline heating season began (0: the season before this one)")
    progress_season_start_month: int = Field(10, ge=1, le=12, description="first month of the heating season")
    progress_season_end_month: int = Field(5, ge=1, le=12, description="last month of the heating season")

    log_level: str = "INFO"
    # coopwatt demo (coopwatt/demo_console.py): the language of what it prints.
    demo_language: Literal["fr", "en", "both"] = Field(
        "both", description="language of the demo's console: fr, en, or both (French / English on one line)")

    @field_validator("database_url")
    @classmethod
    def _check_database_url(cls, value: str | None) -> str | None:
        if value is not None and urlsplit(value).scheme not in ("postgresql", "postgres"):
            raise ValueError("expected a URL starting with postgresql://")
        return value

    @field_validator("mqtt_url")
    @classmethod
    def _check_mqtt_url(cls, value: str | None) -> str | None:
        if value is not None:
            parts = urlsplit(value)
            if parts.scheme not in ("mqtt", "mqtts") or not parts.hostname:
                raise ValueError("expected a URL like mqtt://host:1883 or mqtts://host:8883")
        return value

    @field_validator("mqtt_protocol")
    @classmethod
    def _check_protocol(cls, value: int) -> int:
        if value not in (4, 5):
            raise ValueError("expected 5 (MQTT 5) or 4 (MQTT 3.1.1)")
        return value

    @field_validator("timezone")
    @classmethod
    def _check_timezone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError("expected an IANA time zone such as Europe/Paris") from exc
        return value

    @field_validator("smtp_security")
    @classmethod
    def _check_smtp_security(cls, value: str) -> str:
        if value.lower() not in ("starttls", "ssl", "none"):
            raise ValueError("expected starttls, ssl or none")
        return value.lower()

    @field_validator("smtp_from")
    @classmethod
    def _check_smtp_from(cls, value: str | None) -> str | None:
        if value is not None:
            _, address = parseaddr(value)
            local, at, domain = address.rpartition("@")
            if not at or not local or "." not in domain:
                raise ValueError("expected an e-mail address such as alertes@coop.example")
        return value

    @field_validator("alert_mqtt_topic_prefix")
    @classmethod
    def _check_alert_topic(cls, value: str) -> str:
        if any(c in value for c in "+#") or value.startswith("/") or value.endswith("/"):
            raise ValueError("expected a topic without wildcards or leading/trailing '/', e.g. coopwatt/alerts")
        return value

    @model_validator(mode="after")
    def _check_retentions(self) -> Settings:
        # A coarser kind outlives a finer one: each is computed from the finer one while it is there.
        if not self.retention_days <= self.retention_hourly_days <= self.retention_daily_days:
            raise ValueError(
                "COOPWATT_RETENTION_DAYS <= COOPWATT_RETENTION_HOURLY_DAYS <= COOPWATT_RETENTION_DAILY_DAYS must hold"
                f" (got {self.retention_days}, {self.retention_hourly_days}, {self.retention_daily_days})")
        return self

    @model_validator(mode="after")
    def _check_failover(self) -> Settings:
        if not (self.mqtt_shared_group and self.mqtt_failover_after_s and self.mqtt_protocol == 5):
            return self
        if any(char in self.mqtt_client_id for char in "/+#"):
            raise ValueError(f"COOPWATT_MQTT_CLIENT_ID {self.mqtt_client_id!r} names the ingester's presence topic "
                             "in its shared group: it cannot contain / + #")
        if self.mqtt_client_id == self.restart_guard_client_id:
            raise ValueError(f"COOPWATT_MQTT_CLIENT_ID {self.mqtt_client_id!r} is the client id of the group's restart "
                             "guard (ingest/restart_guard.py): give the ingester another one")
        if self.mqtt_failover_after_s >= self.mqtt_session_expiry_s:
            raise ValueError(
                f"COOPWATT_MQTT_FAILOVER_AFTER_S ({self.mqtt_failover_after_s}) must be shorter than "
                f"COOPWATT_MQTT_SESSION_EXPIRY_S ({self.mqtt_session_expiry_s}): the broker drops a dead ingester's "
                "session, and the readings queued for it, when it expires; set COOPWATT_MQTT_FAILOVER_AFTER_S=0 "
                "to turn the failover off")
        return self

    @model_validator(mode="after")
    def _check_smtp(self) -> Settings:
        if self.smtp_host and not self.smtp_from:
            raise ValueError("COOPWATT_SMTP_FROM is required when COOPWATT_SMTP_HOST is set")
        if self.smtp_password and not self.smtp_username:
            raise ValueError("COOPWATT_SMTP_PASSWORD is set without COOPWATT_SMTP_USERNAME")
        return self

    @model_validator(mode="after")
    def _check_ingest_limits(self) -> Settings:
        if self.ingest_min_temperature_c >= self.ingest_max_temperature_c:
            raise ValueError(
                f"COOPWATT_INGEST_MIN_TEMPERATURE_C ({self.ingest_min_temperature_c:g}) must be below "
                f"COOPWATT_INGEST_MAX_TEMPERATURE_C ({self.ingest_max_temperature_c:g})")
        if self.ingest_max_energy_kwh_per_year > self.ingest_max_index_kwh:
            raise ValueError(
                f"COOPWATT_INGEST_MAX_ENERGY_KWH_PER_YEAR ({self.ingest_max_energy_kwh_per_year:g}) is above "
                f"COOPWATT_INGEST_MAX_INDEX_KWH ({self.ingest_max_index_kwh:g}): no index could show a year of it")
        if self.ingest_max_volume_m3_per_year > self.ingest_max_index_m3:
            raise ValueError(
                f"COOPWATT_INGEST_MAX_VOLUME_M3_PER_YEAR ({self.ingest_max_volume_m3_per_year:g}) is above "
                f"COOPWATT_INGEST_MAX_INDEX_M3 ({self.ingest_max_index_m3:g}): no index could show a year of it")
        return self

    @model_validator(mode="after")
    def _check_frozen_window(self) -> Settings:
        # A frozen index is judged on the raw readings the job reads: a longer stretch could never be seen.
        if self.analytics_frozen_min_hours >= self.analytics_index_lookback_days * 24:
            raise ValueError(
                f"COOPWATT_ANALYTICS_FROZEN_MIN_HOURS ({self.analytics_frozen_min_hours:g}) must be shorter than "
                f"COOPWATT_ANALYTICS_INDEX_LOOKBACK_DAYS ({self.analytics_index_lookback_days:g}) × 24 h, the raw "
                "readings the anomaly job reads")
        return self

    @field_validator("dashboard_trusted_proxies")
    @classmethod
    def _check_trusted_proxies(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        import ipaddress

        for entry in value:
            try:
                ipaddress.ip_network(entry.strip(), strict=False)
            except ValueError as exc:
                raise ValueError(f"{entry!r} is not an address or network (expected e.g. 10.0.0.5,172.18.0.0/16)") from exc
        return value

    @model_validator(mode="after")
    def _check_login_pause(self) -> Settings:
        if self.dashboard_login_first_pause_s > self.dashboard_login_window_s:
            raise ValueError(
                f"COOPWATT_DASHBOARD_LOGIN_FIRST_PAUSE_S ({self.dashboard_login_first_pause_s:g}) must not exceed "
                f"COOPWATT_DASHBOARD_LOGIN_WINDOW_S ({self.dashboard_login_window_s}), the longest pause")
        return self

    @field_validator("tariff_file")
    @classmethod
    def _check_tariff_file(cls, value: Path | None) -> Path | None:
        if value is not None:
            load_tariff_grids(value)  # a TariffFileError (a ValueError) names the file and the entry
        return value

    def tariff_grids(self) -> tuple[TariffGrid, ...]:
        """The dated electricity tariff grids: the file set, or the bundled regulated tariffs."""
        return load_tariff_grids(self.tariff_file)

    @field_validator("tariff_offpeak_hours")
    @classmethod
    def _check_offpeak_hours(cls, value: tuple[int, ...]) -> tuple[int, ...]:
        if any(not 0 <= hour <= 23 for hour in value) or len(set(value)) != len(value):
            raise ValueError("expected distinct local hours from 0 to 23, comma-separated")
        return value

    @field_validator("hardship_tariff_rise_dates")
    @classmethod
    def _check_tariff_rise_dates(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for day in value:
            try:
                date.fromisoformat(day)
            except ValueError:
                raise ValueError(f"{day!r} is not a day (expected YYYY-MM-DD)") from None
        return value

    @field_validator("log_level")
    @classmethod
    def _check_log_level(cls, value: str) -> str:
        if value.upper() not in ("DEBUG", "INFO", "WARNING", "ERROR"):
            raise ValueError("expected DEBUG, INFO, WARNING or ERROR")
        return value.upper()

    @property
    def restart_guard_client_id(self) -> str:
        """The client id of the shared group's restart-guard session (ingest/restart_guard.py)."""
        return f"{self.mqtt_shared_group}-restart-guard"

    @property
    def tz(self) -> ZoneInfo:
        """The cooperative's local time zone."""
        return ZoneInfo(self.timezone)


def _default_data_dir() -> Path:
    """~/.local/share/coopwatt; as root, /var/lib/coopwatt (the embedded PostgreSQL runs as an
    unprivileged account, which could not reach a folder under root's private home)."""
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        return Path("/var/lib/coopwatt")
    return Path.home() / ".local" / "share" / "coopwatt"


def _variable_name(loc: tuple[Any, ...]) -> str:
    return ENV_PREFIX + str(loc[0]).upper() if loc else ENV_PREFIX + "?"


def load_settings(environ: Mapping[str, str] | None = None, **overrides: Any) -> Settings:
    """Read settings from the environment (and COOPWATT_CONFIG's TOML file); raise SettingsError if wrong."""
    env = dict(os.environ if environ is None else environ)
    values: dict[str, Any] = {}
    config_path = env.get(ENV_PREFIX + "CONFIG")
    if config_path:
        try:
            values.update(tomllib.loads(Path(config_path).read_text(encoding="utf-8")))
        except OSError as exc:
            raise SettingsError(f"{ENV_PREFIX}CONFIG: cannot read {config_path}: {exc.strerror}") from exc
        except tomllib.TOMLDecodeError as exc:
            raise SettingsError(f"{ENV_PREFIX}CONFIG: {config_path} is not valid TOML: {exc}") from exc
    known = set(Settings.model_fields)
    for key, raw in env.items():
        if not key.startswith(ENV_PREFIX) or key == ENV_PREFIX + "CONFIG":
            continue
        field = key[len(ENV_PREFIX):].lower()
        if field not in known:
            raise SettingsError(f"{key}: unknown setting (known: {', '.join(sorted(known))})")
        values[field] = _from_env(field, raw)
    values.update(overrides)
    try:
        return Settings.model_validate(values)
    except ValidationError as exc:
        messages = []
        for error in exc.errors():
            if not error["loc"]:  # a rule across several settings: its message names them (and no secret is echoed)
                messages.append(error["msg"])
                continue
            name = _variable_name(error["loc"])
            given = error.get("input")
            messages.append(f"{name}: {error['msg']} (got {given!r})")
        raise SettingsError("invalid settings:\n  " + "\n  ".join(messages)) from None


def _from_env(field: str, raw: str) -> Any:
    """Turn one environment string into the value pydantic expects (lists are comma-separated)."""
    annotation = Settings.model_fields[field].annotation
    if annotation in (tuple[str, ...], tuple[int, ...]):
        return tuple(part.strip() for part in raw.split(",") if part.strip())
    if raw == "" and type(None) in getattr(annotation, "__args__", ()):
        return None
    return raw
