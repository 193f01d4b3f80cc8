"""Alert messages in plain words: e-mail subject/text/HTML (French, English) and the JSON payload.

Pure: no I/O, no clock. The caller gives the alert's facts (:class:`AlertFacts`, read from the
database by the outbox), the event (opened, resolved or reminder-N), the recipient's language and the
cooperative's time zone. Dates, numbers and units are formatted with Babel for the language;
evidence values arrive with their unit in their name (``volume_m3``, ``rise_w``) as the
detectors in ``analytics/anomalies.py`` write them, and unknown or missing evidence keys are
simply left out of the text (the JSON payload keeps them all).
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any
from zoneinfo import ZoneInfo

from babel.dates import format_datetime
from babel.numbers import format_decimal, format_percent
from babel.units import format_unit

from analytics.verdict import OpenAlert, Verdict, judge

LANGUAGES = ("fr", "en")
EVENTS = ("opened", "resolved")  # and reminders, "reminder-1", "reminder-2", …
_REMINDER = re.compile(r"reminder-([1-9][0-9]*)")
KINDS = ("above_baseline", "base_load_rise", "water_leak", "meter_silent", "frozen_index", "counter_reset", "spike")
PAYLOAD_SCHEMA = "coopwatt.alert/1"

_LOCALES = {"fr": "fr_FR", "en": "en_GB"}
_WHEN_PATTERN = {"fr": "EEEE d MMMM 'à' HH:mm", "en": "EEEE d MMMM 'at' HH:mm"}


@dataclass(frozen=True)
class AlertFacts:
    """What a message says about one alert: where, what, when and the numbers behind it."""

    alert_id: int
    kind: str
    severity: str
    meter_id: int
    meter_kind: str
    residence_code: str
    residence_name: str
    building_code: str
    dwelling_code: str | None
    started_at: datetime
    detected_at: datetime
    ended_at: datetime | None = None
    resolved_at: datetime | None = None
    building_name: str | None = None
    evidence: Mapping[str, float] = field(default_factory=dict)
    other_open_kinds: tuple[str, ...] = ()  # the dwelling's other open alerts (its verdict's other concerns)


@dataclass(frozen=True)
class EmailContent:
    """One e-mail's subject, plain-text body and HTML body, in one language."""

    subject: str
    text: str
    html: str


# --- number and date formatting ------------------------------------------------------------------

def _locale(language: str) -> str:
    if language not in _LOCALES:
        raise ValueError(f"unsupported language {language!r} (expected one of {LANGUAGES})")
    return _LOCALES[language]


def format_when(moment: datetime, language: str, tz: ZoneInfo) -> str:
    """A moment in the cooperative's local time, e.g. "mardi 24 novembre à 02:00"."""
    return format_datetime(moment, _WHEN_PATTERN[language], tzinfo=tz, locale=_locale(language))


def _number(value: float, language: str) -> str:
    pattern = "#,##0" if abs(value) >= 100 else "#,##0.#"
    return format_decimal(value, format=pattern, locale=_locale(language))


def _unit(value: float, cldr_unit: str, language: str, length: str = "short") -> str:
    pattern = "#,##0" if abs(value) >= 100 else "#,##0.#"
    return format_unit(value, cldr_unit, length=length, format=pattern, locale=_locale(language))


def _kwh(value: float, language: str) -> str:
    return _unit(value, "energy-kilowatt-hour", language)


def _watts(value: float, language: str) -> str:
    return _unit(value, "power-watt", language)


def _m3(value: float, language: str) -> str:
    return _unit(value, "volume-cubic-meter", language)


def _hours(value: float, language: str) -> str:
    return _unit(value, "duration-hour", language, length="long")


def _minutes(value: float, language: str) -> str:
    return _unit(value, "duration-minute", language, length="long")


def _litres_per_hour(value: float, language: str) -> str:
    # CLDR has no litre-per-hour unit; the symbol is the same in both languages.
    space = "\u202f" if language == "fr" else " "
    return f"{_number(value, language)}{space}L/h"


