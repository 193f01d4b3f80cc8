"""The nightly hardship step: heating figures on measured days only, the signal, and its cases stored.

Reads each chunk's heating energy (estimated and suspect days left out), computes
the figures of analytics.hardship, flags across all dwellings, then keeps one case
per dwelling and signal (hardship_case, migration 0017) for the advisers' list.
"""

from __future__ import annotations

import json
from datetime import date, timedelta

import numpy as np
import pandas as pd
import psycopg

from analytics.comparison import ComparisonSettings
from analytics.hardship import HardshipFlag, flag_hardship, heating_figures, settings_from
from analytics.job import nightly_load as load
from coopwatt.settings import Settings

# The energy a heating type's use shows up on (collective heating on a dwelling's heat meter, when it has one).
HEATING_KIND = {"electric": "electricity", "heat_pump": "electricity", "gas": "gas", "collective": "heat",
                "district": "heat"}


def yearly_costs_eur(frame: pd.DataFrame, prices_eur_per_kwh: dict[str, float]) -> dict[int, float]:
    """Per dwelling: weather-normalised yearly use × price, summed over its kinds; NaN when one kind is unknown."""
    if frame.empty:
        return {}
    cost = frame["normalised_energy_kwh"].astype(float) * frame["energy_kind"].map(prices_eur_per_kwh).astype(float)
    return {int(k): float(v.sum()) for k, v in cost.groupby(frame["dwelling_id"]) if v.notna().all()}


def first_day(today: date, settings: Settings) -> date:
    """The first day the signal reads: the last window and the same days a year before."""
    return today - timedelta(days=365 + settings_from(settings).window_days)


def find_cases(conn: psycopg.Connection, dwellings: list[load.DwellingInfo], frame: pd.DataFrame,
               temperatures: dict[int, pd.Series], today: date, settings: Settings,
               prices_eur_per_kwh: dict[str, float],
               measured: dict[tuple[int, str], pd.Series] | None = None) -> list[HardshipFlag]:
    """The signals raised tonight over these dwellings.

    ``measured``: the heating kind's measured days per (dwelling, kind) since ``first_day``, when the
    nightly's own read already holds them (``nightly_load.daily_use_and_measured``); read here otherwise.
    """
    hs = settings_from(settings)
    start = first_day(today, settings)
    costs = yearly_costs_eur(frame, prices_eur_per_kwh)
    rows = []
    size = settings.analytics_chunk_dwellings
    for offset in range(0, len(dwellings), size):
        chunk = dwellings[offset:offset + size]
        if measured is not None:
            daily = measured
        else:
            daily = load.daily_use(conn, chunk, start, today, settings.timezone, settings.gas_kwh_per_m3,
                                   measured_only=True)
            conn.commit()
        for info in chunk:
            kind = HEATING_KIND.get(info.heating_type or "")
            series = daily.get((info.dwelling_id, kind)) if kind else None
            weather = temperatures.get(info.residence_id)
            figures = None
            if series is not None and weather is not None:
                figures = heating_figures(pd.DataFrame({"energy_kwh": series, "temperature_c": weather.reindex(series.index)}),
                                          today, hs)
            rows.append({"dwelling_id": info.dwelling_id, "residence_id": info.residence_id, "district": info.district,
                         "floor_area_m2": np.nan if info.floor_area_m2 is None else info.floor_area_m2,
                         "heating_type": info.heating_type, "figures": figures,
                         "yearly_cost_eur": costs.get(info.dwelling_id, np.nan)})
    if not rows:
        return []
    return flag_hardship(pd.DataFrame(rows), hs, ComparisonSettings(min_group_size=settings.comparison_min_group_size))


def write_cases(conn: psycopg.Connection, run_id: int | None, assessed: list[int], flags: list[HardshipFlag]) -> int:
    """Open or refresh a case per flag; cases of assessed dwellings no longer flagged say so. Returns flags written."""
    for flag in flags:
        conn.execute(
            """INSERT INTO hardship_case (dwelling_id, signal, evidence, run_id) VALUES (%s, %s, %s, %s)
               ON CONFLICT (dwelling_id, signal) WHERE status <> 'closed'
               DO UPDATE SET evidence = EXCLUDED.evidence, run_id = EXCLUDED.run_id, still_flagged = true,
                             last_flagged_at = now()""",
            (flag.dwelling_id, flag.signal, json.dumps(flag.evidence), run_id),
        )
    conn.execute(
        """UPDATE hardship_case SET still_flagged = false
            WHERE status <> 'closed' AND still_flagged AND dwelling_id = ANY(%s)
              AND (dwelling_id, signal) NOT IN (SELECT * FROM unnest(%s::integer[], %s::text[]))""",
        (assessed, [f.dwelling_id for f in flags], [f.signal for f in flags]),
    )
    return len(flags)
