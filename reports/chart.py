"""The letter's one chart: a month-by-month bar chart as static SVG geometry (no network, no browser).

Pure: takes the months' amounts, returns the bars and labels the template draws. Values are
rounded as the labels show them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import date

from babel.dates import format_date

from dashboard.i18n import format_number, locale_of

WIDTH_PX = 520
HEIGHT_PX = 150
_TOP_PX = 18
_BOTTOM_PX = 34
_LEFT_PX = 6
_GAP_FRACTION = 0.25


@dataclass(frozen=True)
class MonthAmount:
    """One month's use in the kind's unit (None: nothing measured), and whether every day of it was measured."""

    start: date
    amount: float | None
    complete: bool


@dataclass(frozen=True)
class Bar:
    """One bar's box and labels, in SVG pixels."""

    x: float
    y: float
    width: float
    height: float
    label: str
    value: str
    role: str  # "this" (the letter's month), "last_year" (the same month a year before) or "other"
    complete: bool


def _month_back(month: date, count: int) -> date:
    index = month.year * 12 + month.month - 1 - count
    return date(index // 12, index % 12 + 1, 1)


def month_bars(months: Sequence[MonthAmount], this_month: date, lang: str, *, count: int = 13) -> list[dict[str, object]]:
    """One bar per month for the ``count`` months up to ``this_month`` (an empty slot where nothing was measured)."""
    by_start = {month.start: month for month in months}
    slots = [by_start.get(start, MonthAmount(start, None, False))
             for start in (_month_back(this_month, n) for n in range(count - 1, -1, -1))]
    top = max([month.amount for month in slots if month.amount is not None] + [1e-9])
    plot_h = HEIGHT_PX - _TOP_PX - _BOTTOM_PX
    slot = (WIDTH_PX - 2 * _LEFT_PX) / count
    width = slot * (1 - _GAP_FRACTION)
    last_year = date(this_month.year - 1, this_month.month, 1)
    bars = []
    for n, month in enumerate(slots):
        amount = month.amount if month.amount is not None else 0.0
        height = max(amount, 0.0) / top * plot_h
        role = "this" if month.start == this_month else "last_year" if month.start == last_year else "other"
        bars.append(asdict(Bar(
            x=round(_LEFT_PX + n * slot + (slot - width) / 2, 1), y=round(_TOP_PX + plot_h - height, 1),
            width=round(width, 1), height=round(height, 1),
            label=format_date(month.start, "MMM yy", locale=locale_of(lang)),
            value="" if month.amount is None else format_number(amount, lang, digits=0 if amount >= 100 else 1),
            role=role, complete=month.complete)))
    return bars
