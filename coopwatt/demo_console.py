"""What ``coopwatt demo`` tells the person watching it: pure functions from facts to (French, English) lines.

Every message is built here from plain numbers and labels, in words a cooperative's staff
use ("consommation de veille", "logement A-04, compteur de gaz"), never a code or a column
name, so that the lines can be tested against each other without a database. The
:class:`Console` prints them in the demo's language (``COOPWATT_DEMO_LANGUAGE``); the
:class:`StatusPolicy` decides when the live status line is worth printing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

Line = tuple[str, str]  # (French, English)

ANOMALY_WORDS: dict[str, Line] = {
    "above_baseline": ("consommation bien au-dessus de la normale", "use far above normal"),
    "base_load_rise": ("consommation de veille en hausse", "standby use rising"),
    "water_leak": ("fuite d'eau probable", "likely water leak"),
    "meter_silent": ("compteur muet", "silent meter"),
    "frozen_index": ("index figé", "frozen index"),
    "counter_reset": ("compteur remis à zéro", "meter reset to zero"),
    "spike": ("pic de consommation", "consumption spike"),
}
ENERGY_WORDS: dict[str, Line] = {
    "electricity": ("électricité", "electricity"),
    "gas": ("gaz", "gas"),
    "water": ("eau", "water"),
    "heat": ("chauffage collectif", "collective heating"),
}
SUGGESTION_WORDS: dict[str, Line] = {
    "base_load": ("réduire la consommation de veille", "cut standby use"),
    "heating_setpoint": ("baisser le chauffage d'un degré", "turn the heating down one degree"),
    "offpeak_tariff": ("passer à l'option heures creuses", "switch to the off-peak tariff"),
    "drift": ("enrayer une consommation qui augmente d'année en année", "stop use growing year after year"),
    "leak": ("réparer une fuite d'eau", "fix a water leak"),
}


def words(table: dict[str, Line], code: str) -> Line:
    """The words for a stored code; an unknown code is shown as itself rather than dropped."""
    return table.get(code, (code.replace("_", " "), code.replace("_", " ")))


def number(value: float, lang: str, digits: int = 0) -> str:
    """A number as its readers write it: 12 345,6 in French, 12,345.6 in English."""
    text = f"{value:,.{digits}f}"
    if lang == "fr":
        return text.replace(",", " ").replace(".", ",")
    return text


def count(n: int, lang: str, singular: str, plural: str) -> str:
    """'1 alerte', '0 alerte' (French singular below 2), '2 alerts' …"""
    one = n < 2 if lang == "fr" else n == 1
    return f"{number(n, lang)} {singular if one else plural}"


def counts(n: int, fr: tuple[str, str], en: tuple[str, str]) -> Line:
    """`count` in both languages."""
    return count(n, "fr", *fr), count(n, "en", *en)


def meter_label(dwelling_code: str | None, meter_kind: str) -> Line:
    """'logement A-04, compteur de gaz' — how staff name a meter (never its database id)."""
    fr, en = words(ENERGY_WORDS, meter_kind)
    meter_fr = f"compteur d'{fr}" if fr[0] in "aeéiou" else f"compteur de {fr}"
    if dwelling_code is None:
        return f"{meter_fr} de la résidence", f"the residence's {en} meter"
    return f"logement {dwelling_code}, {meter_fr}", f"dwelling {dwelling_code}, {en} meter"


def index_event(label: Line, kind: str, at: datetime, before: float, after: float) -> Line:
    """A counter reset or jump found while deriving consumption."""
    what = ("index remis à zéro", "index reset") if kind == "reset" else ("saut d'index", "index jump")
    return (f"{label[0]} : {what[0]} le {at:%Y-%m-%d %H:%M} UTC ({number(before, 'fr', 3)} → {number(after, 'fr', 3)})",
            f"{label[1]}: {what[1]} on {at:%Y-%m-%d %H:%M} UTC ({number(before, 'en', 3)} → {number(after, 'en', 3)})")


@dataclass(frozen=True)
class AlertTally:
    """What one anomaly run did to alerts, and how many are open once it is over."""

    opened: int
    closed: int
    open_now: int
    found_by_kind: tuple[tuple[str, int], ...] = ()  # anomalies seen, by kind


def alerts_line(tally: AlertTally, *, prefix: Line = ("analyse", "analytics")) -> Line:
    """'3 alertes ouvertes, 2 refermées d'elles-mêmes ; 4 en cours' — opened, closed and open now, never mixed."""
    found_fr = ", ".join(f"{words(ANOMALY_WORDS, k)[0]} ({n})" for k, n in tally.found_by_kind) or "aucune"
    found_en = ", ".join(f"{words(ANOMALY_WORDS, k)[1]} ({n})" for k, n in tally.found_by_kind) or "none"
    opened = counts(tally.opened, ("alerte ouverte", "alertes ouvertes"), ("alert opened", "alerts opened"))
    closed = counts(tally.closed, ("refermée d'elle-même", "refermées d'elles-mêmes"),
                    ("closed by itself", "closed by themselves"))
    # Anomalies seen over the days judged include those already over: their alerts are closed, not open.
    return (f"{prefix[0]} : anomalies vues sur les jours analysés : {found_fr} ; {opened[0]}, {closed[0]} ; "
            f"{count(tally.open_now, 'fr', 'alerte', 'alertes')} en cours maintenant",
            f"{prefix[1]}: anomalies seen over the days judged: {found_en}; {opened[1]}, {closed[1]}; "
            f"{count(tally.open_now, 'en', 'alert', 'alerts')} open now")


