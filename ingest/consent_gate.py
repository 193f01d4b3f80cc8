"""Collection follows consent: which readings of a meter may be stored (pure; no I/O).

A meter's :class:`coopwatt.consent.Collection` comes from its household's consents in force
(``coopwatt.consent.meter_collections``: one query for all meters, re-read by the ingester every
``COOPWATT_INGEST_CONSENT_REFRESH_S``, by an importer once per file). NONE: nothing is stored and a
dead letter says why, without the values. DAILY (electricity daily values allowed, load curve not): an
index is kept once per local day (the first reading of the day), finer values (power, interval energy)
are not kept from the broker, and an importer's interval values become the day's total instead
(``ingest.import_consent.daily_totals``). Nothing here imports pandas: the ingester stays lean.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime
from typing import Literal
from zoneinfo import ZoneInfo

from coopwatt.consent import Collection, refused_flow
from coopwatt.quantities import Quantity
from ingest.reading import Reading

Verdict = Literal["keep", "reduced", "refused"]


def local_day(when: datetime, tz: ZoneInfo) -> date:
    """The local calendar day of an instant."""
    return when.astimezone(tz).date()


def verdict(collection: Collection, quantity: Quantity, time: datetime, previous: Reading | None,
            tz: ZoneInfo) -> Verdict:
    """Whether one reading may be stored as it is, is reduced away (daily only), or is refused outright.

    ``previous`` is the meter's last reading kept for this quantity: under DAILY an index is kept when it is
    the first of a later local day, so one index a day is stored whatever the meter's period.
    """
    if collection is Collection.FULL:
        return "keep"
    if collection is Collection.NONE:
        return "refused"
    if not quantity.cumulative:
        return "reduced"
    if previous is None:
        return "keep"
    if time > previous.time and local_day(time, tz) != local_day(previous.time, tz):
        return "keep"
    return "reduced"


def refusal_reason(source: str, kind: str) -> str:
    """The dead-letter reason of readings not stored for want of consent: the device and flow, never a value."""
    return (f"not stored: no consent in force for the data flow {refused_flow(kind)!r} of device {source!r}'s"
            " dwelling (values not kept)")


@dataclass
class ImportGate:
    """What a consent check did to one imported file's rows."""

    kept: list[tuple[int, int, datetime, float]]
    refused: dict[int, int]  # meter id → rows not stored
    reduced: int = 0  # rows replaced by daily totals, or dropped as finer than daily


def gate_import_rows(rows: Iterable[tuple[int, int, datetime, float]], collections: dict[int, Collection],
                     tz: ZoneInfo) -> ImportGate:
    """Split imported reading rows by consent: kept as they are, reduced (daily only), refused (none)."""
    gate = ImportGate(kept=[], refused=defaultdict(int))
    last_day: dict[tuple[int, int], date] = {}
    for row in sorted(rows, key=lambda r: (r[0], r[1], r[2])):
        meter_id, quantity_id, time, _ = row
        collection = collections.get(meter_id, Collection.FULL)
        if collection is Collection.FULL:
            gate.kept.append(row)
        elif collection is Collection.NONE:
            gate.refused[meter_id] += 1
        elif Quantity(quantity_id).cumulative and last_day.get((meter_id, quantity_id)) != local_day(time, tz):
            last_day[(meter_id, quantity_id)] = local_day(time, tz)
            gate.kept.append(row)
        else:
            gate.reduced += 1
    gate.refused = dict(gate.refused)
    return gate
