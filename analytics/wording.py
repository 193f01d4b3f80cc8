"""Numbers inside the French sentences analytics stores (reasons, evidence): decimal comma, spaced percent."""

from __future__ import annotations

NARROW_NBSP = "\u202f"


def fr_number(value: float, digits: int = 1) -> str:
    """A number as French text writes it: 1,9 ; 3 270 (narrow no-break space between thousands)."""
    text = f"{value:,.{digits}f}"
    return text.replace(",", NARROW_NBSP).replace(".", ",")


def fr_percent(fraction: float, digits: int = 0) -> str:
    """A fraction as a French percentage: 0.12 → 12 % (no-break space before the sign)."""
    return fr_number(fraction * 100, digits) + NARROW_NBSP + "%"
