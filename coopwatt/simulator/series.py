"""Per-meter series: cumulative indices, power and outdoor temperature, window by window or chunk by chunk.

:class:`Simulation` keeps only the running indices between windows, so a backfill
and the live run after it form one continuous history. :func:`iter_chunks` cuts a
large cooperative into groups of whole buildings so that a year of 30-minute data
for 10,000 dwellings is produced in bounded memory.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime

import numpy as np
import pandas as pd

from coopwatt.quantities import Quantity
from coopwatt.simulator import noise
from coopwatt.simulator.faults import (
    Fault, IndexFaultState, apply_index_fault, instant_mask, interval_mask, reporting_mask,
)
from coopwatt.simulator.profiles import dwelling_flows
from coopwatt.simulator.residence import Dwelling, Meter, Residence
from coopwatt.simulator.weather import epoch_seconds, outdoor_temperature_c

GAS_KWH_PER_M3 = 11.2  # default calorific coefficient, as in Settings.gas_kwh_per_m3
HEAT_DISTRIBUTION_LOSS = 0.12  # a collective plant delivers this much more than the flats receive
HEAT_LOOP_LOSS_KW_PER_DWELLING = 0.03  # hot-water loop kept warm all year
_INDEX_QUANTITIES = (Quantity.ENERGY_INDEX_KWH, Quantity.ENERGY_INDEX_OFFPEAK_KWH,
                     Quantity.ENERGY_INDEX_PEAK_KWH, Quantity.VOLUME_INDEX_M3)
_ROUNDING = {  # meter resolution: 1 Wh, 1 litre, 1 W, 0.01 °C
    Quantity.ENERGY_INDEX_KWH: 3, Quantity.ENERGY_INDEX_OFFPEAK_KWH: 3, Quantity.ENERGY_INDEX_PEAK_KWH: 3,
    Quantity.VOLUME_INDEX_M3: 3, Quantity.POWER_W: 0, Quantity.TEMPERATURE_C: 2,
}


@dataclass(frozen=True)
class Block:
    """One quantity for several meters: values[row, time]; present is False where nothing was reported."""

    quantity: Quantity
    sources: tuple[str, ...]  # meter sources (residence codes for outdoor temperature)
    values: np.ndarray
    present: np.ndarray

    def row(self, source: str) -> int:
        """The row of one source."""
        return self.sources.index(source)


@dataclass(frozen=True)
class Chunk:
    """Readings of some meters over some reading times."""

    times: pd.DatetimeIndex  # UTC reading times
    blocks: tuple[Block, ...]

    def block(self, quantity: Quantity) -> Block | None:
        """The block of one quantity, if any meter reports it."""
        return next((b for b in self.blocks if b.quantity == quantity), None)

    def series(self, source: str, quantity: Quantity) -> pd.Series:
        """One meter's readings of one quantity (silent times left out)."""
        block = self.block(quantity)
        if block is None or source not in block.sources:
            return pd.Series(dtype=float)
        row = block.row(source)
        mask = block.present[row]
        return pd.Series(block.values[row][mask], index=self.times[mask], name=source)

    @property
    def reading_count(self) -> int:
        """How many meter readings (outdoor temperature excluded) the chunk holds."""
        return int(sum(b.present.sum() for b in self.blocks if b.quantity != Quantity.TEMPERATURE_C))

    def to_frame(self) -> pd.DataFrame:
        """All readings as a long table: source, time, quantity, value (temperature rows included)."""
        frames = []
        for block in self.blocks:
            rows, cols = np.nonzero(block.present)
            frames.append(pd.DataFrame({
                "source": np.asarray(block.sources, dtype=object)[rows],
                "time": self.times[cols],
                "quantity": np.full(rows.size, int(block.quantity), dtype=np.int16),
                "value": block.values[rows, cols],
            }))
        return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(
            columns=["source", "time", "quantity", "value"])


