"""Consent per dwelling and data flow: the flows, what each meter may store, and the consent records.

The rules (CNIL recommendations on communicating meters, Enedis' conditions for third-party access): a
household's meter data are collected only with its consent, the load curve (finer than daily) only with
an explicit, specific consent, and every consent can be withdrawn at any time. The table is ``consent``
(migration 0013); a record is never erased, only closed (``withdrawn_at``). The texts shown are in
``coopwatt.consent_texts``; what a withdrawal does to data already stored is ``coopwatt.consent_data``.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

import psycopg

from coopwatt.errors import CoopwattError

LOAD_CURVE = "electricity_load_curve"
ELECTRICITY_DAILY = "electricity_daily"
GAS = "gas"
WATER = "water"
HEATING = "heating"
COMPARISONS = "comparisons"
LETTERS = "letters"

# Order shown on the household page and in the registry import's columns.
FLOWS: tuple[str, ...] = (LOAD_CURVE, ELECTRICITY_DAILY, GAS, WATER, HEATING, COMPARISONS, LETTERS)
# Flows of meter data (the other two are uses of data already collected).
METER_FLOWS: tuple[str, ...] = (LOAD_CURVE, ELECTRICITY_DAILY, GAS, WATER, HEATING)
# The version of the texts in coopwatt.consent_texts; bump it whenever their meaning changes.
TEXT_VERSION = "2026-12-v1"

RecordedBy = Literal["household", "staff", "migration"]
WithdrawalChoice = Literal["delete", "aggregate", "keep"]


class ConsentError(CoopwattError):
    """A consent decision that cannot be recorded as asked (unknown flow, no paper form, nothing to withdraw)."""


class Collection(enum.Enum):
    """What a meter's readings may become: everything, daily values only, or nothing."""

    FULL = "full"
    DAILY = "daily"
    NONE = "none"


@dataclass(frozen=True)
class ConsentRecord:
    """One decision for one dwelling and flow, as stored."""

    id: int
    dwelling_id: int
    flow: str
    granted: bool
    decided_at: datetime
    recorded_by: str
    recorded_account: int | None
    recorded_username: str | None
    paper_form: str | None
    text_version: str
    withdrawn_at: datetime | None
    withdrawn_by: str | None
    withdrawal_choice: str | None

    @property
    def in_force(self) -> bool:
        """Granted and not withdrawn."""
        return self.granted and self.withdrawn_at is None


def flow_of_meter(kind: str) -> tuple[str, ...]:
    """The flows a meter kind's data belong to (electricity: the load curve, then the daily values)."""
    return {"electricity": (LOAD_CURVE, ELECTRICITY_DAILY), "gas": (GAS,), "water": (WATER,),
            "heat": (HEATING,)}[kind]


def collection_for(kind: str, flows_in_force: Iterable[str]) -> Collection:
    """What a dwelling's meter of this kind may store, given the flows its household consented to."""
    granted = set(flows_in_force)
    if kind == "electricity":
        if LOAD_CURVE in granted:
            return Collection.FULL  # the daily values are sums of the curve: no separate consent needed
        return Collection.DAILY if ELECTRICITY_DAILY in granted else Collection.NONE
    return Collection.FULL if flow_of_meter(kind)[0] in granted else Collection.NONE


def refused_flow(kind: str) -> str:
    """The flow named in a dead letter when a meter's readings are not stored for want of consent."""
    return ELECTRICITY_DAILY if kind == "electricity" else flow_of_meter(kind)[0]


def check_flow(flow: str) -> str:
    """The flow, or ConsentError naming the known ones."""
    if flow not in FLOWS:
        raise ConsentError(f"unknown data flow {flow!r} (known: {', '.join(FLOWS)})")
    return flow


# -- queries --------------------------------------------------------------------------------------------

_SELECT = (
    "SELECT c.id, c.dwelling_id, c.flow, c.granted, c.decided_at, c.recorded_by, c.recorded_account, a.username,"
    " c.paper_form, c.text_version, c.withdrawn_at, c.withdrawn_by, c.withdrawal_choice"
    " FROM consent c LEFT JOIN account a ON a.id = c.recorded_account"
)


