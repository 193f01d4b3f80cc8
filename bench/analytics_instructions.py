"""Instructions per dwelling of the nightly analysis, at two commits, on the same frames: load-independent.

The wall-clock figure of bench/analytics_nightly.py moves by tens of percent with the load of a shared machine;
the number of instructions a process executes does not. This counts them with callgrind for each commit's own
``Pipeline.dwelling`` (``bench/analytics_nightly.py`` of that commit's checkout) on the same dwellings' frames:

  1. ``--make``: a year (2025) of 30-minute readings for the first ``--dwellings`` (12) dwellings of the
     nightly bench's simulation (seed 7, chunks of 50), derived to hourly use exactly as the nightly bench does,
     saved once to an ``.npz`` file (plain arrays: any pandas version reads them back);
  2. for each root (``--baseline-root``, then ``--root``): two processes under ``valgrind --tool=callgrind``,
     one analysing the first 2 dwellings, one all 12, after loading every frame; per dwelling =
     (instructions of 12 − instructions of 2) / 10, so start-up, imports and first calls cancel out.
     Both run with this interpreter (the same numpy and pandas), PYTHONHASHSEED=0, and only the root's
     own code on the path (checked).

Prints the instructions per dwelling of each root and their ratio (this / baseline), with what the pipeline found
(its counts) as a check that both analysed the same dwellings.

Run:  python bench/analytics_instructions.py --baseline-root /work/wt/d31374e   (a checkout of the baseline commit)
      --quick: 3 dwellings, 1 against 3, CPU time in one process instead of callgrind, this root against itself
      by default (seconds; checks the script runs, not the figure)
"""

from __future__ import annotations

import argparse
import cProfile
import hashlib
import importlib.util
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
TZ = "Europe/Paris"
START = datetime(2025, 1, 1, tzinfo=UTC)
END = datetime(2026, 1, 1, tzinfo=UTC)
SEED = 7
NAIVE_EVERY = 10**9  # the naive fit only on dwelling number 0, if among those analysed: in both counts alike


def make_frames(path: Path, dwellings: int, per_chunk: int = 50) -> None:
    """Generate and derive the first ``dwellings`` dwellings' frames as the nightly bench does; save them."""
    sys.path.insert(0, str(ROOT))
    import pandas as pd

    from analytics.degree_days import daily_mean_temperature_c
    from bench.analytics_nightly import hourly_series
    from coopwatt.quantities import Quantity
    from coopwatt.simulator.residence import make_residences
    from coopwatt.simulator.series import iter_chunks

    residences = make_residences(max(dwellings, per_chunk), seed=SEED)
    residence_ids = {r.code: i for i, r in enumerate(residences)}
    by_code = {(r.code, d.code): d for r in residences for d in r.dwellings}
    meters = {m.source: m for r in residences for m in r.meters if m.dwelling_code is not None}
    arrays: dict[str, np.ndarray] = {}
    meta: list[dict[str, object]] = []
    temps: dict[str, pd.Series] = {}
    for chunk in iter_chunks(residences, START, END, seed=SEED, dwellings_per_chunk=per_chunk):
        temp_block = chunk.block(Quantity.TEMPERATURE_C)
        for row, code in enumerate(temp_block.sources if temp_block is not None else ()):
            present = temp_block.present[row]
            series = daily_mean_temperature_c(pd.Series(temp_block.values[row][present], index=chunk.times[present]), TZ)
            temps[code] = series.tz_localize(None) if series.index.tz else series
        per_dwelling: dict[tuple[str, str], dict[str, pd.Series]] = {}
        for quantity, kind, rate in ((Quantity.ENERGY_INDEX_KWH, "electricity", 36.0),
                                     (Quantity.VOLUME_INDEX_M3, "water", 3.0)):
            block = chunk.block(quantity)
            for row, source in enumerate(block.sources if block is not None else ()):
                meter = meters.get(source)
                if meter is None or meter.kind != kind:
                    continue
                series = per_dwelling.setdefault((meter.residence_code, meter.dwelling_code), {})
                if kind not in series:  # one meter per kind and dwelling, as in the nightly bench
                    present = block.present[row]
                    series[kind] = hourly_series(chunk.times[present], block.values[row][present], rate)
        for key, series in per_dwelling.items():
            if "electricity" not in series or len(meta) >= dwellings:
                continue
            dwelling, i = by_code[key], len(meta)
            meta.append({"number": dwelling.number, "residence_id": residence_ids[key[0]],
                         "district": next(r.district for r in residences if r.code == key[0]),
                         "floor_area_m2": dwelling.floor_area_m2, "heating_type": dwelling.heating_type,
                         "water": "water" in series})
            for name, s in (("electricity", series["electricity"]), ("water", series.get("water")),
                            ("temperature", temps[key[0]])):
                if s is None:
                    continue
                # UTC instants (naive days: wall clock) in the index's own unit, which the code under test sees.
                arrays[f"{i}_{name}_time"] = s.index.asi8.view(f"M8[{s.index.unit}]")
                arrays[f"{i}_{name}_value"] = s.to_numpy(dtype=float)
        if len(meta) >= dwellings:
            break
    np.savez(path, meta=np.array(json.dumps(meta)), **arrays)
    print(f"saved {len(meta)} dwellings' frames to {path}")


