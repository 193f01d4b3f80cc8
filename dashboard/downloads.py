"""CSV downloads of a member's own data (or, for staff, of what their role may see), streamed.

Written for the spreadsheet the reader opens them in (dashboard/csv_format.py): in French `;`
and decimal commas, in English `,` and dots, a UTF-8 byte-order mark, local times with their
offset, headers in the page's language, rounded values and a quality column. A range of local
days (`?from=YYYY-MM-DD&to=YYYY-MM-DD`, both included) limits the file; without one the
export covers a recent period, not the whole history.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from zoneinfo import ZoneInfo

import flask
import psycopg

from dashboard import access, context, export_queries, i18n_household  # noqa: F401 - i18n_household adds the texts
from dashboard.access import LOGGED_DOWNLOADS
from dashboard.auth import session_language
from dashboard.csv_format import CsvStyle, csv_text, day_cell, local_time_cell, number_cell, style_for
from dashboard.date_range import DayRange, RangeRefused, day_range
from dashboard.i18n import MESSAGES, t
from dashboard.plain_pages import error_page
from dashboard.scope import (
    Scope, ScopeDenied, building_meters_allowed, current_scope, may_download_readings, parse_id, resolve_dwelling,
)

READINGS_PATH = "/download/readings.csv"
DAILY_PATH = "/download/daily.csv"
# Without a range: a year of days (a few hundred rows), a month of raw readings (a few MB at most).
DEFAULT_DAYS = {"daily": 365, "readings": 31}
# Longest range one file may cover: ten years of days; a year of raw readings.
MAX_DAYS = {"daily": 3660, "readings": 366}
# Decimals kept: Wh and litres for energy and volume, tenths of W, VA and °C.
_DIGITS_OF_UNIT = {"kWh": 3, "m3": 3, "W": 1, "VA": 1, "degC": 1}


def _owner(conn: psycopg.Connection, scope: Scope, kind: str) -> tuple[str, int]:
    """Whose meters this download covers, after the role and scope checks (ScopeDenied otherwise).

    ``?building=`` asks for a building's own (collective) meters: its managers and admins only.
    ``?dwelling=`` (or nothing, for a household) asks for a dwelling's meters, within the scope;
    a manager never gets a dwelling's raw readings (who sees what: docs/operations.md).
    """
    args = flask.request.args
    if "building" in args:
        building_id = parse_id(args.get("building"))
        if "dwelling" in args or building_id is None or not building_meters_allowed(conn, scope, building_id):
            raise ScopeDenied("building outside the scope")
        return "building", building_id
    # ?dwelling= is only a request: a household always gets its own dwelling or nothing.
    dwelling_id = resolve_dwelling(conn, scope, args.get("dwelling"))
    if kind == "readings" and not may_download_readings(scope):
        raise ScopeDenied("raw readings of a home")
    return "dwelling", dwelling_id


def refusal_text(refused: RangeRefused, kind: str, lang: str) -> str:
    """Why a range cannot be exported, naming the export when its own limit is the reason."""
    key = f"range.too_long_{kind}" if refused.key == "range.too_long" else refused.key
    return t(key, lang, **refused.values)


def _quality(estimated: bool, suspect: bool, lang: str) -> str:
    # Suspect wins: an estimated hour that is also suspect cannot be believed either.
    return t("quality.suspect" if suspect else "quality.estimated" if estimated else "quality.measured", lang)


def readings_rows(rows: Iterator[export_queries.ReadingRow], lang: str, style: CsvStyle,
                  tz: ZoneInfo) -> Iterator[list[str]]:
    """Raw readings as CSV cells."""
    for row in rows:
        quantity_key = f"quantity.{row.quantity}"
        yield [row.meter, t(f"kind.{row.kind}", lang),
               t(quantity_key, lang) if quantity_key in MESSAGES["en"] else row.quantity,
               row.unit.replace("m3", "m³").replace("degC", "°C"), local_time_cell(row.time, tz),
               number_cell(row.value, _DIGITS_OF_UNIT.get(row.unit, 3), style),
               _quality(row.estimated, row.suspect, lang)]


def daily_rows(rows: Iterator[export_queries.DailyRow], lang: str, style: CsvStyle) -> Iterator[list[str]]:
    """Daily use as CSV cells."""
    for row in rows:
        yield [row.meter, t(f"kind.{row.kind}", lang), day_cell(row.day),  # type: ignore[arg-type]
               number_cell(row.energy_kwh, 3, style), number_cell(row.volume_m3, 3, style),
               str(row.hours), str(row.estimated_hours), str(row.suspect_hours),
               _quality(row.estimated_hours > 0, row.suspect_hours > 0, lang)]


READINGS_HEADER = ("csv.meter", "csv.kind", "csv.quantity", "csv.unit", "csv.time", "csv.value", "csv.quality")
DAILY_HEADER = ("csv.meter", "csv.kind", "csv.day", "csv.energy_kwh", "csv.volume_m3", "csv.hours",
                "csv.estimated_hours", "csv.suspect_hours", "csv.quality")


def _stream(kind: str) -> flask.Response:
    ctx = context.current()
    lang = session_language()
    tz = ctx.settings.tz
    try:
        scope = current_scope()
        with ctx.connection() as conn:
            owner, owner_id = _owner(conn, scope, kind)
    except ScopeDenied:
        page = error_page(lang, t("error.forbidden_title", lang), t("error.forbidden_download", lang))
        return flask.Response(page, 403, mimetype="text/html")
    try:
        days: DayRange = day_range(flask.request.args.get("from"), flask.request.args.get("to"),
                                   today=datetime.now(tz).date(), default_days=DEFAULT_DAYS[kind],
                                   max_days=MAX_DAYS[kind])
    except RangeRefused as refused:
        page = error_page(lang, t("range.title", lang), refusal_text(refused, kind, lang))
        return flask.Response(page, 400, mimetype="text/html")
    if owner == "dwelling":  # the access log says which local days the staff member took
        with ctx.connection() as conn:
            access.log_staff_access(conn, scope, [owner_id], LOGGED_DOWNLOADS[flask.request.path],
                                    {"from": days.first.isoformat(), "to": days.last.isoformat()})
    since = datetime.combine(days.first, datetime.min.time(), tz)
    until = datetime.combine(days.end, datetime.min.time(), tz)
    style = style_for(lang)

    def generate() -> Iterator[str]:
        with ctx.connection() as conn:
            if kind == "readings":
                rows = readings_rows(export_queries.iter_readings(conn, owner_id, owner, since, until), lang, style, tz)
                yield from csv_text([t(key, lang) for key in READINGS_HEADER], rows, style)
            else:
                daily = export_queries.iter_daily(conn, owner_id, owner, since, until, timezone=ctx.settings.timezone)
                yield from csv_text([t(key, lang) for key in DAILY_HEADER], daily_rows(daily, lang, style), style)

    filename = f"coopwatt-{kind}-{days.first:%Y%m%d}-{days.last:%Y%m%d}.csv"
    return flask.Response(
        flask.stream_with_context(generate()), mimetype="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


def install(server: flask.Flask) -> None:
    """Add the download routes (behind the login guard like every route)."""
    server.add_url_rule(READINGS_PATH, "download_readings", lambda: _stream("readings"))
    server.add_url_rule(DAILY_PATH, "download_daily", lambda: _stream("daily"))