def reading_times(start: datetime, end: datetime, step_s: int) -> pd.DatetimeIndex:
    """Reading times strictly after `start` up to `end`, on the grid of multiples of `step_s` since 1970."""
    first = (int(start.timestamp()) // step_s + 1) * step_s
    last = int(end.timestamp()) // step_s * step_s
    if last < first:
        return pd.DatetimeIndex([], tz="UTC")
    return pd.date_range(pd.Timestamp(first, unit="s", tz="UTC"), pd.Timestamp(last, unit="s", tz="UTC"),
                         freq=pd.Timedelta(seconds=step_s))


@dataclass
class _IndexRows:
    """The meters of one cumulative quantity and their running (true) index."""

    quantity: Quantity
    meters: list[Meter]
    index: np.ndarray  # running true index at the simulation's clock


class Simulation:
    """A stateful run over a set of buildings: each `advance` returns the next window of readings."""

    def __init__(self, residences: Sequence[Residence], start: datetime, *, seed: int,
                 faults: Sequence[Fault] = (), timezone: str = "Europe/Paris",
                 gas_kwh_per_m3: float = GAS_KWH_PER_M3,
                 buildings: set[tuple[str, str]] | None = None) -> None:
        self.seed = seed
        self.timezone = timezone
        self.gas_kwh_per_m3 = gas_kwh_per_m3
        self.now = start.astimezone(UTC)
        keep = (lambda r, b: True) if buildings is None else (lambda r, b: (r, b) in buildings)
        self.residence_numbers: list[tuple[str, int]] = []
        # A residence's number (its place in the list) keys its weather, whatever subset is simulated.
        self._residence_number_of = {r.code: number for number, r in enumerate(residences)}
        self.dwellings: list[Dwelling] = []
        meters: list[Meter] = []
        for number, residence in enumerate(residences):
            kept = [b.code for b in residence.buildings if keep(residence.code, b.code)]
            if not kept:
                continue
            # A residence's temperature is emitted with its first building, so chunks never repeat it.
            if residence.buildings[0].code in kept:
                self.residence_numbers.append((residence.code, number))
            self.dwellings += [d for d in residence.dwellings if d.building_code in kept]
            meters += [m for m in residence.meters if m.building_code in kept]
        self._row_of_dwelling = {(d.residence_code, d.code): i for i, d in enumerate(self.dwellings)}
        by_kind = {kind: [m for m in meters if m.kind == kind] for kind in ("electricity", "gas", "water", "heat")}
        self.electricity = by_kind["electricity"]
        self.gas = by_kind["gas"]
        self.water = by_kind["water"]
        self.heat = by_kind["heat"]
        offpeak_codes = {(d.residence_code, d.code) for d in self.dwellings if d.offpeak_tariff}
        self.offpeak_meters = [m for m in self.electricity if (m.residence_code, m.dwelling_code) in offpeak_codes]
        self._indices = {
            Quantity.ENERGY_INDEX_KWH: _IndexRows(Quantity.ENERGY_INDEX_KWH, self.electricity + self.heat,
                                                  self._initial(self.electricity + self.heat, 3000, 40000, 1)),
            Quantity.ENERGY_INDEX_OFFPEAK_KWH: _IndexRows(Quantity.ENERGY_INDEX_OFFPEAK_KWH, self.offpeak_meters,
                                                          self._initial(self.offpeak_meters, 1000, 15000, 2)),
            Quantity.ENERGY_INDEX_PEAK_KWH: _IndexRows(Quantity.ENERGY_INDEX_PEAK_KWH, self.offpeak_meters,
                                                       self._initial(self.offpeak_meters, 2000, 25000, 3)),
            Quantity.VOLUME_INDEX_M3: _IndexRows(Quantity.VOLUME_INDEX_M3, self.water + self.gas,
                                                 self._initial(self.water + self.gas, 50, 3000, 4)),
        }
        sources = {m.source for m in meters}
        self.faults = [f for f in faults if f.meter_source in sources]
        self._fault_states: dict[tuple[int, Quantity], IndexFaultState] = {}

    def _initial(self, meters: list[Meter], low: float, high: float, stream: int) -> np.ndarray:
        """Where each meter's counter stands when the simulation starts (installed years ago)."""
        keys = np.array([int.from_bytes(m.source.encode()[-8:].rjust(8, b"\0"), "little") ^ len(m.source)
                         for m in meters], dtype=np.uint64)
        u = noise.uniform(self.seed, 1000 + stream, keys, np.zeros(1, dtype=np.int64))
        return np.round(low + (high - low) * u, 3)

    def _dwelling_rows(self, meters: list[Meter]) -> np.ndarray:
        return np.array([self._row_of_dwelling[(m.residence_code, m.dwelling_code)] for m in meters], dtype=np.int64)

    def advance(self, until: datetime, step_s: int) -> Chunk:
        """Readings every `step_s` seconds after the clock up to `until`; the clock moves to the last one."""
        times = reading_times(self.now, until, step_s)
        chunk = self.window(times, step_s)
        if len(times):
            self.now = times[-1].to_pydatetime()
        return chunk

    def window(self, times: pd.DatetimeIndex, step_s: int) -> Chunk:
        """Readings at `times` (which must follow the clock, `step_s` apart)."""
        seconds = epoch_seconds(times)
        n_t = len(times)
        all_res = sorted({d.residence_code for d in self.dwellings})
        # Each dwelling feels its own residence's weather.
        res_index = {code: i for i, code in enumerate(all_res)}
        numbers = np.array([self._residence_number_of[c] for c in all_res], dtype=np.int64)
        weather = outdoor_temperature_c(times, self.seed, numbers,
                                        self.timezone) if n_t else np.zeros((len(all_res), 0))
        dwelling_temperature = weather[[res_index[d.residence_code] for d in self.dwellings]]
        flows = dwelling_flows(self.dwellings, times, step_s, dwelling_temperature, self.seed, self.timezone)
        step_h = step_s / 3600.0

        elec_rows = self._dwelling_rows(self.electricity)
        elec_kwh = flows.electricity_kwh[elec_rows]
        elec_offpeak_kwh = flows.electricity_offpeak_kwh[elec_rows]
        power_w = flows.power_w[elec_rows]
        water_m3 = flows.water_m3[self._dwelling_rows(self.water)]
        gas_m3 = flows.gas_kwh[self._dwelling_rows(self.gas)] / self.gas_kwh_per_m3
        heat_kwh = np.zeros((len(self.heat), n_t))
        for i, meter in enumerate(self.heat):
            members = [self._row_of_dwelling[(d.residence_code, d.code)] for d in self.dwellings
                       if d.residence_code == meter.residence_code and d.building_code == meter.building_code]
            heat_kwh[i] = (flows.collective_heat_kwh[members].sum(0) * (1 + HEAT_DISTRIBUTION_LOSS)
                           + HEAT_LOOP_LOSS_KW_PER_DWELLING * len(members) * step_h)

        # Faults that change what flows.
        elec_pos = {m.source: i for i, m in enumerate(self.electricity)}
        water_pos = {m.source: i for i, m in enumerate(self.water)}
        offpeak = flows.electricity_offpeak_kwh[elec_rows] > 0
        for fault in self.faults:
            if fault.kind == "water_leak" and fault.meter_source in water_pos:
                mask = interval_mask(fault, seconds)
                water_m3[water_pos[fault.meter_source], mask] += float(fault.parameters["flow_l_per_h"]) * step_h / 1000
            elif fault.kind == "base_load_jump" and fault.meter_source in elec_pos:
                row = elec_pos[fault.meter_source]
                mask = interval_mask(fault, seconds)
                extra_w = float(fault.parameters["extra_w"])
                elec_kwh[row, mask] += extra_w * step_h / 1000
                elec_offpeak_kwh[row, mask & offpeak[row]] += extra_w * step_h / 1000
                power_w[row, mask] += extra_w
            elif fault.kind == "spike" and fault.meter_source in elec_pos:
                row = elec_pos[fault.meter_source]
                mask = instant_mask(fault, seconds)
                extra_w = float(fault.parameters["extra_w"])
                elec_kwh[row, mask] += extra_w * step_h / 1000
                elec_offpeak_kwh[row, mask & offpeak[row]] += extra_w * step_h / 1000
                power_w[row, mask] += extra_w

        offpeak_rows = [elec_pos[m.source] for m in self.offpeak_meters]
        increments = {
            Quantity.ENERGY_INDEX_KWH: np.vstack([elec_kwh, heat_kwh]),
            Quantity.ENERGY_INDEX_OFFPEAK_KWH: elec_offpeak_kwh[offpeak_rows],
            Quantity.ENERGY_INDEX_PEAK_KWH: (elec_kwh - elec_offpeak_kwh)[offpeak_rows],
            Quantity.VOLUME_INDEX_M3: np.vstack([water_m3, gas_m3]),
        }
        blocks: list[Block] = []
        for quantity in _INDEX_QUANTITIES:
            rows = self._indices[quantity]
            if not rows.meters:
                continue
            true_index = rows.index[:, None] + np.cumsum(increments[quantity], axis=1)
            if n_t:
                rows.index = true_index[:, -1].copy()
            blocks.append(self._reported(rows, true_index, seconds))
        if self.offpeak_meters:
            blocks = self._linky_totals(blocks)
        if self.electricity:
            blocks.append(self._finish(Quantity.POWER_W, self.electricity, np.maximum(power_w, 0.0), seconds))
        if self.residence_numbers:
            temperature = weather[[res_index[c] for c, _ in self.residence_numbers]] if n_t else \
                np.zeros((len(self.residence_numbers), 0))
            blocks.append(Block(Quantity.TEMPERATURE_C, tuple(c for c, _ in self.residence_numbers),
                                np.round(temperature, 2), np.ones(temperature.shape, dtype=bool)))
        return Chunk(times=times, blocks=tuple(blocks))

    def _linky_totals(self, blocks: list[Block]) -> list[Block]:
        """On an off-peak contract the total index is the sum of the two registers, as a Linky shows it."""
        by_quantity = {b.quantity: b for b in blocks}
        total = by_quantity[Quantity.ENERGY_INDEX_KWH]
        offpeak = by_quantity[Quantity.ENERGY_INDEX_OFFPEAK_KWH]
        peak = by_quantity[Quantity.ENERGY_INDEX_PEAK_KWH]
        position = {source: row for row, source in enumerate(total.sources)}
        rows = [position[source] for source in offpeak.sources]
        values = total.values.copy()
        values[rows] = np.round(offpeak.values + peak.values, _ROUNDING[Quantity.ENERGY_INDEX_KWH])
        patched = Block(total.quantity, total.sources, values, total.present)
        return [patched if b is total else b for b in blocks]

    def _reported(self, rows: _IndexRows, true_index: np.ndarray, seconds: np.ndarray) -> Block:
        """What the meters show: faults applied to the true index, then the meter's resolution."""
        reported = true_index.copy()
        position = {m.source: i for i, m in enumerate(rows.meters)}
        for n, fault in enumerate(self.faults):
            if fault.kind in ("counter_reset", "frozen_index") and fault.meter_source in position:
                state = self._fault_states.setdefault((n, rows.quantity), IndexFaultState())
                row = position[fault.meter_source]
                if fault.kind == "counter_reset" and rows.quantity == Quantity.ENERGY_INDEX_PEAK_KWH:
                    # Registers restart together; the residual count sits in the off-peak one.
                    fault = replace(fault, parameters={**fault.parameters, "index_after_kwh": 0.0})
                reported[row] = apply_index_fault(fault, state, seconds, true_index[row].copy())
        return self._finish(rows.quantity, rows.meters, reported, seconds)

    def _finish(self, quantity: Quantity, meters: list[Meter], values: np.ndarray, seconds: np.ndarray) -> Block:
        """Round to the meter's resolution and blank out silent meters."""
        present = np.ones(values.shape, dtype=bool)
        position = {m.source: i for i, m in enumerate(meters)}
        for fault in self.faults:
            if fault.kind == "meter_silent" and fault.meter_source in position:
                present[position[fault.meter_source], reporting_mask(fault, seconds)] = False
        return Block(quantity, tuple(m.source for m in meters), np.round(values, _ROUNDING[quantity]), present)


def building_groups(residences: Sequence[Residence], dwellings_per_chunk: int) -> list[set[tuple[str, str]]]:
    """Whole buildings grouped into chunks of about `dwellings_per_chunk` dwellings."""
    groups: list[set[tuple[str, str]]] = []
    current: set[tuple[str, str]] = set()
    count = 0
    for residence in residences:
        sizes = {b.code: 0 for b in residence.buildings}
        for d in residence.dwellings:
            sizes[d.building_code] += 1
        for building in residence.buildings:
            current.add((residence.code, building.code))
            count += sizes[building.code]
            if count >= dwellings_per_chunk:
                groups.append(current)
                current, count = set(), 0
    if current:
        groups.append(current)
    return groups


def iter_chunks(residences: Sequence[Residence], start: datetime, end: datetime, *, seed: int,
                faults: Sequence[Fault] = (), step_s: int = 1800, dwellings_per_chunk: int = 40,
                timezone: str = "Europe/Paris", gas_kwh_per_m3: float = GAS_KWH_PER_M3) -> Iterator[Chunk]:
    """Readings from `start` (exclusive) to `end`, one chunk of whole buildings at a time."""
    for group in building_groups(residences, dwellings_per_chunk):
        sim = Simulation(residences, start, seed=seed, faults=faults, timezone=timezone,
                         gas_kwh_per_m3=gas_kwh_per_m3, buildings=group)
        yield sim.advance(end, step_s)

