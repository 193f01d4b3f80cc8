"""The ranking periods an adviser may choose (migration 0018): what each is, its days, in the order advisers see them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import psycopg

from analytics.ranking_periods import PERIOD_KINDS


@dataclass(frozen=True)
class OfferedPeriod:
    """A period some dwelling of the scope is ranked over: its kind and local days [start, end)."""

    kind: str
    start: date
    end: date


def offered_periods(conn: psycopg.Connection, residence_ids: list[int]) -> list[OfferedPeriod]:
    """The ranked periods of dwellings of these residences: last twelve months first, then season, year, the year before."""
    rows = conn.execute(
        """
        SELECT DISTINCT h.period_kind, h.period_start, h.period_end
        FROM high_consumer h JOIN dwelling d ON d.id = h.dwelling_id JOIN building b ON b.id = d.building_id
        WHERE b.residence_id = ANY(%s)
        """,
        (residence_ids,),
    ).fetchall()
    periods = [OfferedPeriod(kind, start, end) for kind, start, end in rows]
    order = {kind: i for i, kind in enumerate(PERIOD_KINDS)}
    # Within a kind, latest first (a scope spanning residences ranked on other nights has several).
    return sorted(periods, key=lambda p: (order.get(p.kind, len(order)), -p.end.toordinal(), -p.start.toordinal()))