def _index(value: float, meter_kind: str, language: str) -> str:
    # Index evidence is in the meter's canonical unit: m³ for water, kWh otherwise.
    return _m3(value, language) if meter_kind == "water" else _kwh(value, language)


def _plus_percent(fraction: float, language: str) -> str:
    sign = "+" if fraction >= 0 else ""
    return sign + format_percent(fraction, locale=_locale(language))


# --- words ---------------------------------------------------------------------------------------

_TITLES = {
    "fr": {
        "above_baseline": "Consommation inhabituellement élevée",
        "base_load_rise": "Hausse de la consommation de nuit",
        "water_leak": "Fuite d'eau probable",
        "meter_silent": "Compteur muet",
        "frozen_index": "Index de compteur bloqué",
        "counter_reset": "Compteur remis à zéro",
        "spike": "Pic de consommation",
    },
    "en": {
        "above_baseline": "Unusually high consumption",
        "base_load_rise": "Night-time base load rising",
        "water_leak": "Probable water leak",
        "meter_silent": "Meter silent",
        "frozen_index": "Meter reading stuck",
        "counter_reset": "Meter reset",
        "spike": "Consumption peak",
    },
}

_METER = {  # "the <kind> meter", and "<kind> use" for consumption sentences
    "fr": {"electricity": ("le compteur d'électricité", "la consommation d'électricité"),
           "gas": ("le compteur de gaz", "la consommation de gaz"),
           "water": ("le compteur d'eau", "la consommation d'eau"),
           "heat": ("le compteur de chauffage", "la consommation de chauffage")},
    "en": {"electricity": ("the electricity meter", "electricity use"),
           "gas": ("the gas meter", "gas use"),
           "water": ("the water meter", "water use"),
           "heat": ("the heat meter", "heat use")},
}

_SEVERITY = {
    "fr": {"info": "pour information", "warning": "à surveiller", "critical": "urgent"},
    "en": {"info": "for information", "warning": "to keep an eye on", "critical": "urgent"},
}

# Headlines. Placeholders: {since} {ended} (formatted moments), {in_place} ("dans le logement
# A-12, bâtiment A"), {of_place} ("du logement A-12, bâtiment A"), {meter}, {use}.
_OPENED = {
    "fr": {
        "water_leak": "L'eau coule en continu depuis {since} {in_place}.",
        "meter_silent": "{Meter} {of_place} n'envoie plus de relevés depuis {since}.",
        "frozen_index": "{Meter} {of_place} renvoie le même index depuis {since} : il est peut-être bloqué.",
        "counter_reset": "{Meter} {of_place} est reparti d'un index plus bas le {since} (compteur remplacé ou remis à zéro).",
        "spike": "Pic de consommation inhabituel {in_place} le {since}.",
        "above_baseline": "Depuis {since}, {use} {of_place} est nettement au-dessus de son niveau habituel, à météo égale.",
        "base_load_rise": "Depuis {since}, la consommation de nuit (appareils toujours allumés) {of_place} a augmenté.",
    },
    "en": {
        "water_leak": "Water has been running continuously since {since} {in_place}.",
        "meter_silent": "{Meter} {of_place} has sent no readings since {since}.",
        "frozen_index": "{Meter} {of_place} has been repeating the same reading since {since}: it may be stuck.",
        "counter_reset": "{Meter} {of_place} restarted from a lower reading on {since} (meter replaced or reset).",
        "spike": "Unusual consumption peak {in_place} on {since}.",
        "above_baseline": "Since {since}, {use} {of_place} has been well above its usual level, weather taken into account.",
        "base_load_rise": "Since {since}, the night-time base load (always-on appliances) {of_place} has risen.",
    },
}

