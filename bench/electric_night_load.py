"""Why an electrically heated home's base load is judged on its unheated hours, not on its nights.

Usage: python bench/electric_night_load.py [--dwellings 60] [--seed 21] [--quick]   (--quick: 20 homes)

Simulates a fault-free year of 30-minute readings and, for each electrically heated home, takes each
night's lowest 30-minute power between 01:00 and 05:00 (what ``night_base_load_w`` judges). Prints, per
month, the median night level and the median change from one night to the next, beside the homes' true
always-on load: a rise must stand out from that change for several nights to be told from the heating.
Then, as an attempt to see past the heating, runs ``detect_base_load_rise`` on each home's hourly use with
the heating share of a daily baseline fitted on the year taken off hour by hour (the hour's heating
degrees × the fitted kWh per degree-day / 24) and counts its alarms: every one is false (no fault injected).
Last, a per-home night weather model (:func:`night_model_rises`): each night's lowest hourly power against a
least-squares fit on the home's own previous 28 nights of intercept + slope × degrees below its balance point
(grid search), and counts the rises it flags: again every one is false.
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
    parser.add_argument("--quick", action="store_true", help="tiny scale, seconds: checks the script still runs")
    args = parser.parse_args()
    if args.quick:
        args.dwellings = 20  # the fewest homes of seed 21 with electric heating (3)
    residences = make_residences(args.dwellings, seed=args.seed)
    dwellings = {(d.residence_code, d.code): d for r in residences for d in r.dwellings}
    meters = {m.source: m for r in residences for m in r.meters}
    rows = []
    alarms = []
    model_alarms: list[int] = []
    temperature_c: dict[str, pd.Series] = {}
    for chunk in iter_chunks(residences, START, END, seed=args.seed, step_s=1800, dwellings_per_chunk=100):
        outdoor = chunk.block(Quantity.TEMPERATURE_C)
        if outdoor is not None:  # a residence's temperature comes with the chunk of its first building
            temperature_c.update({source: pd.Series(outdoor.values[i][outdoor.present[i]],
                                                    index=chunk.times[outdoor.present[i]].tz_convert(TZ))
                                  for i, source in enumerate(outdoor.sources)})
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
            model_alarms.append(night_model_rises(power_w / 2000.0, temperature_c[meter.residence_code]))
            night = power_w[(power_w.index.hour >= 1) & (power_w.index.hour < 5)]
            lowest = night.groupby(night.index.normalize()).min()
            for month, nights in lowest.groupby(lowest.index.month):
                rows.append((month, nights.median(), nights.diff().abs().median(), dwelling.base_load_w))
    table = pd.DataFrame(rows, columns=["month", "night_level_w", "night_to_night_change_w", "always_on_w"])
    print(f"{table.groupby('month').size().iloc[0]} electrically heated homes; medians over homes:")
    print(table.groupby("month").median().round(0).to_string())
    print(f"base-load rises with the daily baseline's heating share taken off hour by hour: {sum(alarms)} false "
          f"alarms on {sum(1 for a in alarms if a)} of {len(alarms)} fault-free homes in a year")
    print(f"base-load rises against a night weather model of each home's previous {MODEL_REFERENCE_NIGHTS} nights: "
          f"{sum(model_alarms)} false alarms on {sum(1 for a in model_alarms if a)} of {len(model_alarms)} homes")


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


MODEL_HOURS = (1, 2, 3, 4, 5)  # 05:00-06:00 is after an off-peak water heater stops and before the morning
MODEL_BALANCE_C = np.arange(12.0, 18.01, 0.5)
MODEL_REFERENCE_NIGHTS = 28  # the detector's reference; the job reads 42 days, so no longer one is possible
MODEL_MAX_HEATING_W = 600.0  # colder nights vary too much from one to the next to be judged
MODEL_SPREAD_HEATING_W = 200.0  # the residual spread grows by its own size per this much heating
MODEL_SPREADS, MODEL_MIN_RISE_W, MODEL_MIN_NIGHTS = 4.0, 100.0, 4


def _fit_night_model(level_w: np.ndarray, degrees: np.ndarray, weight: np.ndarray) -> tuple[float, float, int]:
    """Weighted least squares level = a + s × degrees[:, g] for each balance point g; the best with s, a >= 0."""
    total = weight.sum()
    mean_x = (weight[:, None] * degrees).sum(0) / total
    mean_y = (weight * level_w).sum() / total
    dx, dy = degrees - mean_x, level_w - mean_y
    sxx = (weight[:, None] * dx * dx).sum(0)
    sxy = (weight[:, None] * dx * dy[:, None]).sum(0)
    slope = np.where(sxx > 0.04 * total, sxy / np.where(sxx > 0, sxx, 1.0), 0.0)
    intercept = mean_y - slope * mean_x
    sse = np.where((slope > 0) & (intercept >= 0), (weight * dy * dy).sum() - slope * sxy, np.inf)
    if not np.isfinite(sse).any():
        return float(np.median(level_w)), 0.0, 0
    best = int(np.argmin(sse))
    return float(intercept[best]), float(slope[best]), best


def night_model_rises(energy_kwh: pd.Series, temperature_c: pd.Series) -> int:
    """Rises flagged on nights judged against a weather model of the home's own previous nights (episodes)."""
    hourly_w = energy_kwh.resample("h").sum(min_count=2) * 1000.0
    hourly_c = temperature_c.resample("h").mean().reindex(hourly_w.index)
    frame = pd.DataFrame({"w": hourly_w, "c": hourly_c})
    frame = frame[np.isin(frame.index.hour, MODEL_HOURS)].dropna()
    by_night = frame.groupby(frame.index.normalize())
    complete = by_night.size() == len(MODEL_HOURS)
    level_w = by_night["w"].min()[complete].to_numpy()
    celsius = np.vstack([g["c"].to_numpy() for night, g in by_night if complete[night]])
    degrees = np.maximum(MODEL_BALANCE_C[None, None, :] - celsius[:, :, None], 0.0).mean(1)
    pool: list[int] = []
    episodes, run = 0, 0
    for i in range(len(level_w)):
        reference = pool[-MODEL_REFERENCE_NIGHTS:]
        if len(reference) < 21:
            pool.append(i)
            continue
        weight = np.ones(len(reference))
        for _ in range(3):  # reweighted: cold nights are the noisy ones
            a, s, g = _fit_night_model(level_w[reference], degrees[reference], weight)
            weight = 1.0 / (1.0 + s * degrees[reference, g] / MODEL_SPREAD_HEATING_W) ** 2
        scaled = np.abs(level_w[reference] - a - s * degrees[reference, g]) * np.sqrt(weight)
        spread_w = 1.4826 * float(np.median(scaled))
        heating_w = s * degrees[i, g]
        if heating_w > MODEL_MAX_HEATING_W:
            continue
        residual_w = level_w[i] - a - heating_w
        if residual_w > max(MODEL_MIN_RISE_W, MODEL_SPREADS * spread_w * (1.0 + heating_w / MODEL_SPREAD_HEATING_W)):
            run += 1
            continue
        episodes += run >= MODEL_MIN_NIGHTS
        run = 0
        pool.append(i)
    return episodes + (run >= MODEL_MIN_NIGHTS)


if __name__ == "__main__":
    main()
