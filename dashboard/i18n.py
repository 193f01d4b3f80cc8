"""French and English: the message catalogue and Babel formatting of numbers, money, dates and units."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import ROUND_HALF_EVEN, Decimal

from babel.dates import format_date, format_skeleton
from babel.numbers import format_currency, format_decimal, format_percent
from babel.units import format_unit

from dashboard.i18n_staff import STAFF_MESSAGES
from dashboard.i18n_verdicts import VERDICT_MESSAGES

LANGUAGES = ("fr", "en")
DEFAULT_LANGUAGE = "fr"
_LOCALES = {"fr": "fr_FR", "en": "en_GB"}

# CLDR unit names for the canonical units (Babel knows their spelling per language).
_CLDR_UNITS = {"kWh": "energy-kilowatt-hour", "m³": "volume-cubic-meter"}

MESSAGES: dict[str, dict[str, str]] = {
    "fr": {
        "app.title": "coopwatt",
        "app.tagline": "Suivre sa consommation, ensemble.",
        "app.loading": "Chargement de la page…",
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
        "logout.title": "Se déconnecter ?",
        "logout.intro": "Vous allez fermer votre session sur tous vos appareils.",
        "logout.submit": "Se déconnecter",
        "logout.cancel": "Revenir au tableau de bord",
        # Staff access log (dashboard/access_view.py): what a household sees of who looked at its data.
        "access.title": "Qui a consulté vos données",
        "access.intro": "Chaque fois qu'un membre de l'équipe de la coopérative (conseiller énergie, gestionnaire, administrateur) ouvre les données de votre logement, c'est noté ici : qui, quand et quoi. Ces traces sont gardées {days} jours. Vos propres visites ne sont pas notées.",
        "access.none": "Personne de l'équipe n'a consulté vos données ces {days} derniers jours.",
        "access.col.when": "Quand",
        "access.col.who": "Qui",
        "access.col.what": "Quoi",
        "access.who": "{name} ({role})",
        "access.role.adviser": "conseiller énergie",
        "access.role.manager": "gestionnaire",
        "access.role.admin": "administrateur",
        "access.what.household_page": "a ouvert la page de votre logement (consommation, comparaisons, alertes)",
        "access.what.adviser_drilldown": "a ouvert le détail conseiller : courbe horaire des {days} derniers jours, modèle de référence, suggestions",
        "access.what.alert_detail": "a vu le détail d'une alerte de votre logement",
        "access.what.csv_readings": "a téléchargé vos relevés bruts (CSV, du {since} au {until})",
        "access.what.csv_daily": "a téléchargé votre consommation par jour (CSV, tout l'historique jusqu'au {until})",
        "access.what.other": "a consulté vos données ({what})",
        "access.more": "… et {count} consultations plus anciennes : la coopérative vous envoie la liste complète sur demande.",
        "access.staff_notice": "Vos consultations des données d'un foyer sont enregistrées (qui, quand, quoi) et le foyer les voit sur sa page.",
        "home.greeting": "Bonjour !",
        "home.dwelling": "Logement {code} · {residence}",
        "home.dwelling_details": "{area} · chauffage : {heating}",
        "home.encourage": "Chaque kWh compris est un kWh qu'on peut économiser. Voici où vous en êtes.",
        "home.staff": "Bonjour ! Voici les vues ouvertes à votre compte.",
        "home.no_access": "Ce logement n'est pas dans votre périmètre.",
        "consumption.title": "Ma consommation",
        "consumption.title_staff": "Consommation du logement",
        "consumption.kind": "Énergie",
        "consumption.granularity": "Par",
        "consumption.measure": "En",
        "consumption.total": "Total sur la période affichée",
        "consumption.latest": "Dernière période",
        "consumption.average": "Moyenne par période entière",
        "consumption.empty": "Pas encore de consommation enregistrée pour ce compteur. Les données arrivent au fil des relevés.",
        "consumption.source": "D'après les relevés des compteurs du logement, additionnés par jour ({days} jours, dont {estimated} avec des heures estimées).",
        "consumption.suspect": "{days} jours contiennent des heures suspectes (index figé, compteur remis à zéro ou pic impossible) : leurs barres sont hachurées, et ces jours sont laissés hors des comparaisons et du modèle de référence.",
        "consumption.suspect_hover": "{days} j. suspects",
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
        "period.partial": "{period} ({days} j sur {length})",
        "period.partial_in_progress": "{period} (en cours, {days} j sur {length})",
        "consumption.partial": "Périodes incomplètes, plus claires sur le graphique et hors de la moyenne : {periods}.",
        "consumption.partial_year": "Années incomplètes : leurs barres ne se comparent pas à celles d'une année entière (plus claires, hors de la moyenne) : {periods}.",
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
        "error.home": "Revenir à l'accueil",
        "error.forbidden_title": "Accès refusé (403)",
        "error.forbidden_download": "Ce fichier concerne un logement ou un bâtiment qui n'est pas dans votre compte : il ne peut pas être téléchargé.",
        "error.not_found_title": "Page introuvable (404)",
        "error.not_found": "Cette adresse ne correspond à aucune page de coopwatt.",
        "error.staff_only_adviser": "Cette page est réservée aux conseillers énergie de la coopérative. Votre propre consommation est sur votre page d'accueil.",
        "error.staff_only_manager": "Cette page est réservée aux gestionnaires de bâtiments. Votre propre consommation est sur votre page d'accueil.",
        # Analytics parts of the household view, adviser and manager views.
        "similar.you": "Vous",
        "similar.average": "Moyenne des logements similaires",
        "similar.efficient": "Les plus sobres (20 %)",
        "similar.who": "Logements similaires : {where}, {area}, chauffage {heating}.",
        "similar.efficient_rule": "Les plus sobres : la moyenne des 20 % de logements qui consomment le moins par m², jamais moins de {k} logements ; elle n'apparaît que dans un groupe d'au moins {twice_k} logements, et les chiffres sont arrondis comme affichés : personne ne peut en déduire la consommation d'un voisin.",
        "similar.where_residence": "même résidence",
        "similar.where_district": "même quartier",
        "similar.area_between": "de {low} à {high} m²",
        "similar.area_above": "plus de {low} m²",
        "similar.period": "Du {start} au {end}, par m² de surface.",
        "similar.withheld": "La comparaison s'affiche dès que {k} logements similaires ou plus ont des relevés : nous protégeons ainsi la vie privée de chacun. Il n'y en a pas encore assez ici.",
        "similar.none": "La comparaison avec les logements similaires sera calculée quand vos relevés couvriront assez de temps.",
        "verdict.efficient": "Bravo ! Vous faites partie des logements les plus sobres de votre groupe.",
        "verdict.below_average": "Belle performance : vous consommez moins que la moyenne des logements similaires.",
        "verdict.near_average": "Vous êtes proche de la moyenne des logements similaires. Quelques gestes peuvent vous faire passer en dessous.",
        "verdict.above_average": "Il y a de la marge pour progresser : les pistes d'économies ci-dessous peuvent vous aider à vous rapprocher des logements les plus sobres.",
        "lastyear.period": "Du {start} au {end}, comparé à la même période l'an dernier.",
        "lastyear.lower": "Vous avez consommé {change} de moins que l'an dernier. Continuez comme ça !",
        "lastyear.higher": "Vous avez consommé {change} de plus que l'an dernier. Les pistes ci-dessous peuvent aider.",
        "lastyear.same": "Votre consommation est stable par rapport à l'an dernier.",
        "lastyear.lower_with_alert": "Vous avez consommé {change} de moins que l'an dernier, mais une alerte est ouverte sur votre logement : la baisse peut venir de l'anomalie.",
        "lastyear.incomparable": "Comparaison impossible pour l'instant : seuls {days} jours sur {total} ont été mesurés en entier les deux années (il en faut {needed}). Un compteur muet ou des relevés estimés ne comptent pas comme une baisse.",
        "lastyear.coverage": "Comparé sur les {days} jours sur {total} mesurés en entier les deux années.",
        "lastyear.thresholds": "Stable : moins de {stable} d'écart ; au-delà, hausse ou baisse.",
        "lastyear.figures": "Cette année : {this} · l'an dernier : {last}",
        "lastyear.normalised": "Corrigé de la météo (l'an dernier ramené aux températures de cette année : {normalised}).",
        "lastyear.not_normalised": "Comparaison brute : la correction météo n'est pas encore possible ({why}).",
        "lastyear.why_no_baseline": "modèle de référence pas encore établi",
        "lastyear.weather_independent": "La météo ne change presque rien à cette consommation : la comparaison directe est juste.",
        "lastyear.why_no_weather": "températures extérieures manquantes",
        "lastyear.none": "Pas encore de relevés pour la même période l'an dernier.",
        "anomalies.none": "Rien à signaler : aucune anomalie en cours.",
        "anomaly.water_leak": "L'eau coule en continu depuis {since}. Vérifiez robinets et chasse d'eau.",
        "anomaly.meter_silent": "Le compteur ({kind}) ne transmet plus depuis {since}. Nous nous en occupons.",
        "anomaly.above_baseline": "La consommation ({kind}) est plus élevée que d'habitude depuis {since}.",
        "anomaly.base_load_rise": "La consommation de veille ({kind}) a augmenté depuis {since} : un appareil reste peut-être allumé.",
        "anomaly.frozen_index": "L'index du compteur ({kind}) ne bouge plus depuis {since}.",
        "anomaly.counter_reset": "Le compteur ({kind}) a été remis à zéro le {since} ; les données ont été corrigées.",
        "anomaly.spike": "Un pic inhabituel de consommation ({kind}) a eu lieu {since}.",
        "anomaly.other": "Quelque chose d'inhabituel sur le compteur ({kind}) depuis {since}.",
        "severity.info": "info",
        "severity.warning": "à vérifier",
        "severity.critical": "urgent",
        "suggestions.none": "Pas de piste d'économie particulière pour l'instant : vous êtes sur la bonne voie.",
        "suggestions.value": "jusqu'à {eur} par an",
        "suggestions.daily_only": "Vos données d'électricité sont journalières : la consommation de veille, les fuites,"
                                  " le profil heure par heure et l'option heures creuses demandent des mesures horaires."
                                  " Activez la courbe de charge dans votre espace client Enedis pour en profiter.",
        "suggestions.energy": "≈ {amount} par an",
        "suggestion.base_load": "Réduire la consommation de veille (appareils en veille, box, vieux réfrigérateur).",
        "suggestion.heating_setpoint": "Baisser le chauffage d'un degré.",
        "suggestion.offpeak_tariff": "Passer à l'option heures creuses.",
        "suggestion.drift": "Votre consommation augmente d'une année sur l'autre : faire le point sur les appareils récents.",
        "suggestion.leak": "Réparer la fuite d'eau.",
        "suggestion.other": "Une piste d'économie.",
        # A ranking period is local days [start, end): "12 mois jusqu'au 1 nov. 2026".
        "follow_up.open": "à suivre",
        "follow_up.contacted": "contacté",
        "follow_up.closed": "clos",
        # A manager reads about other people's homes: third person, naming the dwelling and the building.
    },
    "en": {
        "app.title": "coopwatt",
        "app.tagline": "Understanding our energy use, together.",
        "app.loading": "Loading the page…",
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
        "logout.title": "Log out?",
        "logout.intro": "This ends your session on all your devices.",
        "logout.submit": "Log out",
        "logout.cancel": "Back to the dashboard",
        # Staff access log (dashboard/access_view.py): what a household sees of who looked at its data.
        "access.title": "Who looked at your data",
        "access.intro": "Every time a member of the cooperative's staff (energy adviser, building manager, administrator) opens your home's data, it is noted here: who, when and what. These records are kept for {days} days. Your own visits are not noted.",
        "access.none": "Nobody from the staff has looked at your data in the last {days} days.",
        "access.col.when": "When",
        "access.col.who": "Who",
        "access.col.what": "What",
        "access.who": "{name} ({role})",
        "access.role.adviser": "energy adviser",
        "access.role.manager": "building manager",
        "access.role.admin": "administrator",
        "access.what.household_page": "opened your home's page (use, comparisons, alerts)",
        "access.what.adviser_drilldown": "opened the adviser's detail: hourly curve of the last {days} days, baseline model, suggestions",
        "access.what.alert_detail": "saw the details of an alert on your home",
        "access.what.csv_readings": "downloaded your raw readings (CSV, from {since} to {until})",
        "access.what.csv_daily": "downloaded your daily use (CSV, all history up to {until})",
        "access.what.other": "looked at your data ({what})",
        "access.more": "… and {count} older accesses: the cooperative sends you the full list on request.",
        "access.staff_notice": "Your access to a household's data is recorded (who, when, what) and the household sees it on its page.",
        "home.greeting": "Hello!",
        "home.dwelling": "Home {code} · {residence}",
        "home.dwelling_details": "{area} · heating: {heating}",
        "home.encourage": "Every kWh you understand is a kWh you can save. Here is where you stand.",
        "home.staff": "Hello! Here are the views open to your account.",
        "home.no_access": "This home is outside your scope.",
        "consumption.title": "My consumption",
        "consumption.title_staff": "This home's consumption",
        "consumption.kind": "Energy",
        "consumption.granularity": "By",
        "consumption.measure": "In",
        "consumption.total": "Total over the period shown",
        "consumption.latest": "Latest period",
        "consumption.average": "Average per whole period",
        "consumption.empty": "No consumption recorded for this meter yet. Data arrives with each reading.",
        "consumption.source": "From the home's meter readings, added up per day ({days} days, {estimated} of them with estimated hours).",
        "consumption.suspect": "{days} days hold suspect hours (frozen index, counter reset or impossible spike): their bars are hatched, and these days are left out of comparisons and the reference model.",
        "consumption.suspect_hover": "{days} suspect days",
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
        "period.partial": "{period} ({days} of {length} days)",
        "period.partial_in_progress": "{period} (so far, {days} of {length} days)",
        "consumption.partial": "Incomplete periods, lighter on the chart and left out of the average: {periods}.",
        "consumption.partial_year": "Incomplete years: their bars do not compare with a whole year's (lighter, left out of the average): {periods}.",
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
        "error.home": "Back to the home page",
        "error.forbidden_title": "Access denied (403)",
        "error.forbidden_download": "This file is about a home or building that is not in your account: it cannot be downloaded.",
        "error.not_found_title": "Page not found (404)",
        "error.not_found": "This address is not a coopwatt page.",
        "error.staff_only_adviser": "This page is for the cooperative's energy advisers. Your own use is on your home page.",
        "error.staff_only_manager": "This page is for building managers. Your own use is on your home page.",
        # Analytics parts of the household view, adviser and manager views.
        "similar.you": "You",
        "similar.average": "Average of similar homes",
        "similar.efficient": "Most efficient (20%)",
        "similar.who": "Similar homes: {where}, {area}, {heating} heating.",
        "similar.efficient_rule": "Most efficient: the average of the 20% of homes using the least per m², never fewer than {k} homes; it appears only in a group of at least {twice_k} homes, and figures are rounded as shown: nobody can work out a neighbour's use from them.",
        "similar.where_residence": "same residence",
        "similar.where_district": "same district",
        "similar.area_between": "{low} to {high} m²",
        "similar.area_above": "over {low} m²",
        "similar.period": "From {start} to {end}, per m² of floor area.",
        "similar.withheld": "The comparison appears once {k} or more similar homes have readings: that is how we protect everyone's privacy. There are not enough here yet.",
        "similar.none": "The comparison with similar homes will be computed once your readings cover enough time.",
        "verdict.efficient": "Well done! You are among the most efficient homes in your group.",
        "verdict.below_average": "Nice work: you use less than the average of similar homes.",
        "verdict.near_average": "You are close to the average of similar homes. A few habits could take you below it.",
        "verdict.above_average": "There is room to improve: the ideas below can help you get closer to the most efficient homes.",
        "lastyear.period": "From {start} to {end}, against the same period last year.",
        "lastyear.lower": "You used {change} less than last year. Keep it up!",
        "lastyear.higher": "You used {change} more than last year. The ideas below can help.",
        "lastyear.same": "Your use is steady compared with last year.",
        "lastyear.lower_with_alert": "You used {change} less than last year, but an alert is open on your home: the drop may come from the fault.",
        "lastyear.incomparable": "No comparison yet: only {days} of {total} days were fully measured in both years ({needed} are needed). A silent meter or estimated readings do not count as lower use.",
        "lastyear.coverage": "Compared on the {days} of {total} days fully measured in both years.",
        "lastyear.thresholds": "Steady: less than {stable} apart; beyond that, higher or lower.",
        "lastyear.figures": "This year: {this} · last year: {last}",
        "lastyear.normalised": "Weather-corrected (last year at this year's temperatures: {normalised}).",
        "lastyear.not_normalised": "Raw comparison: the weather correction is not possible yet ({why}).",
        "lastyear.why_no_baseline": "no reference model yet",
        "lastyear.weather_independent": "The weather makes almost no difference to this use: the direct comparison is fair.",
        "lastyear.why_no_weather": "outdoor temperatures missing",
        "lastyear.none": "No readings yet for the same period last year.",
        "anomalies.none": "All clear: nothing unusual right now.",
        "anomaly.water_leak": "Water has been running continuously since {since}. Check taps and the toilet cistern.",
        "anomaly.meter_silent": "The {kind} meter has not reported since {since}. We are on it.",
        "anomaly.above_baseline": "Your {kind} use has been higher than usual since {since}.",
        "anomaly.base_load_rise": "Your {kind} standby use has risen since {since}: something may have been left on.",
        "anomaly.frozen_index": "The {kind} meter's index has not moved since {since}.",
        "anomaly.counter_reset": "The {kind} meter was reset on {since}; the data were corrected.",
        "anomaly.spike": "An unusual peak of {kind} use happened on {since}.",
        "anomaly.other": "Something unusual on the {kind} meter since {since}.",
        "severity.info": "info",
        "severity.warning": "worth a check",
        "severity.critical": "urgent",
        "suggestions.none": "No particular saving to suggest for now: you are on the right track.",
        "suggestions.value": "up to {eur} a year",
        "suggestions.daily_only": "Your electricity data is daily: standby use, leaks, the hour-by-hour profile and"
                                  " the off-peak option need hourly readings. Switch on the load curve in your Enedis"
                                  " customer area to get them.",
        "suggestions.energy": "≈ {amount} a year",
        "suggestion.base_load": "Cut standby use (devices on standby, internet box, an old fridge).",
        "suggestion.heating_setpoint": "Turn the heating down by one degree.",
        "suggestion.offpeak_tariff": "Switch to the off-peak tariff option.",
        "suggestion.drift": "Your use grows year after year: review recently added appliances.",
        "suggestion.leak": "Fix the water leak.",
        "suggestion.other": "A way to save.",
        "follow_up.open": "to follow",
        "follow_up.contacted": "contacted",
        "follow_up.closed": "closed",
    },
}
# The staff pages' sentences (adviser, manager, landing) and the dwelling verdict's and the supply
# contract's (issue 13) live beside it.
for _catalogue in (STAFF_MESSAGES, VERDICT_MESSAGES):
    for _lang, _extra in _catalogue.items():
        MESSAGES[_lang].update(_extra)


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


def round_as_shown(value: float, digits: int) -> float:
    """A number rounded the way format_number shows it (Babel: decimal, half to even), as a float.

    Python's round() works on the binary value and can differ in the last digit (9.925 → 9.93,
    shown "9,92"); figures' data must say what their text says.
    """
    return float(Decimal(str(value)).quantize(Decimal(1).scaleb(-digits), rounding=ROUND_HALF_EVEN))


def format_number(value: float, lang: str, *, digits: int = 1, fixed: bool = False) -> str:
    """A number with the language's separators and at most `digits` decimals (exactly `digits` when `fixed`)."""
    pattern = "#,##0" + ("." + "0" * digits if digits > 0 else "") if fixed else _number_pattern(digits)
    return format_decimal(value, format=pattern, locale=locale_of(lang))


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


