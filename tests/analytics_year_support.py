"""A simulated year fed to the anomaly job's per-meter step in memory: the frames the job would load, no database.

The simulator's 30-minute readings go through the same pure derivation as ``ingest.derive``
(:func:`ingest.consumption.hourly_from_index`) and into :func:`analytics.job.run.detect_meter`, one chunk of
whole buildings at a time, so a year of many dwellings fits in memory and needs no PostgreSQL.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime

import numpy as np
import pandas as pd

from analytics.anomalies import Anomaly, AnomalyThresholds
from analytics.job.load import MeterInfo
from analytics.job.run import detect_meter
from coopwatt.quantities import Quantity
from coopwatt.simulator.faults import Fault
from coopwatt.simulator.residence import Meter, Residence
from coopwatt.simulator.series import iter_chunks
from coopwatt.settings import Settings
from ingest.consumption import hourly_from_index

STEP_S = 1800


@dataclass(frozen=True)
class MeterResult:
    """What detect_meter found on one simulated meter."""

    meter: Meter
    anomalies: list[Anomaly]
    checked: set[str]


def _main_counter(meter: Meter) -> Quantity:
    return Quantity.VOLUME_INDEX_M3 if meter.kind in ("gas", "water") else Quantity.ENERGY_INDEX_KWH


def detect_simulated(residences: Sequence[Residence], start: datetime, end: datetime, *, seed: int,
                     settings: Settings, thresholds: AnomalyThresholds, faults: Sequence[Fault] = (),
                     dwellings_per_chunk: int = 50) -> Iterator[MeterResult]:
    """Every meter's anomalies over [start, end], as the job would find them with all of it in its look-back."""
    tz = settings.timezone
    dwellings = {(d.residence_code, d.code): d for r in residences for d in r.dwellings}
    meters = {m.source: m for r in residences for m in r.meters}
    now = pd.Timestamp(end).tz_convert(tz)
    outdoor: dict[str, pd.Series] = {}  # a residence's temperature comes with the chunk of its first building
    for number, chunk in enumerate(iter_chunks(residences, start, end, seed=seed, faults=faults, step_s=STEP_S,
                                               dwellings_per_chunk=dwellings_per_chunk)):
        temperature = chunk.block(Quantity.TEMPERATURE_C)
        if temperature is not None:
            for row, code in enumerate(temperature.sources):
                present = temperature.present[row]
                outdoor[code] = pd.Series(temperature.values[row][present], index=chunk.times[present].tz_convert(tz))
        blocks = {q: chunk.block(q) for q in (Quantity.ENERGY_INDEX_KWH, Quantity.VOLUME_INDEX_M3)}
        for quantity, block in blocks.items():
            if block is None:
                continue
            for row, source in enumerate(block.sources):
                meter = meters[source]
                if _main_counter(meter) != quantity:
                    continue
                present = block.present[row]
                times = chunk.times[present]
                values = block.values[row][present]
                volume = quantity == Quantity.VOLUME_INDEX_M3
                rate = settings.ingest_max_flow_m3_per_h if volume else settings.ingest_max_power_w / 1000.0
                derived = hourly_from_index(times, values, max_rate_per_h=rate,
                                            max_gap_s=settings.consumption_max_gap_s).hourly
                amount = derived["amount"].to_numpy(dtype=float)
                hourly = pd.DataFrame(
                    {"energy_kwh": amount * settings.gas_kwh_per_m3 if meter.kind == "gas"
                     else (np.full(len(amount), np.nan) if volume else amount),
                     "volume_m3": amount if volume else np.full(len(amount), np.nan),
                     "estimated": derived["estimated"].to_numpy(dtype=float)},
                    index=pd.DatetimeIndex(derived["hour"]).tz_convert(tz))
                local = times.tz_convert(tz)
                index = pd.DataFrame({"index_value": values.astype(float)}, index=local)
                dwelling = dwellings.get((meter.residence_code, meter.dwelling_code))
                served = 1 if dwelling else sum(1 for d in dwellings.values() if d.residence_code ==
                                                meter.residence_code and d.building_code == meter.building_code)
                info = MeterInfo(
                    meter_id=number * 100_000 + row, kind=meter.kind,
                    dwelling_id=dwelling.number if dwelling else None, building_id=None,
                    reporting_period_s=STEP_S, heating_type=dwelling.heating_type if dwelling else None,
                    dwellings_served=served)
                found, checked = detect_meter(info, hourly, index, local, now, thresholds,
                                              settings.analytics_spike_min_power_w,
                                              outdoor_c=outdoor.get(meter.residence_code))
                yield MeterResult(meter, found, checked)


FAULT_TO_ANOMALY = {"base_load_jump": "base_load_rise"}


@dataclass(frozen=True)
class Alarm:
    """One anomaly on one meter, found in memory or stored by the job as an alert: what matching needs."""

    source: str
    kind: str
    start: pd.Timestamp
    evidence: dict[str, float]


def alarms_of(results: Sequence[MeterResult]) -> list[Alarm]:
    """The in-memory results' anomalies as alarms."""
    return [Alarm(r.meter.source, a.kind.value, pd.Timestamp(a.start), dict(a.evidence))
            for r in results for a in r.anomalies]


@dataclass(frozen=True)
class Match:
    """One injected fault and the closest alarm of its kind on its meter (None: missed)."""

    fault: Fault
    anomaly: Alarm | None

    @property
    def error(self) -> pd.Timedelta | None:
        """Detected start minus injected start."""
        return None if self.anomaly is None else self.anomaly.start - pd.Timestamp(self.fault.start)


def match_faults(alarms: Sequence[Alarm], faults: Sequence[Fault]) -> tuple[list[Match], list[Alarm]]:
    """Each fault's closest same-kind alarm on its meter, and every alarm on a meter without a fault."""
    faulty = {f.meter_source for f in faults}
    matches = []
    for fault in faults:
        kind = FAULT_TO_ANOMALY.get(fault.kind, fault.kind)
        found = [a for a in alarms if a.source == fault.meter_source and a.kind == kind]
        start = pd.Timestamp(fault.start)
        matches.append(Match(fault, min(found, key=lambda a: abs(a.start - start)) if found else None))
    return matches, [a for a in alarms if a.source not in faulty]


def other_kind_alarms(alarms: Sequence[Alarm], faults: Sequence[Fault]) -> list[Alarm]:
    """Alarms on a faulty meter of a kind none of its faults explains (a silence read as a leak, say)."""
    kinds: dict[str, set[str]] = {}
    for fault in faults:
        kinds.setdefault(fault.meter_source, set()).add(FAULT_TO_ANOMALY.get(fault.kind, fault.kind))
    return [a for a in alarms if a.source in kinds and a.kind not in kinds[a.source]]
