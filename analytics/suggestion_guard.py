"""The consistency guard: no suggestion promises to save more energy than the home used.

Contract
--------
``within_use(suggestions, used_kwh_per_year)`` is pure. ``used_kwh_per_year`` maps (dwelling, energy
kind) to the kWh the home used over the year its suggestions are judged on (measured days, the others
at their mean: :func:`analytics.dwelling_year.used_kwh_per_year`). A suggestion with an energy saving
is kept only when that saving, and the part of the use it rests on, fit inside that year's use:

* every kind: ``energy_kwh_per_year`` ≤ the year's use of its energy kind;
* ``base_load``: the always-on energy itself (``base_load_w`` × 8,760 h) ≤ the year's electricity — a
  standby drawing more than the home used all year was not measured on standby alone;
* ``heating_setpoint``: the normal year's heating (``heating_kwh_per_year``) ≤ the year's use.

Tariff suggestions (off-peak) save money, not energy, and a leak's saving is water: their kWh is 0
and they pass. A suggestion whose energy kind's use is unknown is not made: it could not be checked.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from analytics.suggestions import HOURS_PER_YEAR, Suggestion, SuggestionKind


def relevant_use_kwh(suggestion: Suggestion) -> float:
    """The yearly kWh the suggestion's figures say the home uses at least (the saving, or the part it rests on)."""
    needed = suggestion.energy_kwh_per_year
    if suggestion.kind == SuggestionKind.BASE_LOAD:
        needed = max(needed, suggestion.evidence.get("base_load_w", 0.0) * HOURS_PER_YEAR / 1000.0)
    elif suggestion.kind == SuggestionKind.HEATING_SETPOINT:
        needed = max(needed, suggestion.evidence.get("heating_kwh_per_year", 0.0))
    return float(needed)


def fits_use(suggestion: Suggestion, used_kwh_per_year: float | None) -> bool:
    """The suggestion's saving and the use it rests on fit inside the year's measured use."""
    if suggestion.energy_kwh_per_year <= 0:
        return True
    if used_kwh_per_year is None:
        return False
    return relevant_use_kwh(suggestion) <= used_kwh_per_year


def within_use(suggestions: Iterable[Suggestion],
               used_kwh_per_year: Mapping[tuple[int, str], float | None]) -> tuple[list[Suggestion], list[Suggestion]]:
    """(kept, refused): the suggestions that fit the homes' yearly use, and those that would not."""
    kept: list[Suggestion] = []
    refused: list[Suggestion] = []
    for suggestion in suggestions:
        kind = str(suggestion.evidence.get("energy_kind", "electricity"))
        used = used_kwh_per_year.get((suggestion.dwelling_id, kind))
        (kept if fits_use(suggestion, used) else refused).append(suggestion)
    return kept, refused
