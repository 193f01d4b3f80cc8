"""French and English: the message catalogue and Babel formatting of numbers, money, dates and units."""

from __future__ import annotations

from datetime import date

from babel.dates import format_date, format_skeleton
from babel.numbers import format_currency, format_decimal
from babel.units import format_unit

LANGUAGES = ("fr", "en")
DEFAULT_LANGUAGE = "fr"
_LOCALES = {"fr": "fr_FR", "en": "en_GB"}

# CLDR unit names for the canonical units (Babel knows their spelling per language).
_CLDR_UNITS = {"kWh": "energy-kilowatt-hour", "m³": "volume-cubic-meter"}

MESSAGES: dict[str, dict[str, str]] = {
    "fr": {
        "app.title": "coopwatt",
        "app.tagline": "Suivre sa consommation, ensemble.",
        "nav.logout": "Se déconnecter",
        "nav.language": "Langue",
        "login.title": "Connexion",
        "login.intro": "Bienvenue ! Connectez-vous pour suivre la consommation de votre logement.",
        "login.username": "Identifiant",
        "login.password": "Mot de passe",
        "login.submit": "Se connecter",
        "login.failed": "Identifiant ou mot de passe incorrect.",
        "login.limited": "Trop de tentatives. Merci de réessayer dans quelques minutes.",
        "login.csrf": "La page a expiré. Merci de réessayer.",
        "login.logged_out": "Vous êtes déconnecté. À bientôt !",
        "home.greeting": "Bonjour !",
        "home.dwelling": "Logement {code} · {residence}",
        "home.dwelling_details": "{area} · chauffage : {heating}",
        "home.encourage": "Chaque kWh compris est un kWh qu'on peut économiser. Voici où vous en êtes.",
        "home.staff": "Bonjour ! Les vues conseiller et gestionnaire arrivent bientôt ici.",
        "home.no_access": "Ce logement n'est pas dans votre périmètre.",
        "consumption.title": "Ma consommation",
        "consumption.title_staff": "Consommation du logement",
        "consumption.kind": "Énergie",
        "consumption.granularity": "Par",
        "consumption.measure": "En",
        "consumption.total": "Total sur la période affichée",
        "consumption.latest": "Dernière période",
        "consumption.average": "Moyenne par période",
        "consumption.empty": "Pas encore de consommation enregistrée pour ce compteur. Les données arrivent au fil des relevés.",
        "consumption.source": "D'après les relevés des compteurs du logement, additionnés par jour ({days} jours, dont {estimated} avec des heures estimées).",
        "consumption.cost_note": "Montants estimés : consommation × {tariff} (hors abonnement).",
        "kind.electricity": "Électricité",
        "kind.gas": "Gaz",
        "kind.water": "Eau",
        "kind.heat": "Chauffage collectif",
        "granularity.day": "jour",
        "granularity.week": "semaine",
        "granularity.month": "mois",
        "granularity.year": "année",
        "measure.cost": "€",
        "heating.electric": "électrique",
        "heating.gas": "gaz",
        "heating.collective": "collectif",
        "heating.heat_pump": "pompe à chaleur",
        "heating.district": "réseau de chaleur",
        "heating.other": "autre",
        "week.label": "sem. du {date}",
        "period.in_progress": "{period}, en cours",
        "soon.title.similar": "Vous et les logements similaires",
        "soon.title.last_year": "Cette période et l'an dernier",
        "soon.title.anomalies": "Ce qui mérite votre attention",
        "soon.title.suggestions": "Mes pistes d'économies",
        "soon.body": "Pas encore disponible : cette partie arrive bientôt.",
        "data.title": "Mes données",
        "data.title_staff": "Données du logement",
        "data.intro_staff": "Les relevés de ce logement, dans votre périmètre.",
        "data.download_readings_staff": "Télécharger ses relevés (CSV)",
        "data.download_daily_staff": "Télécharger sa consommation par jour (CSV)",
        "data.intro": "Vos données vous appartiennent : vous pouvez les télécharger ou demander leur effacement.",
        "data.download_readings": "Télécharger tous mes relevés (CSV)",
        "data.download_daily": "Télécharger ma consommation par jour (CSV)",
        "data.erase": "Demander l'effacement de mes données",
        "data.erase_confirm": "Confirmer la demande d'effacement",
        "data.erase_explain": "Votre demande sera transmise à l'administrateur de la coopérative, qui l'exécutera et vous tiendra informé.",
        "data.erase_recorded": "Demande d'effacement enregistrée le {date}. L'administrateur s'en occupe.",
        "error.denied": "Accès refusé.",
    },
    "en": {
        "app.title": "coopwatt",
        "app.tagline": "Understanding our energy use, together.",
        "nav.logout": "Log out",
        "nav.language": "Language",
        "login.title": "Log in",
        "login.intro": "Welcome! Log in to follow your home's consumption.",
        "login.username": "User name",
        "login.password": "Password",
        "login.submit": "Log in",
        "login.failed": "Wrong user name or password.",
        "login.limited": "Too many attempts. Please try again in a few minutes.",
        "login.csrf": "The page expired. Please try again.",
        "login.logged_out": "You are logged out. See you soon!",
        "home.greeting": "Hello!",
        "home.dwelling": "Home {code} · {residence}",
        "home.dwelling_details": "{area} · heating: {heating}",
        "home.encourage": "Every kWh you understand is a kWh you can save. Here is where you stand.",
        "home.staff": "Hello! The adviser and manager views will appear here soon.",
        "home.no_access": "This home is outside your scope.",
        "consumption.title": "My consumption",
        "consumption.title_staff": "This home's consumption",
        "consumption.kind": "Energy",
        "consumption.granularity": "By",
        "consumption.measure": "In",
        "consumption.total": "Total over the period shown",
        "consumption.latest": "Latest period",
        "consumption.average": "Average per period",
        "consumption.empty": "No consumption recorded for this meter yet. Data arrives with each reading.",
        "consumption.source": "From the home's meter readings, added up per day ({days} days, {estimated} of them with estimated hours).",
        "consumption.cost_note": "Estimated amounts: consumption × {tariff} (standing charge not included).",
        "kind.electricity": "Electricity",
        "kind.gas": "Gas",
        "kind.water": "Water",
        "kind.heat": "Collective heating",
        "granularity.day": "day",
        "granularity.week": "week",
        "granularity.month": "month",
        "granularity.year": "year",
        "measure.cost": "€",
        "heating.electric": "electric",
        "heating.gas": "gas",
        "heating.collective": "collective",
        "heating.heat_pump": "heat pump",
        "heating.district": "district heating",
        "heating.other": "other",
        "week.label": "week of {date}",
        "period.in_progress": "{period}, so far",
        "soon.title.similar": "You and similar homes",
        "soon.title.last_year": "This period and last year",
        "soon.title.anomalies": "Worth a look",
        "soon.title.suggestions": "Ways to save",
        "soon.body": "Not available yet: this part is coming soon.",
        "data.title": "My data",
        "data.title_staff": "This home's data",
        "data.intro_staff": "This home's readings, within your scope.",
        "data.download_readings_staff": "Download its readings (CSV)",
        "data.download_daily_staff": "Download its daily consumption (CSV)",
        "data.intro": "Your data belongs to you: you can download it or ask for it to be erased.",
        "data.download_readings": "Download all my readings (CSV)",
        "data.download_daily": "Download my daily consumption (CSV)",
        "data.erase": "Ask for my data to be erased",
        "data.erase_confirm": "Confirm the erasure request",
        "data.erase_explain": "Your request goes to the cooperative's administrator, who carries it out and keeps you informed.",
        "data.erase_recorded": "Erasure request recorded on {date}. The administrator is on it.",
        "error.denied": "Access denied.",
    },
}


