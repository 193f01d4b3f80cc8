"""What a reading measures, with its canonical unit; ids match the ``quantity`` table."""

from __future__ import annotations

from enum import IntEnum


class Quantity(IntEnum):
    """A measured quantity. The member name carries the canonical unit."""

    ENERGY_INDEX_KWH = 1  # cumulative active energy, all registers
    ENERGY_INDEX_OFFPEAK_KWH = 2  # cumulative, off-peak register (heures creuses)
    ENERGY_INDEX_PEAK_KWH = 3  # cumulative, peak register (heures pleines)
    ENERGY_KWH = 4  # energy over an interval ending at the reading's time
    POWER_W = 5  # active power
    APPARENT_POWER_VA = 6  # apparent power (Linky reports this, not W)
    VOLUME_INDEX_M3 = 7  # cumulative volume (water, gas)
    VOLUME_M3 = 8  # volume over an interval ending at the reading's time
    TEMPERATURE_C = 9  # outdoor temperature

    @property
    def cumulative(self) -> bool:
        """True for counters (indices), whose consumption is a difference."""
        return self in CUMULATIVE


# The counters; `quantity in CUMULATIVE` is the same test as `quantity.cumulative`, without the property call
# (the ingester asks it for every reading).
CUMULATIVE = frozenset({
    Quantity.ENERGY_INDEX_KWH, Quantity.ENERGY_INDEX_OFFPEAK_KWH,
    Quantity.ENERGY_INDEX_PEAK_KWH, Quantity.VOLUME_INDEX_M3,
})
