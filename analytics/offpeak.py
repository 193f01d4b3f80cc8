"""Would heures creuses cost a household less than its Base contract? Full yearly bills compared.

Contract
--------
``suggest_offpeak_tariff(dwelling_id, use, contract, grid, ...)`` is pure. ``use`` is a
:class:`HourOfDayUse`: the dwelling's measured electricity (estimated and suspect hours left
out) summed by local hour of the day over up to a year, with the number of measured hours
behind each sum. Each hour of the day is scaled to 365 days on its own, so a gap at night does
not read as day-time use. The two bills compared are whole ones, VAT included:

    Base  = kWh × Base price + Base subscription (kVA)
    HP/HC = peak kWh × HP price + off-peak kWh × HC price + HP/HC subscription (kVA)

with the prices of the :class:`coopwatt.tariffs.TariffGrid` in force. Nothing is suggested to a
household already on heures creuses or Tempo (a Tempo bill needs each day's colour, which
coopwatt does not have), nor when the grid lists no subscription for its power. Less than a
full year of measured days is extrapolated, and the evidence says so (``extrapolated`` = 1,
``covered_days``) for the page to tell the household from how many days.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from analytics.suggestions import Suggestion, SuggestionKind, SuggestionThresholds
from coopwatt.tariffs import DEFAULT_OFFPEAK_HOURS, SupplyContract, TariffGrid

HOURS_PER_DAY = 24
DAYS_PER_YEAR = 365.0
# A year counts as measured in full from this share of its days (CalTRACK asks for 90 % valid days).
FULL_YEAR_FRACTION = 0.9
# The power assumed when the dwelling's contract is not in the registry (the most common in France).
ASSUMED_KVA = 6


@dataclass(frozen=True)
class HourOfDayUse:
    """Measured kWh summed by local hour of the day (0–23), and how many measured hours each sum holds."""

    kwh: tuple[float, ...]
    hours: tuple[int, ...]

    def __post_init__(self) -> None:
        if len(self.kwh) != HOURS_PER_DAY or len(self.hours) != HOURS_PER_DAY:
            raise ValueError("expected 24 sums and 24 counts, one per local hour of the day")

    @property
    def covered_days(self) -> float:
        """Measured days, as the mean count over the hours of the day."""
        return sum(self.hours) / HOURS_PER_DAY

    def yearly_kwh(self, hour: int) -> float:
        """This hour of the day's use scaled to a year from its own measured hours."""
        return self.kwh[hour] / self.hours[hour] * DAYS_PER_YEAR


def suggest_offpeak_tariff(
    dwelling_id: int, use: HourOfDayUse, contract: SupplyContract | None, grid: TariffGrid,
    offpeak_hours: Sequence[int] = DEFAULT_OFFPEAK_HOURS, thresholds: SuggestionThresholds = SuggestionThresholds(),
) -> Suggestion | None:
    """Heures creuses for a Base household whose whole yearly bill (energy + subscription) would be lower."""
    if contract is not None and contract.option != "base":
        return None  # never the option it has; Tempo's bill needs day colours coopwatt does not know
    if min(use.hours) == 0 or use.covered_days < thresholds.offpeak_min_days:
        return None
    kva = contract.subscribed_kva if contract is not None else ASSUMED_KVA
    base_subscription = grid.subscription_eur_per_year("base", kva)
    hphc_subscription = grid.subscription_eur_per_year("hphc", kva)
    if base_subscription is None or hphc_subscription is None:
        return None  # a power the grid does not list is never guessed
    offpeak = set(offpeak_hours)
    offpeak_kwh = sum(use.yearly_kwh(h) for h in range(HOURS_PER_DAY) if h in offpeak)
    peak_kwh = sum(use.yearly_kwh(h) for h in range(HOURS_PER_DAY) if h not in offpeak)
    base_energy = (offpeak_kwh + peak_kwh) * grid.base_eur_per_kwh
    hphc_energy = peak_kwh * grid.hp_eur_per_kwh + offpeak_kwh * grid.hc_eur_per_kwh
    base_cost = base_energy + base_subscription
    hphc_cost = hphc_energy + hphc_subscription
    saving = base_cost - hphc_cost
    if saving < thresholds.offpeak_min_saving_eur_per_year:
        return None
    covered = use.covered_days
    # A tariff change saves money, not energy: the kWh figure is zero on purpose.
    return Suggestion(SuggestionKind.OFFPEAK_TARIFF, dwelling_id, 0.0, saving, {
        "peak_kwh_per_year": peak_kwh, "offpeak_kwh_per_year": offpeak_kwh,
        "offpeak_share": offpeak_kwh / max(offpeak_kwh + peak_kwh, 1e-9),
        "base_energy_eur_per_year": base_energy, "offpeak_energy_eur_per_year": hphc_energy,
        "base_subscription_eur_per_year": base_subscription, "offpeak_subscription_eur_per_year": hphc_subscription,
        "base_cost_eur_per_year": base_cost, "offpeak_tariff_cost_eur_per_year": hphc_cost,
        "subscribed_kva": float(kva), "contract_known": float(contract is not None),
        "covered_days": covered, "extrapolated": float(covered < FULL_YEAR_FRACTION * DAYS_PER_YEAR),
        "grid_valid_from": float(grid.valid_from.strftime("%Y%m%d")),
    })
