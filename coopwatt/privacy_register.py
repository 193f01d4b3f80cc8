"""The processing register for the cooperative's data-protection officer: what coopwatt keeps, why, how long, for whom.

The data kinds are declared here (the purposes are the cooperative's, the tables coopwatt's); the
retention of each comes from settings, and the counts (dwellings, accounts, consents, access log)
from the database at the moment of the export.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import psycopg

from coopwatt.consent import FLOWS
from coopwatt.settings import Settings


@dataclass(frozen=True)
class DataKind:
    """One kind of personal data coopwatt processes."""

    name: str
    tables: tuple[str, ...]
    purpose: str
    # The Settings field holding its retention in days; None: kept while the home is a member (until erasure).
    retention_setting: str | None
    recipients: tuple[str, ...]
    consent_flows: tuple[str, ...] = ()


DATA_KINDS: tuple[DataKind, ...] = (
    DataKind("registry", ("residence", "building", "dwelling", "meter"),
             "identify homes and their meters; group similar homes (floor area, heating)", None,
             ("household (its own)", "adviser (its residences)", "manager (its buildings)", "admin")),
    DataKind("accounts", ("account", "account_residence", "account_building", "login_attempt"),
             "sign-in to the dashboard and the scope of each role", None, ("admin",)),
    DataKind("load_curve_raw", ("reading",), "the household's own curve and export; leak and fault detection",
             "retention_days", ("household (its own)", "adviser (14-day hourly drill-down)", "admin"),
             ("electricity_load_curve", "gas", "water", "heating")),
    DataKind("load_curve_hourly", ("consumption_hourly", "reading_hourly"),
             "hourly use: anomalies (night base load, leaks), the adviser's drill-down", "retention_hourly_days",
             ("household (its own)", "adviser (its residences)", "admin"), ("electricity_load_curve",)),
    DataKind("daily_values", ("consumption_day", "consumption_daily", "reading_daily"),
             "daily and monthly use, costs, baselines, neighbourhood comparisons", "retention_daily_days",
             ("household (its own)", "adviser (its residences)", "manager (homes with an open alert)", "admin"),
             ("electricity_daily", "gas", "water", "heating")),
    DataKind("analytics_results", ("baseline", "suggestion", "high_consumer", "comparison_member", "peer_day_member",
                                   "intervention", "savings_result"),
             "baselines, savings suggestions, ranking for energy-poverty help, comparisons and similar homes' typical day (groups of k or more)",
             None, ("household (its own)", "adviser (its residences)", "admin"), ("comparisons",)),
    DataKind("alerts", ("alert", "alert_action", "alert_notification", "alert_recipient"),
             "tell the household and the building manager at once of a leak, a silent meter, a fault",
             "retention_alerts_days", ("household (its own)", "manager (its buildings)", "adviser", "admin")),
    DataKind("consents", ("consent",), "proof of each household's consent and withdrawal, per data flow", None,
             ("household (its own)", "admin", "data-protection officer")),
    DataKind("access_log", ("access_log",), "show each household which staff member looked at its data",
             "retention_access_log_days", ("household (its own)", "admin", "data-protection officer")),
    DataKind("follow_up_and_requests", ("follow_up", "erasure_request"),
             "an adviser's follow-up of a household; erasure requests until carried out", None,
             ("adviser (its residences)", "admin")),
    DataKind("dead_letters", ("dead_letter",), "messages that could not be stored, with the reason, for operators",
             None, ("admin",)),
)


def retention_days(settings: Settings, kind: DataKind) -> int | None:
    """A data kind's retention in days from the settings, or None when it is kept until erasure."""
    return None if kind.retention_setting is None else int(getattr(settings, kind.retention_setting))


def _consent_counts(conn: psycopg.Connection) -> dict[str, dict[str, int]]:
    rows = conn.execute(
        "SELECT flow, count(*) FILTER (WHERE granted AND withdrawn_at IS NULL),"
        " count(*) FILTER (WHERE granted AND withdrawn_at IS NOT NULL), count(*) FILTER (WHERE NOT granted)"
        " FROM consent GROUP BY flow").fetchall()
    counts = {flow: {"in_force": 0, "withdrawn": 0, "refused": 0} for flow in FLOWS}
    for flow, in_force, withdrawn, refused in rows:
        counts[flow] = {"in_force": in_force, "withdrawn": withdrawn, "refused": refused}
    return counts


def _access_log_counts(conn: psycopg.Connection) -> dict[str, Any]:
    total, dwellings, oldest = conn.execute(
        "SELECT count(*), count(DISTINCT dwelling_id), min(accessed_at) FROM access_log").fetchone() or (0, 0, None)
    by_role = dict(conn.execute("SELECT role, count(*) FROM access_log GROUP BY role ORDER BY role").fetchall())
    by_what = dict(conn.execute("SELECT what, count(*) FROM access_log GROUP BY what ORDER BY what").fetchall())
    return {"entries": total, "dwellings": dwellings, "oldest": oldest.isoformat() if oldest else None,
            "by_role": by_role, "by_what": by_what}


def build_register(conn: psycopg.Connection, settings: Settings, *, now: datetime | None = None) -> dict[str, Any]:
    """The processing register as one JSON-ready document."""
    (dwellings,) = conn.execute("SELECT count(*) FROM dwelling").fetchone() or (0,)
    accounts = dict(conn.execute("SELECT role, count(*) FROM account GROUP BY role ORDER BY role").fetchall())
    return {
        "generated_at": (now or datetime.now(UTC)).isoformat(),
        "data_kinds": [
            {"name": kind.name, "tables": list(kind.tables), "purpose": kind.purpose,
             "retention_days": retention_days(settings, kind),
             "retention_setting": None if kind.retention_setting is None
             else "COOPWATT_" + kind.retention_setting.upper(),
             "recipients": list(kind.recipients), "consent_flows": list(kind.consent_flows)}
            for kind in DATA_KINDS
        ],
        "dwellings": dwellings,
        "accounts_by_role": accounts,
        "consents": _consent_counts(conn),
        "access_log": _access_log_counts(conn),
    }


def register_text(register: dict[str, Any]) -> str:
    """The register as plain text a person reads (the JSON form carries the same facts)."""
    lines = [f"coopwatt processing register, {register['generated_at']}", ""]
    lines.append(f"Dwellings: {register['dwellings']}")
    lines.append("Accounts: " + (", ".join(f"{role} {n}" for role, n in register["accounts_by_role"].items()) or "none"))
    lines += ["", "Data kinds"]
    for kind in register["data_kinds"]:
        days = kind["retention_days"]
        retention = f"{days} days ({kind['retention_setting']})" if days is not None else "until erasure of the home"
        lines += [f"- {kind['name']}: {kind['purpose']}",
                  f"    tables: {', '.join(kind['tables'])}",
                  f"    retention: {retention}",
                  f"    recipients: {'; '.join(kind['recipients'])}"]
        if kind["consent_flows"]:
            lines.append(f"    consent flows: {', '.join(kind['consent_flows'])}")
    lines += ["", "Consents (in force / withdrawn / refused)"]
    for flow, counts in register["consents"].items():
        lines.append(f"- {flow}: {counts['in_force']} / {counts['withdrawn']} / {counts['refused']}")
    log = register["access_log"]
    lines += ["", f"Access log: {log['entries']} entries on {log['dwellings']} dwellings, oldest {log['oldest'] or '-'}"]
    lines += [f"- by role {role}: {n}" for role, n in log["by_role"].items()]
    lines += [f"- {what}: {n}" for what, n in log["by_what"].items()]
    return "\n".join(lines) + "\n"
