"""CSV downloads of a member's own data, streamed; the dwelling comes from the session's scope."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator
from datetime import datetime

import flask

from dashboard import context, queries
from dashboard.scope import ScopeDenied, current_scope, resolve_dwelling

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


def _stream(kind: str) -> flask.Response:
    ctx = context.current()
    try:
        scope = current_scope()
        with ctx.connection() as conn:
            # ?dwelling= is only a request: a household always gets its own dwelling or nothing.
            dwelling_id = resolve_dwelling(conn, scope, flask.request.args.get("dwelling"))
    except ScopeDenied:
        return flask.Response("forbidden", 403, mimetype="text/plain")

    def generate() -> Iterator[str]:
        with ctx.connection() as conn:
            if kind == "readings":
                yield from _csv_lines(queries.READINGS_CSV_HEADER, queries.iter_readings(conn, dwelling_id))
            else:
                rows = queries.iter_daily(conn, dwelling_id, ctx.settings.timezone)
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