_RESOLVED = {
    "fr": {
        "water_leak": "L'eau ne coule plus en continu {in_place} : c'est terminé depuis {ended}.",
        "meter_silent": "{Meter} {of_place} envoie de nouveau des relevés (depuis {ended}).",
        "frozen_index": "L'index {meter_of} {of_place} avance de nouveau (depuis {ended}).",
        "counter_reset": "Le nouvel index {meter_of} {of_place} est pris en compte : rien d'autre à faire.",
        "spike": "Le pic de consommation {in_place} est terminé ({ended}).",
        "above_baseline": "{Use} {of_place} est revenue à son niveau habituel ({ended}).",
        "base_load_rise": "La consommation de nuit {of_place} est revenue à son niveau habituel ({ended}).",
    },
    "en": {
        "water_leak": "Water is no longer running continuously {in_place}: it stopped on {ended}.",
        "meter_silent": "{Meter} {of_place} is sending readings again (since {ended}).",
        "frozen_index": "The reading of {meter} {of_place} is moving again (since {ended}).",
        "counter_reset": "The new reading of {meter} {of_place} has been taken into account: nothing else to do.",
        "spike": "The consumption peak {in_place} is over ({ended}).",
        "above_baseline": "{Use} {of_place} is back to its usual level ({ended}).",
        "base_load_rise": "The night-time base load {of_place} is back to its usual level ({ended}).",
    },
}

# A resolved alert's headline when the dwelling still has other open alerts: no "nothing else to do".
_RESOLVED_BESIDE_OPEN = {
    "fr": {"counter_reset": "Le nouvel index {meter_of} {of_place} est pris en compte."},
    "en": {"counter_reset": "The new reading of {meter} {of_place} has been taken into account."},
}

_ADVICE = {
    "fr": {
        "water_leak": "À vérifier : chasses d'eau, robinets, groupe de sécurité du chauffe-eau, canalisations visibles.",
        "meter_silent": "À vérifier : l'alimentation et la connexion du module de relève du compteur.",
        "frozen_index": "À vérifier : le module de relève du compteur (un redémarrage suffit souvent).",
        "counter_reset": "Si le compteur n'a pas été remplacé, signalez-le à l'équipe technique.",
        "spike": "Un appareil très puissant ou un défaut électrique ? Rien à faire si c'était prévu.",
        "above_baseline": "Un chauffage mal réglé ou un appareil défectueux ? Un conseiller énergie peut aider le foyer.",
        "base_load_rise": "Un appareil resté allumé (chauffe-eau, pompe, congélateur ancien) ? Un conseiller énergie peut aider.",
    },
    "en": {
        "water_leak": "To check: toilet cisterns, taps, the water heater's safety valve, visible pipes.",
        "meter_silent": "To check: the power supply and connection of the meter's reading module.",
        "frozen_index": "To check: the meter's reading module (restarting it often helps).",
        "counter_reset": "If the meter was not replaced, tell the maintenance team.",
        "spike": "A very powerful appliance or an electrical fault? Nothing to do if it was expected.",
        "above_baseline": "Badly set heating or a faulty appliance? An energy adviser can help the household.",
        "base_load_rise": "An appliance left on (water heater, pump, old freezer)? An energy adviser can help.",
    },
}

_EvidenceLine = Callable[[Mapping[str, float], str, str], str | None]


def _needs(*keys: str) -> Callable[[Callable[..., str]], _EvidenceLine]:
    """Wrap an evidence sentence so it is left out when one of its numbers is missing."""

    def wrap(build: Callable[..., str]) -> _EvidenceLine:
        def line(evidence: Mapping[str, float], language: str, meter_kind: str) -> str | None:
            if any(evidence.get(key) is None for key in keys):
                return None
            return build(evidence, language, meter_kind)
        return line
    return wrap


def _t(language: str, fr: str, en: str) -> str:
    return fr if language == "fr" else en


