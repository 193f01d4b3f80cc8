"""A range of local days asked for in a URL or a date picker: parsed, checked, or refused with a reason.

Pure: the download routes and the household page give it today's date and their limits.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta


class RangeRefused(ValueError):
    """A range that cannot be served; `key` names the message that says why, `values` fill it."""

    def __init__(self, key: str, **values: object) -> None:
        super().__init__(key)
        self.key = key
        self.values = values


@dataclass(frozen=True)
class DayRange:
    """Local days [first, last], both included."""

    first: date
    last: date

    @property
    def days(self) -> int:
        """How many local days the range covers."""
        return (self.last - self.first).days + 1

    @property
    def end(self) -> date:
        """The day after the last one: the half-open end SQL wants."""
        return self.last + timedelta(days=1)


def parse_day(text: object, name: str) -> date:
    """An ISO day (YYYY-MM-DD) or RangeRefused naming the parameter."""
    if not isinstance(text, str) or len(text) != len("2026-01-31"):
        raise RangeRefused("range.bad_day", name=name, value=str(text)[:20])
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise RangeRefused("range.bad_day", name=name, value=text) from None


def day_range(first_text: object, last_text: object, *, today: date, default_days: int, max_days: int) -> DayRange:
    """The asked-for range, or the last `default_days` days to today when neither end is given.

    One end alone is completed with the default length; a range longer than `max_days`, reversed,
    or starting after today is refused (a mistyped year should not silently give nothing).
    """
    given_first = None if first_text in (None, "") else parse_day(first_text, "from")
    given_last = None if last_text in (None, "") else parse_day(last_text, "to")
    if given_first is None and given_last is None:
        return DayRange(today - timedelta(days=default_days - 1), today)
    if given_first is not None and given_first > today:
        raise RangeRefused("range.future", first=given_first.isoformat())
    try:
        if given_first is None:
            assert given_last is not None
            given_first = given_last - timedelta(days=default_days - 1)
        if given_last is None:
            given_last = min(today, given_first + timedelta(days=default_days - 1))
    except OverflowError:  # year 1 asked for, say: no calendar before it
        raise RangeRefused("range.bad_day", name="from" if first_text else "to", value=str(first_text or last_text)) from None
    if given_last < given_first:
        raise RangeRefused("range.reversed", first=given_first.isoformat(), last=given_last.isoformat())
    asked = DayRange(given_first, given_last)
    if asked.days > max_days:
        raise RangeRefused("range.too_long", days=asked.days, max_days=max_days)
    return asked