def _load_frames(path: Path) -> list[dict[str, object]]:
    """The saved frames as the Series ``Pipeline.dwelling`` takes."""
    import pandas as pd

    data = np.load(path)
    dwellings = []
    for i, meta in enumerate(json.loads(str(data["meta"]))):
        def series(name: str, local: bool) -> pd.Series | None:
            if f"{i}_{name}_time" not in data:
                return None
            index = pd.DatetimeIndex(data[f"{i}_{name}_time"])
            return pd.Series(data[f"{i}_{name}_value"], index=index.tz_localize("UTC").tz_convert(TZ) if local else index)
        dwellings.append({"meta": meta, "electricity": series("electricity", True), "water": series("water", True),
                          "temperature": series("temperature", False)})
    return dwellings


def worker(root: Path, frames: Path, analyse: int, warm: int, cprofile: Path | None = None) -> None:
    """Analyse the first ``analyse`` dwellings with ``root``'s own pipeline; print JSON (CPU s after ``warm``).

    ``cprofile``: write a cProfile of the dwellings after the first ``warm`` to this file (for looking, not counting).
    """
    sys.path.insert(0, str(root))
    spec = importlib.util.spec_from_file_location("nightly_under_test", root / "bench" / "analytics_nightly.py")
    assert spec is not None and spec.loader is not None
    nightly = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(nightly)
    import analytics

    assert Path(analytics.__file__).resolve().is_relative_to(root.resolve()), f"analytics from {analytics.__file__}"
    dwellings = _load_frames(frames)
    pipeline = nightly.Pipeline(NAIVE_EVERY)
    started = 0.0
    profiler = cProfile.Profile() if cprofile is not None else None
    for k, d in enumerate(dwellings[:analyse]):
        if k == warm:
            started = time.process_time()
            if profiler is not None:
                profiler.enable()
        meta = d["meta"]
        pipeline.dwelling(meta["number"], SimpleNamespace(floor_area_m2=meta["floor_area_m2"],
                                                          heating_type=meta["heating_type"]),
                          meta["residence_id"], meta["district"], d["electricity"], d["temperature"], d["water"])
    cpu_s = time.process_time() - started
    if profiler is not None:
        profiler.disable()
        profiler.dump_stats(cprofile)
    # What each dwelling's row holds (normalised use, base load, heating slope), every float in full: a change
    # that should find the same must print the same digest.
    rows = hashlib.sha256(repr(pipeline.rows).encode()).hexdigest()[:16]
    print(json.dumps({"cpu_s": cpu_s, "counts": dict(sorted(pipeline.counts.items())), "rows": rows}))