# A period this close to a whole number of months (30.44 days each) is named in months.
_DAYS_PER_MONTH = 365.25 / 12
_MONTH_SLACK_DAYS = 3


def format_ranking_period(start: date, end: date, lang: str) -> str:
    """A period of local days [start, end) by its length and end ("12 mois jusqu'au 1 nov. 2026", "12 months to 1 Nov 2026")."""
    days = (end - start).days
    months = round(days / _DAYS_PER_MONTH)
    if months >= 1 and abs(days - months * _DAYS_PER_MONTH) <= _MONTH_SLACK_DAYS:
        duration = format_unit(months, "duration-month", length="long", locale=locale_of(lang))
        return t("adviser.period.months", lang, duration=duration, end=format_day(end, lang))
    # Odd lengths say both days; the last day shown is the last one inside the period.
    return t("adviser.period.range", lang, start=format_day(start, lang), end=format_day(end - timedelta(days=1), lang))


def format_fraction_percent(fraction: float, lang: str, *, digits: int = 0) -> str:
    """A fraction as a percentage per language ("14,3 %", "14.3%")."""
    # The locale's own pattern places the sign (and the space before it in French); rounding
    # first keeps the wanted decimals since that pattern has none.
    return format_percent(Decimal(repr(round(fraction * 100, digits))) / 100, locale=locale_of(lang),
                          decimal_quantization=False)
