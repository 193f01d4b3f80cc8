"""Why an electrically heated home's base load is judged on its unheated hours, not on its nights.

Usage: python bench/electric_night_load.py [--dwellings 60] [--seed 21]

Simulates a fault-free year of 30-minute readings and, for each electrically heated home, takes each
night's lowest 30-minute power between 01:00 and 05:00 (what ``night_base_load_w`` judges). Prints, per
month, the median night level and the median change from one night to the next, beside the homes' true
always-on load: a rise must stand out from that change for several nights to be told from the heating.
Then, as an attempt to see past the heating, runs ``detect_base_load_rise`` on each home's hourly use with
the heating share of a daily baseline fitted on the year taken off hour by hour (the hour's heating
degrees × the fitted kWh per degree-day / 24) and counts its alarms: every one is false (no fault injected).
"""

from __future__ import annotations

import argparse
from datetime import UTC, datetime

import numpy as np
import pandas as pd

from analytics.anomalies import Anomaly
from analytics.base_load import detect_base_load_rise
from analytics.baseline import DailyBaselineModel
from coopwatt.quantities import Quantity
from coopwatt.simulator.residence import make_residences
from coopwatt.simulator.series import iter_chunks

TZ = "Europe/Paris"
START = datetime(2025, 1, 1, tzinfo=UTC)
END = datetime(2026, 1, 1, tzinfo=UTC)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dwellings", type=int, default=60)
    parser.add_argument("--seed", type=int, default=21)
    args = parser.parse_args()
    residences = make_residences(args.dwellings, seed=args.seed)
    dwellings = {(d.residence_code, d.code): d for r in residences for d in r.dwellings}
    meters = {m.source: m for r in residences for m in r.meters}
    rows = []
    alarms = []
    for chunk in iter_chunks(residences, START, END, seed=args.seed, step_s=1800, dwellings_per_chunk=100):
        outdoor = chunk.block(Quantity.TEMPERATURE_C)
        temperature_c = {source: pd.Series(outdoor.values[i][outdoor.present[i]],
                                           index=chunk.times[outdoor.present[i]].tz_convert(TZ))
                         for i, source in enumerate(outdoor.sources)}
        block = chunk.block(Quantity.ENERGY_INDEX_KWH)
        for row, source in enumerate(block.sources):
            meter = meters[source]
            dwelling = dwellings.get((meter.residence_code, meter.dwelling_code))
            if meter.kind != "electricity" or dwelling is None or dwelling.heating_type != "electric":
                continue
            present = block.present[row]
            times = chunk.times[present].tz_convert(TZ)
            power_w = pd.Series(np.diff(block.values[row][present]) * 2000.0, index=times[:-1])
            alarms.append(len(weather_corrected_rises(power_w / 2000.0, temperature_c[meter.residence_code])))
            night = power_w[(power_w.index.hour >= 1) & (power_w.index.hour < 5)]
            lowest = night.groupby(night.index.normalize()).min()
            for month, nights in lowest.groupby(lowest.index.month):
                rows.append((month, nights.median(), nights.diff().abs().median(), dwelling.base_load_w))
    table = pd.DataFrame(rows, columns=["month", "night_level_w", "night_to_night_change_w", "always_on_w"])
    print(f"{table.groupby('month').size().iloc[0]} electrically heated homes; medians over homes:")
    print(table.groupby("month").median().round(0).to_string())
    print(f"base-load rises with the daily baseline's heating share taken off hour by hour: {sum(alarms)} false "
          f"alarms on {sum(1 for a in alarms if a)} of {len(alarms)} fault-free homes in a year")


def weather_corrected_rises(energy_kwh: pd.Series, temperature_c: pd.Series) -> list[Anomaly]:
    """Base-load rises found on hourly use less the heating share of a daily baseline fitted on the same year."""
    hourly = energy_kwh.resample("h").sum()
    hourly_c = temperature_c.resample("h").mean().reindex(hourly.index).interpolate()
    daily = pd.DataFrame({"energy_kwh": hourly.resample("D").sum(), "temperature_c": hourly_c.resample("D").mean()})
    params = DailyBaselineModel().fit(daily).params
    heating_kwh = np.zeros(len(hourly))
    if params.heating_balance_c is not None:
        heating_kwh = params.heating_kwh_per_degree_day * np.maximum(params.heating_balance_c - hourly_c.to_numpy(), 0) / 24
    frame = pd.DataFrame({"energy_kwh": hourly.to_numpy(), "weather_kwh": heating_kwh}, index=hourly.index)
    return detect_base_load_rise(frame, 0, 0)


if __name__ == "__main__":
    main()