def _run_worker(root: Path, frames: Path, analyse: int, warm: int, callgrind_out: Path | None) -> dict[str, object]:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env["PYTHONHASHSEED"] = "0"
    command = [sys.executable, str(Path(__file__).resolve()), "--worker", "--root", str(root), "--frames", str(frames),
               "--analyse", str(analyse), "--warm", str(warm)]
    if callgrind_out is not None:
        command = ["valgrind", "--tool=callgrind", f"--callgrind-out-file={callgrind_out}"] + command
    result = subprocess.run(command, env=env, capture_output=True, text=True, cwd=root)
    if result.returncode != 0:
        raise SystemExit(f"worker failed ({root}, {analyse} dwellings):\n{result.stderr[-3000:]}")
    found = json.loads(result.stdout.strip().splitlines()[-1])
    if callgrind_out is not None:
        totals = re.search(r"^(?:summary|totals): *([0-9]+)", callgrind_out.read_text(), re.MULTILINE)
        assert totals is not None, f"no total in {callgrind_out}"
        found["instructions"] = int(totals.group(1))
    return found


def measure(root: Path, frames: Path, low: int, high: int, quick: bool, keep: Path | None) -> tuple[float, dict]:
    """Instructions (or, quick, CPU seconds) per dwelling of ``root``'s pipeline, and its counts over ``high``."""
    if quick:
        found = _run_worker(root, frames, high, low, None)
        return float(found["cpu_s"]) / (high - low), found["counts"] | {"rows": found["rows"]}
    outs = []
    with tempfile.TemporaryDirectory() as tmp:
        for analyse in (low, high):
            out = (keep or Path(tmp)) / f"callgrind.{root.name}.{analyse}"
            outs.append(_run_worker(root, frames, analyse, 0, out))
    return (outs[1]["instructions"] - outs[0]["instructions"]) / (high - low), outs[1]["counts"] | {"rows": outs[1]["rows"]}


def main() -> None:
    """Parse arguments; make the frames if asked or absent; count both roots and print the ratio."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=Path, default=Path(tempfile.gettempdir()) / "coopwatt_nightly_frames.npz")
    parser.add_argument("--make", action="store_true", help="(re)generate the frames file")
    parser.add_argument("--dwellings", type=int, default=12)
    parser.add_argument("--low", type=int, default=2, help="dwellings of the count subtracted (start-up, first calls)")
    parser.add_argument("--root", type=Path, default=ROOT, help="checkout measured (default: this one)")
    parser.add_argument("--baseline-root", type=Path, default=None, help="checkout of the baseline commit")
    parser.add_argument("--keep", type=Path, default=None, help="keep the callgrind files in this directory")
    parser.add_argument("--quick", action="store_true", help="tiny scale, CPU time, seconds: checks the script runs")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--analyse", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--warm", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--cprofile", type=Path, default=None,
                        help="with --worker: cProfile of the dwellings after --warm, to this file")
    args = parser.parse_args()
    if args.worker:
        worker(args.root, args.frames, args.analyse, args.warm, args.cprofile)
        return
    if args.quick:
        args.dwellings, args.low = 3, 1
        args.frames = Path(tempfile.mkdtemp()) / "frames.npz"
    if args.make or not args.frames.exists():
        make_frames(args.frames, args.dwellings)
    baseline_root = args.baseline_root or (args.root if args.quick else None)
    unit = "CPU ms" if args.quick else "M instructions"
    scale = 1e3 if args.quick else 1e-6
    load = os.getloadavg()[0]
    base = None
    if baseline_root is not None:
        base, base_counts = measure(baseline_root, args.frames, args.low, args.dwellings, args.quick, args.keep)
    this, this_counts = measure(args.root, args.frames, args.low, args.dwellings, args.quick, args.keep)
    print(f"per dwelling ((count of {args.dwellings} - count of {args.low}) / {args.dwellings - args.low}), "
          f"load average {load:.2f} → {os.getloadavg()[0]:.2f}:")
    if base is not None:
        print(f"  baseline {baseline_root}: {base * scale:.1f} {unit}; found {base_counts}")
    print(f"  this     {args.root}: {this * scale:.1f} {unit}; found {this_counts}")
    if base is not None:
        print(f"this / baseline per dwelling: {this / base:.3f} ({unit}"
              + (", quick mode: CPU time, not instructions)" if args.quick else ")"))

if __name__ == "__main__":
    main()
