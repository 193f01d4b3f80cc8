"""What every page writes, checked without a server: units, decimal commas, plain words, no emoji."""

from __future__ import annotations

import re

from datetime import UTC, date, datetime

import pytest

from analytics.wording import fr_number, fr_percent
from dashboard.figures import building_curve_figure, load_curve_figure
from dashboard.i18n import MESSAGES
from dashboard.adviser_text import baseline_text as _baseline_text, breakable_unit as _breakable_unit
from dashboard.queries import BaselineRow


def _is_emoji(char: str) -> bool:
    code = ord(char)
    return code >= 0x1F000 or 0x2600 <= code <= 0x27BF or code == 0xFE0F


def test_no_message_relies_on_an_emoji_font() -> None:
    # A machine without an emoji font drew 👍 as an empty box.
    found = {(lang, key) for lang, messages in MESSAGES.items() for key, text in messages.items()
             if any(_is_emoji(c) for c in text)}
    assert found == set()


def test_both_languages_have_every_message() -> None:
    assert set(MESSAGES["fr"]) == set(MESSAGES["en"])


def test_no_message_writes_a_wrong_power_or_energy_unit() -> None:
    for messages in MESSAGES.values():
        for key, text in messages.items():
            assert "kW/h" not in text and "kW / h" not in text and "kWh/h" not in text, key


def _baseline(**values: float | None) -> BaselineRow:
    fields: dict[str, float | None] = {"base_kwh_per_day": 12.25, "heating_kwh_per_degree_day": 1.5,
                                       "heating_balance_point_c": 16.0, "normalised_kwh_per_year": 9000.0,
                                       "cv_rmse": 0.123}
    fields.update(values)
    return BaselineRow("electricity", True, [], **fields)  # type: ignore[arg-type]


def test_the_baseline_is_told_in_plain_words_with_french_decimals() -> None:
    french = _baseline_text(_baseline(), "kWh", "fr")
    assert "12,2\u202fkWh par jour" in french or "12,3\u202fkWh par jour" in french
    assert "1,5\u202fkWh de plus par degré-jour" in french and "sous 16 °C" in french
    assert "se trompe en moyenne de 12" in french and "fiable en dessous de 15" in french
    assert re.search(r"\d\.\d", french) is None  # decimal commas only
    english = _baseline_text(_baseline(), "kWh", "en")
    assert "12.2 kWh a day" in english or "12.3 kWh a day" in english
    assert "1.5 kWh more per degree-day" in english and "below 16 °C" in english and "reliable below" in english


@pytest.mark.parametrize("lang", ["fr", "en"])
def test_missing_baseline_values_are_left_out_not_shown_as_dashes(lang: str) -> None:
    text = _baseline_text(_baseline(heating_kwh_per_degree_day=None, heating_balance_point_c=None, cv_rmse=None),
                          "kWh", lang)
    assert "—" not in text and "degr" not in text and "CV(RMSE)" not in text and "12" in text
    no_heating = _baseline_text(_baseline(heating_kwh_per_degree_day=0.0), "kWh", lang)
    assert ("Pas d'effet du froid" if lang == "fr" else "No measurable effect of cold") in no_heating


def test_the_load_curve_axis_says_kwh_and_titles_keep_clear_of_ticks() -> None:
    figure = load_curve_figure([(datetime(2026, 1, 1, h, tzinfo=UTC), 1.25) for h in range(3)], "kWh", "fr", 0.5)
    axis = figure["layout"]["yaxis"]
    assert axis["title"]["text"] == "kWh" and axis["automargin"] is True and axis["title"]["standoff"] > 0


def test_a_building_without_data_draws_no_axes() -> None:
    figure = building_curve_figure([], "kWh", "fr")
    assert figure["data"] == []
    assert figure["layout"]["xaxis"]["visible"] is False and figure["layout"]["yaxis"]["visible"] is False
    full = building_curve_figure([(date(2026, 1, 1), 10.0, 3.0)], "kWh", "fr")
    assert full["layout"]["yaxis"]["automargin"] and full["layout"]["yaxis2"]["automargin"]


def test_french_analytics_numbers() -> None:
    assert fr_number(1.94) == "1,9" and fr_number(3270.4, 0) == "3\u202f270"
    assert fr_percent(0.25) == "25\u202f%"


def test_a_unit_header_may_wrap_only_after_a_slash() -> None:
    parts = _breakable_unit("kWh/m²/an")
    texts = [p for p in parts if isinstance(p, str)]
    assert texts == ["kWh", "/m²", "/an"] and len(parts) == 5
