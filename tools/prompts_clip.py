"""Prompt ensembles for CLIP zero-shot: countries, continents, scene attributes, scripts, driving side.

Each `Group` is a set of classes; each class has several prompts, whose normalised text embeddings
are averaged into one class embedding (prompt ensembling, Radford et al. 2021). Groups that map to
countries say how (`countries`): per class, the relative likelihood of each country. Scene groups
(setting, biome, architecture, road markings) and the localizability group describe the photo and
are kept as observations; they map to no country, since no table here ties a biome to a country
without being fitted to some photo collection.

Country names come from `geosleuth.core.countries` (English short names; CLDR/GeoNames).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cache

from geosleuth.core.countries import COMPOSITE_SCRIPTS, all_countries, script_shares

COUNTRY_TEMPLATES = (
    "a street view photo in {}.",
    "a photo taken in {}.",
    "a landscape in {}.",
    "a city street in {}.",
)
CONTINENT_TEMPLATES = ("a street view photo in {}.", "a photo taken in {}.")
CONTINENTS = {
    "AF": "Africa",
    "AS": "Asia",
    "EU": "Europe",
    "NA": "North America",
    "OC": "Oceania",
    "SA": "South America",
    "AN": "Antarctica",
}
"""GeoNames continent codes (as in `Country.continent`) and their names."""

SCRIPTS = {
    "Latn": "Latin letters",
    "Cyrl": "Cyrillic letters",
    "Grek": "Greek letters",
    "Arab": "Arabic script",
    "Hebr": "Hebrew letters",
    "Hani": "Chinese characters",
    "Jpan": "Japanese kana and kanji",
    "Hang": "Korean Hangul",
    "Thai": "Thai script",
    "Deva": "Devanagari script",
    "Geor": "Georgian script",
    "Armn": "Armenian letters",
    "Ethi": "Ethiopic script",
    "Beng": "Bengali script",
    "Taml": "Tamil script",
    "Khmr": "Khmer script",
    "Laoo": "Lao script",
    "Mymr": "Burmese script",
    "Sinh": "Sinhala script",
}
"""ISO 15924 scripts a sign may be written in, with how prompts name them."""
NO_TEXT = "none"
"""The script group's class for photos without legible writing."""

SCENE_GROUPS: dict[str, dict[str, tuple[str, ...]]] = {
    "setting": {
        "urban": ("a photo of a busy city street.", "a photo of downtown buildings."),
        "suburban": ("a photo of a suburban residential street.", "a photo of houses with front yards."),
        "rural": ("a photo of a rural country road.", "a photo of farmland and villages."),
        "wilderness": ("a photo of untouched nature.", "a photo of wilderness with no buildings."),
        "indoor": ("a photo taken indoors.", "a photo of a room."),
    },
    "biome": {
        "tropical": ("a photo of tropical vegetation and palm trees.", "a photo of a rainforest."),
        "desert": ("a photo of a dry desert.", "a photo of arid land with sand and rocks."),
        "temperate": ("a photo of green temperate forest.", "a photo of green fields and deciduous trees."),
        "mediterranean": (
            "a photo of a dry mediterranean landscape.",
            "a photo of olive trees and dry hills.",
        ),
        "boreal": ("a photo of a pine and birch forest.", "a photo of a taiga landscape."),
        "snow": ("a photo of snow and ice.", "a photo of a snowy winter landscape."),
        "savanna": ("a photo of savanna grassland.", "a photo of dry grass with scattered trees."),
    },
    "architecture": {
        "european old town": ("a photo of a european old town.", "a photo of historic stone buildings."),
        "north american suburb": ("a photo of american suburban houses.", "a photo of a strip mall."),
        "east asian city": ("a photo of an east asian city street.", "a photo of dense asian buildings."),
        "soviet blocks": ("a photo of soviet apartment blocks.", "a photo of concrete panel buildings."),
        "middle eastern": ("a photo of middle eastern architecture.", "a photo of a mosque and flat roofs."),
        "colonial": ("a photo of colonial architecture.", "a photo of a colonial town square."),
        "informal settlement": ("a photo of informal housing.", "a photo of corrugated iron shacks."),
    },
    "road markings": {
        "yellow centre line": ("a road with a yellow centre line.", "a road with double yellow lines."),
        "white centre line": ("a road with a white centre line.", "a road with dashed white lines."),
        "unmarked road": ("an unpaved road.", "a road without lane markings."),
        "no road": ("a photo without any road.", "a photo with no street in view."),
    },
}
"""Scene attributes reported as observations (top class and its probability per group)."""