_EVIDENCE: dict[str, list[_EvidenceLine]] = {
    "water_leak": [
        _needs("min_flow_l_per_h", "hours")(lambda e, lang, _k: _t(
            lang, "Débit le plus faible : {flow} ; pas une heure sans écoulement pendant {hours}.",
            "Lowest flow: {flow}; not a single hour without flow for {hours}.").format(
            flow=_litres_per_hour(e["min_flow_l_per_h"], lang), hours=_hours(e["hours"], lang))),
        _needs("volume_m3")(lambda e, lang, _k: _t(
            lang, "Volume écoulé pendant ce temps : {volume}.", "Water used meanwhile: {volume}.").format(
            volume=_m3(e["volume_m3"], lang))),
        _needs("leak_m3_per_year")(lambda e, lang, _k: _t(
            lang, "Si rien n'est fait : environ {volume} perdus par an.",
            "If nothing is done: about {volume} lost a year.").format(volume=_m3(e["leak_m3_per_year"], lang))),
    ],
    "meter_silent": [
        _needs("silence_hours")(lambda e, lang, _k: _t(
            lang, "Aucun relevé depuis {hours}.", "No reading for {hours}.").format(
            hours=_hours(e["silence_hours"], lang))),
        _needs("usual_period_minutes")(lambda e, lang, _k: _t(
            lang, "D'habitude, ce compteur envoie un relevé toutes les {period}.",
            "This meter usually sends a reading every {period}.").format(
            period=_minutes(e["usual_period_minutes"], lang))),
    ],
    "frozen_index": [
        _needs("index_value", "hours")(lambda e, lang, k: _t(
            lang, "Index bloqué à {index} depuis {hours}.", "Reading stuck at {index} for {hours}.").format(
            index=_index(e["index_value"], k, lang), hours=_hours(e["hours"], lang))),
        _needs("readings")(lambda e, lang, _k: _t(
            lang, "{count} relevés identiques d'affilée.", "{count} identical readings in a row.").format(
            count=_number(e["readings"], lang))),
    ],
    "counter_reset": [
        _needs("previous_index", "new_index")(lambda e, lang, k: _t(
            lang, "L'index est passé de {before} à {after}.", "The reading went from {before} to {after}.").format(
            before=_index(e["previous_index"], k, lang), after=_index(e["new_index"], k, lang))),
    ],
    "spike": [
        _needs("peak_kwh", "usual_level_kwh")(lambda e, lang, _k: _t(
            lang, "Consommation au plus haut : {peak} sur un intervalle, contre {usual} d'habitude.",
            "Highest use: {peak} in one interval, against {usual} usually.").format(
            peak=_kwh(e["peak_kwh"], lang), usual=_kwh(e["usual_level_kwh"], lang))),
        _needs("ratio")(lambda e, lang, _k: _t(
            lang, "Soit {ratio} fois le niveau habituel.", "That is {ratio} times the usual level.").format(
            ratio=_number(e["ratio"], lang))),
    ],
    "above_baseline": [
        _needs("observed_kwh", "predicted_kwh", "days")(lambda e, lang, _k: _t(
            lang, "Consommé : {observed} en {days} jours, pour {predicted} attendus à cette météo.",
            "Used: {observed} over {days} days, against {predicted} expected for this weather.").format(
            observed=_kwh(e["observed_kwh"], lang), predicted=_kwh(e["predicted_kwh"], lang),
            days=_number(e["days"], lang))),
        _needs("excess_kwh", "ratio")(lambda e, lang, _k: _t(
            lang, "Soit {excess} de plus que prévu ({percent}).", "That is {excess} more than expected ({percent}).").format(
            excess=_kwh(e["excess_kwh"], lang), percent=_plus_percent(e["ratio"] - 1.0, lang))),
    ],
    "base_load_rise": [
        _needs("nights", "base_load_w", "reference_w")(lambda e, lang, _k: _t(
            lang, "Puissance appelée la nuit : {level} au lieu de {reference} auparavant.",
            "Night-time power: {level} instead of {reference} before.").format(
            level=_watts(e["base_load_w"], lang), reference=_watts(e["reference_w"], lang))),
        # An electrically heated home is judged on the hours it cannot be heating, not on its nights.
        _needs("unheated_days", "base_load_w", "reference_w")(lambda e, lang, _k: _t(
            lang, "Puissance la plus basse aux heures sans chauffage : {level} au lieu de {reference} auparavant.",
            "Lowest power in hours without heating: {level} instead of {reference} before.").format(
            level=_watts(e["base_load_w"], lang), reference=_watts(e["reference_w"], lang))),
        _needs("extra_kwh_per_year")(lambda e, lang, _k: _t(
            lang, "Si cela dure : environ {extra} de plus par an.", "If it lasts: about {extra} more a year.").format(
            extra=_kwh(e["extra_kwh_per_year"], lang))),
        _needs("nights")(lambda e, lang, _k: _t(
            lang, "Constaté sur {nights} nuits.", "Seen over {nights} nights.").format(nights=_number(e["nights"], lang))),
        _needs("unheated_days")(lambda e, lang, _k: _t(
            lang, "Constaté sur {days} jours sans chauffage.", "Seen over {days} days without heating.").format(
            days=_number(e["unheated_days"], lang))),
        _needs("judged_against_alert")(lambda e, lang, _k: _t(
            lang, "Comparé au niveau d'avant la hausse, relevé à l'ouverture de l'alerte.",
            "Compared with the level before the rise, as recorded when the alert opened.")),
        _needs("not_judged", "base_load_w", "reference_w")(lambda e, lang, _k: _t(
            lang, "Pas de nuit ou de jour sans chauffage récent pour en juger : l'alerte reste ouverte, "
                  "dernière puissance constatée {level} au lieu de {reference}.",
            "No recent night or day without heating to judge it by: the alert stays open, last seen at "
            "{level} instead of {reference}.").format(
            level=_watts(e["base_load_w"], lang), reference=_watts(e["reference_w"], lang))),
    ],
}