def consents_in_force(conn: psycopg.Connection, dwelling_id: int) -> dict[str, ConsentRecord]:
    """flow → the consent in force for one dwelling (flows without one are absent)."""
    rows = conn.execute(_SELECT + " WHERE c.dwelling_id = %s AND c.granted AND c.withdrawn_at IS NULL",
                        (dwelling_id,)).fetchall()
    return {row[2]: ConsentRecord(*row) for row in rows}


def consent_history(conn: psycopg.Connection, dwelling_id: int) -> list[ConsentRecord]:
    """Every decision recorded for one dwelling, the latest first (withdrawn ones included)."""
    rows = conn.execute(_SELECT + " WHERE c.dwelling_id = %s ORDER BY c.decided_at DESC, c.id DESC",
                        (dwelling_id,)).fetchall()
    return [ConsentRecord(*row) for row in rows]


def dwellings_consenting(conn: psycopg.Connection, flow: str) -> set[int]:
    """The dwellings whose household has a consent to ``flow`` in force."""
    check_flow(flow)
    return {r[0] for r in conn.execute(
        "SELECT dwelling_id FROM consent WHERE flow = %s AND granted AND withdrawn_at IS NULL", (flow,))}


def meter_collections(conn: psycopg.Connection, meter_ids: Iterable[int] | None = None) -> dict[int, Collection]:
    """meter id → what it may store, in one query (all meters, or the ones given).

    Meters of no dwelling (a building's collective meters, devices auto-registered and not yet placed) are
    not one household's data: they are FULL.
    """
    query = (
        "SELECT m.id, m.kind, m.dwelling_id IS NULL,"
        " coalesce(array_agg(c.flow) FILTER (WHERE c.id IS NOT NULL), '{}')"
        " FROM meter m LEFT JOIN consent c"
        "   ON c.dwelling_id = m.dwelling_id AND c.granted AND c.withdrawn_at IS NULL"
    )
    if meter_ids is None:
        rows = conn.execute(query + " GROUP BY m.id").fetchall()
    else:
        rows = conn.execute(query + " WHERE m.id = ANY(%s) GROUP BY m.id", (sorted(set(meter_ids)),)).fetchall()
    return {mid: Collection.FULL if collective else collection_for(kind, flows)
            for mid, kind, collective, flows in rows}


# -- recording ------------------------------------------------------------------------------------------

def record_decision(conn: psycopg.Connection, dwelling_id: int, flow: str, granted: bool, *,
                    recorded_by: RecordedBy, account_id: int | None = None, paper_form: str | None = None,
                    decided_at: datetime | None = None, text_version: str = TEXT_VERSION) -> int:
    """Record a household's decision for one flow; a grant in force is closed first. Returns the record id.

    Staff record only from a signed paper form (its reference is required). The decision already in force
    (a grant, or a refusal with no grant since) records nothing new and returns its record. Does not commit.
    """
    check_flow(flow)
    if recorded_by == "staff" and not (paper_form or "").strip():
        raise ConsentError("staff record a consent only from a signed paper form: give its reference")
    current = consents_in_force(conn, dwelling_id).get(flow)
    if current is not None and granted:
        return current.id
    if current is None and not granted:
        latest = conn.execute("SELECT id, granted FROM consent WHERE dwelling_id = %s AND flow = %s"
                              " ORDER BY decided_at DESC, id DESC LIMIT 1", (dwelling_id, flow)).fetchone()
        if latest is not None and not latest[1]:
            return int(latest[0])  # refused already: the same decision again records nothing
    if current is not None:
        _close(conn, current.id, "staff" if recorded_by == "staff" else "household", account_id, "keep",
               paper_form if recorded_by == "staff" else None)
    row = conn.execute(
        "INSERT INTO consent (dwelling_id, flow, granted, decided_at, recorded_by, recorded_account, paper_form,"
        " text_version) VALUES (%s, %s, %s, coalesce(%s, now()), %s, %s, %s, %s) RETURNING id",
        (dwelling_id, flow, granted, decided_at, recorded_by, account_id, (paper_form or "").strip() or None,
         text_version),
    ).fetchone()
    assert row is not None
    return int(row[0])


