"""Property tests: for many generated dwellings, no sentence the views build contradicts the facts behind it.

Each example is a dwelling with open alerts of any kind (leak, standby rise, silent meter, …),
rankings per energy (some high, some without a reference group), stored suggestions, a
year-on-year change, a place among similar homes, a supply contract and a year of hours with
gaps. The sentences are those the household page, the adviser's ranking and drill-down show.
"""

from __future__ import annotations

from datetime import UTC, date, datetime

from hypothesis import given, settings
from hypothesis import strategies as st

from analytics.offpeak import FULL_YEAR_FRACTION, HourOfDayUse, suggest_offpeak_tariff
from analytics.suggestions import SuggestionKind, SuggestionThresholds
from analytics.verdict import ENERGY_SAVING, Standing, VerdictSettings, is_ranked_high
from coopwatt.tariffs import DEFAULT_OFFPEAK_HOURS, SupplyContract, grid_on, load_tariff_grids
from dashboard import verdicts
from dashboard.queries import SuggestionRow
from dashboard.alert_queries import AlertRow

PRAISE = ("bonne voie", "Continuez", "Bravo", "Belle performance", "right track", "Well done", "Nice work",
          "Keep it up")
ALERT_KINDS = ("water_leak", "base_load_rise", "above_baseline", "meter_silent", "frozen_index", "counter_reset",
               "spike")
ENERGY = ("electricity", "gas", "water", "heat")
ACTIONABLE = {"water_leak": "leak", "base_load_rise": "base_load", "above_baseline": None}
GRID = grid_on(load_tariff_grids(), date(2026, 12, 1))
WHEN = datetime(2026, 12, 1, tzinfo=UTC)


@st.composite
def alerts(draw: st.DrawFn) -> AlertRow:
    kind = draw(st.sampled_from(ALERT_KINDS))
    evidence = draw(st.fixed_dictionaries({}, optional={
        "min_flow_l_per_h": st.floats(0.5, 200), "reference_w": st.floats(20, 400), "base_load_w": st.floats(50, 2000),
        "silence_hours": st.floats(1, 200)}))
    meter_kind = "water" if kind == "water_leak" else draw(st.sampled_from(ENERGY[:2]))
    return AlertRow(1, kind, draw(st.sampled_from(("info", "warning", "critical"))), "src", meter_kind, "A-1",
                    "Bâtiment A", WHEN, WHEN, None, evidence)


standings = st.lists(st.builds(Standing, st.sampled_from(ENERGY), st.integers(1, 40),
                               st.one_of(st.none(), st.floats(0.2, 4.0)), st.integers(0, 3)),
                     max_size=4, unique_by=lambda s: s.energy_kind)
suggestions = st.lists(st.builds(SuggestionRow, st.sampled_from([k.value for k in SuggestionKind]),
                                 st.floats(0, 5000), st.floats(5, 2000),
                                 st.one_of(st.just({}), st.builds(lambda k: {"energy_kind": k}, st.sampled_from(ENERGY)))),
                       max_size=4)


def _words(lang: str, kind: str) -> str:
    return verdicts.t(f"kind.{kind}", lang).lower()


@settings(max_examples=250, deadline=None)
@given(st.lists(alerts(), max_size=4), standings, suggestions, st.floats(-0.9, 2.0), st.floats(1, 300),
       st.floats(1, 300), st.one_of(st.none(), st.floats(1, 300)), st.sampled_from(("fr", "en")))
