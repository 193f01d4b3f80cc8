"""Runs inside the separate opendsm venv (never the project's): fits opendsm's daily model on its own samples.

Writes JSON to stdout-path argv[1]: per sample, the exact daily input (day, kWh, °F) opendsm fitted on,
its in-sample predictions and the fit time; further arguments name the samples to fit (default: all of
SAMPLES). Run by bench/analytics_opendsm.py, not by hand.
"""

import json
import sys
import time
from datetime import timedelta

import pandas as pd
from opendsm import eemeter

SAMPLES = (
    "il-electricity-cdd-hdd-daily", "il-electricity-cdd-only-daily",
    "il-gas-hdd-only-daily", "il-gas-intercept-only-daily",
    "uk-electricity-hdd-only-hourly-sample-0", "uk-electricity-hdd-only-hourly-sample-1",
    "uk-electricity-hdd-only-hourly-sample-2", "uk-gas-hdd-only-hourly-sample-0",
)
REPEATS = 1  # one fit takes seconds; repeating only multiplies the wait


def run(sample: str) -> dict:
    """Fit opendsm's DailyModel on the year before the sample's blackout; best of REPEATS fit times."""
    uk = sample.startswith("uk")
    meter, temperature, meta = eemeter.load_sample(sample, tempF=not uk)
    if uk:  # the UK samples ship °C; opendsm's daily model works in °F
        temperature = temperature * 9 / 5 + 32
    if meta.get("freq") == "hourly":
        meter = meter.resample("D").sum(min_count=1)  # the daily model takes daily totals
    end = meta["blackout_start_date"]
    meter = meter[(meter.index >= end - timedelta(days=365)) & (meter.index < end)]
    data = eemeter.DailyBaselineData.from_series(meter, temperature, is_electricity_data="electricity" in sample)
    times = []
    for _ in range(REPEATS):
        started = time.perf_counter()
        model = eemeter.DailyModel().fit(data, ignore_disqualification=True)
        times.append(time.perf_counter() - started)
    df = data.df.dropna(subset=["observed", "temperature"])
    predicted = model.predict(data, ignore_disqualification=True)
    predicted = predicted.reindex(df.index)
    return {
        "sample": sample,
        "day": [str(d.date()) for d in df.index],
        "energy": df["observed"].astype(float).tolist(),
        "temperature_f": df["temperature"].astype(float).tolist(),
        "opendsm_predicted": predicted["predicted"].astype(float).tolist(),
        "opendsm_fit_s": min(times),
        "opendsm_combination": str(getattr(model, "best_combination", "")),
    }


def main() -> None:
    """Fit the samples asked (every one by default) and write the JSON file."""
    out = [run(s) for s in (sys.argv[2:] or SAMPLES)]
    with open(sys.argv[1], "w") as f:
        json.dump({"opendsm_version": eemeter.__version__ if hasattr(eemeter, "__version__") else "1.2.7",
                   "pandas_version": pd.__version__, "samples": out}, f)


if __name__ == "__main__":
    main()