def record_decisions(conn: psycopg.Connection, dwelling_id: int, decisions: Mapping[str, bool], *,
                     recorded_by: RecordedBy, account_id: int | None = None, paper_form: str | None = None,
                     decided_at: datetime | None = None) -> list[int]:
    """Record several flows' decisions for one dwelling (a registry line, a paper form). Does not commit."""
    return [record_decision(conn, dwelling_id, flow, granted, recorded_by=recorded_by, account_id=account_id,
                            paper_form=paper_form, decided_at=decided_at)
            for flow, granted in decisions.items()]


def record_first_decisions(conn: psycopg.Connection, decisions: Mapping[int, Mapping[str, bool]], *,
                           recorded_by: RecordedBy, paper_form: str | None = None,
                           decided_at: datetime | None = None) -> int:
    """Record dwellings' decisions for the flows they have no record of yet, in one statement; return how many.

    For registration in bulk (the simulator, a registry import): a flow already decided, whatever the
    decision, is left as it is, so registering again never overrides what a household chose since. Does
    not commit.
    """
    rows = [(dwelling, check_flow(flow), granted) for dwelling, flows in decisions.items()
            for flow, granted in flows.items()]
    if recorded_by == "staff" and not (paper_form or "").strip():
        raise ConsentError("staff record a consent only from a signed paper form: give its reference")
    cur = conn.execute(
        "INSERT INTO consent (dwelling_id, flow, granted, decided_at, recorded_by, paper_form, text_version)"
        " SELECT t.d, t.f, t.g, coalesce(%s, now()), %s, %s, %s"
        " FROM unnest(%s::int[], %s::text[], %s::boolean[]) AS t (d, f, g)"
        " WHERE NOT EXISTS (SELECT 1 FROM consent c WHERE c.dwelling_id = t.d AND c.flow = t.f)",
        (decided_at, recorded_by, (paper_form or "").strip() or None, TEXT_VERSION,
         [r[0] for r in rows], [r[1] for r in rows], [r[2] for r in rows]),
    )
    return max(cur.rowcount, 0)


def _close(conn: psycopg.Connection, record_id: int, by: str, account_id: int | None, choice: str,
           form: str | None) -> None:
    conn.execute(
        "UPDATE consent SET withdrawn_at = now(), withdrawn_by = %s, withdrawn_account = %s, withdrawal_choice = %s,"
        " withdrawal_form = %s WHERE id = %s AND withdrawn_at IS NULL",
        (by, account_id, choice, form, record_id),
    )


def withdraw(conn: psycopg.Connection, dwelling_id: int, flow: str, *, by: Literal["household", "staff"],
             account_id: int | None = None, choice: WithdrawalChoice = "keep",
             paper_form: str | None = None) -> ConsentRecord:
    """Close the consent in force for one flow, noting what the household chose for its data. Does not commit.

    Staff withdraw only from a signed paper form. The data themselves are deleted or reduced by
    ``coopwatt.consent_data.apply_withdrawal``.
    """
    check_flow(flow)
    form = (paper_form or "").strip() or None
    if by == "staff" and form is None:
        raise ConsentError("staff record a withdrawal only from a signed paper form: give its reference")
    if choice == "aggregate" and flow != LOAD_CURVE:
        raise ConsentError("only a load curve can be reduced to daily values; choose delete or keep")
    in_force = consents_in_force(conn, dwelling_id)
    current = in_force.get(flow)
    if current is None:
        raise ConsentError(f"no consent to {flow} is in force for this dwelling")
    _close(conn, current.id, by, account_id, choice, form)
    if flow == ELECTRICITY_DAILY and LOAD_CURVE in in_force:
        # The load curve holds the daily values: it cannot stay collected once they are withdrawn.
        _close(conn, in_force[LOAD_CURVE].id, by, account_id, choice, form)
    return current
