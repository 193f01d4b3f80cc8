"""bench/rollup_seed.py: a small cooperative over a few weeks (across the spring DST change) on a throwaway database."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pandas as pd
import psycopg
import pytest

from bench.rollup_seed import RAW_DAYS, ensure_seeded
from coopwatt.rollups import refresh_rollups
from coopwatt.settings import Settings, load_settings
from coopwatt.simulator.residence import make_residences

PARIS = ZoneInfo("Europe/Paris")
START = datetime(2026, 3, 20, tzinfo=PARIS)
END = datetime(2026, 4, 6, tzinfo=PARIS)  # 17 local days, one of them 23 hours long (29 March)
DWELLINGS = 20


@pytest.fixture
def seed_name(pg_admin_url: str) -> Iterator[str]:
    """A database name of its own, dropped afterwards (ensure_seeded creates it)."""
    name = "cw_test_seed_" + uuid.uuid4().hex[:10]
    yield name
    with psycopg.connect(pg_admin_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def seed_settings() -> Settings:
    """Default settings, whatever the environment says."""
    return load_settings({})


def test_seeded_rollups_are_consistent_and_a_second_call_does_nothing(
        pg_admin_url: str, seed_name: str, seed_settings: Settings) -> None:
    info = ensure_seeded(pg_admin_url, DWELLINGS, start=START, end=END, settings=seed_settings, name=seed_name,
                         per_chunk=8, progress=None)
    assert info.seeded_now
    residences = make_residences(DWELLINGS, 7)
    simulated = {m.source: m.kind for r in residences for m in r.meters}
    # 407: subtracting two datetimes of one zone would count wall-clock hours (408).
    hours = int((END.astimezone(UTC) - START.astimezone(UTC)).total_seconds() // 3600)
    with psycopg.connect(info.url) as conn:
        meters = dict(conn.execute("SELECT id, source FROM meter").fetchall())
        hourly = pd.DataFrame(conn.execute(
            "SELECT meter_id, hour, energy_kwh, volume_m3 FROM consumption_hourly").fetchall(),
            columns=["meter_id", "hour", "energy_kwh", "volume_m3"])
        daily = pd.DataFrame(conn.execute(
            "SELECT meter_id, day, energy_kwh, volume_m3, hours FROM consumption_daily").fetchall(),
            columns=["meter_id", "day", "energy_kwh", "volume_m3", "hours"])
        raw_delta = dict(conn.execute(
            "SELECT meter_id, max(value) - min(value) FROM reading WHERE quantity_id = 1 GROUP BY meter_id").fetchall())
        temperatures = conn.execute("SELECT count(DISTINCT residence_id), count(*) FROM outdoor_temperature").fetchone()

    # Every simulated meter is registered and has every hour of the period, nothing outside it.
    assert set(meters.values()) == set(simulated)
    assert info.meters == len(simulated) and info.hourly_rows == len(hourly) == hours * len(simulated)
    assert set(hourly["meter_id"]) == set(meters)
    assert hourly.groupby("meter_id").size().eq(hours).all()
    assert hourly["hour"].min() == START and hourly["hour"].max() == END - timedelta(hours=1)

    # Columns as ingest.derive writes them: energy for electricity and heat, volume for water, both for gas.
    kind = hourly["meter_id"].map(meters).map(simulated)
    has_energy, has_volume = hourly["energy_kwh"].notna(), hourly["volume_m3"].notna()
    assert (has_energy == kind.isin(["electricity", "heat", "gas"])).all()
    assert (has_volume == kind.isin(["water", "gas"])).all()
    gas = hourly[kind == "gas"]
    assert len(gas) and (gas["energy_kwh"] - gas["volume_m3"] * seed_settings.gas_kwh_per_m3).abs().max() < 1e-9

    # consumption_daily is the sum of consumption_hourly over each local day (23 hours on 29 March).
    hourly["day"] = hourly["hour"].dt.tz_convert(PARIS).dt.normalize()
    expected = hourly.groupby(["meter_id", "day"]).agg(
        energy_kwh=("energy_kwh", lambda s: s.sum(min_count=1)), volume_m3=("volume_m3", lambda s: s.sum(min_count=1)),
        hours=("hour", "size"))
    got = daily.assign(day=daily["day"].map(lambda d: pd.Timestamp(d).tz_convert(PARIS)))
    got = got.set_index(["meter_id", "day"])
    assert len(got) == len(expected) == 17 * len(simulated)
    got = got.loc[expected.index]
    assert (got["hours"] == expected["hours"]).all()
    assert set(expected["hours"]) == {23, 24}
    for column in ("energy_kwh", "volume_m3"):
        assert (got[column].isna() == expected[column].isna()).all()
        assert ((got[column] - expected[column]).abs().fillna(0) < 1e-9).all()

    # The daily rows the seeder computed from each chunk in memory are those coopwatt.rollups' own refresh
    # computes from consumption_hourly (estimated hours included), to the last few bits of the sums.
    columns = ["meter_id", "day", "energy_kwh", "volume_m3", "estimated_hours", "hours"]
    query = "SELECT " + ", ".join(columns) + " FROM consumption_daily ORDER BY meter_id, day"
    with psycopg.connect(info.url, autocommit=True) as conn:
        seeded = pd.DataFrame(conn.execute(query).fetchall(), columns=columns)
        refresh_rollups(conn, seed_settings, since=START, until=END)
        refreshed = pd.DataFrame(conn.execute(query).fetchall(), columns=columns)
    assert len(seeded) == len(refreshed) == 17 * len(simulated)
    assert seeded[["meter_id", "day", "estimated_hours", "hours"]].equals(
        refreshed[["meter_id", "day", "estimated_hours", "hours"]])
    for column in ("energy_kwh", "volume_m3"):
        assert (seeded[column].isna() == refreshed[column].isna()).all()
        assert ((seeded[column] - refreshed[column]).abs().fillna(0) <= 1e-12 * refreshed[column].abs().fillna(0)).all()

    # The raw readings of the last days agree with the hourly rows derived from them.
    recent = hourly[hourly["hour"] >= END - timedelta(days=RAW_DAYS)].groupby("meter_id")["energy_kwh"].sum()
    electricity = [m for m, source in meters.items() if simulated[source] == "electricity"]
    assert electricity and all(abs(recent[m] - raw_delta[m]) < 1e-6 for m in electricity)
    # One temperature per residence and reading time, start and end included.
    assert temperatures[0] == len(residences) and temperatures[1] == len(residences) * (hours * 2 + 1)

    # Same fingerprint: nothing is written again.
    again = ensure_seeded(pg_admin_url, DWELLINGS, start=START, end=END, settings=seed_settings, name=seed_name,
                          per_chunk=8, progress=None)
    assert not again.seeded_now
    assert (again.hourly_rows, again.daily_rows, again.meters) == (info.hourly_rows, info.daily_rows, info.meters)
    with psycopg.connect(info.url) as conn:
        assert conn.execute("SELECT count(*) FROM consumption_hourly").fetchone()[0] == info.hourly_rows
        assert conn.execute("SELECT count(*) FROM pg_indexes WHERE tablename = 'consumption_hourly'"
                            " AND indexname = 'consumption_hourly_hour_idx'").fetchone()[0] == 1
