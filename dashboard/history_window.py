"""Which local days the household's chart shows: a window per granularity, moved a window at a time, or chosen.

Pure date arithmetic (no I/O): the page's navigation callback asks it, the query reads the days.
"""

from __future__ import annotations

from datetime import date, timedelta

from dashboard.date_range import DayRange, RangeRefused, day_range

# "hour" is the day view: one local day's hourly bars.
GRANULARITIES = ("hour", "day", "week", "month", "year")
# Periods shown by default, as before the navigation existed (queries._PERIODS_SHOWN), and a day of hours.
PERIODS_SHOWN = {"hour": 1, "day": 31, "week": 26, "month": 24, "year": 10}
# Longest chosen range per granularity: a week of hours, a year of days, ten years otherwise.
MAX_DAYS = {"hour": 7, "day": 366, "week": 3660, "month": 3660, "year": 3660}


def _month_start(day: date, back: int = 0) -> date:
    months = day.year * 12 + day.month - 1 - back
    return date(months // 12, months % 12 + 1, 1)


def period_start(day: date, granularity: str) -> date:
    """The first day of the period (hour view: the day itself) holding `day`."""
    if granularity in ("hour", "day"):
        return day
    if granularity == "week":
        return day - timedelta(days=day.weekday())
    if granularity == "month":
        return _month_start(day)
    if granularity == "year":
        return date(day.year, 1, 1)
    raise ValueError(f"unknown granularity {granularity!r}")


def window_ending(last: date, granularity: str) -> DayRange:
    """The default window whose last period holds `last`: so many whole periods back to its first day."""
    count = PERIODS_SHOWN[granularity]
    start = period_start(last, granularity)
    if granularity in ("hour", "day"):
        first = start - timedelta(days=count - 1)
    elif granularity == "week":
        first = start - timedelta(weeks=count - 1)
    elif granularity == "month":
        first = _month_start(start, count - 1)
    else:
        first = date(start.year - (count - 1), 1, 1)
    return DayRange(first, last)


# Nothing is metered before this: a window never moves earlier (and date arithmetic stays in range).
EARLIEST = date(1970, 1, 1)


def _months(window: DayRange) -> int:
    return (window.last.year - window.first.year) * 12 + window.last.month - window.first.month + 1


def shifted(window: DayRange, granularity: str, steps: int, today: date) -> DayRange:
    """The window moved `steps` of its own lengths, or the same window when that would leave the calendar kept."""
    try:
        moved = _shifted(window, granularity, steps, today)
    except (OverflowError, ValueError):
        return window
    return moved if moved.first >= EARLIEST else window


def _shifted(window: DayRange, granularity: str, steps: int, today: date) -> DayRange:
    """The window moved `steps` of its own lengths back (negative) or forward, never past today.

    Days and hours move by the window's days, weeks by whole weeks, months and years by whole
    months and years, so bars stay whole periods.
    """
    if granularity in ("hour", "day"):
        last = min(today, window.last + timedelta(days=window.days * steps))
        return DayRange(last - timedelta(days=window.days - 1), last)
    if granularity == "week":
        weeks = -(-window.days // 7)
        sunday = period_start(window.last, "week") + timedelta(days=6)
        last = min(today, sunday + timedelta(weeks=weeks * steps))
        return DayRange(period_start(last, "week") - timedelta(weeks=weeks - 1), last)
    if granularity == "month":
        months = _months(window)
        last = min(today, _end_of_month(_month_start(window.last, -months * steps)))
        return DayRange(_month_start(last, months - 1), last)
    years = window.last.year - window.first.year + 1
    last = min(today, date(window.last.year + years * steps, 12, 31))
    return DayRange(date(last.year - years + 1, 1, 1), last)


def _end_of_month(first: date) -> date:
    return _month_start(first, -1) - timedelta(days=1)


def chosen(first: object, last: object, granularity: str, today: date) -> DayRange:
    """A range picked in the date fields, checked (dashboard.date_range.RangeRefused says why it cannot be shown)."""
    picked = day_range(first, last, today=today, default_days=PERIODS_SHOWN[granularity],
                       max_days=MAX_DAYS[granularity])
    if picked.first < EARLIEST:
        raise RangeRefused("range.bad_day", name="from", value=picked.first.isoformat())
    return picked

