"""Daily-resolution consumption from utility exports: the shared result type and index differences. Pure.

Utility exports give either a day's consumption (Enedis daily consumption, GRDF)
or an index read once a day (Enedis daily indices, a water utility). Both end up
as :class:`DayFigure` rows, stored in ``consumption_day`` (migration 0010), which
the analytics read together with the hourly rollup (view ``consumption_daily_all``).

An index read on day D is the meter's count at the start of D (Enedis' "arrêté
quotidien" is the index at local midnight; water utilities read it once a day and
we take the same convention), so day D used ``index(D+1) − index(D)``. When days
are missing between two indices, the difference is shared equally over the days
it spans and every one of them is marked estimated: the total is right, the split
is not measured.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from ingest.plain_csv import BadRow


@dataclass(frozen=True)
class DayFigure:
    """One local day's consumption of one meter (energy, volume or both)."""

    line: int
    day: date
    energy_kwh: float | None = None
    volume_m3: float | None = None
    estimated: bool = False
    meter: str | None = None  # the meter's source id, when the file names a meter per row


@dataclass(frozen=True)
class IndexPoint:
    """An index read on a day (energy in kWh or volume in m³, by the caller's choice)."""

    line: int
    raw: str
    day: date
    value: float
    estimated: bool = False


# An index difference spread over more days than this is not believed to say anything about them.
MAX_SPREAD_DAYS = 62


def days_from_index(points: list[IndexPoint], *, volume: bool, max_per_day: float) -> tuple[list[DayFigure], list[BadRow]]:
    """Daily consumption from daily indices (module docstring); decreases and absurd jumps are bad rows.

    ``max_per_day`` is the most a meter of this kind can count in a day (kWh or m³): a larger
    difference is a replaced meter or a typing error, reported and not stored.
    """
    figures: list[DayFigure] = []
    bad: list[BadRow] = []
    ordered = sorted(points, key=lambda p: (p.day, p.line))
    previous: IndexPoint | None = None
    for point in ordered:
        if previous is not None and point.day == previous.day:
            if point.value != previous.value:
                bad.append(BadRow(point.line, point.raw, f"a second, different index for {point.day.isoformat()}"
                                  f" (line {previous.line} has {previous.value:g})"))
            continue
        if previous is not None:
            days = (point.day - previous.day).days
            used = round(point.value - previous.value, 9)  # no float noise from 512 480 − 512 300
            if used < 0:
                bad.append(BadRow(point.line, point.raw, f"index went down from {previous.value:g} (line"
                                  f" {previous.line}): a replaced meter or a wrong index; the days between are"
                                  " left unknown"))
            elif used > max_per_day * days:
                bad.append(BadRow(point.line, point.raw, f"index rose by {used:g} in {days} day(s) since line"
                                  f" {previous.line}, more than a dwelling can use; the days between are left unknown"))
            elif days > MAX_SPREAD_DAYS:
                bad.append(BadRow(point.line, point.raw, f"{days} days since the previous index (line"
                                  f" {previous.line}): too long a gap to share out; the days between are left unknown"))
            else:
                estimated = days > 1 or previous.estimated or point.estimated
                share = used / days
                for offset in range(days):
                    day = previous.day + timedelta(days=offset)
                    figures.append(DayFigure(previous.line, day, None if volume else share,
                                             share if volume else None, estimated))
        previous = point
    return figures, bad
