"""Reading the dashboard's CSV exports in tests as a spreadsheet would: BOM, then `;` (French) or `,` (English)."""

from __future__ import annotations

import csv
import io

import requests

from dashboard.csv_format import BOM


def csv_rows(text: str) -> list[list[str]]:
    """The rows of an export (header first); the separator is the one its header uses."""
    body = text.removeprefix(BOM)
    header = body.partition("\n")[0]
    return list(csv.reader(io.StringIO(body), delimiter=";" if ";" in header else ","))


def csv_meters(response: requests.Response) -> set[str]:
    """The meters (first column) an export holds, header left out."""
    return {row[0] for row in csv_rows(response.content.decode("utf-8"))[1:] if row}
