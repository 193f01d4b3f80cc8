"""Alert messages are plain words a building manager understands, in French and English (pure, no server)."""

from __future__ import annotations

import json
import re
from datetime import datetime, timezone
from zoneinfo import ZoneInfo

import pytest

from analytics.anomalies import AnomalyKind
from analytics.notify.messages import (
    EVENTS,
    KINDS,
    LANGUAGES,
    AlertFacts,
    build_email,
    build_payload,
    evidence_lines,
    headline,
    subject,
)

PARIS = ZoneInfo("Europe/Paris")
# Tuesday 24 November 2026, 01:00 UTC = 02:00 in Paris.
STARTED = datetime(2026, 11, 24, 1, 0, tzinfo=timezone.utc)
RESOLVED = datetime(2026, 11, 26, 8, 15, tzinfo=timezone.utc)

# Evidence as analytics/anomalies.py writes it for each kind (names carry units).
EVIDENCE: dict[str, dict[str, float]] = {
    "water_leak": {"hours": 26.0, "volume_m3": 0.8, "min_flow_l_per_h": 12.0, "mean_flow_l_per_h": 30.0,
                   "leak_m3_per_year": 105.1},
    "meter_silent": {"silence_hours": 7.5, "usual_period_minutes": 30.0, "limit_hours": 6.0},
    "frozen_index": {"hours": 12.0, "readings": 24.0, "index_value": 8123.4},
    "counter_reset": {"previous_index": 8123.4, "new_index": 0.4, "drop": 8123.0, "previous_reading_age_hours": 0.5},
    "spike": {"peak_kwh": 3.2, "usual_level_kwh": 0.4, "ratio": 8.0, "robust_z": 12.0, "intervals": 1.0},
    "above_baseline": {"days": 5.0, "excess_kwh": 42.5, "observed_kwh": 130.0, "predicted_kwh": 87.5,
                       "ratio": 130.0 / 87.5, "rmse_kwh": 2.0},
    "base_load_rise": {"nights": 7.0, "base_load_w": 180.0, "reference_w": 60.0, "rise_w": 120.0,
                       "extra_kwh_per_year": 1051.2},
}

# The words that make each kind recognisable to a manager, per language.
KEY_WORDS = {
    "fr": {"water_leak": "L'eau coule en continu", "meter_silent": "n'envoie plus de relevés",
           "frozen_index": "même index", "counter_reset": "reparti d'un index plus bas",
           "spike": "Pic de consommation", "above_baseline": "au-dessus de son niveau habituel",
           "base_load_rise": "consommation de nuit"},
    "en": {"water_leak": "Water has been running continuously", "meter_silent": "has sent no readings",
           "frozen_index": "repeating the same reading", "counter_reset": "restarted from a lower reading",
           "spike": "Unusual consumption peak", "above_baseline": "well above its usual level",
           "base_load_rise": "night-time base load"},
}


def facts(kind: str, *, dwelling_code: str | None = "A-12", resolved: bool = False, severity: str = "warning",
          evidence: dict[str, float] | None = None) -> AlertFacts:
    return AlertFacts(
        alert_id=42, kind=kind, severity=severity, meter_id=7,
        meter_kind="water" if kind == "water_leak" else "electricity",
        residence_code="TIL", residence_name="Les Tilleuls", building_code="A", dwelling_code=dwelling_code,
        started_at=STARTED, detected_at=STARTED.replace(hour=3),
        resolved_at=RESOLVED if resolved else None, ended_at=RESOLVED if resolved else None,
        evidence=EVIDENCE[kind] if evidence is None else evidence,
    )


def test_every_detector_kind_has_words() -> None:
    """The builders know every kind the detectors produce."""
    assert set(KINDS) == {kind.value for kind in AnomalyKind}


