"""Inputs of the above-baseline detector: recent days of each dwelling's use beside its stored baseline.

The baseline belongs to a dwelling and energy kind (all its meters of that kind summed),
while alerts belong to a meter: the dwelling's lowest-numbered meter of the kind carries it.
Only complete local days before today are judged; today is still being measured.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

import pandas as pd
import psycopg

from analytics.baseline import DailyBaselineModel, DailyModelParams
from analytics.job import nightly_load
from analytics.job.load import MeterInfo

RECENT_DAYS = 14


@dataclass(frozen=True)
class BaselineCheck:
    """A dwelling's recent daily use with what its baseline predicted for those days' weather."""

    daily: pd.DataFrame  # energy_kwh, temperature_c, predicted_kwh per local day
    rmse_kwh: float


def primary_meters(conn: psycopg.Connection) -> dict[tuple[int, str], int]:
    """(dwelling, energy kind) → the meter that carries the dwelling's above-baseline alerts."""
    return {(d, k): m for d, k, m in conn.execute(
        "SELECT dwelling_id, kind, min(id) FROM meter WHERE removed_at IS NULL AND dwelling_id IS NOT NULL"
        " AND kind = ANY(%s) GROUP BY 1, 2", (list(nightly_load.ENERGY_KINDS),)).fetchall()}


def baseline_checks(conn: psycopg.Connection, chunk: list[MeterInfo], dwellings: dict[int, nightly_load.DwellingInfo],
                    primary: dict[tuple[int, str], int], today: date, tz: str,
                    gas_kwh_per_m3: float) -> dict[int, BaselineCheck]:
    """Per primary meter in the chunk with a qualified baseline: its dwelling's recent days and predictions."""
    wanted = {m.meter_id: (m.dwelling_id, m.kind) for m in chunk
              if m.dwelling_id is not None and primary.get((m.dwelling_id, m.kind)) == m.meter_id}
    if not wanted:
        return {}
    rows = conn.execute(
        "SELECT dwelling_id, energy_kind, params FROM baseline WHERE qualified AND dwelling_id = ANY(%s)",
        (sorted({d for d, _ in wanted.values()}),),
    ).fetchall()
    params = {(d, k): DailyModelParams.from_dict(p) for d, k, p in rows if p}
    infos = [dwellings[d] for d in sorted({d for d, k in wanted.values() if (d, k) in params}) if d in dwellings]
    if not infos:
        return {}
    start = today - timedelta(days=RECENT_DAYS)
    use = nightly_load.daily_use(conn, infos, start, today, tz, gas_kwh_per_m3)
    temperatures = nightly_load.daily_temperatures(conn, sorted({i.residence_id for i in infos}), start, today, tz)
    out = {}
    for meter_id, key in wanted.items():
        if key not in params or key not in use or key[0] not in dwellings:
            continue
        frame = pd.DataFrame({"energy_kwh": use[key],
                              "temperature_c": temperatures[dwellings[key[0]].residence_id].reindex(use[key].index)})
        predicted = DailyBaselineModel.from_params(params[key]).predict(frame)["predicted_kwh"]
        daily = frame.assign(predicted_kwh=predicted)
        daily.index = daily.index.tz_localize(tz)  # alert times are instants: local midnights, not naive days
        out[meter_id] = BaselineCheck(daily, params[key].rmse_kwh)
    return out