# --- builders ------------------------------------------------------------------------------------

def is_reminder(event: str) -> bool:
    """Whether ``event`` is a reminder: ``reminder-1``, ``reminder-2``, …"""
    return _REMINDER.fullmatch(event) is not None


def event_kind(event: str) -> str:
    """``reminder`` for ``reminder-1``, ``reminder-2``, …; any other event as it is."""
    return "reminder" if is_reminder(event) else event


def is_event(event: str) -> bool:
    """Whether ``event`` is one the outbox may queue: opened, resolved or reminder-N."""
    return event in EVENTS or is_reminder(event)


def _check(facts: AlertFacts, event: str, language: str) -> None:
    if facts.kind not in KINDS:
        raise ValueError(f"unknown alert kind {facts.kind!r}")
    if not is_event(event):
        raise ValueError(f"unknown event {event!r} (expected opened, resolved or reminder-N)")
    _locale(language)


def _places(facts: AlertFacts, language: str) -> tuple[str, str, str]:
    """(in_place, of_place, short place) in the language, e.g. "dans le logement A-12, bâtiment A"."""
    if language == "fr":
        if facts.dwelling_code:
            where = f"logement {facts.dwelling_code}, bâtiment {facts.building_code}"
            return f"dans le {where}", f"du {where}", where
        return f"dans le bâtiment {facts.building_code}", f"du bâtiment {facts.building_code}", \
            f"bâtiment {facts.building_code}"
    if facts.dwelling_code:
        where = f"dwelling {facts.dwelling_code}, building {facts.building_code}"
        return f"in {where}", f"of {where}", where
    return f"in building {facts.building_code}", f"of building {facts.building_code}", f"building {facts.building_code}"


def _capitalise(text: str) -> str:
    return text[:1].upper() + text[1:]


def headline(facts: AlertFacts, event: str, language: str, tz: ZoneInfo) -> str:
    """The one sentence a building manager reads first, e.g. "L'eau coule en continu depuis …"."""
    _check(facts, event, language)
    in_place, of_place, _ = _places(facts, language)
    meter, use = _METER[language].get(facts.meter_kind, _METER[language]["electricity"])
    # French "de + le compteur" contracts to "du compteur".
    meter_of = "du " + meter.removeprefix("le ") if language == "fr" else "of " + meter
    ended_moment = facts.resolved_at or facts.ended_at or facts.detected_at
    # A reminder says what the opening said: the condition is still there.
    template = (_RESOLVED if event == "resolved" else _OPENED)[language][facts.kind]
    if event == "resolved" and not _dwelling_verdict(facts).praise:
        template = _RESOLVED_BESIDE_OPEN[language].get(facts.kind, template)
    return template.format(
        since=format_when(facts.started_at, language, tz), ended=format_when(ended_moment, language, tz),
        in_place=in_place, of_place=of_place, meter=meter, Meter=_capitalise(meter), meter_of=meter_of,
        use=use, Use=_capitalise(use),
    )