def test_water_leak_headline_in_plain_words() -> None:
    """The example sentence of the brief, with the local time of the start."""
    assert headline(facts("water_leak"), "opened", "fr", PARIS) == (
        "L'eau coule en continu depuis mardi 24 novembre à 02:00 dans le logement A-12, bâtiment A.")
    assert headline(facts("water_leak"), "opened", "en", PARIS) == (
        "Water has been running continuously since Tuesday 24 November at 02:00 in dwelling A-12, building A.")


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("kind", KINDS)
def test_each_kind_opened_and_resolved_reads_as_plain_words(kind: str, language: str) -> None:
    """Subject, text and HTML name the place and the kind, in the language, with nothing left unfilled."""
    opened = build_email(facts(kind), "opened", language, PARIS)
    resolved = build_email(facts(kind, resolved=True), "resolved", language, PARIS)
    for content in (opened, resolved):
        for part in (content.subject, content.text, content.html):
            assert not re.search(r"\{[a-zA-Z_]+\}", part)
        assert "A-12" in content.subject and ("bâtiment A" if language == "fr" else "building A") in content.subject
        assert "Les Tilleuls" in content.text
    assert KEY_WORDS[language][kind] in opened.text
    assert opened.subject != resolved.subject
    assert resolved.subject.startswith("[coopwatt] " + ("Terminé" if language == "fr" else "Resolved"))
    if kind != "counter_reset":  # a reset is a moment, not an episode: its end says nothing new
        moment = "jeudi 26 novembre à 09:15" if language == "fr" else "Thursday 26 November at 09:15"
        assert moment in resolved.text
    other = "en" if language == "fr" else "fr"
    assert KEY_WORDS[other][kind] not in opened.text


@pytest.mark.parametrize("kind", KINDS)
def test_evidence_figures_carry_units_in_each_language(kind: str) -> None:
    """Every kind shows its numbers with units, formatted the French or the English way."""
    fr = evidence_lines(facts(kind), "fr")
    en = evidence_lines(facts(kind), "en")
    assert fr and en and len(fr) == len(en)
    units = re.compile(r"(kWh|m³|L/h|W\b|heures?|hours?|minutes|fois|times|jours|days|nuits|nights|relevés|readings)")
    for line in fr + en:
        assert re.search(r"\d", line), line
        assert units.search(line), line


def test_numbers_follow_the_language() -> None:
    """Decimal comma and narrow spaces in French, decimal point and comma grouping in English."""
    leak_fr = " ".join(evidence_lines(facts("water_leak"), "fr"))
    leak_en = " ".join(evidence_lines(facts("water_leak"), "en"))
    assert re.search(r"0,8\s?m³", leak_fr) and re.search(r"12\s?L/h", leak_fr)
    assert "0.8 m³" in leak_en
    base_fr = " ".join(evidence_lines(facts("base_load_rise"), "fr"))
    base_en = " ".join(evidence_lines(facts("base_load_rise"), "en"))
    assert re.search(r"1\s051\skWh", base_fr) and "1,051 kWh" in base_en
    assert "180 W" in base_en and re.search(r"180\sW", base_fr)
    above_en = " ".join(evidence_lines(facts("above_baseline"), "en"))
    assert "+49%" in above_en and "42.5 kWh" in above_en


def test_base_load_judged_on_unheated_hours_says_so() -> None:
    """An electrically heated home's rise is measured on hours without heating, and its evidence says that."""
    evidence = {"unheated_days": 6.0, "base_load_w": 420.0, "reference_w": 170.0, "rise_w": 250.0,
                "extra_kwh_per_year": 2190.0}
    en = evidence_lines(facts("base_load_rise", evidence=evidence), "en")
    fr = evidence_lines(facts("base_load_rise", evidence=evidence), "fr")
    assert "Lowest power in hours without heating: 420 W instead of 170 W before." in en
    assert "Seen over 6 days without heating." in en
    assert not any("Night-time" in line or "nights" in line for line in en)
    assert any("sans chauffage" in line and re.search(r"420\sW", line) for line in fr)
    assert not any("la nuit" in line for line in fr)


def test_a_rise_held_open_says_what_it_was_judged_against() -> None:
    """Judged against the alert's own level, or not judged at all for want of a night or warm day: it says so."""
    judged = {"nights": 3.0, "base_load_w": 310.0, "reference_w": 110.0, "rise_w": 200.0,
              "extra_kwh_per_year": 1752.0, "judged_against_alert": 1.0}
    en = evidence_lines(facts("base_load_rise", evidence=judged), "en")
    assert "Night-time power: 310 W instead of 110 W before." in en
    assert "Compared with the level before the rise, as recorded when the alert opened." in en
    unjudged = {"base_load_w": 310.0, "reference_w": 110.0, "rise_w": 200.0, "extra_kwh_per_year": 1752.0,
                "judged_against_alert": 1.0, "not_judged": 1.0}
    en = evidence_lines(facts("base_load_rise", evidence=unjudged), "en")
    fr = evidence_lines(facts("base_load_rise", evidence=unjudged), "fr")
    assert any(line.startswith("No recent night or day without heating") and "310 W" in line for line in en)
    assert not any("Seen over" in line for line in en)  # never "seen over 0 days"
    assert any(line.startswith("Pas de nuit ou de jour sans chauffage") and re.search(r"310\sW", line) for line in fr)


