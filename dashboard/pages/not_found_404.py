"""The page Dash shows for an address that is no page (Dash's own is in English only)."""

from __future__ import annotations

from typing import Any

import dash

from dashboard.auth import session_language
from dashboard.page_notices import not_found

dash.register_page(__name__, path="/404", title="coopwatt · 404", name="not found")


def layout(**_query: Any) -> Any:
    """A bilingual "page not found" with the way home."""
    return not_found(session_language())
