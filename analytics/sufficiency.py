"""Data sufficiency: does a dwelling's daily data qualify for a baseline?

Contract
--------
``check_daily_data(daily, thresholds)`` takes a *daily frame*:

* index: DatetimeIndex of days (local midnight, tz-aware or naive), sorted,
  no duplicates; missing days may be absent rows or NaN values;
* ``energy_kwh`` (float, kWh consumed that day, NaN = unknown);
* ``temperature_c`` (float, mean outdoor °C that day, NaN = unknown).

It returns a :class:`SufficiencyReport`: ``qualified`` (no blocking reason),
``reasons`` (each with a stable ``code``, French and English text and numeric
``evidence``) and ``valid`` (boolean mask of the days a model may use). Each
rule is one small ``_check_*`` function so a reason is easy to trace.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from analytics.frames import require_columns, require_datetime_index
from analytics.local_clock import LocalClock
from analytics.wording import fr_number

DAILY_COLUMNS = ("energy_kwh", "temperature_c")


@dataclass(frozen=True)
class SufficiencyThresholds:
    """Rules a daily series must meet before a baseline is fitted (CalTRACK-like defaults)."""

    min_span_days: int = 365  # CalTRACK asks for a year so every season is seen
    min_valid_fraction: float = 0.90  # days with energy and temperature, over the span
    min_temperature_fraction: float = 0.90
    long_gap_days: int = 30  # a gap this long is worth a warning even when coverage is fine
    extreme_iqr_factor: float = 10.0  # a day beyond median + factor·IQR is suspicious
    min_temperature_range_c: float = 5.0  # less spread and no slope can be told apart


@dataclass(frozen=True)
class Reason:
    """Why data do (not) qualify: a stable code, bilingual text and the numbers behind it."""

    code: str
    message_en: str
    message_fr: str
    evidence: dict[str, float] = field(default_factory=dict)
    blocking: bool = True

    def to_dict(self) -> dict[str, object]:
        """Plain-dict form for storage as JSON."""
        return {
            "code": self.code,
            "message_en": self.message_en,
            "message_fr": self.message_fr,
            "evidence": dict(self.evidence),
            "blocking": self.blocking,
        }


@dataclass(frozen=True)
class SufficiencyReport:
    """Outcome of the checks: reasons, and which days a model may use."""

    reasons: tuple[Reason, ...]
    valid: NDArray[np.bool_]
    span_days: int

    @property
    def qualified(self) -> bool:
        """True when no reason blocks fitting."""
        return not any(r.blocking for r in self.reasons)

    @property
    def blocking_reasons(self) -> tuple[Reason, ...]:
        """The reasons that prevent a model."""
        return tuple(r for r in self.reasons if r.blocking)


def check_daily_data(daily: pd.DataFrame, thresholds: SufficiencyThresholds = SufficiencyThresholds()) -> SufficiencyReport:
    """Run every sufficiency rule on a daily frame and return the report."""
    require_columns(daily, DAILY_COLUMNS, "daily")
    index = require_datetime_index(daily, "daily")
    energy = daily["energy_kwh"].to_numpy(dtype=float)
    temperature = daily["temperature_c"].to_numpy(dtype=float)
    if len(index) == 0:
        reason = Reason("no_data", "No consumption data.", "Aucune donnée de consommation.", {"days": 0.0})
        return SufficiencyReport((reason,), np.zeros(0, dtype=bool), 0)

    # Calendar position of each row, so absent rows count as missing days.
    day_numbers = _day_numbers(index)
    span_days = int(day_numbers[-1] - day_numbers[0]) + 1
    has_energy = np.isfinite(energy)
    negative = has_energy & (energy < 0)
    has_temperature = np.isfinite(temperature)
    valid = has_energy & ~negative & has_temperature

    reasons: list[Reason] = []
    reasons += _check_span(span_days, thresholds)
    reasons += _check_negative(negative)
    reasons += _check_valid_coverage(valid, span_days, thresholds)
    reasons += _check_temperature_coverage(has_temperature, span_days, thresholds)
    reasons += _check_long_gap(day_numbers[valid], thresholds)
    reasons += _check_extremes(energy[valid], thresholds)
    reasons += _check_temperature_range(temperature[valid], thresholds)
    return SufficiencyReport(tuple(reasons), valid, span_days)


def _day_numbers(index: pd.DatetimeIndex) -> NDArray[np.int64]:
    """Whole days since the epoch of each row's local calendar day."""
    return LocalClock.of(index).day