def test_missing_evidence_is_left_out_not_invented() -> None:
    """A number the detector did not give never shows up as a blank or a zero."""
    partial = facts("water_leak", evidence={"volume_m3": 1.5})
    lines = evidence_lines(partial, "en")
    assert lines == ["Water used meanwhile: 1.5 m³."]
    assert evidence_lines(facts("spike", evidence={}), "fr") == []


def test_building_meter_names_the_building_only() -> None:
    """A collective meter has no dwelling: the message says which building."""
    text = headline(facts("meter_silent", dwelling_code=None), "opened", "fr", PARIS)
    assert "du bâtiment A" in text and "logement" not in text
    assert "of building A" in headline(facts("meter_silent", dwelling_code=None), "opened", "en", PARIS)


def test_critical_subject_says_urgent_and_html_is_escaped() -> None:
    """Severity shows in the subject; names from the database cannot inject HTML."""
    urgent = facts("water_leak", severity="critical")
    assert subject(urgent, "opened", "fr").startswith("[coopwatt] Urgent : fuite d'eau")
    assert subject(urgent, "opened", "en").startswith("[coopwatt] Urgent: probable water leak")
    hostile = AlertFacts(**{**facts("spike").__dict__, "residence_name": "<script>x</script>"})
    content = build_email(hostile, "opened", "en", PARIS)
    assert "<script>" not in content.html and "&lt;script&gt;" in content.html


@pytest.mark.parametrize("event", EVENTS)
def test_payload_is_json_with_both_languages(event: str) -> None:
    """The webhook/MQTT document: machine fields, UTC times, all evidence, and both texts."""
    alert = facts("water_leak", resolved=event == "resolved")
    payload = build_payload(alert, event, PARIS)
    decoded = json.loads(json.dumps(payload))
    assert decoded["schema"] == "coopwatt.alert/1" and decoded["event"] == event
    assert decoded["alert"]["kind"] == "water_leak" and decoded["alert"]["id"] == 42
    assert decoded["alert"]["started_at"] == "2026-11-24T01:00:00Z"
    assert decoded["alert"]["status"] == ("resolved" if event == "resolved" else "open")
    assert decoded["alert"]["evidence"] == EVIDENCE["water_leak"]
    assert decoded["building"]["code"] == "A" and decoded["dwelling"] == {"code": "A-12"}
    assert decoded["message"]["fr"]["text"] == headline(alert, event, "fr", PARIS)
    assert decoded["message"]["en"]["text"] == headline(alert, event, "en", PARIS)


def test_unknown_kind_language_or_event_is_refused() -> None:
    """A typo never produces a half-built message."""
    with pytest.raises(ValueError):
        headline(facts("water_leak"), "opened", "de", PARIS)
    with pytest.raises(ValueError):
        headline(facts("water_leak"), "reminder", "fr", PARIS)
    with pytest.raises(ValueError):
        build_payload(AlertFacts(**{**facts("spike").__dict__, "kind": "fire"}), "opened", PARIS)


@pytest.mark.parametrize("language", ["fr", "en"])
def test_a_resolved_alert_says_nothing_is_left_only_when_nothing_is_left(language: str) -> None:
    """The dwelling verdict again: "rien d'autre à faire" beside an open leak contradicted the alert still open."""
    alone = AlertFacts(**{**facts("counter_reset", resolved=True).__dict__})
    beside = AlertFacts(**{**alone.__dict__, "other_open_kinds": ("water_leak",)})
    nothing = "rien d'autre à faire" if language == "fr" else "nothing else to do"
    assert nothing in build_email(alone, "resolved", language, PARIS).text
    email = build_email(beside, "resolved", language, PARIS)
    assert nothing not in email.text and nothing not in email.html
    still = "restent ouvertes" if language == "fr" else "still open"
    leak = "fuite d'eau probable" if language == "fr" else "probable water leak"
    assert still in email.text and leak in email.text
    assert still in build_email(AlertFacts(**{**facts("spike").__dict__, "other_open_kinds": ("meter_silent",)}),
                                "opened", language, PARIS).text
    assert still not in build_email(facts("spike"), "opened", language, PARIS).text