def language_or_default(value: str | None) -> str:
    """A supported language code: the value if known, else French."""
    return value if value in LANGUAGES else DEFAULT_LANGUAGE


def t(key: str, lang: str, **values: object) -> str:
    """The message for a key in a language, with {placeholders} filled."""
    text = MESSAGES[language_or_default(lang)][key]
    return text.format(**values) if values else text


def locale_of(lang: str) -> str:
    """The Babel locale used to format numbers and dates in a language."""
    return _LOCALES[language_or_default(lang)]


def format_number(value: float, lang: str, *, digits: int = 1) -> str:
    """A number with the language's separators and at most `digits` decimals."""
    return format_decimal(value, format=_number_pattern(digits), locale=locale_of(lang))


def format_quantity(value: float, unit: str, lang: str, *, digits: int = 1) -> str:
    """A value with its unit, spelt per language ("1 234,5 kWh", "12.3 m³")."""
    cldr = _CLDR_UNITS.get(unit)
    if cldr is None:
        return f"{format_number(value, lang, digits=digits)} {unit}"
    # Babel places the unit per CLDR; we format the number ourselves to keep the decimals we want.
    return format_unit(value, cldr, length="short", format=_number_pattern(digits), locale=locale_of(lang))


def _number_pattern(digits: int) -> str:
    return "#,##0" + ("." + "#" * digits if digits > 0 else "")


def format_money_eur(value_eur: float, lang: str) -> str:
    """An amount in euros per language ("12,34 €", "€12.34")."""
    return format_currency(value_eur, "EUR", locale=locale_of(lang))


def format_day(day: date, lang: str) -> str:
    """A day, medium length ("3 mars 2026", "3 Mar 2026")."""
    return format_date(day, format="medium", locale=locale_of(lang))


def format_period(start: date, granularity: str, lang: str) -> str:
    """The label of a period that starts on `start` (a day, a week, a month or a year)."""
    locale = locale_of(lang)
    if granularity == "day":
        return format_skeleton("dMMM", start, locale=locale)
    if granularity == "week":
        return t("week.label", lang, date=format_skeleton("dMMM", start, locale=locale))
    if granularity == "month":
        return format_skeleton("yMMM", start, locale=locale)
    if granularity == "year":
        return format_skeleton("y", start, locale=locale)
    raise ValueError(f"unknown granularity {granularity!r}")
