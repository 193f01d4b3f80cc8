"""Nightly analytics at scale: N simulated dwellings × one year of 30-minute data, in chunks, in memory.

Stages, timed separately:
  1. generate: `coopwatt.simulator.iter_chunks` (whole buildings, ~50 dwellings per chunk), one year at 30 min;
  2. derive: hourly consumption per meter with `ingest.consumption.hourly_from_index` (pure; what
     `ingest.derive` does before writing consumption_hourly);
  3. analyse: per dwelling the pure pipeline the nightly job runs — sufficiency + daily baseline fit,
     hour-of-week profile, prediction, anomaly detectors (above baseline, base load rise, spikes,
     water leak), the standby (on unheated nights for homes whose electricity heats), suggestions
     (off-peak tariff, leak repair), weather-normalised annual use —
     then across all dwellings the neighbourhood comparison and the high-consumer ranking.
Target: stage 3 (the nightly run; stages 1–2 stand in for reading the rollups) ≤ 10 min and the whole
process ≤ 2 GiB peak RSS for 10,000 dwellings on 2 cores.

Baseline in the same run: the daily fit done naively — one `numpy.linalg.lstsq` per balance-point
candidate in a Python loop, same grids — on every `--naive-every`-th dwelling, against coopwatt's fit
on the same frames; the ratio is printed, and the naive nightly time is extrapolated from it.

Run:  uv run python bench/analytics_nightly.py --dwellings 10000
      --quick: 10 dwellings, the naive fit on every other one (seconds; checks the script runs)
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import time
from collections import defaultdict
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from analytics.anomalies import detect_above_baseline, detect_spikes, detect_water_leak  # noqa: E402
from analytics.base_load import detect_base_load_rise  # noqa: E402
from analytics.baseline import BaselineSettings, DailyBaselineModel, HourOfWeekProfile, normalised_annual_kwh  # noqa: E402
from analytics.comparison import compare_dwellings  # noqa: E402
from analytics.degree_days import daily_mean_temperature_c, normal_year_temperature_c  # noqa: E402
from analytics.errors import InsufficientDataError  # noqa: E402
from analytics.job.run import ELECTRIC_HEATING  # noqa: E402
from analytics.ranking import rank_high_consumers  # noqa: E402
from analytics.offpeak import HourOfDayUse, suggest_offpeak_tariff  # noqa: E402
from analytics.standby import heated_below_c, measure_standby  # noqa: E402
from analytics.suggestions import Tariffs, suggest_leak_repair  # noqa: E402
from coopwatt.tariffs import load_tariff_grids  # noqa: E402
from coopwatt.quantities import Quantity  # noqa: E402
from coopwatt.simulator.residence import make_residences  # noqa: E402
from coopwatt.simulator.series import iter_chunks  # noqa: E402
from ingest.consumption import hourly_from_index  # noqa: E402

TZ = "Europe/Paris"
START = datetime(2025, 1, 1, tzinfo=UTC)
END = datetime(2026, 1, 1, tzinfo=UTC)
TARGET_S = 600.0
TARGET_BYTES = 2 * 1024**3


def peak_rss_bytes() -> int:
    """Peak resident memory of this process so far (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def hourly_series(times_ns: pd.DatetimeIndex, values: np.ndarray, max_rate_per_h: float) -> pd.Series:
    """Hourly use (local-time index) from one meter's index readings."""
    derived = hourly_from_index(times_ns, values, max_rate_per_h=max_rate_per_h).hourly
    index = pd.DatetimeIndex(derived["hour"]).tz_convert(TZ) if len(derived) else pd.DatetimeIndex([], tz=TZ)
    return pd.Series(derived["amount"].to_numpy(dtype=float), index=index)


def naive_fit(energy: np.ndarray, temperature: np.ndarray, settings: BaselineSettings) -> float:
    """The straightforward way: one least-squares fit per (heating, cooling) candidate in a Python loop; best adj. R²."""
    n = len(energy)
    best = -np.inf
    candidates = [(None, None)] + [(h, None) for h in settings.heating_balance_c] + \
        [(None, c) for c in settings.cooling_balance_c] + \
        [(h, c) for h in settings.heating_balance_c for c in settings.cooling_balance_c if c >= h]
    total = ((energy - energy.mean()) ** 2).sum()
    for h, c in candidates:
        columns = [np.ones(n)]
        if h is not None:
            columns.append(np.maximum(h - temperature, 0.0))
        if c is not None:
            columns.append(np.maximum(temperature - c, 0.0))
        x = np.column_stack(columns)
        coef, *_ = np.linalg.lstsq(x, energy, rcond=None)
        sse = float(((energy - x @ coef) ** 2).sum())
        p = x.shape[1]
        adj = 1 - (sse / (n - p)) / (total / (n - 1))
        best = max(best, adj)
    return best


class Pipeline:
    """Per-dwelling analysis, accumulating what the cross-dwelling steps need."""

    def __init__(self, naive_every: int) -> None:
        self.settings = BaselineSettings()
        self.tariffs = Tariffs()
        self.grid = load_tariff_grids()[-1]
        self.rows: list[dict[str, object]] = []
        self.counts: dict[str, int] = defaultdict(int)
        self.naive_every = naive_every
        self.fit_s = 0.0
        self.naive_pairs: list[tuple[float, float]] = []  # (coopwatt fit s, naive fit s) on the same frame
        self.normal_c: pd.Series | None = None

    def dwelling(self, number: int, dwelling, residence_id: int, district: str, electricity: pd.Series,
                 temperature_daily: pd.Series, water: pd.Series | None, outdoor_c: pd.Series | None = None) -> None:
        """Analyse one dwelling's year."""
        intervals = pd.DataFrame({"energy_kwh": electricity})
        daily_kwh = electricity.groupby(electricity.index.normalize()).sum(min_count=1)
        daily_kwh.index = daily_kwh.index.tz_localize(None)
        daily = pd.DataFrame({"energy_kwh": daily_kwh, "temperature_c": temperature_daily.reindex(daily_kwh.index)})
        if self.normal_c is None:
            self.normal_c = normal_year_temperature_c(temperature_daily)
        started = time.perf_counter()
        try:
            model = DailyBaselineModel(self.settings).fit(daily)
        except InsufficientDataError:
            self.counts["unqualified"] += 1
            return
        fit_s = time.perf_counter() - started
        self.fit_s += fit_s
        if number % self.naive_every == 0:
            clean = daily.dropna()
            started = time.perf_counter()
            naive_fit(clean["energy_kwh"].to_numpy(), clean["temperature_c"].to_numpy(), self.settings)
            self.naive_pairs.append((fit_s, time.perf_counter() - started))
        params = model.params
        profile = HourOfWeekProfile().fit(intervals)
        predicted = model.predict(daily)
        profile.distribute(predicted["predicted_kwh"], intervals.index)
        frame = daily.assign(predicted_kwh=predicted["predicted_kwh"])
        anomalies = detect_above_baseline(frame, params.rmse_kwh, number, number)
        anomalies += detect_base_load_rise(intervals, number, number)
        anomalies += detect_spikes(intervals, number, number)
        energy = intervals["energy_kwh"]
        # Stands in for the job's SQL sums by local hour (nightly_load.hour_of_day_electricity): each once.
        by_hour = energy.groupby(energy.index.hour)
        sums, counts = by_hour.sum(), by_hour.count()
        use = HourOfDayUse(tuple(float(sums.get(h, 0.0)) for h in range(24)),
                           tuple(int(counts.get(h, 0)) for h in range(24)))
        suggestions = [suggest_offpeak_tariff(number, use, None, self.grid)]
        if water is not None:
            leaks = detect_water_leak(pd.DataFrame({"volume_m3": water}), number, number)
            anomalies += leaks
            suggestions += [suggest_leak_repair(number, leak, self.tariffs) for leak in leaks]
        # The standby as the nightly measures it: a home whose electricity heats, on unheated nights only.
        heated_below = heated_below_c(dwelling.heating_type in ELECTRIC_HEATING, params)
        standby = measure_standby(intervals, outdoor_c, heated_below)
        self.counts["anomalies"] += len(anomalies)
        self.counts["suggestions"] += sum(s is not None for s in suggestions)
        self.counts["fitted"] += 1
        self.rows.append({
            "dwelling_id": number, "residence_id": residence_id, "district": district,
            "floor_area_m2": dwelling.floor_area_m2, "heating_type": dwelling.heating_type,
            "normalised_energy_kwh": normalised_annual_kwh(params, self.normal_c),
            "base_load_w": np.nan if standby is None or standby.power_w is None else standby.power_w,
            "heating_kwh_per_degree_day": params.heating_kwh_per_degree_day,
        })

    def finish(self) -> None:
        """Cross-dwelling steps: neighbourhood comparison and high-consumer ranking."""
        frame = pd.DataFrame(self.rows)
        result = compare_dwellings(frame)
        ranking = rank_high_consumers(frame)
        self.counts["groups"] = len(result.groups)
        self.counts["high_consumers"] = int(ranking["high"].sum())


def run(dwellings: int, per_chunk: int, naive_every: int) -> None:
    """Generate, derive and analyse; print the figures."""
    load_start = os.getloadavg()[0]
    residences = make_residences(dwellings, seed=7)
    residence_ids = {r.code: i for i, r in enumerate(residences)}
    districts = {r.code: r.district for r in residences}
    by_code = {(r.code, d.code): d for r in residences for d in r.dwellings}
    pipeline = Pipeline(naive_every)
    gen_s = derive_s = analyse_s = 0.0
    chunks = iter_chunks(residences, START, END, seed=7, dwellings_per_chunk=per_chunk)
    done = 0
    temps: dict[str, pd.Series] = {}  # a residence's outdoor temperature comes only with its first chunk
    outdoor: dict[str, pd.Series] = {}  # the same, by time: a heated home's standby is measured on unheated hours
    wall = time.perf_counter()
    while True:
        started = time.perf_counter()
        chunk = next(chunks, None)
        gen_s += time.perf_counter() - started
        if chunk is None:
            break
        started = time.perf_counter()
        times_ns = chunk.times  # a DatetimeIndex: hourly_from_index reads bare int64 as nanoseconds, asi8 here is µs
        temp_block = chunk.block(Quantity.TEMPERATURE_C)
        for row, code in enumerate(temp_block.sources if temp_block is not None else ()):
            present = temp_block.present[row]
            series = pd.Series(temp_block.values[row][present], index=chunk.times[present])
            outdoor[code] = series.tz_convert(TZ)
            temps[code] = daily_mean_temperature_c(series, TZ)
            temps[code].index = temps[code].index.tz_localize(None) if temps[code].index.tz else temps[code].index
        energy = chunk.block(Quantity.ENERGY_INDEX_KWH)
        water = chunk.block(Quantity.VOLUME_INDEX_M3)
        meters = {m.source: m for r in residences for m in r.meters if m.dwelling_code is not None}
        per_dwelling: dict[tuple[str, str], dict[str, pd.Series]] = defaultdict(dict)
        for block, kind, rate in ((energy, "electricity", 36.0), (water, "water", 3.0)):
            for row, source in enumerate(block.sources):
                meter = meters.get(source)
                if meter is None or meter.kind != kind:
                    continue
                key = (meter.residence_code, meter.dwelling_code)
                if kind in per_dwelling[key]:
                    continue  # one meter per kind and dwelling is enough here
                present = block.present[row]
                per_dwelling[key][kind] = hourly_series(times_ns[present], block.values[row][present], rate)
        derive_s += time.perf_counter() - started
        started = time.perf_counter()
        for key, series in per_dwelling.items():
            if "electricity" not in series:
                continue
            dwelling = by_code[key]
            pipeline.dwelling(dwelling.number, dwelling, residence_ids[key[0]], districts[key[0]],
                              series["electricity"], temps[key[0]], series.get("water"), outdoor[key[0]])
            done += 1
        analyse_s += time.perf_counter() - started
    started = time.perf_counter()
    pipeline.finish()
    analyse_s += time.perf_counter() - started
    wall = time.perf_counter() - wall
    rss = peak_rss_bytes()
    load_end = os.getloadavg()[0]
    coop_fit = np.array([a for a, _ in pipeline.naive_pairs])
    naive = np.array([b for _, b in pipeline.naive_pairs])
    fit_ratio = naive.sum() / coop_fit.sum() if len(naive) else float("nan")
    per_dwelling_fit = pipeline.fit_s / max(pipeline.counts["fitted"], 1)
    naive_analyse_s = analyse_s - pipeline.fit_s + pipeline.fit_s * fit_ratio
    scale = 10_000 / max(done, 1)
    print(f"dwellings analysed {done} (asked {dwellings}), load average {load_start:.2f} → {load_end:.2f}; "
          + ", ".join(f"{k} {v}" for k, v in sorted(pipeline.counts.items())))
    print(f"generate {gen_s:.1f} s | derive hourly {derive_s:.1f} s | analyse (nightly) {analyse_s:.1f} s "
          f"({analyse_s / max(done, 1) * 1000:.1f} ms/dwelling, of which baseline fit {per_dwelling_fit * 1000:.2f} ms) "
          f"| wall {wall:.1f} s | peak RSS {rss / 1024**2:.0f} MiB")
    print(f"nightly vs target 600 s: {analyse_s * scale / TARGET_S:.3f}"
          + (" (extrapolated linearly to 10,000)" if done != 10_000 else "")
          + f"; peak RSS vs 2 GiB: {rss / TARGET_BYTES:.3f}")
    print(f"baseline (naive loop over {len(naive)} dwellings): fit {naive.mean() * 1000:.1f} ms vs "
          f"{coop_fit.mean() * 1000:.2f} ms → coopwatt {fit_ratio:.0f}× faster; naive nightly ≈ "
          f"{naive_analyse_s * scale:.0f} s for 10,000 (coopwatt {analyse_s * scale:.0f} s, ratio "
          f"{naive_analyse_s / analyse_s:.1f}×)")


def main() -> None:
    """Parse arguments and run."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dwellings", type=int, default=10_000)
    parser.add_argument("--per-chunk", type=int, default=50)
    parser.add_argument("--naive-every", type=int, default=50, help="naive baseline on every n-th dwelling")
    parser.add_argument("--quick", action="store_true", help="tiny scale, seconds: checks the script still runs")
    args = parser.parse_args()
    if args.quick:
        args.dwellings, args.naive_every = 10, 2
    run(args.dwellings, args.per_chunk, args.naive_every)


if __name__ == "__main__":
    main()
