"""Writes of the nightly run: baselines, comparisons, rankings, suggestions and savings, for the dashboard to read."""

from __future__ import annotations

import math
from datetime import date

import pandas as pd
import psycopg
from psycopg.types.json import Jsonb

from analytics.comparison import ComparisonResult
from analytics.dwelling_year import DwellingYear
from analytics.savings import SavingsResult
from analytics.suggestions import Suggestion


def _number(value: object) -> float | None:
    """A finite float, or None for SQL NULL."""
    if value is None:
        return None
    number = float(value)  # type: ignore[arg-type]
    return number if math.isfinite(number) else None


def write_baselines(conn: psycopg.Connection, results: list[DwellingYear]) -> int:
    """Upsert each dwelling's current baseline per energy kind (or its reasons when unqualified)."""
    rows = []
    for result in results:
        for kind in result.kinds.values():
            p = kind.params
            rows.append((
                result.dwelling_id, kind.kind, kind.period_start, kind.period_end, p is not None,
                Jsonb([reason.to_dict() for reason in kind.reasons]),
                Jsonb(p.to_dict()) if p is not None else None,
                _number(p.cv_rmse) if p else None, _number(p.nmbe) if p else None,
                _number(p.intercept_kwh) if p else None,
                _number(p.heating_kwh_per_degree_day) if p and p.heating_balance_c is not None else None,
                p.heating_balance_c if p else None,
                _number(kind.normalised_kwh_per_year),
            ))
    with conn.cursor() as cur:
        cur.executemany(
            """INSERT INTO baseline (dwelling_id, energy_kind, period_start, period_end, qualified, reasons, params,
                                     cv_rmse, nmbe, base_kwh_per_day, heating_kwh_per_degree_day,
                                     heating_balance_point_c, normalised_kwh_per_year)
               VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)
               ON CONFLICT (dwelling_id, energy_kind) DO UPDATE SET
                 fitted_at = now(), period_start = excluded.period_start, period_end = excluded.period_end,
                 qualified = excluded.qualified, reasons = excluded.reasons, params = excluded.params,
                 cv_rmse = excluded.cv_rmse, nmbe = excluded.nmbe, base_kwh_per_day = excluded.base_kwh_per_day,
                 heating_kwh_per_degree_day = excluded.heating_kwh_per_degree_day,
                 heating_balance_point_c = excluded.heating_balance_point_c,
                 normalised_kwh_per_year = excluded.normalised_kwh_per_year""",
            rows,
        )
    return len(rows)


def group_description(key: str) -> dict[str, object]:
    """What a group key says about its homes: scope (residence or district), floor-area band, heating type."""
    scope, _, rest = key.partition(":")
    place, band, heating = (rest.split("|") + ["", "", ""])[:3]
    return {"scope": scope, "place": place, "floor_area_band_m2": band, "heating_type": heating}


def write_comparison(conn: psycopg.Connection, kind: str, period: tuple[date, date], result: ComparisonResult,
                     frozen: set[str]) -> tuple[int, int, int]:
    """Store one period's groups and members, leaving groups already published untouched; (published, withheld, unchanged)."""
    groups = [g for key, g in result.groups.items() if key not in frozen]
    # Published figures never change: a later sum over other homes could be subtracted from them.
    conn.execute("DELETE FROM comparison_group WHERE energy_kind = %s AND period_start = %s AND period_end = %s"
                 " AND group_key = ANY(%s)", (kind, *period, [g.key for g in groups]))
    with conn.cursor().copy(
        "COPY comparison_group (group_key, energy_kind, period_start, period_end, description, member_count,"
        " published, withheld_reason, average_kwh, average_kwh_per_m2, efficient_kwh, efficient_kwh_per_m2,"
        " efficient_home_count) FROM STDIN"
    ) as copy:
        for g in groups:
            copy.write_row((g.key, kind, *period, Jsonb(group_description(g.key)), g.member_count, g.published,
                            g.withheld_reason, g.average_kwh, g.average_kwh_per_m2, g.efficient_kwh,
                            g.efficient_kwh_per_m2, g.efficient_home_count))
    members = result.dwellings
    members = members[members["group_key"].isin({g.key for g in groups})]
    with conn.cursor().copy(
        "COPY comparison_member (group_key, energy_kind, period_start, period_end, dwelling_id, energy_kwh,"
        " energy_kwh_per_m2, percentile) FROM STDIN"
    ) as copy:
        for row in members.itertuples(index=False):
            copy.write_row((row.group_key, kind, *period, int(row.dwelling_id), float(row.normalised_energy_kwh),
                            float(row.normalised_energy_kwh_per_m2), _number(row.percentile_per_m2)))
    published = sum(g.published for g in groups)
    return published, len(groups) - published, len(frozen)


