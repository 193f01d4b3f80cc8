"""The household history's pure parts: windows and their moves, the day view's bars, the calendar's marks."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from dashboard.date_range import DayRange, RangeRefused
from dashboard.figures import Tariffs
from dashboard.history_figures import calendar_figure, hourly_figure, typical_day_figure
from dashboard.history_queries import DayUse, HourUse
from dashboard.history_window import GRANULARITIES, chosen, shifted, window_ending
from tests.dashboard_support import PARIS

TODAY = date(2026, 12, 5)  # a Saturday
TARIFFS = Tariffs(0.2016, 0.1, 4.0, 0.09)


def test_default_windows_are_the_periods_shown_before_navigation_existed() -> None:
    assert window_ending(TODAY, "hour") == DayRange(TODAY, TODAY)
    assert window_ending(TODAY, "day") == DayRange(date(2026, 11, 5), TODAY)
    assert window_ending(TODAY, "week").first == date(2026, 6, 8)  # a Monday, 26 weeks with this one
    assert window_ending(TODAY, "month") == DayRange(date(2025, 1, 1), TODAY)
    assert window_ending(TODAY, "year") == DayRange(date(2017, 1, 1), TODAY)


@pytest.mark.parametrize("granularity", GRANULARITIES)
def test_back_then_forward_returns_to_the_latest_window_and_never_passes_today(granularity: str) -> None:
    latest = window_ending(TODAY, granularity)
    back = shifted(latest, granularity, -1, TODAY)
    assert back.last < latest.first  # the window before, no day shown twice ...
    assert back.last + timedelta(days=1) == latest.first  # ... and no day skipped
    assert shifted(back, granularity, 1, TODAY) == latest
    assert shifted(latest, granularity, 1, TODAY).last == TODAY


def test_a_chosen_range_moves_by_its_own_length() -> None:
    picked = chosen("2026-11-01", "2026-11-10", "day", TODAY)
    assert shifted(picked, "day", 1, TODAY) == DayRange(date(2026, 11, 11), date(2026, 11, 20))
    assert shifted(picked, "day", -1, TODAY) == DayRange(date(2026, 10, 22), date(2026, 10, 31))


def test_windows_stay_inside_the_calendar_whatever_is_asked() -> None:
    ancient = chosen("1970-01-01", "1970-01-10", "day", TODAY)
    assert shifted(ancient, "day", -1, TODAY) == ancient
    decade = window_ending(date(1975, 6, 30), "year")
    assert shifted(decade, "year", -1, TODAY) == decade  # 1956–1965 would be before anything metered
    for first in ("0001-01-01", "1969-12-31"):
        with pytest.raises(RangeRefused):
            chosen(first, "1970-01-02", "day", TODAY)
    with pytest.raises(RangeRefused):
        chosen("9999-12-31", None, "day", TODAY)
    with pytest.raises(RangeRefused):
        chosen(None, "0001-01-02", "day", TODAY)


def test_hours_are_shown_a_week_at_most() -> None:
    assert chosen("2026-11-01", "2026-11-07", "hour", TODAY).days == 7
    with pytest.raises(RangeRefused) as refused:
        chosen("2026-11-01", "2026-11-08", "hour", TODAY)
    assert refused.value.key == "range.too_long"


def test_hourly_bars_mark_estimated_and_suspect_hours_and_keep_both_autumn_two_oclocks() -> None:
    start = datetime(2026, 10, 24, 22, tzinfo=UTC)  # local midnight of the 25 hour day (DST ends)
    hours = [HourUse(start + timedelta(hours=h), 0.10000000000000142 * (h + 1), estimated=h == 1, suspect=h == 2)
             for h in range(25)]
    figure = hourly_figure(hours, kind="electricity", measure="amount", lang="fr", tariffs=TARIFFS, tz=PARIS)
    bar = figure["data"][0]
    assert len(bar["x"]) == len(set(bar["x"])) == 25  # 02:00 twice, told apart by their offsets
    assert [x for x in bar["x"] if x.startswith("02:00")] == ["02:00", "02:00 (UTC+01:00)"]
    assert bar["y"][0] == 0.1  # rounded as shown, no float noise in the browser
    assert bar["marker"]["opacity"][1] == 0.45 and bar["marker"]["pattern"]["shape"][2] == "/"
    assert "estimée" in bar["hovertext"][1] and "suspecte" in bar["hovertext"][2] and bar["hovertext"][0] == ""
    cost = hourly_figure(hours, kind="electricity", measure="cost", lang="en", tariffs=TARIFFS, tz=PARIS)
    assert cost["data"][0]["y"][9] == pytest.approx(round(1.0 * 0.2016, 2))


def test_the_calendar_places_each_day_under_its_weekday_and_marks_doubtful_days() -> None:
    first, last = date(2026, 11, 30), date(2026, 12, 13)  # Monday 30 Nov to Sunday 13 Dec: two weeks
    days = [DayUse(first + timedelta(days=n), 5.0 + n, estimated_hours=3 if n == 2 else 0,
                   suspect_hours=1 if n == 9 else 0) for n in range(14) if n != 4]
    figure = calendar_figure(days, kind="electricity", lang="en", first=first, last=last)
    heat, estimated, suspect = figure["data"]
    assert heat["z"][0] == [5.0, 12.0]  # Mondays: 30 Nov and 7 Dec
    assert heat["z"][4][0] is None and "no reading" in heat["text"][4][0]  # Friday 4 Dec has no data
    assert (estimated["x"], estimated["y"]) == ([0], [2])  # Wednesday 2 Dec
    assert (suspect["x"], suspect["y"]) == ([1], [2])  # Wednesday 9 Dec
    assert figure["layout"]["yaxis"]["ticktext"][0] == "Mon"


def test_the_typical_day_is_bars_of_measured_means() -> None:
    profile = [(hour, 0.123456 if hour == 19 else 0.05, 40) for hour in range(24)]
    figure = typical_day_figure(profile, kind="electricity", lang="fr")
    assert figure["data"][0]["type"] == "bar" and figure["data"][0]["y"][19] == 0.12  # two decimals, as shown


def test_the_typical_day_draws_similar_homes_as_a_dashed_line_of_their_rounded_means() -> None:
    profile = [(hour, 0.05, 40) for hour in range(24)]
    peers = [0.1234 if hour == 19 else 0.04 for hour in range(24)]
    figure = typical_day_figure(profile, kind="electricity", lang="fr", peers=peers, peers_name="Logements similaires (6)")
    bars, line = figure["data"]
    assert bars["type"] == "bar" and line["type"] == "scatter" and line["line"]["dash"] == "dash"
    assert line["y"][19] == 0.12 and line["x"] == list(range(24)) and line["name"] == "Logements similaires (6)"
    assert figure["layout"]["showlegend"] and "0,12" in line["customdata"][19]
    # Without similar homes, the home's bars alone and no legend.
    alone = typical_day_figure(profile, kind="electricity", lang="en")
    assert len(alone["data"]) == 1 and not alone["layout"]["showlegend"]
