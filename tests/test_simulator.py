"""The simulator's physics and faults: deterministic, plausible, and faults exactly where the ground truth says."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pandas as pd
import pytest

from coopwatt.quantities import Quantity
from coopwatt.simulator.faults import FAULT_KINDS, plan_faults, read_ground_truth, write_ground_truth
from coopwatt.simulator.residence import make_residences
from coopwatt.simulator.series import Simulation, iter_chunks

START = datetime(2025, 1, 1, tzinfo=UTC)
END = datetime(2026, 1, 1, tzinfo=UTC)
STEP_S = 1800
SEED = 7
TZ = "Europe/Paris"


@pytest.fixture(scope="module")
def year():
    """A residence of 60 dwellings over a year, two faults of each kind."""
    residences = make_residences(60, SEED)
    faults = plan_faults(residences, START, END, SEED, per_kind=2, step_s=STEP_S)
    chunk = Simulation(residences, START, seed=SEED, faults=faults).advance(END, STEP_S)
    return residences, faults, chunk


def _meters(residences, kind):
    return [m for r in residences for m in r.meters if m.kind == kind]


def _faulty(faults, kind=None):
    return {f.meter_source for f in faults if kind is None or f.kind == kind}


def _fault_dwellings(faults):
    return {(f.residence_code, f.dwelling_code) for f in faults}


def test_same_seed_same_series_other_seed_other_series():
    residences = make_residences(12, 5)
    start, end = START, START + timedelta(days=3)
    first = Simulation(residences, start, seed=5).advance(end, STEP_S).to_frame()
    again = Simulation(make_residences(12, 5), start, seed=5).advance(end, STEP_S).to_frame()
    pd.testing.assert_frame_equal(first, again)
    other = Simulation(make_residences(12, 6), start, seed=6).advance(end, STEP_S).to_frame()
    assert len(other) and not first["value"].equals(other["value"])


def test_chunks_of_buildings_and_windows_of_time_give_the_same_series():
    residences = make_residences(130, 2, per_residence=50)
    faults = plan_faults(residences, START, START + timedelta(days=20), 2, step_s=STEP_S)
    end = START + timedelta(days=20)
    whole = Simulation(residences, START, seed=2, faults=faults).advance(end, STEP_S).to_frame()
    chunks = list(iter_chunks(residences, START, end, seed=2, faults=faults, step_s=STEP_S, dwellings_per_chunk=30))
    assert len(chunks) > 3
    pieces = pd.concat([c.to_frame() for c in chunks], ignore_index=True)
    # Stepping a day at a time continues the same indices.
    sim = Simulation(residences, START, seed=2, faults=faults)
    windows = pd.concat([sim.advance(START + timedelta(days=d), STEP_S).to_frame() for d in range(1, 21)],
                        ignore_index=True)
    key = ["source", "quantity", "time"]
    whole = whole.sort_values(key, ignore_index=True)
    pd.testing.assert_frame_equal(pieces.sort_values(key, ignore_index=True), whole)
    pd.testing.assert_frame_equal(windows.sort_values(key, ignore_index=True), whole)
    # Each residence's temperature appears exactly once.
    temperatures = pieces[pieces["quantity"] == int(Quantity.TEMPERATURE_C)]
    assert not temperatures.duplicated(["source", "time"]).any()
    assert temperatures["source"].nunique() == len(residences)


def _daily(series: pd.Series) -> pd.Series:
    return series.diff().resample("D").sum()


def test_heating_grows_as_it_gets_colder(year):
    residences, faults, chunk = year
    temperature = chunk.series(residences[0].code, Quantity.TEMPERATURE_C).resample("D").mean()
    cold, mild = temperature < 5.0, temperature > 18.0
    assert cold.sum() > 10 and mild.sum() > 10
    skip = _fault_dwellings(faults)
    checked = 0
    for meter in _meters(residences, "electricity") + _meters(residences, "gas") + _meters(residences, "heat"):
        if (meter.residence_code, meter.dwelling_code) in skip:
            continue
        dwelling = residences[0].dwelling(meter.dwelling_code) if meter.dwelling_code else None
        quantity = Quantity.VOLUME_INDEX_M3 if meter.kind == "gas" else Quantity.ENERGY_INDEX_KWH
        daily = _daily(chunk.series(meter.source, quantity))
        if meter.kind == "gas":
            daily = daily * 11.2 * 0.9  # m³ → kWh of heat delivered (calorific value, boiler efficiency)
        ratio = daily[cold].mean() / daily[mild].mean()
        if meter.kind == "electricity" and dwelling.heating_type != "electric":
            assert ratio < 1.3, (meter.source, ratio)  # no heating on this meter
        elif dwelling is not None:
            # The extra use on cold days is what the dwelling's sensitivity says (kWh per degree-day).
            degree_days = (dwelling.balance_point_c - temperature).clip(lower=0)
            expected = dwelling.heating_sensitivity_kwh_per_c_day * (degree_days[cold].mean() - degree_days[mild].mean())
            assert 0.8 < (daily[cold].mean() - daily[mild].mean()) / expected < 1.4, (meter.source, expected)
        else:
            # A collective plant delivers its dwellings' heat plus distribution losses (12 %).
            members = [d for d in residences[0].dwellings if d.building_code == meter.building_code]
            expected = sum(1.12 * d.heating_sensitivity_kwh_per_c_day
                           * ((d.balance_point_c - temperature).clip(lower=0)[cold].mean()
                              - (d.balance_point_c - temperature).clip(lower=0)[mild].mean()) for d in members)
            assert 0.8 < (daily[cold].mean() - daily[mild].mean()) / expected < 1.4, (meter.source, expected)
        if meter.kind != "electricity" or dwelling.heating_type == "electric":
            # Colder and colder days use more and more.
            bins = pd.cut(temperature, [-30, 3, 7, 11, 40])
            by_bin = daily.reindex(temperature.index).groupby(bins, observed=True).mean()
            assert by_bin.is_monotonic_decreasing, (meter.source, by_bin)
        checked += 1
    assert checked > 50


def test_gas_only_for_gas_heated_homes_and_heat_meters_only_for_collective_buildings(year):
    residences, _, chunk = year
    residence = residences[0]
    gas_homes = {d.code for d in residence.dwellings if d.heating_type == "gas"}
    assert gas_homes and {m.dwelling_code for m in _meters(residences, "gas")} == gas_homes
    collective = {b.code for b in residence.buildings if b.collective_heating}
    assert {m.building_code for m in _meters(residences, "heat")} == collective
    assert all(d.heating_type == "collective" for d in residence.dwellings if d.building_code in collective)
    assert set(chunk.block(Quantity.VOLUME_INDEX_M3).sources) == {m.source for m in _meters(residences, "gas")} | {
        m.source for m in _meters(residences, "water")}


def test_indices_never_decrease_except_at_the_counter_reset(year):
    residences, faults, chunk = year
    resets = {f.meter_source: f.start for f in faults if f.kind == "counter_reset"}
    decreases = 0
    for quantity in (Quantity.ENERGY_INDEX_KWH, Quantity.ENERGY_INDEX_OFFPEAK_KWH, Quantity.ENERGY_INDEX_PEAK_KWH,
                     Quantity.VOLUME_INDEX_M3):
        block = chunk.block(quantity)
        for source in block.sources:
            steps = chunk.series(source, quantity).diff().dropna()
            down = steps[steps < 0]
            if source in resets:
                assert list(down.index) == [pd.Timestamp(resets[source])], (source, quantity, down)
                decreases += 1
            else:
                assert down.empty, (source, quantity, down.head())
    assert decreases == len(resets)


def test_plausible_fault_free_dwellings(year):
    residences, faults, chunk = year
    skip = _fault_dwellings(faults)
    for dwelling in residences[0].dwellings:
        if (dwelling.residence_code, dwelling.code) in skip:
            continue
        meters = {m.kind: m for m in residences[0].meters if m.dwelling_code == dwelling.code}
        yearly_kwh = chunk.series(meters["electricity"].source, Quantity.ENERGY_INDEX_KWH).pipe(
            lambda s: s.iloc[-1] - s.iloc[0])
        per_person_m3 = chunk.series(meters["water"].source, Quantity.VOLUME_INDEX_M3).pipe(
            lambda s: s.iloc[-1] - s.iloc[0]) / dwelling.occupants
        assert 800 < yearly_kwh < 20_000, (dwelling, yearly_kwh)
        assert 20 < per_person_m3 < 110, (dwelling, per_person_m3)
        power = chunk.series(meters["electricity"].source, Quantity.POWER_W)
        assert power.min() > 0 and power.max() <= 12_000  # within the subscribed power
    temperature = chunk.block(Quantity.TEMPERATURE_C).values
    assert -15 < temperature.min() and temperature.max() < 40


def _hourly_flow(chunk, source) -> pd.Series:
    index = chunk.series(source, Quantity.VOLUME_INDEX_M3)
    return index.diff().dropna().resample("h", closed="right", label="right").sum()


def test_water_stops_every_day_except_during_a_leak(year):
    residences, faults, chunk = year
    leaks = {f.meter_source: f for f in faults if f.kind == "water_leak"}
    assert len(leaks) == 2
    for meter in _meters(residences, "water"):
        hourly = _hourly_flow(chunk, meter.source)
        days = (hourly.tz_convert(TZ) <= 1e-9).groupby(hourly.index.tz_convert(TZ).date).any()
        leak = leaks.get(meter.source)
        if leak is None:
            assert days.iloc[1:-1].all(), (meter.source, days[~days].index[:5])
            continue
        end = leak.end or END
        during = hourly[(hourly.index > leak.start + timedelta(hours=1)) & (hourly.index <= end)]
        assert len(during) > 24 and (during > 0).all()
        # The continuous flow is at least the leak's rate in every hour (the index counts whole litres).
        assert during.min() >= float(leak.parameters["flow_l_per_h"]) / 1000 - 0.002
        before = hourly[hourly.index < leak.start - timedelta(days=1)]
        assert (before.groupby(before.index.tz_convert(TZ).date).min() <= 1e-9).all()


def test_each_fault_is_in_the_series_where_the_ground_truth_says(year, tmp_path):
    residences, faults, chunk = year
    path = write_ground_truth(tmp_path / "truth.json", faults, residences, seed=SEED, start=START, end=END)
    assert read_ground_truth(path) == faults
    assert sorted({f.kind for f in faults}) == sorted(FAULT_KINDS)
    step = timedelta(seconds=STEP_S)
    for fault in faults:
        start = pd.Timestamp(fault.start)
        if fault.kind == "meter_silent":
            power = chunk.series(fault.meter_source, Quantity.POWER_W)
            index = chunk.series(fault.meter_source, Quantity.ENERGY_INDEX_KWH)
            for series in (power, index):
                gap = series[(series.index >= start) & (series.index < pd.Timestamp(fault.end))]
                assert gap.empty
                assert start - step in series.index and pd.Timestamp(fault.end) in series.index
        elif fault.kind == "base_load_jump":
            power = chunk.series(fault.meter_source, Quantity.POWER_W).tz_convert(TZ)
            night = power[(power.index.hour >= 2) & (power.index.hour < 5)]
            before = night[(night.index < start) & (night.index >= start - timedelta(days=14))].median()
            after = night[(night.index > start) & (night.index <= start + timedelta(days=14))].median()
            assert after - before > 0.7 * float(fault.parameters["extra_w"]), (before, after)
        elif fault.kind == "counter_reset":
            index = chunk.series(fault.meter_source, Quantity.ENERGY_INDEX_KWH)
            assert index[start - step] > 1000
            assert index[start] == pytest.approx(float(fault.parameters["index_after_kwh"]), abs=0.001)
            assert index[start + step] > index[start]
        elif fault.kind == "frozen_index":
            index = chunk.series(fault.meter_source, Quantity.ENERGY_INDEX_KWH)
            end = pd.Timestamp(fault.end)
            frozen = index[(index.index >= start) & (index.index < end)]
            assert len(frozen) > 40 and frozen.nunique() == 1 and frozen.iloc[0] > 0
            assert index[start - step] < frozen.iloc[0]  # it moved right up to the fault
            assert index[end] > frozen.iloc[0] and index[end] - frozen.iloc[0] < 5.0  # resumes, counts lost
        elif fault.kind == "spike":
            energy = chunk.series(fault.meter_source, Quantity.ENERGY_INDEX_KWH).diff()
            extra_kwh = float(fault.parameters["extra_w"]) * STEP_S / 3.6e6
            assert energy[start] >= extra_kwh
            around = energy[(energy.index > start - timedelta(days=7)) & (energy.index < start)]
            assert energy[start] > 2 * around.max()
            assert chunk.series(fault.meter_source, Quantity.POWER_W)[start] >= float(fault.parameters["extra_w"])


def test_timeline_accelerated_live_replays_the_recent_past_and_ends_now():
    from coopwatt.simulator.cli import plan_timeline

    now = datetime(2026, 3, 1, 12, 0, 30, tzinfo=UTC)
    history_start, live_start, live_end = plan_timeline(now, 10, 60.0, 120.0)
    # 120 s at ×60 cover 2 h of simulated time, ending at the wall clock when the run ends.
    assert live_end == now + timedelta(seconds=120)
    assert live_start + timedelta(seconds=120 * 60) == pytest.approx(live_end, abs=timedelta(seconds=60))
    assert live_start - history_start >= timedelta(days=10)
    assert live_start - history_start < timedelta(days=10, minutes=30)
    _, real_start, forever = plan_timeline(now, 0, 1.0, None)
    assert forever is None and now - timedelta(seconds=60) < real_start <= now