def live_alerts_line(at: datetime, opened: list[tuple[str, Line]], closed: list[tuple[str, Line]],
                     open_now: int) -> Line:
    """A live anomaly run's news: which alerts it opened and closed (what, and whose meter), and how many are open."""
    def listed(alerts: list[tuple[str, Line]], lang: int) -> str:
        return ", ".join(f"{words(ANOMALY_WORDS, kind)[lang]} ({label[lang]})" for kind, label in alerts)

    parts_fr, parts_en = [], []
    if opened:
        parts_fr.append(f"{'nouvelle alerte' if len(opened) == 1 else f'{len(opened)} nouvelles alertes'} : "
                        f"{listed(opened, 0)}")
        parts_en.append(f"{'new alert' if len(opened) == 1 else f'{len(opened)} new alerts'}: {listed(opened, 1)}")
    if closed:
        gone = count(len(closed), "fr", "alerte refermée d'elle-même", "alertes refermées d'elles-mêmes")
        parts_fr.append(f"{gone} : {listed(closed, 0)}")
        parts_en.append(f"{len(closed)} closed by {'itself' if len(closed) == 1 else 'themselves'}: "
                        f"{listed(closed, 1)}")
    now = counts(open_now, ("alerte en cours", "alertes en cours"), ("alert open now", "alerts open now"))
    return (f"analyse au {at:%Y-%m-%d %H:%M} UTC : {' ; '.join(parts_fr + [now[0]])}",
            f"analytics at {at:%Y-%m-%d %H:%M} UTC: {'; '.join(parts_en + [now[1]])}")


@dataclass(frozen=True)
class TopConsumer:
    """The dwelling first in a ranking of similar homes."""

    dwelling_code: str
    energy_kind: str
    ratio: float  # its weather-normalised use per m² over its group's median


def high_consumer_line(high_count: int, threshold: float, top: TopConsumer | None) -> Line | None:
    """The ranking's news in one line that agrees with the count: no 'highest consumer' beside '0 high consumers'."""
    if top is None:
        return None
    rule = (f"{number(threshold, 'fr', 1)}× la médiane des logements similaires",
            f"{number(threshold, 'en', 1)}× the median of similar homes")
    energy = words(ENERGY_WORDS, top.energy_kind)
    first = (f"logement {top.dwelling_code} ({energy[0]}), {number(top.ratio, 'fr', 1)}×",
             f"dwelling {top.dwelling_code} ({energy[1]}), {number(top.ratio, 'en', 1)}×")
    if high_count == 0 or top.ratio < threshold:
        return (f"  classement : aucun logement ne consomme {rule[0]} ou plus ; le plus haut : {first[0]}",
                f"  ranking: no dwelling uses {rule[1]} or more; the highest: {first[1]}")
    many = (count(high_count, "fr", "logement consomme", "logements consomment"),
            count(high_count, "en", "dwelling uses", "dwellings use"))
    return (f"  classement : {many[0]} {rule[0]} ou plus ; en tête : {first[0]}",
            f"  ranking: {many[1]} {rule[1]} or more; first: {first[1]}")


def suggestion_line(dwelling_code: str, kind: str, eur_per_year: float) -> Line:
    """The most valuable savings suggestion."""
    what = words(SUGGESTION_WORDS, kind)
    return (f"  meilleure piste d'économie : logement {dwelling_code}, {what[0]}, {number(eur_per_year, 'fr')} € par an",
            f"  best savings suggestion: dwelling {dwelling_code}, {what[1]}, €{number(eur_per_year, 'en')} a year")


