"""Electricity supply contracts and the regulated tariff grids they are priced with (pure, no database).

A :class:`SupplyContract` is what a dwelling subscribed to from a day on: option (``base``,
``hphc`` = heures pleines / heures creuses with its off-peak hours, ``tempo``) and power (kVA).
A :class:`TariffGrid` is one dated set of prices: € per kWh per option and period, and the
subscription per option and kVA. The grids come from ``coopwatt/tariffs_trv.toml`` (the French
regulated tariffs, with their source and date) or from the file the ``tariff_file`` setting names.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

OPTIONS = ("base", "hphc", "tempo")
TEMPO_PERIODS = ("blue_hc", "blue_hp", "white_hc", "white_hp", "red_hc", "red_hp")
# Enedis assigns each meter its 8 off-peak hours; 22:00–06:00 is the most common, and is assumed
# (and said so) when the household's own hours are not known.
DEFAULT_OFFPEAK_HOURS = (22, 23, 0, 1, 2, 3, 4, 5)
DEFAULT_GRID_FILE = Path(__file__).with_name("tariffs_trv.toml")
MONTHS_PER_YEAR = 12


class TariffFileError(ValueError):
    """A tariff file that cannot be used; the message names the file and the entry."""


@dataclass(frozen=True)
class SupplyContract:
    """A dwelling's electricity contract from ``valid_from`` on."""

    valid_from: date
    option: str
    subscribed_kva: int
    offpeak_hours: tuple[int, ...] | None = None  # local hours of the day billed off-peak (hphc only)

    def __post_init__(self) -> None:
        if self.option not in OPTIONS:
            raise ValueError(f"option {self.option!r} is not one of {', '.join(OPTIONS)}")
        if not 3 <= self.subscribed_kva <= 36:
            raise ValueError(f"subscribed power {self.subscribed_kva} kVA is not between 3 and 36")
        hours = self.offpeak_hours or ()
        if any(not 0 <= h <= 23 for h in hours) or len(set(hours)) != len(hours):
            raise ValueError("off-peak hours must be distinct local hours from 0 to 23")
        if self.option == "base" and hours:
            raise ValueError("a Base contract has no off-peak hours")


def contract_on(contracts: Sequence[SupplyContract], day: date) -> SupplyContract | None:
    """The contract in force on ``day``: the latest one that started on or before it."""
    started = [c for c in contracts if c.valid_from <= day]
    return max(started, key=lambda c: c.valid_from) if started else None


def parse_offpeak_hours(text: str) -> tuple[int, ...]:
    """Off-peak hours from "22-6" (22:00 to 06:00), "22-6+12-14" or "22,23,0,1,2,3,4,5"."""
    hours: list[int] = []
    for part in text.replace(" ", "").split("+"):
        if "-" in part:
            start_text, _, end_text = part.partition("-")
            start, end = int(start_text), int(end_text)
            if not (0 <= start <= 23 and 0 <= end <= 24) or start == end:
                raise ValueError(f"{part!r} is not a range of hours like 22-6")
            hour = start
            while hour != end % 24:
                hours.append(hour)
                hour = (hour + 1) % 24
        elif part:
            hours += [int(h) for h in part.split(",") if h]
    if not hours or any(not 0 <= h <= 23 for h in hours) or len(set(hours)) != len(hours):
        raise ValueError(f"{text!r} is not a set of distinct off-peak hours (e.g. 22-6 or 22-6+12-14)")
    return tuple(hours)


@dataclass(frozen=True)
class TariffGrid:
    """One dated grid of prices, VAT included."""

    valid_from: date
    source: str
    base_eur_per_kwh: float
    hp_eur_per_kwh: float
    hc_eur_per_kwh: float
    subscription_eur_per_month: Mapping[str, Mapping[int, float]]
    tempo_eur_per_kwh: Mapping[str, float] = field(default_factory=dict)

    def subscription_eur_per_year(self, option: str, kva: int) -> float | None:
        """The yearly subscription of an option at a power, or None when the grid does not list it."""
        monthly = self.subscription_eur_per_month.get(option, {}).get(kva)
        return None if monthly is None else monthly * MONTHS_PER_YEAR


def grid_on(grids: Sequence[TariffGrid], day: date) -> TariffGrid | None:
    """The grid in force on ``day`` (the latest that started on or before it)."""
    started = [g for g in grids if g.valid_from <= day]
    return max(started, key=lambda g: g.valid_from) if started else None


def _price(entry: Mapping[str, Any], key: str, where: str, most_eur: float = 10.0) -> float:
    value = entry.get(key)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value < most_eur:
        raise TariffFileError(f"{where}: {key} must be an amount in € between 0 and {most_eur:g}, got {value!r}")
    return float(value)


def _grid(entry: Mapping[str, Any], where: str) -> TariffGrid:
    valid_from = entry.get("valid_from")
    if not isinstance(valid_from, date):
        raise TariffFileError(f"{where}: valid_from must be a date like 2025-08-01, got {valid_from!r}")
    source = entry.get("source")
    if not isinstance(source, str) or not source.strip():
        raise TariffFileError(f"{where}: source must say where the figures come from")
    subscriptions: dict[str, dict[int, float]] = {}
    for option, by_kva in dict(entry.get("subscription_eur_per_month", {})).items():
        if option not in OPTIONS or not isinstance(by_kva, Mapping):
            raise TariffFileError(f"{where}: subscription_eur_per_month.{option} is not one of {', '.join(OPTIONS)}")
        if any(not str(kva).isdigit() or not 3 <= int(kva) <= 36 for kva in by_kva):
            raise TariffFileError(f"{where}: subscription_eur_per_month.{option} keys must be powers of 3 to 36 kVA")
        subscriptions[option] = {int(kva): _price(by_kva, kva, f"{where}: subscription_eur_per_month.{option}",
                                                  most_eur=1000.0) for kva in by_kva}
    tempo = dict(entry.get("tempo_eur_per_kwh", {}))
    unknown = set(tempo) - set(TEMPO_PERIODS)
    if unknown:
        raise TariffFileError(f"{where}: tempo_eur_per_kwh has unknown period(s) {', '.join(sorted(unknown))}")
    return TariffGrid(valid_from, source.strip(), _price(entry, "base_eur_per_kwh", where),
                      _price(entry, "hp_eur_per_kwh", where), _price(entry, "hc_eur_per_kwh", where),
                      subscriptions, {k: _price(tempo, k, where) for k in tempo})


def load_tariff_grids(path: Path | None = None) -> tuple[TariffGrid, ...]:
    """The dated grids of a tariff file (the bundled regulated tariffs by default), oldest first."""
    path = path or DEFAULT_GRID_FILE
    try:
        document = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as error:
        raise TariffFileError(f"{path}: {error}") from error
    entries = document.get("grid")
    if not isinstance(entries, list) or not entries:
        raise TariffFileError(f"{path}: no [[grid]] entry")
    grids = sorted((_grid(entry, f"{path} grid {n + 1}") for n, entry in enumerate(entries)),
                   key=lambda g: g.valid_from)
    days = [g.valid_from for g in grids]
    if len(set(days)) != len(days):
        raise TariffFileError(f"{path}: two grids start on the same day")
    return tuple(grids)