def _check_span(span_days: int, t: SufficiencyThresholds) -> list[Reason]:
    if span_days >= t.min_span_days:
        return []
    return [Reason(
        "period_too_short",
        f"Only {span_days} days of history; {t.min_span_days} are needed to see every season.",
        f"Seulement {span_days} jours d'historique ; il en faut {t.min_span_days} pour couvrir toutes les saisons.",
        {"span_days": float(span_days), "required_days": float(t.min_span_days)},
    )]


def _check_negative(negative: NDArray[np.bool_]) -> list[Reason]:
    count = int(negative.sum())
    if count == 0:
        return []
    # Negative daily use is a meter or derivation fault: the days are left out, not fatal by themselves.
    return [Reason(
        "negative_energy",
        f"{count} day(s) with negative consumption were left out.",
        f"{count} jour(s) de consommation négative ont été écartés.",
        {"days": float(count)},
        blocking=False,
    )]


def _check_valid_coverage(valid: NDArray[np.bool_], span_days: int, t: SufficiencyThresholds) -> list[Reason]:
    fraction = float(valid.sum()) / span_days if span_days else 0.0
    if fraction >= t.min_valid_fraction:
        return []
    return [Reason(
        "low_data_coverage",
        f"Usable consumption and temperature on {fraction:.0%} of days; {t.min_valid_fraction:.0%} needed.",
        f"Consommation et température exploitables sur {fraction:.0%} des jours ; {t.min_valid_fraction:.0%} requis.",
        {"valid_fraction": fraction, "required_fraction": t.min_valid_fraction, "valid_days": float(valid.sum())},
    )]


def _check_temperature_coverage(has_temperature: NDArray[np.bool_], span_days: int, t: SufficiencyThresholds) -> list[Reason]:
    fraction = float(has_temperature.sum()) / span_days if span_days else 0.0
    if fraction >= t.min_temperature_fraction:
        return []
    return [Reason(
        "low_temperature_coverage",
        f"Outdoor temperature known on {fraction:.0%} of days; {t.min_temperature_fraction:.0%} needed.",
        f"Température extérieure connue sur {fraction:.0%} des jours ; {t.min_temperature_fraction:.0%} requis.",
        {"temperature_fraction": fraction, "required_fraction": t.min_temperature_fraction},
    )]


def _check_long_gap(valid_day_numbers: NDArray[np.int64], t: SufficiencyThresholds) -> list[Reason]:
    if len(valid_day_numbers) < 2:
        return []
    gaps = np.diff(valid_day_numbers) - 1
    longest = int(gaps.max())
    if longest < t.long_gap_days:
        return []
    return [Reason(
        "long_gap",
        f"A gap of {longest} days without usable data.",
        f"Une interruption de {longest} jours sans donnée exploitable.",
        {"longest_gap_days": float(longest)},
        blocking=False,
    )]


def _check_extremes(energy: NDArray[np.float64], t: SufficiencyThresholds) -> list[Reason]:
    if len(energy) < 10:
        return []
    q25, median, q75 = np.percentile(energy, [25, 50, 75])
    limit = median + t.extreme_iqr_factor * max(q75 - q25, 1e-9)
    count = int((energy > limit).sum())
    if count == 0:
        return []
    return [Reason(
        "extreme_values",
        f"{count} day(s) far above the usual level (over {limit:.1f} kWh).",
        f"{count} jour(s) très au-dessus du niveau habituel (plus de {fr_number(limit)} kWh).",
        {"days": float(count), "limit_kwh": float(limit), "max_kwh": float(energy.max())},
        blocking=False,
    )]


def _check_temperature_range(temperature: NDArray[np.float64], t: SufficiencyThresholds) -> list[Reason]:
    if len(temperature) == 0:
        return []
    spread = float(np.ptp(temperature))
    if spread >= t.min_temperature_range_c:
        return []
    return [Reason(
        "narrow_temperature_range",
        f"Outdoor temperature varied by only {spread:.1f} °C: weather sensitivity cannot be told.",
        f"La température extérieure n'a varié que de {fr_number(spread)} °C : la sensibilité au climat ne peut être estimée.",
        {"temperature_range_c": spread, "required_range_c": t.min_temperature_range_c},
        blocking=False,
    )]
