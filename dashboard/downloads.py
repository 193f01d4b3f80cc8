"""CSV downloads of a member's own data (or, for staff, of what their role may see), streamed."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime

import flask
import psycopg

from coopwatt.policies import retention_cutoff
from coopwatt.settings import Settings
from dashboard import access, context, queries
from dashboard.access import LOGGED_DOWNLOADS
from dashboard.auth import session_language
from dashboard.i18n import t
from dashboard.plain_pages import error_page
from dashboard.scope import (
    Scope, ScopeDenied, building_meters_allowed, current_scope, may_download_readings, parse_id, resolve_dwelling,
)

READINGS_PATH = "/download/readings.csv"
DAILY_PATH = "/download/daily.csv"


def _csv_lines(header: Iterable[str], rows: Iterable[tuple[object, ...]]) -> Iterator[str]:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(header)
    for row in rows:
        writer.writerow([value.isoformat() if isinstance(value, datetime) else value for value in row])
        if buffer.tell() > 64_000:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue()


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


def _download_range(kind: str, settings: Settings) -> dict[str, str | None]:
    """What a download covers, for the access log: every reading kept (the retention), every day stored."""
    until = datetime.now(UTC)
    since = retention_cutoff(until, settings.retention_days).isoformat() if kind == "readings" else None
    return {"since": since, "until": until.isoformat()}


def _stream(kind: str) -> flask.Response:
    ctx = context.current()
    try:
        scope = current_scope()
        with ctx.connection() as conn:
            owner, owner_id = _owner(conn, scope, kind)
            if owner == "dwelling":
                access.log_staff_access(conn, scope, [owner_id], LOGGED_DOWNLOADS[flask.request.path],
                                        _download_range(kind, ctx.settings))
    except ScopeDenied:
        lang = session_language()
        page = error_page(lang, t("error.forbidden_title", lang), t("error.forbidden_download", lang))
        return flask.Response(page, 403, mimetype="text/html")

    def generate() -> Iterator[str]:
        with ctx.connection() as conn:
            if kind == "readings":
                yield from _csv_lines(queries.READINGS_CSV_HEADER, queries.iter_readings(conn, owner_id, owner))
            else:
                rows = queries.iter_daily(conn, owner_id, ctx.settings.timezone, owner)
                yield from _csv_lines(queries.DAILY_CSV_HEADER, rows)

    filename = f"coopwatt-{kind}-{datetime.now(ctx.settings.tz):%Y%m%d}.csv"
    return flask.Response(
        flask.stream_with_context(generate()), mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


def install(server: flask.Flask) -> None:
    """Add the download routes (behind the login guard like every route)."""
    server.add_url_rule(READINGS_PATH, "download_readings", lambda: _stream("readings"))
    server.add_url_rule(DAILY_PATH, "download_daily", lambda: _stream("daily"))
