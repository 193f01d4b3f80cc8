"""False alarms of the above-baseline detector over a fault-free year, on held-out seeds.

Usage: python bench/above_baseline_alarms.py [--seeds 201 202 203] [--dwellings 120] [--confidence 0.95] [--quick]
       --quick: one seed of 20 homes (seconds; checks the script runs, not the rate)

Each seed simulates two years of 30-minute readings for ``--dwellings`` homes with no fault. The readings go
through the ingester's hourly derivation (:func:`ingest.consumption.hourly_from_index`) and are summed per
local day and dwelling like the nightly job's ``daily_use`` (a day with fewer than 22 measured hours on any
meter of the kind is unknown; gas in kWh at the settings' coefficient); outdoor °C per local day like its
``daily_temperatures`` (12 hours at least). Each dwelling's baseline is fitted on the first year with the
nightly job's :func:`analytics.dwelling_year.fit_window`, and, where it qualifies, the second year's days go
through :func:`analytics.anomalies.detect_above_baseline` as the anomaly job calls it (daily frame of
``energy_kwh``, ``temperature_c``, ``predicted_kwh`` at local midnights, the stored ``rmse_kwh``, thresholds
from ``thresholds_from(settings)``). The job looks at the last 14 days each night; one pass over the year
finds the same runs of flagged days. Prints, per energy kind, the home-years judged, those with at least one
alarm and the one-sided Clopper-Pearson upper bound of that share, the alarms and alarm days with a one-sided
Poisson upper bound per home-year, and the alarms that are exactly one weekend.
"""

from __future__ import annotations

import argparse
import math
from collections import Counter, defaultdict
from datetime import UTC, date

import pandas as pd

from analytics.anomalies import detect_above_baseline
from analytics.baseline import BaselineSettings, DailyBaselineModel
from analytics.dwelling_year import fit_window
from analytics.job.nightly_load import ENERGY_KINDS, MIN_HOURS_PER_DAY
from analytics.job.run import thresholds_from
from bench.recall_bars import TUNED_ON, _commit, clopper_pearson_upper
from coopwatt.quantities import Quantity
from coopwatt.settings import Settings
from coopwatt.simulator.residence import make_residences
from coopwatt.simulator.series import iter_chunks
from ingest.consumption import hourly_from_index

FIT_START, JUDGE_START, END = date(2024, 1, 1), date(2025, 1, 1), date(2026, 1, 1)
STEP_S = 1800
MIN_TEMPERATURE_HOURS = 12  # nightly_load.daily_temperatures


def poisson_upper(count: int, exposure: float, confidence: float) -> float:
    """One-sided exact upper bound of a Poisson rate per unit of exposure: P(X <= count) = 1 - confidence."""
    def cdf(mean: float) -> float:
        return sum(math.exp(-mean) * mean ** k / math.factorial(k) for k in range(count + 1))
    low, high = 0.0, float(count + 10) * 4
    for _ in range(80):  # bisection: the CDF falls as the mean grows
        mid = (low + high) / 2
        if cdf(mid) > 1.0 - confidence:
            low = mid
        else:
            high = mid
    return high / exposure


def simulated_days(seed: int, dwellings: int, settings: Settings
                   ) -> tuple[dict[tuple[str, str, str], pd.Series], dict[str, pd.Series], dict[tuple[str, str], str]]:
    """Per (residence, dwelling, kind) kWh per local day (NaN: incomplete), per residence mean °C per local day."""
    tz = settings.timezone
    residences = make_residences(dwellings, seed=seed)
    owner = {(d.residence_code, d.code): d.residence_code for r in residences for d in r.dwellings}
    days = pd.date_range(pd.Timestamp(FIT_START), pd.Timestamp(END), freq="D", inclusive="left")
    parts: dict[tuple[str, str, str], list[pd.Series]] = defaultdict(list)
    temperatures: dict[str, pd.Series] = {}
    start = pd.Timestamp(FIT_START).tz_localize(tz).tz_convert(UTC).to_pydatetime()
    end = pd.Timestamp(END).tz_localize(tz).tz_convert(UTC).to_pydatetime()
    for chunk in iter_chunks(residences, start, end, seed=seed, step_s=STEP_S, timezone=tz,
                             gas_kwh_per_m3=settings.gas_kwh_per_m3):
        temperature = chunk.block(Quantity.TEMPERATURE_C)
        if temperature is not None:
            for row, code in enumerate(temperature.sources):
                present = temperature.present[row]
                times = chunk.times[present]
                local_day = times.tz_convert(tz).tz_localize(None).normalize()
                readings = pd.DataFrame({"c": temperature.values[row][present], "hour": times.floor("h")})
                by_day = readings.groupby(local_day)
                mean = by_day["c"].mean().where(by_day["hour"].nunique() >= MIN_TEMPERATURE_HOURS)
                temperatures[code] = mean.reindex(days)
        meters = {m.source: m for r in residences for m in r.meters}
        for quantity in (Quantity.ENERGY_INDEX_KWH, Quantity.VOLUME_INDEX_M3):
            block = chunk.block(quantity)
            if block is None:
                continue
            for row, source in enumerate(block.sources):
                meter = meters[source]
                volume = quantity == Quantity.VOLUME_INDEX_M3
                # Each meter once, on its main counter (gas by volume, as the job's rollup falls back to).
                if meter.dwelling_code is None or meter.kind not in ENERGY_KINDS or (meter.kind == "gas") != volume:
                    continue
                present = block.present[row]
                rate = settings.ingest_max_flow_m3_per_h if volume else settings.ingest_max_power_w / 1000.0
                hourly = hourly_from_index(chunk.times[present], block.values[row][present], max_rate_per_h=rate,
                                           max_gap_s=settings.consumption_max_gap_s).hourly
                amount = hourly["amount"].to_numpy(dtype=float) * (settings.gas_kwh_per_m3 if volume else 1.0)
                local = pd.DatetimeIndex(hourly["hour"]).tz_convert(tz).tz_localize(None).normalize()
                kwh = pd.Series(amount, index=local)
                by_day = kwh.groupby(level=0)
                daily = by_day.sum().where(by_day.count() >= MIN_HOURS_PER_DAY)
                parts[(meter.residence_code, meter.dwelling_code, meter.kind)].append(daily.reindex(days))
    # A dwelling's day of a kind is known when every meter of the kind measured it (NaN propagates).
    use = {key: sum(series[1:], series[0]) for key, series in parts.items()}
    return use, temperatures, owner


