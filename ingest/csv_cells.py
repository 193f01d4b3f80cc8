"""Reading the cells of utility exports as people save them: pure helpers shared by the importers.

Real files are messy: spaces around cells, trailing semicolons, decimal commas, a
space or no-break space as thousands separator, French dates, Latin-1 accents in
the headers. Each helper accepts those and refuses anything else with a reason.
"""

from __future__ import annotations

import re
import unicodedata
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

# A number as utilities write it, once the spaces are gone: digits, one decimal mark, a sign.
_NUMBER_RE = re.compile(r"^[+-]?(?:\d+(?:[.,]\d*)?|[.,]\d+)$")
_SPACES_RE = re.compile(r"[\s\u00a0\u202f]")
MAX_NUMBER_CHARS = 24  # far beyond any meter's index; keeps a crafted 5,000-digit cell out of float()
_FR_DATE_RE = re.compile(r"^(\d{1,2})/(\d{1,2})/(\d{4})$")
_ISO_DATE_RE = re.compile(r"^(\d{4})-(\d{2})-(\d{2})$")


class CellError(ValueError):
    """A cell that does not hold what its column says; the text says why."""


def norm(text: str) -> str:
    """Lower case, no accents, no BOM, single spaces: 'Unité ' and 'unite' are the same header."""
    text = unicodedata.normalize("NFKD", text.replace("\ufeff", "")).encode("ascii", "ignore").decode()
    return " ".join(text.split()).lower()


def split_cells(raw: str, separator: str = ";") -> list[str]:
    """The stripped cells of a line (quotes around a cell removed)."""
    return [cell.strip().strip('"').strip() for cell in raw.split(separator)]


def parse_number(text: str, what: str) -> float | None:
    """A decimal number ('1 234,5', '12.5', '-3'); None for an empty cell; CellError otherwise."""
    compact = _SPACES_RE.sub("", text)
    if not compact:
        return None
    if len(compact) > MAX_NUMBER_CHARS or not _NUMBER_RE.match(compact):
        raise CellError(f"{what} is not a number: {text[:40]!r}")
    return float(compact.replace(",", "."))


def parse_day(text: str, tz: ZoneInfo, what: str = "date") -> date:
    """A local day from '2026-01-31', '31/01/2026' or an ISO time with an offset (its local date in ``tz``)."""
    text = text.strip()
    if match := _ISO_DATE_RE.match(text):
        parts = (int(match[1]), int(match[2]), int(match[3]))
    elif match := _FR_DATE_RE.match(text):
        parts = (int(match[3]), int(match[2]), int(match[1]))
    else:
        try:
            moment = datetime.fromisoformat(text)
        except ValueError:
            raise CellError(f"{what} is not a date (YYYY-MM-DD, DD/MM/YYYY or ISO 8601): {text[:40]!r}") from None
        return moment.astimezone(tz).date() if moment.tzinfo is not None else moment.date()
    try:
        return date(*parts)
    except ValueError:
        raise CellError(f"{what} is not a valid date: {text[:40]!r}") from None


def local_time(day: date, clock: str, tz: ZoneInfo, what: str = "time", *, fold: int | None = None) -> datetime:
    """An aware UTC time from a local day and 'HH:MM[:SS]'; CellError when a DST change skips it.

    A time the autumn change repeats is a CellError too, unless ``fold`` says which
    one it is (0: the first, summer time; 1: the second, winter time).
    """
    match = re.match(r"^(\d{1,2}):(\d{2})(?::(\d{2}))?$", clock.strip())
    if not match:
        raise CellError(f"{what} is not HH:MM or HH:MM:SS: {clock[:20]!r}")
    hour, minute, second = int(match[1]), int(match[2]), int(match[3] or 0)
    if hour == 24 and minute == 0 and second == 0:  # end of the day, as some exports write it
        return local_midnight(day + timedelta(days=1), tz)
    if hour > 23 or minute > 59 or second > 59:
        raise CellError(f"{what} is not a time of day: {clock[:20]!r}")
    naive = datetime(day.year, day.month, day.day, hour, minute, second)
    first, later = naive.replace(tzinfo=tz, fold=0), naive.replace(tzinfo=tz, fold=1)
    if first.astimezone(UTC).astimezone(tz).replace(tzinfo=None) != naive:
        raise CellError(f"{what} {day.isoformat()} {clock.strip()} is skipped by the spring DST change")
    if first.utcoffset() != later.utcoffset():
        if fold is None:
            raise CellError(f"{what} {day.isoformat()} {clock.strip()} is repeated by the autumn DST change")
        # In UTC: Python compares two aware times of one zone by wall clock, ignoring fold.
        return (later if fold else first).astimezone(UTC)
    return first.astimezone(UTC)


def parse_instant(text: str, tz: ZoneInfo, what: str = "Horodate") -> datetime:
    """An aware time from ISO 8601 with an offset, or a local one ('2026-01-31 18:40', a bare date: midnight)."""
    text = text.strip()
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        day = parse_day(text, tz, what)  # a French date, or CellError
        return local_midnight(day, tz)
    if moment.tzinfo is not None:
        return moment
    return local_time(moment.date(), moment.strftime("%H:%M:%S"), tz, what)


def local_midnight(day: date, tz: ZoneInfo) -> datetime:
    """The instant a local day starts (midnight is never skipped in the zones we serve)."""
    return datetime.combine(day, datetime.min.time(), tzinfo=tz)


def find_column(headers: list[str], *candidates: str) -> int | None:
    """The index of the first header (normalised) equal to or starting with a candidate."""
    normalised = [norm(h) for h in headers]
    for candidate in candidates:
        for i, header in enumerate(normalised):
            if header == candidate:
                return i
    for candidate in candidates:
        for i, header in enumerate(normalised):
            if header.startswith(candidate):
                return i
    return None


def cell(cells: list[str], index: int | None) -> str:
    """The cell at an index, '' when the column is absent or the row is short."""
    return cells[index] if index is not None and index < len(cells) else ""
