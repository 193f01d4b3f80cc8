"""Recall and dating of injected faults, and false alarms, over several simulated years (beyond the test's one).

Usage: python bench/fault_recall.py [--seeds 41 42 43] [--dwellings 120] [--per-kind 20] [--unheated-min-days N]
                                    [--unheated-reference-quantile Q] [--records FILE] [--quick]
       --quick: one seed of 40 homes, 2 faults of each kind (seconds; checks the script runs, not the recall)

Each seed simulates a year of 30-minute readings for ``--dwellings`` homes, ``--per-kind`` faults of each
kind on distinct homes, and runs every detector of the anomaly job (``detect_meter``) on the frames the job
would load (tests/analytics_year_support.py). Prints, per kind (base-load jumps split by heating), how many
faults are found, how many are dated within one reporting period, the dating errors' range, and the alarms
on meters without a fault (``--per-kind 0``: fault-free years, false alarms only). ``--unheated-min-days``
and ``--unheated-reference-quantile`` try another number of unheated days, or another quantile of the usual
days to judge them against, for a base-load rise in electrically heated homes. ``--records FILE`` writes every
anomaly found (seed, meter, kind, severity, start, end, ongoing and every evidence value at full precision), one
a line: ``diff`` two such files to show a change leaves what the detectors find untouched. The above-baseline detector
needs a baseline fitted on a year before: its false alarms over a fault-free year are bench/above_baseline_alarms.py.
"""

from __future__ import annotations

import argparse
import dataclasses
from collections import defaultdict
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd

from analytics.anomalies import Anomaly
from analytics.job.run import ELECTRIC_HEATING, thresholds_from
from coopwatt.settings import Settings
from coopwatt.simulator.faults import plan_faults
from coopwatt.simulator.residence import make_residences
from tests.analytics_year_support import STEP_S, alarms_of, detect_simulated, match_faults, other_kind_alarms

START = datetime(2025, 1, 1, tzinfo=UTC)
END = datetime(2026, 1, 1, tzinfo=UTC)
PERIOD = pd.Timedelta(seconds=STEP_S)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[41, 42, 43])
    parser.add_argument("--dwellings", type=int, default=120)
    parser.add_argument("--per-kind", type=int, default=20)
    parser.add_argument("--unheated-min-days", type=int, default=None)
    parser.add_argument("--unheated-reference-quantile", type=float, default=None)
    parser.add_argument("--records", type=Path, default=None, help="write every anomaly found to this file")
    parser.add_argument("--quick", action="store_true", help="tiny scale, seconds: checks the script still runs")
    args = parser.parse_args()
    if args.quick:
        args.seeds, args.dwellings, args.per_kind = args.seeds[:1], 40, 2
    settings = Settings()
    thresholds = thresholds_from(settings)
    if args.unheated_min_days is not None:
        thresholds = dataclasses.replace(thresholds, unheated_min_days=args.unheated_min_days)
    if args.unheated_reference_quantile is not None:
        thresholds = dataclasses.replace(thresholds, unheated_reference_quantile=args.unheated_reference_quantile)
    errors: dict[str, list[pd.Timedelta | None]] = defaultdict(list)
    false_alarms: list[str] = []
    other_kinds: list[str] = []
    electric_homes = 0
    records: list[str] = []
    for seed in args.seeds:
        residences = make_residences(args.dwellings, seed=seed)
        heating = {(d.residence_code, d.code): d.heating_type for r in residences for d in r.dwellings}
        electric_homes += sum(1 for h in heating.values() if h in ELECTRIC_HEATING)
        faults = plan_faults(residences, START, END, seed, per_kind=args.per_kind)
        results = list(detect_simulated(residences, START, END, seed=seed, settings=settings,
                                        thresholds=thresholds, faults=faults))
        records += [_record(seed, r.meter.source, a) for r in results for a in r.anomalies]
        found = alarms_of(results)
        matches, alarms = match_faults(found, faults)
        false_alarms += [a.kind for a in alarms]
        other_kinds += [a.kind for a in other_kind_alarms(found, faults)]
        for m in matches:
            kind = m.fault.kind
            if kind == "base_load_jump":
                electric = heating[(m.fault.residence_code, m.fault.dwelling_code)] in ELECTRIC_HEATING
                kind += " (electric heating)" if electric else " (other heating)"
            # A spike is the reading at its start: what it measured flowed during the period that ends there.
            shift = PERIOD if m.fault.kind == "spike" else pd.Timedelta(0)
            errors[kind].append(None if m.anomaly is None else m.anomaly.start - (pd.Timestamp(m.fault.start) - shift))
    print(f"{len(args.seeds)} simulated years of {args.dwellings} homes, {args.per_kind} faults of each kind per year, "
          f"({electric_homes} electrically heated home-years), base-load rises in those homes after "
          f"{thresholds.unheated_min_days} unheated days against the usual days' "
          f"{thresholds.unheated_reference_quantile:.0%} quantile")
    for kind, found in sorted(errors.items()):
        dated = [e for e in found if e is not None]
        within = sum(abs(e) <= PERIOD for e in dated)
        hours = [e / pd.Timedelta(hours=1) for e in dated]
        spread = f"errors {min(hours):+.1f} h to {max(hours):+.1f} h" if hours else "none found"
        print(f"{kind:>32}: found {len(dated)}/{len(found)}, within one period {within}/{len(found)}, {spread}")
    by_kind = {kind: int(count) for kind, count in pd.Series(false_alarms, dtype=object).value_counts().items()}
    print(f"alarms on meters without a fault: {len(false_alarms)} {by_kind}")
    by_kind = {kind: int(count) for kind, count in pd.Series(other_kinds, dtype=object).value_counts().items()}
    print(f"alarms on faulty meters of a kind no fault there explains: {len(other_kinds)} {by_kind}")
    if args.records is not None:
        args.records.write_text("".join(line + "\n" for line in records), encoding="utf-8")


def _record(seed: int, source: str, anomaly: Anomaly) -> str:
    """One anomaly as one line, every float in full (repr) precision."""
    evidence = " ".join(f"{key}={value!r}" for key, value in sorted(anomaly.evidence.items()))
    return (f"{seed} {source} {anomaly.kind.value} {anomaly.severity.value} {anomaly.start.isoformat()} "
            f"{anomaly.end.isoformat()} ongoing={anomaly.ongoing} {evidence}")


if __name__ == "__main__":
    main()
