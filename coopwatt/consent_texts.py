"""The consent texts a household is shown, in French and English: what is collected, why, how long, who sees it.

Version ``coopwatt.consent.TEXT_VERSION``; a change of meaning here needs a new version (the records say
which version each household agreed to). The durations come from the retention settings, so the text
always says what the service really does.
"""

from __future__ import annotations

from dataclasses import dataclass

from coopwatt.consent import (COMPARISONS, ELECTRICITY_DAILY, FLOWS, GAS, HEATING, LETTERS, LOAD_CURVE,
                              WATER, check_flow)
from coopwatt.settings import Settings


@dataclass(frozen=True)
class ConsentText:
    """One flow's text in one language."""

    title: str
    what: str
    why: str
    how_long: str
    who: str

    def paragraphs(self) -> list[str]:
        """The four sentences in reading order."""
        return [self.what, self.why, self.how_long, self.who]


def duration(days: int, lang: str) -> str:
    """A retention in the words people use: years when whole, else months, else days."""
    if days % 365 == 0 or days % 365 == 1 or days % 366 == 0:
        years = round(days / 365.25)
        return (f"{years} an{'s' if years > 1 else ''}" if lang == "fr" else f"{years} year{'s' if years > 1 else ''}")
    if days >= 60:
        months = round(days / 30.44)
        return f"{months} mois" if lang == "fr" else f"{months} months"
    return f"{days} jour{'s' if days > 1 else ''}" if lang == "fr" else f"{days} day{'s' if days > 1 else ''}"


_STAFF = {
    "fr": "Vous, et le conseiller énergie de la coopérative pour votre résidence ; le gestionnaire voit "
          "les compteurs et alertes de votre bâtiment. Chaque consultation par le personnel vous est montrée.",
    "en": "You, and the cooperative's energy adviser for your residence; the building manager sees your "
          "building's meters and alerts. Every look by staff is shown to you.",
}

_METER = {
    LOAD_CURVE: {
        "fr": ("Courbe de charge électrique (plus fine que la journée)",
               "Votre consommation d'électricité heure par heure ou plus finement (index et puissance du compteur).",
               "Pour repérer ce qui consomme la nuit, les pics, et si un tarif heures creuses vous ferait économiser."),
        "en": ("Electricity load curve (finer than daily)",
               "Your electricity use hour by hour or finer (the meter's index and power).",
               "To spot what runs at night, peaks, and whether an off-peak tariff would save you money."),
    },
    ELECTRICITY_DAILY: {
        "fr": ("Électricité, valeurs journalières",
               "Votre consommation d'électricité totale de chaque jour, rien de plus fin.",
               "Pour vous montrer votre consommation, son coût et son évolution, corrigée de la météo."),
        "en": ("Electricity, daily values",
               "Your total electricity use for each day, nothing finer.",
               "To show you your use, its cost and its trend, corrected for the weather."),
    },
    GAS: {
        "fr": ("Gaz", "L'index de votre compteur de gaz et votre consommation (m³ et kWh).",
               "Pour suivre votre chauffage et votre eau chaude au gaz, et repérer une dérive."),
        "en": ("Gas", "Your gas meter's index and your use (m³ and kWh).",
               "To follow your gas heating and hot water, and spot a drift."),
    },
    WATER: {
        "fr": ("Eau", "L'index de votre compteur d'eau et votre consommation (m³).",
               "Pour vous prévenir d'une fuite (de l'eau qui coule toute la nuit) et suivre votre consommation."),
        "en": ("Water", "Your water meter's index and your use (m³).",
               "To warn you of a leak (water running all night) and follow your use."),
    },
    HEATING: {
        "fr": ("Chauffage", "L'énergie de chauffage mesurée pour votre logement (compteur de chaleur).",
               "Pour suivre votre chauffage selon la météo et signaler une panne au gestionnaire."),
        "en": ("Heating", "The heating energy measured for your home (heat meter).",
               "To follow your heating against the weather and report a fault to the manager."),
    },
}

_USES = {
    COMPARISONS: {
        "fr": ("Comparaisons avec le voisinage",
               "Votre consommation entre, sans votre nom, dans la moyenne de logements semblables au vôtre.",
               "Pour vous montrer où vous en êtes par rapport à des voisins comparables, et les aider aussi.",
               "Tant que vous êtes d'accord ; si vous retirez votre accord, vous quittez les prochains groupes "
               "(les moyennes déjà publiées ne sont pas recalculées).",
               "Personne ne voit votre valeur : seules des moyennes d'au moins {k} logements sont montrées."),
        "en": ("Neighbourhood comparisons",
               "Your use enters, without your name, the average of homes similar to yours.",
               "To show you where you stand against comparable neighbours, and help them too.",
               "For as long as you agree; if you withdraw, you leave future groups "
               "(averages already published are not recomputed).",
               "Nobody sees your value: only averages over at least {k} homes are shown."),
    },
    LETTERS: {
        "fr": ("Lettres mensuelles",
               "Une lettre par mois avec votre consommation, sa comparaison et des conseils.",
               "Pour vous tenir informé sans avoir à ouvrir le site.",
               "Les lettres envoyées sont gardées {alerts}.",
               "Vous seul la recevez ; le conseiller énergie peut la relire pour vous aider."),
        "en": ("Monthly letters",
               "A letter each month with your use, how it compares, and advice.",
               "To keep you informed without having to open the site.",
               "Letters sent are kept {alerts}.",
               "Only you receive it; the energy adviser may read it again to help you."),
    },
}


def consent_text(flow: str, lang: str, settings: Settings) -> ConsentText:
    """The text of one flow in French or English, its durations taken from the retention settings."""
    check_flow(flow)
    lang = "en" if lang == "en" else "fr"
    if flow in _USES:
        title, what, why, how_long, who = _USES[flow][lang]
        alerts = duration(settings.retention_alerts_days, lang)
        return ConsentText(title, what, why, how_long.format(alerts=alerts),
                           who.format(k=settings.comparison_min_group_size))
    title, what, why = _METER[flow][lang]
    raw, hourly, daily = (duration(d, lang) for d in (settings.retention_days, settings.retention_hourly_days,
                                                      settings.retention_daily_days))
    if flow == LOAD_CURVE:
        how_long = (f"Les relevés bruts sont gardés {raw}, les valeurs horaires {hourly}."
                    if lang == "fr" else f"Raw readings are kept {raw}, hourly values {hourly}.")
    else:
        how_long = (f"Les valeurs journalières sont gardées {daily}." if lang == "fr"
                    else f"Daily values are kept {daily}.")
    return ConsentText(title, what, why, how_long, _STAFF[lang])


def all_texts(lang: str, settings: Settings) -> dict[str, ConsentText]:
    """Every flow's text, in the order of ``coopwatt.consent.FLOWS``."""
    return {flow: consent_text(flow, lang, settings) for flow in FLOWS}
