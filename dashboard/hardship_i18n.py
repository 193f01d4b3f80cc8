"""French and English text of the advisers' hardship list (added to dashboard.i18n's catalogue on import)."""

from __future__ import annotations

from dashboard.i18n import MESSAGES

TEXT: dict[str, dict[str, str]] = {
    "fr": {
        "hardship.nav": "Précarité énergétique",
        "hardship.title": "Logements peut-être en précarité énergétique",
        "hardship.intro": "Pour les conseillers seulement. Chaque logement listé montre un signal calculé chaque nuit "
                          "sur des jours mesurés (jamais estimés ni suspects), comparé à des logements semblables "
                          "(même surface, même chauffage) et à son propre hiver précédent.",
        "hardship.caution": "Les données ne disent pas pourquoi. Un logement peut être vide, un ménage absent, "
                            "l'isolation refaite ou un autre chauffage utilisé. C'est une raison de prendre des "
                            "nouvelles avec tact, jamais un constat.",
        "hardship.thresholds": "Seuils : sous-chauffage si le chauffage par degré-jour et par m² est au plus {peer} "
                               "de la médiane des logements semblables et au plus {own} de l'hiver précédent ; baisse "
                               "après hausse de prix si au plus {tariff} d'avant ; coûts au moins {cost} fois la "
                               "médiane des logements semblables par m².",
        "hardship.empty": "Aucun logement signalé dans vos résidences.",
        "hardship.signal.under_heating": "Chauffe très peu par temps froid",
        "hardship.signal.after_tariff_rise": "Forte baisse du chauffage après une hausse de prix",
        "hardship.signal.high_cost": "Coûts inhabituels face aux logements semblables",
        "hardship.dwelling": "Logement {code} · {residence}",
        "hardship.flagged": "Signalé depuis le {first}, encore le {last}",
        "hardship.no_longer": "Le signal ne se lève plus depuis le {last}.",
        "hardship.under_heating": "Cet hiver ({start} – {end}) : {now} kWh par degré-jour et par m², soit {peer_ratio} "
                                  "de la médiane de {peers} logements semblables ({median}) et {own_ratio} de l'hiver "
                                  "précédent ({prev_start} – {prev_end}). Jours froids mesurés : {measured} sur {cold}.",
        "hardship.after_tariff_rise": "Après la hausse du {rise} : chauffage par degré-jour à {ratio} d'avant "
                                      "({before} → {after} kWh par degré-jour) ; logements semblables : {peer_ratio} "
                                      "({peers} logements).",
        "hardship.high_cost": "Coût annuel estimé {cost} ({per_m2} par m²), {ratio} fois la médiane de {peers} "
                              "logements semblables ({median} par m²). Sans les revenus, ce n'est pas une part du budget.",
        "hardship.status": "Suivi : {status}",
        "hardship.status.open": "à suivre",
        "hardship.status.contacted": "contacté",
        "hardship.status.visited": "visité",
        "hardship.status.help_offered": "aide proposée",
        "hardship.status.closed": "clos",
        "hardship.action": "Étape",
        "hardship.note": "Note (facultative)",
        "hardship.save": "Enregistrer l'étape",
        "hardship.history": "{when} · {who} : {action}",
        "hardship.back": "Retour au classement",
        "hardship.refused": "Action refusée.",
    },
    "en": {
        "hardship.nav": "Energy hardship",
        "hardship.title": "Homes that may be in energy hardship",
        "hardship.intro": "For advisers only. Each home listed shows a signal computed every night on measured days "
                          "(never estimated or suspect ones), against similar homes (same floor area, same heating) "
                          "and against its own previous winter.",
        "hardship.caution": "The data cannot tell why. A home may be empty, a household away, insulation may be new "
                            "or another heater in use. It is a reason to get in touch tactfully, never a finding.",
        "hardship.thresholds": "Thresholds: under-heating when heating per degree-day and m² is at most {peer} of "
                               "similar homes' median and at most {own} of the previous winter; a fall after a price "
                               "rise when at most {tariff} of before; costs at least {cost} times similar homes' "
                               "median per m².",
        "hardship.empty": "No home flagged in your residences.",
        "hardship.signal.under_heating": "Heats very little in cold weather",
        "hardship.signal.after_tariff_rise": "Sharp fall in heating after a price rise",
        "hardship.signal.high_cost": "Unusual costs against similar homes",
        "hardship.dwelling": "Home {code} · {residence}",
        "hardship.flagged": "Flagged since {first}, still on {last}",
        "hardship.no_longer": "The signal has not been raised since {last}.",
        "hardship.under_heating": "This winter ({start} – {end}): {now} kWh per degree-day and m², that is {peer_ratio} "
                                  "of the median of {peers} similar homes ({median}) and {own_ratio} of the previous "
                                  "winter ({prev_start} – {prev_end}). Measured cold days: {measured} of {cold}.",
        "hardship.after_tariff_rise": "After the rise of {rise}: heating per degree-day at {ratio} of before "
                                      "({before} → {after} kWh per degree-day); similar homes: {peer_ratio} "
                                      "({peers} homes).",
        "hardship.high_cost": "Estimated yearly cost {cost} ({per_m2} per m²), {ratio} times the median of {peers} "
                              "similar homes ({median} per m²). Without incomes, this is not a share of the budget.",
        "hardship.status": "Follow-up: {status}",
        "hardship.status.open": "to follow",
        "hardship.status.contacted": "contacted",
        "hardship.status.visited": "visited",
        "hardship.status.help_offered": "help offered",
        "hardship.status.closed": "closed",
        "hardship.action": "Step",
        "hardship.note": "Note (optional)",
        "hardship.save": "Record the step",
        "hardship.history": "{when} · {who}: {action}",
        "hardship.back": "Back to the ranking",
        "hardship.refused": "Action refused.",
    },
}

for _lang, _text in TEXT.items():
    MESSAGES[_lang].update(_text)
