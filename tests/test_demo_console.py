"""The demo's console lines (coopwatt/demo_console.py): they agree with the numbers and with each other, in words."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from coopwatt.demo_console import (
    ANOMALY_WORDS, CAUGHT_UP, AlertTally, Console, LiveStatus, StatusPolicy, TopConsumer, alerts_line,
    high_consumer_line, index_event, live_alerts_line, meter_label, number, status_line,
)

NOW = datetime(2026, 12, 5, 15, 0, tzinfo=UTC)
CODES = re.compile(r"\b[a-z]+_[a-z_]+\b")  # base_load, counter_reset … : stored codes, not words


def _ints(text: str) -> list[int]:
    """Every whole number in a line, thousands separators (space or comma) included."""
    return [int(re.sub(r"[ ,]", "", m)) for m in re.findall(r"\d{1,3}(?:[ ,]\d{3})+(?!\d)|\d+", text)]


tallies = st.builds(
    AlertTally, st.integers(0, 2000), st.integers(0, 2000), st.integers(0, 2000),
    st.lists(st.tuples(st.sampled_from(sorted(ANOMALY_WORDS)), st.integers(1, 50)), max_size=4,
             unique_by=lambda t: t[0]).map(tuple))


@given(tallies)
def test_alert_line_says_opened_closed_and_open_now_apart(tally: AlertTally) -> None:
    fr, en = alerts_line(tally)
    assert re.search(rf"\b{re.escape(number(tally.opened, 'fr'))} alertes? ouvertes?\b", fr), fr
    assert re.search(rf"\b{re.escape(number(tally.closed, 'fr'))} refermées? d'elles?-mêmes?", fr), fr
    assert re.search(rf"\b{re.escape(number(tally.open_now, 'fr'))} alertes? en cours maintenant", fr), fr
    assert re.search(rf"\b{re.escape(number(tally.opened, 'en'))} alerts? opened\b", en), en
    assert re.search(rf"\b{re.escape(number(tally.closed, 'en'))} closed by", en), en
    assert re.search(rf"\b{re.escape(number(tally.open_now, 'en'))} alerts? open now", en), en
    # Kinds in the words of the people who read them, never the stored code.
    assert not CODES.search(fr) and not CODES.search(en), (fr, en)


def test_alert_line_example_from_the_issue() -> None:
    """Six opened and five closed in one run: the line says so and that one is open, not 'six open'."""
    fr, en = alerts_line(AlertTally(6, 5, 1, (("spike", 5), ("base_load_rise", 1))))
    assert "6 alertes ouvertes, 5 refermées d'elles-mêmes ; 1 alerte en cours maintenant" in fr
    assert "6 alerts opened, 5 closed by themselves; 1 alert open now" in en
    assert "consommation de veille en hausse (1)" in fr and "standby use rising (1)" in en


@given(st.integers(0, 30), st.floats(1.1, 3.0), st.none() | st.builds(
    TopConsumer, st.sampled_from(["A-01", "B-04"]), st.sampled_from(["electricity", "gas", "heat"]),
    st.floats(0.2, 5.0)))
def test_ranking_line_never_contradicts_the_count(high: int, threshold: float, top: TopConsumer | None) -> None:
    line = high_consumer_line(high, threshold, top)
    if top is None:
        assert line is None
        return
    fr, en = line
    assert not CODES.search(fr) and not CODES.search(en)
    assert f"logement {top.dwelling_code}" in fr and f"dwelling {top.dwelling_code}" in en
    if high >= 1 and top.ratio >= threshold:
        assert "en tête" in fr and "first" in en and "aucun" not in fr and "no dwelling" not in en
        assert _ints(fr)[0] == high and _ints(en)[0] == high
    else:
        # Nothing crossed the threshold: no 'highest consumer' beside '0 high consumers'.
        assert "aucun logement" in fr and "no dwelling" in en and "en tête" not in fr and "first" not in en


def test_ranking_line_of_the_issue_in_french_numbers() -> None:
    fr, en = high_consumer_line(0, 1.5, TopConsumer("A-04", "gas", 1.43))  # type: ignore[misc]
    assert fr == ("  classement : aucun logement ne consomme 1,5× la médiane des logements similaires ou plus ; "
                  "le plus haut : logement A-04 (gaz), 1,4×")
    assert en.endswith("the highest: dwelling A-04 (gas), 1.4×")


def test_meters_are_named_by_dwelling_and_energy() -> None:
    label = meter_label("A-04", "electricity")
    assert label == ("logement A-04, compteur d'électricité", "dwelling A-04, electricity meter")
    assert meter_label("B-01", "gas")[0] == "logement B-01, compteur de gaz"
    assert meter_label(None, "heat")[0] == "compteur de chauffage collectif de la résidence"
    fr, en = index_event(label, "reset", NOW, 11759.498, 0.203)
    assert fr == "logement A-04, compteur d'électricité : index remis à zéro le 2026-12-05 15:00 UTC (11 759,498 → 0,203)"
    assert "index reset" in en and "11,759.498" in en


statuses = st.builds(
    LiveStatus, st.just(NOW), st.floats(0, 48 * 3600), st.integers(0, 10**6), st.integers(0, 10**6),
    st.integers(0, 100), st.integers(0, 10**8), st.integers(0, 10**7), st.integers(0, 100))


@given(statuses)
def test_status_line_explains_more_received_than_published(s: LiveStatus) -> None:
    fr, en = status_line(s)
    explained = "renvoyés par le broker" in fr and "sent again by the broker" in en
    assert explained == (s.received > s.published), (fr, en)
    if explained:
        assert f"dont {number(s.received - s.published, 'fr')} renvoyés" in fr
    assert f"{number(s.published, 'fr')} publiés" in fr and f"{number(s.received, 'en')} received" in en
    assert ("rattrapage" in fr) == ("catching up" in en) == (s.behind_s > 120)


def _status(behind_s: float, rejected: int = 0, published: int = 0) -> LiveStatus:
    return LiveStatus(NOW - timedelta(seconds=behind_s), behind_s, published, published, rejected, 10, 5, 0)


def test_status_is_calm_once_caught_up() -> None:
    """20 minutes of 5-second ticks after catching up: the caught-up line once, then a line every 5 min, not 240."""
    policy = StatusPolicy()
    printed = []
    for tick in range(240):  # 20 min
        printed += policy.lines(tick * 5.0, _status(behind_s=30, published=tick * 100))
    assert printed.count(CAUGHT_UP) == 1 and printed[0] == CAUGHT_UP
    # The caught-up line and a status at 0 s, then one status at 5, 10 and 15 min: 5 lines where there were 240.
    assert len(printed) == 5, printed


def test_status_says_catch_up_progress_every_half_minute_then_caught_up_once() -> None:
    policy = StatusPolicy()
    lines = [line for tick in range(24) for line in policy.lines(tick * 5.0, _status(behind_s=3600 - tick * 100))]
    assert len(lines) == 4 and all("rattrapage" in fr for fr, _ in lines)  # 0, 30, 60, 90 s
    later = policy.lines(125.0, _status(behind_s=60))
    assert later[0] == CAUGHT_UP and "en direct" in later[1][0]
    assert policy.lines(130.0, _status(behind_s=55)) == []


def test_a_refused_message_is_news_at_once() -> None:
    policy = StatusPolicy()
    policy.lines(0.0, _status(behind_s=10))
    assert policy.lines(5.0, _status(behind_s=10)) == []
    lines = policy.lines(10.0, _status(behind_s=10, rejected=1))
    assert len(lines) == 1 and "1 refusé" in lines[0][0]


@pytest.mark.parametrize(("language", "expected"), [
    ("fr", "[demo] bonjour\n"), ("en", "[demo] hello\n"), ("both", "[demo] bonjour / hello\n")])
def test_console_prints_in_the_demo_language(language: str, expected: str, capsys: pytest.CaptureFixture[str]) -> None:
    Console(language).say("bonjour", "hello")
    assert capsys.readouterr().out == expected


alert_lists = st.lists(st.tuples(st.sampled_from(sorted(ANOMALY_WORDS)),
                                 st.builds(meter_label, st.sampled_from(["A-01", "B-12", None]),
                                           st.sampled_from(["electricity", "gas", "water", "heat"]))), max_size=4)


@given(alert_lists, alert_lists, st.integers(0, 50))
def test_live_alert_line_names_every_alert_it_counts(opened: list, closed: list, open_now: int) -> None:
    fr, en = live_alerts_line(NOW, opened, closed, open_now)
    for kind, label in opened + closed:
        assert f"{ANOMALY_WORDS[kind][0]} ({label[0]})" in fr and f"{ANOMALY_WORDS[kind][1]} ({label[1]})" in en
    assert ("nouvelle" in fr) == ("new alert" in en) == bool(opened)
    if len(opened) > 1:
        assert f"{len(opened)} nouvelles alertes" in fr and f"{len(opened)} new alerts" in en
    assert ("refermée" in fr) == ("closed by" in en) == bool(closed)
    assert fr.endswith(f"{number(open_now, 'fr')} alerte{'s' if open_now > 1 else ''} en cours")
    assert en.endswith(f"{open_now} alert{'' if open_now == 1 else 's'} open now")
    assert not CODES.search(fr) and not CODES.search(en)