@dataclass(frozen=True)
class LiveStatus:
    """The live phase at one moment: simulated clock, messages, and what the database holds."""

    clock: datetime  # the simulated meters' time
    behind_s: float  # how far that is behind the wall clock
    published: int
    received: int
    rejected: int
    readings: int
    consumption_hours: int
    dead_letters: int


CAUGHT_UP_WITHIN_S = 120.0  # a replay this close to the clock follows it (meters report every minute)


def status_line(s: LiveStatus) -> Line:
    """One status line; more received than published is explained, not left as a puzzle."""
    if s.behind_s > CAUGHT_UP_WITHIN_S:
        hours = s.behind_s / 3600
        where = (f"rattrapage : horloge simulée {s.clock:%d/%m %H:%M} UTC, {number(hours, 'fr', 1)} h de retard",
                 f"catching up: simulated clock {s.clock:%d/%m %H:%M} UTC, {number(hours, 'en', 1)} h behind")
    else:
        where = (f"en direct : {s.clock:%d/%m %H:%M} UTC", f"live: {s.clock:%d/%m %H:%M} UTC")
    extra = s.received - s.published
    redelivered = ((f" (dont {number(extra, 'fr')} renvoyés par le broker, non acquittés à temps)",
                    f" (of which {number(extra, 'en')} sent again by the broker, not acknowledged in time)")
                   if extra > 0 else ("", ""))
    msgs = (f"messages : {number(s.published, 'fr')} publiés, {number(s.received, 'fr')} reçus{redelivered[0]}, "
            f"{count(s.rejected, 'fr', 'refusé', 'refusés')}",
            f"messages: {number(s.published, 'en')} published, {number(s.received, 'en')} received{redelivered[1]}, "
            f"{number(s.rejected, 'en')} refused")
    held = (f"base : {number(s.readings, 'fr')} relevés, {number(s.consumption_hours, 'fr')} heures de consommation, "
            f"{count(s.dead_letters, 'fr', 'message mis de côté', 'messages mis de côté')}",
            f"database: {number(s.readings, 'en')} readings, {number(s.consumption_hours, 'en')} hours of consumption, "
            f"{count(s.dead_letters, 'en', 'message set aside', 'messages set aside')}")
    return f"{where[0]} · {msgs[0]} · {held[0]}", f"{where[1]} · {msgs[1]} · {held[1]}"


CAUGHT_UP: Line = ("en direct : rattrapé, l'horloge simulée suit maintenant l'heure réelle ; "
                   "prochain point dans quelques minutes ou dès que quelque chose change",
                   "live: caught up, now following the clock; next update in a few minutes or as soon as something changes")


class StatusPolicy:
    """When the status line is worth a line: during catch-up every half minute, then on change or every few minutes."""

    def __init__(self, catching_up_every_s: float = 30.0, quiet_every_s: float = 300.0) -> None:
        self.catching_up_every_s = catching_up_every_s
        self.quiet_every_s = quiet_every_s
        self._last_at: float | None = None
        self._last_key: tuple[int, int] | None = None
        self.caught_up = False

    def lines(self, at_s: float, status: LiveStatus) -> list[Line]:
        """The lines to print now (often none) for this status seen at monotonic time `at_s`."""
        out: list[Line] = []
        # Refusals and set-aside messages are news; the counts that grow every minute are not.
        key = (status.rejected, status.dead_letters)
        if not self.caught_up and status.behind_s <= CAUGHT_UP_WITHIN_S:
            self.caught_up = True
            out.append(CAUGHT_UP)
        every = self.quiet_every_s if self.caught_up else self.catching_up_every_s
        due = self._last_at is None or at_s - self._last_at >= every or key != self._last_key or out
        if due:
            out.append(status_line(status))
            self._last_at, self._last_key = at_s, key
        return out


class Console:
    """Prints the demo's lines in its language: fr, en, or both on one line (French first)."""

    def __init__(self, language: str = "both") -> None:
        self.language = language

    def text(self, line: Line) -> str:
        """The line as printed, without the prefix."""
        if self.language == "fr":
            return line[0]
        if self.language == "en":
            return line[1]
        return f"{line[0]} / {line[1]}"

    def say(self, french: str, english: str) -> None:
        """Print one line of progress for a person."""
        print(f"[demo] {self.text((french, english))}", flush=True)

    def show(self, line: Line) -> None:
        """Print a prepared line."""
        self.say(*line)


# The demo's one console: coopwatt.demo sets its language from the settings at start.
console = Console()


def say(french: str, english: str) -> None:
    """Print one line of progress for a person, in the demo's language."""
    console.say(french, english)
