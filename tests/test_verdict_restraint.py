"""A home that may be going cold (the advisers' hardship signal) is never cheered: the pure rules and their words."""

from __future__ import annotations

import pytest

from analytics.verdict import OpenAlert, Standing, judge
from dashboard.verdicts import comparison_sentence, no_suggestion_sentence, year_on_year_sentence

PRAISE = ("bonne voie", "Continuez", "Bravo", "Belle performance", "right track", "Well done", "Nice work",
          "Keep it up")


@pytest.mark.parametrize("lang", ["fr", "en"])
def test_restraint_turns_praise_into_the_plain_figures(lang: str) -> None:
    free, restrained = judge([], [], []), judge([], [], [], restrained=True)
    assert free.praise and not restrained.praise and not restrained.concerns
    for own in (3.0, 4.5, 4.9):  # efficient, below and near the average of 5.0 (the efficient level 3.2)
        cheered = comparison_sentence(own, 5.0, 3.2, free, lang)
        plain = comparison_sentence(own, 5.0, 3.2, restrained, lang)
        assert not [w for w in PRAISE if w in plain] and plain != cheered
        # Nothing is open: the plain sentence must not send the household looking for a point "below".
        assert "ci-dessous" not in plain and "below)" not in plain
    assert [w for w in PRAISE if w in year_on_year_sentence(-0.41, free, lang)]
    plain_year = year_on_year_sentence(-0.41, restrained, lang)
    assert not [w for w in PRAISE if w in plain_year] and "41" in plain_year
    assert not [w for w in PRAISE if w in no_suggestion_sentence(restrained, lang)]
    # A rise is said the same way either way: restraint only withholds praise.
    assert year_on_year_sentence(0.2, restrained, lang) == year_on_year_sentence(0.2, free, lang)


def test_a_real_concern_still_speaks_of_itself_when_the_home_is_also_restrained() -> None:
    verdict = judge([OpenAlert("water_leak", "critical", "water")], [Standing("electricity", 1, 1.0)], [],
                    restrained=True)
    assert verdict.concerns and not verdict.praise
    assert "une alerte est ouverte" in year_on_year_sentence(-0.2, verdict, "fr")
