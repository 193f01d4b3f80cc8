"""CSV cells as the reader's spreadsheet expects them: French Excel wants `;` and decimal commas, English `,` and dots.

Pure formatting, no I/O: the download routes stream what these functions make.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import date, datetime
from decimal import ROUND_HALF_EVEN, Decimal
from zoneinfo import ZoneInfo

from dashboard.i18n import language_or_default

# Excel on Windows reads a file without a byte-order mark in the machine's ANSI code page ("Ã©" for "é").
BOM = "\ufeff"
# Flush the stream every this many characters: a long export starts arriving at once and memory stays flat.
_CHUNK_CHARS = 64_000


@dataclass(frozen=True)
class CsvStyle:
    """The separators a language's spreadsheets use."""

    delimiter: str
    decimal: str


STYLES = {"fr": CsvStyle(";", ","), "en": CsvStyle(",", ".")}


def style_for(lang: str) -> CsvStyle:
    """The CSV style of a page language (French unless English was chosen)."""
    return STYLES[language_or_default(lang)]


def number_cell(value: float | None, digits: int, style: CsvStyle) -> str:
    """A number rounded to `digits` decimals (half to even, as shown on the page), no trailing zeros, no thousands separator."""
    if value is None:
        return ""
    rounded = Decimal(repr(float(value))).quantize(Decimal(1).scaleb(-digits), rounding=ROUND_HALF_EVEN)
    text = format(rounded.normalize() if rounded != 0 else Decimal(0), "f")
    return text.replace(".", style.decimal)


def local_time_cell(at: datetime, tz: ZoneInfo) -> str:
    """An instant as local ISO 8601 with its UTC offset ("2026-03-29T03:00:00+02:00"): no ambiguity at DST changes."""
    return at.astimezone(tz).isoformat(timespec="seconds")


def day_cell(day: date) -> str:
    """A local day as ISO 8601 (both French and English Excel read it as a date)."""
    return day.isoformat()


def csv_text(header: Iterable[str], rows: Iterable[Iterable[str]], style: CsvStyle) -> Iterator[str]:
    """The CSV file in chunks: byte-order mark, header, then the already formatted rows."""
    buffer = io.StringIO()
    buffer.write(BOM)
    writer = csv.writer(buffer, delimiter=style.delimiter, lineterminator="\r\n")
    writer.writerow(list(header))
    for row in rows:
        writer.writerow(list(row))
        if buffer.tell() > _CHUNK_CHARS:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue()