DRIVING_SIDE = {
    "left": ("cars driving on the left side of the road.", "traffic keeps to the left."),
    "right": ("cars driving on the right side of the road.", "traffic keeps to the right."),
}
LOCALIZABLE: dict[str, tuple[str, ...]] = {
    "landmark": ("a photo of a famous landmark.", "a photo of a well-known monument."),
    "signs": ("a street with shop signs and street names.", "a photo of a road sign with place names."),
    "street": ("a street view photo of a road and buildings.", "a photo of a town street."),
    "landscape": ("a wide landscape photo.", "a photo of mountains and a valley."),
    "close-up": ("an indoor close-up photo.", "a close-up photo of an object."),
    "people": ("a portrait of a person.", "a photo of people at a party."),
    "generic": ("a photo of food on a plate.", "a photo of the sky.", "a photo of a pet."),
}
"""Scene kinds for the localizability score: how much a photo of this kind tends to give away."""
LOCALIZABLE_SCORES = {
    "landmark": 1.0,
    "signs": 0.9,
    "street": 0.7,
    "landscape": 0.4,
    "close-up": 0.05,
    "people": 0.1,
    "generic": 0.0,
}
"""How locatable each scene kind is, 0..1: a judgement written down here, not fitted to any labels."""


@dataclass(frozen=True)
class Group:
    """Classes of one question about a photo, each with its prompts."""

    name: str
    prompts: dict[str, tuple[str, ...]]
    countries: dict[str, dict[str, float]] = field(default_factory=dict)
    """Per class, relative likelihood of each country (empty: the group says nothing about countries)."""


@cache
def country_group() -> Group:
    """One class per country: the country-name prompts."""
    prompts = {
        code: tuple(t.format(c.name) for t in COUNTRY_TEMPLATES) for code, c in all_countries().items()
    }
    return Group("country", prompts, {code: {code: 1.0} for code in prompts})


@cache
def continent_group() -> Group:
    """One class per continent; each speaks equally for all its countries."""
    members: dict[str, dict[str, float]] = {code: {} for code in CONTINENTS}
    for code, country in all_countries().items():
        members.setdefault(country.continent, {})[code] = 1.0
    prompts = {code: tuple(t.format(name) for t in CONTINENT_TEMPLATES) for code, name in CONTINENTS.items()}
    return Group("continent", prompts, members)


@cache
def script_group() -> Group:
    """One class per script (and one for no writing); a script speaks for the countries that read it."""
    shares = script_shares()
    prompts: dict[str, tuple[str, ...]] = {
        code: (f"a sign written in {name}.", f"a street sign with {name}.") for code, name in SCRIPTS.items()
    }
    prompts[NO_TEXT] = ("a photo with no writing in it.", "a photo without any signs or text.")
    countries: dict[str, dict[str, float]] = {}
    for code in SCRIPTS:
        parts = (code, *COMPOSITE_SCRIPTS.get(code, ())) if code != "Jpan" else ("Kana",)
        table: dict[str, float] = {}
        for part in parts:
            for country, share in shares.get(part, {}).items():
                table[country] = max(table.get(country, 0.0), share)
        countries[code] = table
    countries[NO_TEXT] = {code: 1.0 for code in all_countries()}
    return Group("script", prompts, countries)


@cache
def driving_group() -> Group:
    """Left- or right-hand traffic; each side speaks for the countries that drive on it."""
    sides: dict[str, dict[str, float]] = {"left": {}, "right": {}}
    for code, country in all_countries().items():
        for side in ("left", "right"):
            if country.drives_on in (side, None):
                sides[side][code] = 1.0
    return Group("driving side", dict(DRIVING_SIDE), sides)


def scene_groups() -> list[Group]:
    """Return the descriptive groups (no country mapping) plus the localizability group."""
    return [Group(name, prompts) for name, prompts in SCENE_GROUPS.items()] + [
        Group("localizable", LOCALIZABLE)
    ]


def country_groups() -> list[Group]:
    """Return the groups whose classes map to countries, the country group first."""
    return [country_group(), continent_group(), script_group(), driving_group()]