def _dwelling_verdict(facts: AlertFacts) -> Verdict:
    """The dwelling's verdict from its other open alerts (the one the household page and the ranking use)."""
    return judge([OpenAlert(kind, "warning", facts.meter_kind) for kind in facts.other_open_kinds], [], [])


def still_open_line(facts: AlertFacts, language: str) -> str | None:
    """"Other alerts are still open on this dwelling: …", or None when there are none."""
    if _dwelling_verdict(facts).praise:
        return None
    titles = ", ".join(alert_title(kind, language).lower() for kind in facts.other_open_kinds)
    return _t(language, f"D'autres alertes restent ouvertes sur ce logement : {titles}.",
              f"Other alerts are still open on this dwelling: {titles}.")


def alert_title(kind: str, language: str) -> str:
    """An alert kind's short title ("Fuite d'eau probable"), or the kind itself when unknown."""
    _locale(language)
    return _TITLES[language].get(kind, kind)


def evidence_lines(facts: AlertFacts, language: str) -> list[str]:
    """The numbers behind the alert as short sentences with units (missing numbers are left out)."""
    return evidence_sentences(facts.kind, facts.meter_kind, facts.evidence, language)


def evidence_sentences(kind: str, meter_kind: str, evidence: Mapping[str, float], language: str) -> list[str]:
    """The same sentences from an alert's kind, meter kind and stored evidence (the dashboard's alert cards)."""
    _locale(language)
    lines = []
    for build in _EVIDENCE.get(kind, []):
        line = build(evidence, language, meter_kind)
        if line is not None:
            lines.append(line)
    return lines


def subject(facts: AlertFacts, event: str, language: str) -> str:
    """The e-mail subject: what, where, and whether it is over."""
    _check(facts, event, language)
    _, _, place = _places(facts, language)
    title = _TITLES[language][facts.kind]
    if event == "resolved":
        title = _t(language, "Terminé : ", "Resolved: ") + title[:1].lower() + title[1:]
    elif is_reminder(event):
        title = _t(language, "Rappel : ", "Reminder: ") + title[:1].lower() + title[1:]
    elif facts.severity == "critical":
        title = _t(language, "Urgent : ", "Urgent: ") + title[:1].lower() + title[1:]
    return f"[coopwatt] {title} – {place} ({facts.residence_name})"


def _footer_lines(facts: AlertFacts, event: str, language: str) -> list[str]:
    meter, _ = _METER[language].get(facts.meter_kind, _METER[language]["electricity"])
    meter = meter.removeprefix("le ").removeprefix("the ")  # "Compteur d'eau n° 3", "Water meter no. 3"
    building = facts.building_code + (f" ({facts.building_name})" if facts.building_name else "")
    if language == "fr":
        where = f"Résidence {facts.residence_name} · bâtiment {building}"
        if facts.dwelling_code:
            where += f" · logement {facts.dwelling_code}"
        return [
            where,
            f"{_capitalise(meter)} n° {facts.meter_id} · alerte n° {facts.alert_id} · "
            f"gravité : {_SEVERITY['fr'].get(facts.severity, facts.severity)}",
            "Vous recevez ce message parce que vous suivez les alertes de ce bâtiment. Chaque alerte est "
            "envoyée quand elle apparaît, rappelée tant que personne ne l'a prise en compte, et envoyée "
            "une dernière fois quand elle se termine ; la prendre en compte dans coopwatt arrête les rappels.",
        ]
    where = f"Residence {facts.residence_name} · building {building}"
    if facts.dwelling_code:
        where += f" · dwelling {facts.dwelling_code}"
    return [
        where,
        f"{_capitalise(meter)} no. {facts.meter_id} · alert no. {facts.alert_id} · "
        f"severity: {_SEVERITY['en'].get(facts.severity, facts.severity)}",
        "You receive this message because you follow this building's alerts. Each alert is sent when it "
        "appears, reminded of while nobody has acknowledged it, and sent once more when it ends; "
        "acknowledging it in coopwatt stops the reminders.",
    ]