def judge_seed(seed: int, dwellings: int, settings: Settings) -> list[tuple[str, bool, int, int, int]]:
    """Per dwelling and kind: (kind, baseline qualified, alarms, alarm days, alarms over a Saturday and Sunday)."""
    tz = settings.timezone
    thresholds = thresholds_from(settings)
    baseline_settings = BaselineSettings()  # the nightly job's analyse_dwelling uses the defaults
    use, temperatures, owner = simulated_days(seed, dwellings, settings)
    out = []
    for (residence, dwelling, kind), daily in sorted(use.items()):
        temperature_c = temperatures.get(owner[(residence, dwelling)], pd.Series(dtype=float))
        params, _ = fit_window(daily, temperature_c, FIT_START, JUDGE_START, baseline_settings)
        if params is None:
            out.append((kind, False, 0, 0, 0))
            continue
        judged = pd.date_range(pd.Timestamp(JUDGE_START), pd.Timestamp(END), freq="D", inclusive="left")
        frame = pd.DataFrame({"energy_kwh": daily.reindex(judged), "temperature_c": temperature_c.reindex(judged)})
        predicted = DailyBaselineModel.from_params(params).predict(frame)["predicted_kwh"]
        frame = frame.assign(predicted_kwh=predicted)
        frame.index = frame.index.tz_localize(tz)
        found = detect_above_baseline(frame, params.rmse_kwh, 0, 0, thresholds)
        # A weekend run: households at home use more, and the daily baseline has no day-of-week term.
        weekend = sum(1 for a in found if a.start.day_of_week == 5 and a.evidence["days"] == 2)
        out.append((kind, True, len(found), int(sum(a.evidence["days"] for a in found)), weekend))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[201, 202, 203])
    parser.add_argument("--dwellings", type=int, default=120)
    parser.add_argument("--confidence", type=float, default=0.95)
    parser.add_argument("--quick", action="store_true", help="tiny scale, seconds: checks the script still runs")
    args = parser.parse_args()
    if args.quick:
        args.seeds, args.dwellings = args.seeds[:1], 20
    if TUNED_ON & set(args.seeds):
        parser.error(f"seeds {sorted(TUNED_ON & set(args.seeds))} were used for tuning or by the year test")
    measured_at = _commit()
    settings = Settings()
    judged: Counter[str] = Counter()
    unqualified: Counter[str] = Counter()
    alarmed: Counter[str] = Counter()
    alarms: Counter[str] = Counter()
    alarm_days: Counter[str] = Counter()
    weekends: Counter[str] = Counter()
    for seed in args.seeds:
        for kind, qualified, count, days, weekend in judge_seed(seed, args.dwellings, settings):
            if not qualified:
                unqualified[kind] += 1
                continue
            judged[kind] += 1
            alarmed[kind] += count > 0
            alarms[kind] += count
            alarm_days[kind] += days
            weekends[kind] += weekend
        print(f"seed {seed}: " + ", ".join(f"{k} {alarmed[k]}/{judged[k]}" for k in sorted(judged)), flush=True)
    print(f"above-baseline on fault-free years: {len(args.seeds)} held-out seeds {args.seeds} of {args.dwellings} "
          f"homes, baseline fitted on {FIT_START}..{JUDGE_START}, judged {JUDGE_START}..{END} (commit {measured_at})")
    for kind in sorted(set(judged) | set(unqualified)):
        n = judged[kind]
        share = clopper_pearson_upper(alarmed[kind], n, args.confidence) if n else float("nan")
        per_year = poisson_upper(alarms[kind], n, args.confidence) if n else float("nan")
        print(f"{kind:>12}: home-years with an alarm {alarmed[kind]}/{n} ({args.confidence:.0%} upper bound "
              f"{share:.3f}), alarms {alarms[kind]} ({args.confidence:.0%} upper bound {per_year:.3f} per home-year), "
              f"alarm days {alarm_days[kind]}, alarms that are exactly a Saturday and Sunday {weekends[kind]}, "
              f"baselines not qualified {unqualified[kind]}")


if __name__ == "__main__":
    main()
