"""A household's letter preferences and postal address (table letter_preference): read, validated, saved, erased.

The household edits them on its page, staff with `coopwatt reports prefs`; an erasure request
deletes them with the letters not yet sent.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import psycopg

DELIVERIES = ("email", "paper", "none")
MAX_NAME_CHARS = 200
MAX_ADDRESS_CHARS = 1000
MAX_EMAIL_CHARS = 254
# One @, something on both sides, a dot in the domain, no spaces or angle brackets: enough to catch typing
# mistakes; the SMTP server has the last word (a refusal is recorded as a bounce).
_EMAIL_RE = re.compile(r"^[^@\s<>,;]+@[^@\s<>,;]+\.[^@\s<>,;]+$")


class PreferenceError(ValueError):
    """A preference that cannot be saved; ``key`` names the message (reports/texts.py) that explains it."""

    def __init__(self, key: str, detail: str) -> None:
        super().__init__(detail)
        self.key = key


@dataclass(frozen=True)
class LetterPreference:
    """How a household receives its letter, in which language, and where paper goes."""

    dwelling_id: int
    delivery: str = "email"
    email: str | None = None
    language: str | None = None
    recipient_name: str | None = None
    postal_address: str | None = None


def _clean(value: str | None, limit: int) -> str | None:
    text = (value or "").strip()
    if len(text) > limit:
        raise PreferenceError("prefs.too_long", f"longer than {limit} characters")
    return text or None


def validated(preference: LetterPreference) -> LetterPreference:
    """The preference with blanks removed, or PreferenceError saying what is wrong."""
    if preference.delivery not in DELIVERIES:
        raise PreferenceError("prefs.invalid_email", f"delivery must be one of {', '.join(DELIVERIES)}")
    if preference.language not in (None, "fr", "en"):
        raise PreferenceError("prefs.too_long", "language must be fr or en")
    email = _clean(preference.email, MAX_EMAIL_CHARS)
    if email is not None and not _EMAIL_RE.match(email):
        raise PreferenceError("prefs.invalid_email", f"not an e-mail address: {email!r}")
    if preference.delivery == "email" and email is None:
        raise PreferenceError("prefs.need_email", "delivery by e-mail needs an e-mail address")
    return LetterPreference(preference.dwelling_id, preference.delivery, email, preference.language,
                            _clean(preference.recipient_name, MAX_NAME_CHARS),
                            _clean(preference.postal_address, MAX_ADDRESS_CHARS))


def load_preference(conn: psycopg.Connection, dwelling_id: int) -> LetterPreference | None:
    """The dwelling's stored preference, or None."""
    row = conn.execute("SELECT delivery, email, language, recipient_name, postal_address FROM letter_preference"
                       " WHERE dwelling_id = %s", (dwelling_id,)).fetchone()
    return None if row is None else LetterPreference(dwelling_id, *row)


def save_preference(conn: psycopg.Connection, preference: LetterPreference, *, updated_by: str) -> LetterPreference:
    """Validate and store a preference (no commit); a new address is no longer a bounced one."""
    clean = validated(preference)
    conn.execute(
        """
        INSERT INTO letter_preference (dwelling_id, delivery, email, language, recipient_name, postal_address,
                                       updated_at, updated_by)
        VALUES (%s, %s, %s, %s, %s, %s, now(), %s)
        ON CONFLICT (dwelling_id) DO UPDATE SET delivery = EXCLUDED.delivery, email = EXCLUDED.email,
            language = EXCLUDED.language, recipient_name = EXCLUDED.recipient_name,
            postal_address = EXCLUDED.postal_address, updated_at = now(), updated_by = EXCLUDED.updated_by
        """,
        (clean.dwelling_id, clean.delivery, clean.email, clean.language, clean.recipient_name, clean.postal_address,
         updated_by))
    return clean


def bounced(conn: psycopg.Connection, email: str | None) -> bool:
    """Whether an SMTP server refused this address for good."""
    if not email:
        return False
    return conn.execute("SELECT 1 FROM letter_bounce WHERE lower(email) = lower(%s)", (email,)).fetchone() is not None


def erase_letter_details(conn: psycopg.Connection, dwelling_id: int) -> int:
    """Delete a dwelling's preferences, address and unsent letters (an erasure request); no commit. Returns rows removed."""
    email_row = conn.execute("SELECT email FROM letter_preference WHERE dwelling_id = %s", (dwelling_id,)).fetchone()
    removed = conn.execute("DELETE FROM letter_preference WHERE dwelling_id = %s", (dwelling_id,)).rowcount
    removed += conn.execute("DELETE FROM letter WHERE dwelling_id = %s", (dwelling_id,)).rowcount
    if email_row and email_row[0]:
        removed += conn.execute("DELETE FROM letter_bounce WHERE lower(email) = lower(%s)", (email_row[0],)).rowcount
    return removed