def build_email(facts: AlertFacts, event: str, language: str, tz: ZoneInfo) -> EmailContent:
    """Subject, plain-text and HTML body of one alert e-mail in one language."""
    _check(facts, event, language)
    greeting = _t(language, "Bonjour,", "Hello,")
    first = headline(facts, event, language, tz)
    numbers = evidence_lines(facts, language)
    advice = _ADVICE[language][facts.kind] if event != "resolved" else None
    footer = _footer_lines(facts, event, language)
    still_open = still_open_line(facts, language)

    text_parts = [greeting, "", first]
    if numbers:
        text_parts += [""] + [f"- {line}" for line in numbers]
    if still_open:
        text_parts += ["", still_open]
    if advice:
        text_parts += ["", advice]
    text_parts += ["", "-- ", *footer]
    text = "\n".join(text_parts) + "\n"

    e = html.escape
    html_parts = [
        f'<!DOCTYPE html><html lang="{language}"><head><meta charset="utf-8"><title>{e(subject(facts, event, language))}</title></head>',
        '<body style="font-family: sans-serif; line-height: 1.5">',
        f"<p>{e(greeting)}</p>",
        f"<p><strong>{e(first)}</strong></p>",
    ]
    if numbers:
        html_parts.append("<ul>" + "".join(f"<li>{e(line)}</li>" for line in numbers) + "</ul>")
    if still_open:
        html_parts.append(f"<p>{e(still_open)}</p>")
    if advice:
        html_parts.append(f"<p>{e(advice)}</p>")
    html_parts.append('<hr><p style="color: #555; font-size: 0.9em">' + "<br>".join(e(line) for line in footer) + "</p>")
    html_parts.append("</body></html>")
    return EmailContent(subject(facts, event, language), text, "\n".join(html_parts) + "\n")


def _iso(moment: datetime | None) -> str | None:
    return moment.astimezone(timezone.utc).isoformat().replace("+00:00", "Z") if moment is not None else None


def build_payload(facts: AlertFacts, event: str, tz: ZoneInfo) -> dict[str, Any]:
    """The JSON document sent to webhooks and the MQTT alert topic (both languages' text included)."""
    _check(facts, event, "fr")
    reminder = _REMINDER.fullmatch(event)
    return {
        "schema": PAYLOAD_SCHEMA,
        "event": event_kind(event),
        **({"reminder": int(reminder.group(1))} if reminder else {}),
        "alert": {
            "id": facts.alert_id,
            "kind": facts.kind,
            "severity": facts.severity,
            "status": "resolved" if event == "resolved" else "open",
            "started_at": _iso(facts.started_at),
            "detected_at": _iso(facts.detected_at),
            "ended_at": _iso(facts.ended_at),
            "resolved_at": _iso(facts.resolved_at),
            "evidence": {key: float(value) for key, value in facts.evidence.items()},
        },
        "residence": {"code": facts.residence_code, "name": facts.residence_name},
        "building": {"code": facts.building_code, "name": facts.building_name},
        "dwelling": {"code": facts.dwelling_code} if facts.dwelling_code else None,
        "meter": {"id": facts.meter_id, "kind": facts.meter_kind},
        "message": {
            language: {
                "title": _TITLES[language][facts.kind],
                "subject": subject(facts, event, language),
                "text": headline(facts, event, language, tz),
                "details": evidence_lines(facts, language),
            }
            for language in LANGUAGES
        },
    }