def write_rankings(conn: psycopg.Connection, kind: str, period: tuple[date, date], ranking: pd.DataFrame,
                   period_kind: str) -> int:
    """Replace this kind's ranking for the period (advisers see identified dwellings, so every one is kept)."""
    conn.execute("DELETE FROM high_consumer WHERE energy_kind = %s AND period_start = %s AND period_end = %s",
                 (kind, *period))
    with conn.cursor().copy(
        "COPY high_consumer (dwelling_id, energy_kind, period_start, period_end, period_kind, normalised_kwh_per_m2,"
        " group_median_kwh_per_m2, ratio_to_group, rank, reasons) FROM STDIN"
    ) as copy:
        for row in ranking.itertuples():
            copy.write_row((int(row.dwelling_id), kind, *period, period_kind, float(row.kwh_per_m2_year),
                            _number(row.reference_kwh_per_m2_year), _number(row.ratio), int(row.rank),
                            Jsonb([reason.to_dict() for reason in row.reasons])))
    return len(ranking)


def drop_ranking(conn: psycopg.Connection, kind: str, period: tuple[date, date]) -> None:
    """Remove this kind's ranking for the period (no home has a figure for it tonight)."""
    conn.execute("DELETE FROM high_consumer WHERE energy_kind = %s AND period_start = %s AND period_end = %s",
                 (kind, *period))


def forget_old_rankings(conn: psycopg.Connection, keep_periods: list[tuple[date, date]]) -> None:
    """Rankings of periods no longer computed go (each night's periods replace the previous night's)."""
    conn.execute("DELETE FROM high_consumer h WHERE NOT EXISTS (SELECT 1 FROM unnest(%s::date[], %s::date[]) k(s, e)"
                 " WHERE k.s = h.period_start AND k.e = h.period_end)",
                 ([p[0] for p in keep_periods], [p[1] for p in keep_periods]))


def write_suggestions(conn: psycopg.Connection, dwelling_ids: list[int], suggestions: list[Suggestion]) -> int:
    """Replace the suggestions of these dwellings; per dwelling and kind the most valuable one is kept."""
    best: dict[tuple[int, str], Suggestion] = {}
    for s in suggestions:
        key = (s.dwelling_id, str(s.kind))
        if key not in best or s.cost_eur_per_year > best[key].cost_eur_per_year:
            best[key] = s
    conn.execute("DELETE FROM suggestion WHERE dwelling_id = ANY(%s)", (dwelling_ids,))
    with conn.cursor().copy(
        "COPY suggestion (dwelling_id, kind, energy_kwh_per_year, cost_eur_per_year, evidence) FROM STDIN"
    ) as copy:
        for (dwelling_id, kind), s in best.items():
            evidence = {**s.evidence, **({"volume_m3_per_year": s.volume_m3_per_year} if s.volume_m3_per_year else {})}
            copy.write_row((dwelling_id, kind, float(s.energy_kwh_per_year), float(s.cost_eur_per_year), Jsonb(evidence)))
    return len(best)


def write_savings(conn: psycopg.Connection, intervention_id: int, kind: str, result: SavingsResult) -> None:
    """Upsert one intervention's weather-normalised savings for one energy kind."""
    conn.execute(
        """INSERT INTO savings_result (intervention_id, energy_kind, reporting_days, avoided_kwh, avoided_fraction,
                                       band_kwh, confidence, detail)
           VALUES (%s, %s, %s, %s, %s, %s, %s, %s)
           ON CONFLICT (intervention_id, energy_kind) DO UPDATE SET computed_at = now(),
             reporting_days = excluded.reporting_days, avoided_kwh = excluded.avoided_kwh,
             avoided_fraction = excluded.avoided_fraction, band_kwh = excluded.band_kwh,
             confidence = excluded.confidence, detail = excluded.detail""",
        (intervention_id, kind, result.reporting_days, result.avoided_kwh, result.avoided_fraction, result.band_kwh,
         result.confidence, Jsonb({"baseline_kwh": result.baseline_kwh, "observed_kwh": result.observed_kwh,
                                   "band_fraction": result.band_fraction,
                                   "ashrae14_band_kwh": result.ashrae14_band_kwh,
                                   "model": result.model.to_dict()})),
    )
