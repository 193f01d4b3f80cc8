"""The simulated housing stock: residences, buildings, dwellings and their meters.

Everything here is a plain description drawn once from a seed; the physics that
turns it into readings lives in :mod:`coopwatt.simulator.profiles`.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

import numpy as np

HEATING_TYPES = ("electric", "gas", "collective")

# Heating need per m² and per degree-day for each energy label (kWh/(m²·°C·day)).
# Label D is about 90 kWh/m²/year of heating over roughly 2,000 degree-days.
SENSITIVITY_PER_M2 = {"A": 0.01, "B": 0.017, "C": 0.028, "D": 0.045, "E": 0.06, "F": 0.078, "G": 0.1}

# Device formats a meter may speak (see encode.py); electricity meters get the whole mix.
ELECTRICITY_FORMATS = (
    "native", "tasmota_energy", "tasmota_tic", "teleinfo2mqtt", "shelly_gen1",
    "shelly_gen2", "z2m_plug", "z2m_zlinky", "esphome",
)
VOLUME_FORMATS = ("native", "esphome")
# Formats that read a Linky through its TIC port: indices in Wh, apparent power in VA.
LINKY_FORMATS = frozenset({"tasmota_tic", "teleinfo2mqtt", "z2m_zlinky"})


@dataclass(frozen=True)
class Dwelling:
    """One home and the parameters of its household's behaviour (the simulator's ground truth)."""

    code: str
    building_code: str
    residence_code: str
    number: int  # unique across the whole simulation: the key of its noise
    floor_area_m2: float
    heating_type: str
    energy_label: str
    occupants: int
    home_by_day: bool  # someone at home on weekdays (retired, young children, home working)
    offpeak_tariff: bool  # heures creuses contract: the water heater runs at night
    base_load_w: float
    activity_kwh_per_day: float  # appliances, lighting, cooking
    heating_sensitivity_kwh_per_c_day: float
    balance_point_c: float
    hot_water_kwh_per_day: float
    water_l_per_day: float
    # Energy hardship ground truth (coopwatt.simulator.hardship): from this instant (epoch s) the household
    # heats only `under_heating_keep` of what it needs; None = never.
    under_heating_from_s: float | None = None
    under_heating_keep: float = 1.0


@dataclass(frozen=True)
class Meter:
    """One device: what it measures, how it speaks, and how the ingester will know it (source)."""

    source: str
    device: str
    kind: str  # electricity, gas, water, heat
    format: str
    residence_code: str
    building_code: str
    dwelling_code: str | None  # None for a building-level meter


@dataclass(frozen=True)
class Building:
    """A building of a residence; collective heating is a property of the building."""

    code: str
    name: str
    construction_year: int
    collective_heating: bool


@dataclass
class Residence:
    """A residence: its buildings, dwellings and meters."""

    code: str
    name: str
    district: str
    city: str
    postcode: str
    buildings: list[Building] = field(default_factory=list)
    dwellings: list[Dwelling] = field(default_factory=list)
    meters: list[Meter] = field(default_factory=list)

    def dwelling(self, code: str) -> Dwelling:
        """The dwelling with this code."""
        for dwelling in self.dwellings:
            if dwelling.code == code:
                return dwelling
        raise KeyError(code)


_DISTRICTS = (
    ("Les Tilleuls", "Villeurbanne", "69100"), ("Pré-Gauchet", "Nantes", "44000"),
    ("La Croix-Rousse", "Lyon", "69004"), ("Bacalan", "Bordeaux", "33300"),
    ("Moulins", "Lille", "59000"), ("Saint-Cyprien", "Toulouse", "31300"),
)
_LABEL_BY_ERA = {  # construction era → plausible labels, older is worse
    1960: "DEEFFG", 1975: "CDDEEF", 1990: "CCDDDE", 2005: "BCCCDD", 2015: "AABBBC",
}


def _hex_id(*parts: object) -> str:
    """A stable 12-hex-digit id, like a device MAC address."""
    return hashlib.sha1("/".join(map(str, parts)).encode()).hexdigest()[:12]


def make_residences(dwellings: int, seed: int, *, per_residence: int = 60) -> list[Residence]:
    """Draw a cooperative of about `dwellings` dwellings, in residences of at most `per_residence`."""
    if dwellings < 1:
        raise ValueError("at least one dwelling is needed")
    rng = np.random.default_rng([seed, 0x5EED])
    n_res = -(-dwellings // per_residence)
    out: list[Residence] = []
    number = 0
    format_cursor = int(rng.integers(len(ELECTRICITY_FORMATS)))
    for r in range(n_res):
        count = dwellings // n_res + (1 if r < dwellings % n_res else 0)
        district, city, postcode = _DISTRICTS[r % len(_DISTRICTS)]
        code = f"R{r + 1:03d}" if n_res > 1 else "R001"
        residence = Residence(code=code, name=f"Résidence {district} {r + 1}", district=district,
                              city=city, postcode=postcode)
        # Buildings of 6 to 16 dwellings; about one in three has collective heating.
        sizes: list[int] = []
        left = count
        while left > 0:
            size = min(left, int(rng.integers(6, 17)))
            sizes.append(size)
            left -= size
        for b, size in enumerate(sizes):
            era = int(rng.choice(list(_LABEL_BY_ERA)))
            building = Building(code=chr(ord("A") + b % 26) + ("" if b < 26 else str(b // 26)),
                                name=f"Bâtiment {chr(ord('A') + b % 26)}",
                                construction_year=era + int(rng.integers(0, 10)),
                                collective_heating=bool(rng.random() < 0.34))
            residence.buildings.append(building)
            for k in range(size):
                d = _draw_dwelling(rng, residence.code, building, k + 1, number, _LABEL_BY_ERA[era])
                residence.dwellings.append(d)
                elec_format = ELECTRICITY_FORMATS[format_cursor % len(ELECTRICITY_FORMATS)]
                format_cursor += 1
                residence.meters.append(_meter(residence.code, building.code, d.code, "electricity", elec_format))
                residence.meters.append(_meter(residence.code, building.code, d.code, "water",
                                               VOLUME_FORMATS[number % 2]))
                if d.heating_type == "gas":
                    residence.meters.append(_meter(residence.code, building.code, d.code, "gas",
                                                   VOLUME_FORMATS[(number + 1) % 2]))
                number += 1
            if building.collective_heating:
                residence.meters.append(_meter(residence.code, building.code, None, "heat", "native"))
        out.append(residence)
    return out


def _draw_dwelling(rng: np.random.Generator, residence_code: str, building: Building, k: int,
                   number: int, labels: str) -> Dwelling:
    occupants = int(rng.choice([1, 1, 2, 2, 2, 3, 3, 4, 5]))
    floor_area_m2 = float(np.clip(rng.normal(22 + 14 * occupants, 8), 18, 120).round())
    if building.collective_heating:
        heating_type = "collective"
    else:
        heating_type = "electric" if rng.random() < 0.55 else "gas"
    label = labels[int(rng.integers(len(labels)))]
    # The household's own habits (set-point, airing) spread homes of one label.
    sensitivity = floor_area_m2 * SENSITIVITY_PER_M2[label] * float(rng.lognormal(0.0, 0.2))
    return Dwelling(
        code=f"{building.code}-{k:02d}",
        building_code=building.code,
        residence_code=residence_code,
        number=number,
        floor_area_m2=floor_area_m2,
        heating_type=heating_type,
        energy_label=label,
        occupants=occupants,
        home_by_day=bool(rng.random() < 0.35),
        offpeak_tariff=bool(rng.random() < 0.45),
        base_load_w=float(np.clip(rng.lognormal(np.log(70 + 20 * occupants), 0.3), 35, 400)),
        activity_kwh_per_day=float((1.6 + 1.3 * occupants) * rng.lognormal(0.0, 0.2)),
        heating_sensitivity_kwh_per_c_day=round(sensitivity, 4),
        balance_point_c=round(float(rng.uniform(14.0, 17.0)), 2),
        hot_water_kwh_per_day=float(1.7 * occupants * rng.lognormal(0.0, 0.15)),
        water_l_per_day=float(130 * occupants * rng.lognormal(0.0, 0.2)),
    )


def _meter(residence_code: str, building_code: str, dwelling_code: str | None, kind: str, fmt: str) -> Meter:
    """Name a device the way its firmware would, and derive the source id the ingester knows it by."""
    place = f"{residence_code}-{building_code}" + (f"-{dwelling_code.split('-')[1]}" if dwelling_code else "")
    slug = place.lower()
    short = {"electricity": "elec", "water": "water", "gas": "gas", "heat": "heat"}[kind]
    if fmt == "native":
        device = f"cw-{slug}-{short}"
        source = device
    elif fmt in ("tasmota_energy", "tasmota_tic"):
        device = f"tasmota_{slug.replace('-', '_')}"
        source = device
    elif fmt == "teleinfo2mqtt":
        # The Linky's 12-digit address (ADSC), which teleinfo2mqtt also uses as topic.
        device = str(int(_hex_id(place, kind), 16) % 10**12).zfill(12)
        source = device
    elif fmt == "shelly_gen1":
        device = f"shellyem-{_hex_id(place, kind).upper()}"
        source = f"{device}/emeter/0"
    elif fmt == "shelly_gen2":
        device = f"shellypro3em-{_hex_id(place, kind)}"
        source = f"{device}/em:0"
    elif fmt == "z2m_plug":
        device = f"{slug.replace('-', '_')}_plug"
        source = device
    elif fmt == "z2m_zlinky":
        device = f"{slug.replace('-', '_')}_zlinky"
        source = device
    elif fmt == "esphome":
        device = f"{slug}-{short}"
        source = device
    else:
        raise ValueError(f"unknown device format {fmt!r}")
    return Meter(source=source, device=device, kind=kind, format=fmt, residence_code=residence_code,
                 building_code=building_code, dwelling_code=dwelling_code)