def test_no_sentence_contradicts_the_alerts_the_ranking_or_the_figures(
        open_alerts: list[AlertRow], ranked: list[Standing], stored: list[SuggestionRow], change: float,
        own: float, average: float, efficient: float | None, lang: str) -> None:
    """No praise beside a concern; an action for every unanswered one; words match their thresholds."""
    verdict = verdicts.verdict_from(open_alerts, ranked, stored)
    high = [s for s in ranked if is_ranked_high(s)]
    sentences = [verdicts.comparison_sentence(own, average, efficient, verdict, lang),
                 verdicts.year_on_year_sentence(change, verdict, lang),
                 verdicts.no_suggestion_sentence(verdict, lang), *verdicts.action_sentences(verdict, lang)]
    text = " ".join(sentences)
    if open_alerts or high:
        assert not [word for word in PRAISE if word in text], text
    else:
        assert verdict.praise and not verdicts.action_sentences(verdict, lang)
    actions = " ".join(verdicts.action_sentences(verdict, lang))
    for standing in high:  # every home ranked high has a suggestion or an action naming the energy
        saving = any(s.kind in ENERGY_SAVING and s.evidence.get("energy_kind", standing.energy_kind)
                     == standing.energy_kind for s in stored)
        assert saving or _words(lang, standing.energy_kind) in actions
    for alert in open_alerts:  # a leak, a standby rise, a use above baseline: answered or acted on
        if alert.kind not in ACTIONABLE:
            continue
        answered = [s for s in stored if s.kind == ACTIONABLE[alert.kind]
                    or (ACTIONABLE[alert.kind] is None and s.kind in ENERGY_SAVING
                        and s.evidence.get("energy_kind", alert.meter_kind) == alert.meter_kind)]
        assert answered or actions
        if not answered and alert.kind == "base_load_rise" and {"reference_w", "base_load_w"} <= set(alert.evidence):
            assert f"{verdicts.format_number(alert.evidence['base_load_w'], lang, digits=0)} W" in actions
    # Year on year: the word follows the stated threshold, and the threshold is stated.
    stable = VerdictSettings().stable_fraction
    year = sentences[1]
    same = "stable" if lang == "fr" else "steady"
    higher, lower = ("de plus que", "de moins que") if lang == "fr" else ("more than", "less than")
    if abs(change) < stable:
        assert same in year and higher not in year and lower not in year
    else:
        assert same not in year
        assert (higher in year, lower in year) == (change > 0, change < 0)
        assert verdicts.format_fraction_percent(abs(change), lang) in year
    assert verdicts.format_fraction_percent(stable, lang) in verdicts.stable_threshold(lang)


@settings(max_examples=200, deadline=None)
@given(st.lists(alerts(), max_size=3), st.integers(1, 40), st.one_of(st.none(), st.floats(0.2, 4.0)),
       st.integers(0, 2), st.sampled_from(("fr", "en")))
def test_every_ranked_row_says_why(open_alerts: list[AlertRow], rank: int, ratio: float | None, stored_count: int,
                                   lang: str) -> None:
    """The "Pourquoi" cell lists the ranking's reasons and each open alert; a high home is never left empty."""
    stored = [{"code": "x", "message_fr": "raison", "message_en": "reason"}] * stored_count
    lines = verdicts.ranking_reasons(stored, open_alerts, ratio, rank, lang)
    assert len(lines) >= stored_count + len(open_alerts)
    if is_ranked_high(Standing("electricity", rank, ratio)):
        assert lines


@st.composite
def year_of_hours(draw: st.DrawFn) -> HourOfDayUse:
    days = draw(st.integers(0, 365))
    per_hour = draw(st.lists(st.floats(0.0, 3.0), min_size=24, max_size=24))
    missing = draw(st.lists(st.integers(0, days), min_size=24, max_size=24))  # gaps, each hour of the day its own
    hours = [max(days - gap, 0) for gap in missing]
    return HourOfDayUse(tuple(kwh * n for kwh, n in zip(per_hour, hours, strict=True)), tuple(hours))


contracts = st.one_of(st.none(), st.builds(
    lambda option, kva: SupplyContract(date(2024, 1, 1), option, kva,
                                       DEFAULT_OFFPEAK_HOURS if option == "hphc" else None),
    st.sampled_from(("base", "hphc", "tempo")), st.sampled_from((3, 6, 9, 12, 15, 36))))


@settings(max_examples=300, deadline=None)
@given(year_of_hours(), contracts, st.sampled_from(("fr", "en")))
def test_the_offpeak_sentence_agrees_with_the_contract_and_the_data(use: HourOfDayUse, contract: SupplyContract | None,
                                                                    lang: str) -> None:
    """Never the option the household has; whole bills; extrapolated exactly when under a full year, and said so."""
    assert GRID is not None
    suggestion = suggest_offpeak_tariff(1, use, contract, GRID)
    sentence = verdicts.contract_sentence(contract, lang)
    assert sentence
    if suggestion is None:
        return
    assert contract is None or contract.option == "base"
    assert min(use.hours) > 0 and use.covered_days >= SuggestionThresholds().offpeak_min_days
    e = suggestion.evidence
    assert suggestion.cost_eur_per_year == e["base_cost_eur_per_year"] - e["offpeak_tariff_cost_eur_per_year"]
    assert e["base_cost_eur_per_year"] == e["base_energy_eur_per_year"] + e["base_subscription_eur_per_year"]
    assert e["offpeak_subscription_eur_per_year"] > 0 and e["base_subscription_eur_per_year"] > 0
    details = " ".join(verdicts.offpeak_details(e, lang))
    days = str(int(round(use.covered_days)))
    assert days in details
    extrapolated = use.covered_days < FULL_YEAR_FRACTION * 365
    assert (("Extrapolé" if lang == "fr" else "Extrapolated") in details) == extrapolated
    assert (("n'est pas renseigné" if lang == "fr" else "not on record") in details) == (contract is None)
