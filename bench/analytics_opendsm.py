"""coopwatt's daily baseline against opendsm 1.2.7's daily model on opendsm's own sample meters.

opendsm runs in its own virtual environment (it pins pandas < 3), as a subprocess
(`bench/opendsm_runner.py`) that writes the exact daily data it fitted on, its in-sample
predictions and its fit time to JSON. This script then fits coopwatt's
`DailyBaselineModel` on that same data in the project's venv and prints both side by side.

Both models' CV(RMSE) and NMBE are computed here with the same formula
(`analytics.metrics`, in sample, n_params = 0 so neither model is favoured by its own
parameter count). Fit time: opendsm one fit, coopwatt the median of many. The note adds
coopwatt's own out-of-sample CV(RMSE) / NMBE (what it stores; 10-fold blocked cross-validation).

Run:  sh bench/opendsm_env.sh && uv run python bench/analytics_opendsm.py [--json saved.json]
      --quick: one sample, 3 coopwatt fits (seconds, once opendsm's venv exists)
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from analytics.baseline import BaselineSettings, DailyBaselineModel, fit_daily_arrays  # noqa: E402
from analytics.errors import InsufficientDataError  # noqa: E402
from analytics.metrics import cv_rmse, nmbe  # noqa: E402

HERE = Path(__file__).resolve().parent
REPEATS = 30
QUICK_SAMPLE = "il-electricity-cdd-hdd-daily"


def run_opendsm(python: str, out: Path, samples: list[str] | None = None) -> dict:
    """Fit opendsm's samples (default: all) in its own interpreter; return the JSON it wrote."""
    subprocess.run([python, str(HERE / "opendsm_runner.py"), str(out), *(samples or [])], check=True)
    return json.loads(out.read_text())


def fit_coopwatt(daily: pd.DataFrame, repeats: int = REPEATS) -> tuple[np.ndarray, float, str]:
    """Fit coopwatt's model (with its sufficiency check when the data passes it); predictions, median fit s, note."""
    settings = BaselineSettings()
    try:
        DailyBaselineModel(settings).fit(daily)
        fit = lambda: DailyBaselineModel(settings).fit(daily)  # noqa: E731
        note = ""
    except InsufficientDataError as error:
        # Still compare the fit itself; say that the real pipeline would refuse this meter.
        energy, temperature = daily["energy_kwh"].to_numpy(), daily["temperature_c"].to_numpy()
        fit = lambda: fit_daily_arrays(energy, temperature, settings)  # noqa: E731
        note = "sufficiency refused: " + ", ".join(r.code for r in error.reasons)
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        result = fit()
        times.append(time.perf_counter() - started)
    params = result.params if isinstance(result, DailyBaselineModel) else result
    predicted = DailyBaselineModel.from_params(params, settings).predict(daily)["predicted_kwh"].to_numpy()
    held_out = f", out of sample {params.cv_rmse:.3f} / {params.nmbe:+.4f}" if params.cv_folds else ""
    return predicted, statistics.median(times), note + f" [{params.model_type}{held_out}]"


def main() -> None:
    """Run opendsm, fit coopwatt on the same data, print the table and ratios."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--python", default=os.environ.get("OPENDSM_PYTHON", "/tmp/opendsm-venv/bin/python"))
    parser.add_argument("--json", type=Path, help="reuse a JSON written by opendsm_runner.py instead of running it")
    parser.add_argument("--quick", action="store_true", help="one sample, seconds: checks the script still runs")
    args = parser.parse_args()
    if not args.json and not Path(args.python).exists():
        sys.exit(f"no opendsm interpreter at {args.python}: run `sh bench/opendsm_env.sh` first (or pass --python)")
    load = os.getloadavg()[0]
    if args.json:
        result = json.loads(args.json.read_text())
    else:
        with tempfile.TemporaryDirectory() as tmp:
            result = run_opendsm(args.python, Path(tmp) / "opendsm.json", [QUICK_SAMPLE] if args.quick else None)
    print(f"load average at start {load:.2f}; opendsm {result['opendsm_version']} with pandas {result['pandas_version']}")
    header = ("sample", "days", "CV(RMSE) odsm", "CV(RMSE) cw", "cw/odsm", "NMBE odsm", "NMBE cw",
              "fit odsm", "fit cw", "speed-up", "coopwatt model / note")
    print(" | ".join(header))
    ratios, speedups = [], []
    for s in result["samples"]:
        index = pd.DatetimeIndex(pd.to_datetime(s["day"]))
        daily = pd.DataFrame({"energy_kwh": s["energy"],
                              "temperature_c": (np.asarray(s["temperature_f"]) - 32) * 5 / 9}, index=index)
        observed = daily["energy_kwh"].to_numpy()
        odsm = np.asarray(s["opendsm_predicted"], dtype=float)
        predicted, fit_s, note = fit_coopwatt(daily, 3 if args.quick else REPEATS)
        cv_o, cv_c = cv_rmse(observed, odsm, 0), cv_rmse(observed, predicted, 0)
        ratios.append(cv_c / cv_o)
        speedups.append(s["opendsm_fit_s"] / fit_s)
        print(f"{s['sample']} | {len(daily)} | {cv_o:.3f} | {cv_c:.3f} | {cv_c / cv_o:.3f} | "
              f"{nmbe(observed, odsm, 0):+.4f} | {nmbe(observed, predicted, 0):+.4f} | "
              f"{s['opendsm_fit_s'] * 1000:.0f} ms | {fit_s * 1000:.2f} ms | {s['opendsm_fit_s'] / fit_s:,.0f}× | {note}")
    print(f"CV(RMSE) coopwatt/opendsm: worst {max(ratios):.3f}, median {statistics.median(ratios):.3f} "
          f"(target ≤ 1.10); speed-up: slowest {min(speedups):,.0f}×, median {statistics.median(speedups):,.0f}× "
          f"(target ≥ 100×); load average at end {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
