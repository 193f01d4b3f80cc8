"""The residence's collective progress over the heating season: pure rules, no database.

Each home's use this season (local days [season start, period end), only days measured on both
sides) is set against the same days of the baseline season, weather-normalised with the home's
own heating slope. A residence, and each of its buildings, is published only when it has at least
k homes with comparable data, and only when no published group differs from another by fewer than
k homes (residence − the published buildings would otherwise isolate the rest). Figures leave
rounded to a whole percent.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

# A home whose weather-normalised use moved less than this either way has not "improved".
IMPROVED_BELOW_FRACTION = -0.03
# Published fractions are whole percents: finer figures would help subtract one home out.
PERCENT_DIGITS = 2


@dataclass(frozen=True)
class HomeSeason:
    """One home's comparable use this season and in the baseline season (normalised to this season's weather)."""

    dwelling_id: int
    building_id: int
    this_season_kwh: float
    baseline_normalised_kwh: float

    @property
    def change_fraction(self) -> float:
        """This season against the normalised baseline (−0.1: 10 % less)."""
        return self.this_season_kwh / self.baseline_normalised_kwh - 1


@dataclass(frozen=True)
class GroupProgress:
    """A residence's (building_id None) or building's progress, or why it is withheld."""

    residence_id: int
    building_id: int | None
    published: bool
    withheld_reason: str | None
    home_count: int | None
    change_fraction: float | None
    improved_fraction: float | None
    goal_fraction: float

    @property
    def goal_reached(self) -> bool:
        """Whether the group's change is at or below the goal."""
        return self.change_fraction is not None and self.change_fraction <= self.goal_fraction


def heating_season(today: date, start_month: int, end_month: int) -> tuple[date, date]:
    """The current (or, outside it, the last) heating season as local days [start, end): end is today while it runs."""
    start_year = today.year if today.month >= start_month else today.year - 1
    start = date(start_year, start_month, 1)
    end_year = start_year + 1 if end_month < start_month else start_year
    end = date(end_year + 1, 1, 1) if end_month == 12 else date(end_year, end_month + 1, 1)
    return (start, end) if today >= end else (start, today)


def baseline_start(season_start: date, baseline_season: int) -> date:
    """The first day of the baseline season: the year set, or (0) the season before this one."""
    year = baseline_season if baseline_season > 0 else season_start.year - 1
    return date(year, season_start.month, 1)


def _rounded(value: float) -> float:
    return round(value, PERCENT_DIGITS)


def _figures(residence_id: int, building_id: int | None, homes: Sequence[HomeSeason], goal: float) -> GroupProgress:
    this_kwh = sum(home.this_season_kwh for home in homes)
    baseline_kwh = sum(home.baseline_normalised_kwh for home in homes)
    improved = sum(1 for home in homes if home.change_fraction < IMPROVED_BELOW_FRACTION)
    return GroupProgress(residence_id, building_id, True, None, len(homes), _rounded(this_kwh / baseline_kwh - 1),
                         _rounded(improved / len(homes)), goal)


def _withheld(residence_id: int, building_id: int | None, reason: str, goal: float) -> GroupProgress:
    return GroupProgress(residence_id, building_id, False, reason, None, None, None, goal)


def collective_progress(residence_id: int, homes: Sequence[HomeSeason], *, k: int,
                        goal_fraction: float) -> list[GroupProgress]:
    """The residence's progress and each building's, withholding any group that would isolate fewer than k homes."""
    usable = [home for home in homes if home.baseline_normalised_kwh > 0 and home.this_season_kwh >= 0]
    if len(usable) < k:
        return [_withheld(residence_id, None, f"fewer than {k} homes with comparable data", goal_fraction)]
    by_building: dict[int, list[HomeSeason]] = {}
    for home in usable:
        by_building.setdefault(home.building_id, []).append(home)
    shown = {building: members for building, members in by_building.items() if len(members) >= k}
    # The homes of the residence outside every shown building are the residence's figure minus
    # theirs: that rest must be empty or hold k homes. Withhold the smallest buildings until it does.
    rest = len(usable) - sum(len(members) for members in shown.values())
    for building in sorted(shown, key=lambda b: (len(shown[b]), b)):
        if rest == 0 or rest >= k:
            break
        rest += len(shown.pop(building))
    if len(shown) == 1 and rest == 0:
        # The residence is that one building: its figure is the residence's, shown once.
        shown.clear()
    results = [_figures(residence_id, None, usable, goal_fraction)]
    for building, members in sorted(by_building.items()):
        if building in shown:
            results.append(_figures(residence_id, building, members, goal_fraction))
        else:
            results.append(_withheld(residence_id, building, f"building shown only with at least {k} homes whose"
                                     " figures cannot be told apart from the rest", goal_fraction))
    return results
