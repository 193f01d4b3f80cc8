"""Similar homes' typical day as the household's card reads it (migration 0018): its own group's row only."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import psycopg


@dataclass(frozen=True)
class PeerDayRow:
    """The typical day of the group a home belongs to for a kind (figures only when published)."""

    group_key: str
    period_start: date
    period_end: date
    published: bool
    withheld_reason: str | None
    member_count: int | None  # only when published: a withheld group's size is not told
    mean_by_hour: tuple[float, ...] | None


def peer_day_of(conn: psycopg.Connection, dwelling_id: int, kind: str) -> PeerDayRow | None:
    """The latest night's typical day of this home's group of similar homes for the kind, if the home is in one."""
    row = conn.execute(
        """
        SELECT p.group_key, p.period_start, p.period_end, p.published, p.withheld_reason, p.member_count,
               p.mean_by_hour
        FROM peer_day_member m JOIN peer_day_profile p USING (group_key, energy_kind, period_start, period_end)
        WHERE m.dwelling_id = %s AND m.energy_kind = %s
          -- The latest night's window only: earlier published windows are kept by the job for its own check.
          AND p.period_end = (SELECT max(period_end) FROM peer_day_profile WHERE energy_kind = %s)
        ORDER BY p.published DESC LIMIT 1
        """,
        (dwelling_id, kind, kind),
    ).fetchone()
    if row is None:
        return None
    key, start, end, published, reason, count, means = row
    return PeerDayRow(key, start, end, bool(published), reason, int(count) if published else None,
                      tuple(float(v) for v in means) if published and means is not None else None)
