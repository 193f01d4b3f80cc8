"""One dwelling's days for its letter, read once, then summed per month and paired with last year in Python.

The household page asks consumption_daily_all joined to the dwelling's meters; the join stays
outside the view's UNION, so each question read every meter's days (the whole cooperative's):
fine for one page, 10,000 times too slow for a month's letters. Here the meters are given as a
list (a constant filter the planner pushes into the view) and the two windows are read in one
query. The rules are the household page's (dashboard/queries.py): a month's sum and its
measured, estimated and suspect days; a day compared with last year only when every meter of
the kind in service reported at least 22 hours, none estimated or suspect, on both sides.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import psycopg

from dashboard.queries import PairedUse, PeriodUse

MIN_HOURS_OF_A_COMPLETE_DAY = 22


@dataclass(frozen=True)
class MeterDay:
    """One meter's local day: its amount in the kind's unit (None: nothing usable) and the hours behind it."""

    meter_id: int
    day: date
    amount: float | None
    hours: int
    estimated_hours: int
    suspect_hours: int

    @property
    def complete(self) -> bool:
        """Measured nearly all day, nothing estimated or suspect."""
        return (self.amount is not None and self.hours >= MIN_HOURS_OF_A_COMPLETE_DAY and self.estimated_hours == 0
                and self.suspect_hours == 0)


@dataclass(frozen=True)
class MeterSpan:
    """A meter of the dwelling, its kind and when it was in service."""

    meter_id: int
    kind: str
    installed_at: datetime
    removed_at: datetime | None

    def in_service(self, day: date, tz: ZoneInfo) -> bool:
        """Whether the meter was in place at some point of this local day."""
        start = datetime.combine(day, datetime.min.time(), tzinfo=tz)
        return self.installed_at < start + timedelta(days=1) and (self.removed_at is None or self.removed_at > start)


@dataclass(frozen=True)
class DwellingDays:
    """A dwelling's meters and their days in the windows read."""

    meters: tuple[MeterSpan, ...]
    days: tuple[MeterDay, ...]
    timezone: str

    def of_kind(self, kind: str) -> tuple[list[MeterSpan], dict[date, list[MeterDay]]]:
        """The kind's meters and its days grouped by local day."""
        meters = [meter for meter in self.meters if meter.kind == kind]
        ids = {meter.meter_id for meter in meters}
        by_day: dict[date, list[MeterDay]] = defaultdict(list)
        for day in self.days:
            if day.meter_id in ids:
                by_day[day.day].append(day)
        return meters, by_day


def _midnight(day: date, tz: ZoneInfo) -> datetime:
    return datetime.combine(day, datetime.min.time(), tzinfo=tz)


def read_days(conn: psycopg.Connection, dwelling_id: int, windows: list[tuple[date, date]], *, timezone: str,
              gas_kwh_per_m3: float) -> DwellingDays:
    """The dwelling's meters and their local days in the windows [start, end)."""
    tz = ZoneInfo(timezone)
    meters = tuple(MeterSpan(*row) for row in conn.execute(
        "SELECT id, kind, installed_at, removed_at FROM meter WHERE dwelling_id = %s ORDER BY id", (dwelling_id,)))
    kind_of = {meter.meter_id: meter.kind for meter in meters}
    if not meters or not windows:
        return DwellingDays(meters, (), timezone)
    ranges = " OR ".join("(cd.day >= %s AND cd.day < %s)" for _ in windows)
    bounds = [moment for start, end in windows for moment in (_midnight(start, tz), _midnight(end, tz))]
    rows = conn.execute(
        "SELECT cd.meter_id, (cd.day AT TIME ZONE %s)::date, cd.energy_kwh, cd.volume_m3, cd.hours,"
        " cd.estimated_hours, cd.suspect_hours FROM consumption_daily_all cd"
        f" WHERE cd.meter_id = ANY(%s) AND ({ranges})", [timezone, list(kind_of), *bounds]).fetchall()
    days = []
    for meter_id, day, energy_kwh, volume_m3, hours, estimated, suspect in rows:
        kind = kind_of[meter_id]
        if kind == "water":
            amount = volume_m3
        elif kind == "gas":
            amount = energy_kwh if energy_kwh is not None else (None if volume_m3 is None else volume_m3 * gas_kwh_per_m3)
        else:
            amount = energy_kwh
        days.append(MeterDay(meter_id, day, None if amount is None else float(amount), int(hours or 0),
                             int(estimated or 0), int(suspect or 0)))
    return DwellingDays(meters, tuple(days), timezone)


def _month_of(day: date) -> date:
    return day.replace(day=1)


def months(days: DwellingDays, kind: str) -> list[PeriodUse]:
    """The kind's use per calendar month (oldest first), with measured, estimated and suspect days."""
    _, by_day = days.of_kind(kind)
    totals: dict[date, list[float]] = {}
    for day, meter_days in by_day.items():
        amounts = [d.amount for d in meter_days if d.amount is not None]
        if not amounts:
            continue
        total = totals.setdefault(_month_of(day), [0.0, 0, 0, 0])
        total[0] += sum(amounts)
        total[1] += 1
        total[2] += any(d.estimated_hours > 0 for d in meter_days)
        total[3] += any(d.suspect_hours > 0 for d in meter_days)
    return [PeriodUse(month, amount, int(n), int(est), int(sus))
            for month, (amount, n, est, sus) in sorted(totals.items())]


def paired(days: DwellingDays, kind: str, start: date, end: date, shift_days: int) -> PairedUse:
    """The kind's use over [start, end) and the same days ``shift_days`` earlier, on days complete on both sides."""
    meters, by_day = days.of_kind(kind)
    tz = ZoneInfo(days.timezone)

    def complete(day: date) -> float | None:
        found = by_day.get(day, [])
        in_service = [meter for meter in meters if meter.in_service(day, tz)]
        # Every meter in service that day reported it completely (a dead second meter is no saving).
        if not found or len(found) != len(in_service) or not all(d.complete for d in found):
            return None
        return sum(d.amount for d in found if d.amount is not None)

    kept, this_total, last_total = [], 0.0, 0.0
    shift = timedelta(days=shift_days)
    day = start
    while day < end:
        this, last = complete(day), complete(day - shift)
        if this is not None and last is not None:
            kept.append(day)
            this_total += this
            last_total += last
        day += timedelta(days=1)
    return PairedUse(this_total, last_total, tuple(kept), (end - start).days)
