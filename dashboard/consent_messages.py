"""French and English words of the consent panel (dashboard/consent_panel.py); the texts of each flow are
``coopwatt.consent_texts``. Kept apart from dashboard/i18n.py's catalogue, which many pages share."""

from __future__ import annotations

from dashboard.i18n import language_or_default

MESSAGES: dict[str, dict[str, str]] = {
    "fr": {
        "title": "Mes consentements",
        "intro": "Vous décidez de ce que la coopérative collecte. Vous pouvez retirer un accord à tout moment, "
                 "et le redonner.",
        "title_staff": "Consentements du foyer",
        "intro_staff": "Seul le foyer peut modifier ses consentements ici. Un formulaire papier signé s'enregistre "
                       "avec la commande « coopwatt consent ».",
        "given": "Accordé le {date}",
        "refused": "Refusé le {date}",
        "withdrawn": "Retiré le {date}",
        "none": "Pas encore décidé : rien n'est collecté",
        "by.household": "par vous, en ligne",
        "by.staff": "par {who}, sur formulaire papier signé ({form})",
        "by.staff_unknown": "par le personnel, sur formulaire papier signé ({form})",
        "by.migration": "à votre inscription, avant les consentements en ligne",
        "details": "Ce qui est collecté, pourquoi, combien de temps, qui le voit",
        "version": "Texte version {version}",
        "withdraw": "Retirer mon accord",
        "grant": "Donner mon accord",
        "confirm.intro": "À partir de maintenant, plus rien n'est collecté pour ceci. Et ce qui l'a déjà été :",
        "confirm.intro_use": "Vous quittez les prochaines comparaisons ou lettres ; celles déjà publiées restent "
                             "telles quelles.",
        "confirm.delete": "Retirer et effacer ces données",
        "confirm.aggregate": "Retirer et garder seulement les totaux par jour",
        "confirm.keep": "Retirer et garder ce qui a été collecté",
        "confirm.use": "Confirmer le retrait",
        "done.withdrawn": "Accord retiré.",
        "done.granted": "Accord enregistré. Merci !",
    },
    "en": {
        "title": "My consents",
        "intro": "You decide what the cooperative collects. You can withdraw an agreement at any time, and give "
                 "it again.",
        "title_staff": "The household's consents",
        "intro_staff": "Only the household can change its consents here. A signed paper form is recorded with "
                       "the \u201ccoopwatt consent\u201d command.",
        "given": "Given on {date}",
        "refused": "Refused on {date}",
        "withdrawn": "Withdrawn on {date}",
        "none": "Not decided yet: nothing is collected",
        "by.household": "by you, online",
        "by.staff": "by {who}, from a signed paper form ({form})",
        "by.staff_unknown": "by staff, from a signed paper form ({form})",
        "by.migration": "when you joined, before online consents",
        "details": "What is collected, why, for how long, who sees it",
        "version": "Text version {version}",
        "withdraw": "Withdraw my agreement",
        "grant": "Give my agreement",
        "confirm.intro": "From now on nothing more is collected for this. As for what already was:",
        "confirm.intro_use": "You leave future comparisons or letters; those already published stay as they are.",
        "confirm.delete": "Withdraw and delete this data",
        "confirm.aggregate": "Withdraw and keep only daily totals",
        "confirm.keep": "Withdraw and keep what was collected",
        "confirm.use": "Confirm the withdrawal",
        "done.withdrawn": "Agreement withdrawn.",
        "done.granted": "Agreement recorded. Thank you!",
    },
}


def ct(key: str, lang: str, **values: object) -> str:
    """The consent panel's message for a key in a language, with {placeholders} filled."""
    text = MESSAGES[language_or_default(lang)][key]
    return text.format(**values) if values else text
