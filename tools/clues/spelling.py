"""Spelling clue: British (Commonwealth) against American English, in spelling and in sign vocabulary.

Signs in the United Kingdom, Ireland, Australia, New Zealand, South Africa, India, Singapore,
Malaysia, Hong Kong and the other countries that write British English say "centre", "colour",
"car park", "way out", "lift", "petrol"; American signs say "center", "color", "parking lot",
"elevator", "restroom", "gas station" (Wikipedia "American and British English spelling
differences", "Comparison of American and British English"; the Cambridge and Merriam-Webster
dictionaries mark each form). Only forms that the other variety does not use on signs are listed; a
form it does use in names keeps a larger share there ("Theatre" is common in the names of American
theatres). So a form speaks for the countries that write its variety, against those that write the
other, and mildly against the rest, where English on signs follows either variety and is rarer; a
form that is also a word of French, Spanish, German or Dutch ("centre", "color", "Center", "lift")
keeps those countries. Canada mixes both (Canadian spelling keeps "-our"
and "-re", with American words for cars and roads) and keeps half of either. A form is matched
whole, case-insensitive, and several distinct forms weigh more than one.
"""

from __future__ import annotations

import math
import re
from functools import cache

from geosleuth.core.countries import all_countries
from geosleuth.tools.clues.base import Clue, parse_shares, relative

AMERICAN = "US PR GU VI AS MP LR PH"
"""Where American spelling and sign words are the norm (Wikipedia "American English")."""
CANADA = 0.5
"""Canada's likelihood of either variety's forms (it writes "centre" and "colour", but "tire")."""
COMMONWEALTH = (
    "GB IM JE GG IE AU NZ ZA IN PK BD LK SG MY HK MT CY NG GH KE UG TZ ZM ZW BW NA MW JM TT BB BS BZ "
    "GI FJ PG MU SC BN"
)
"""Where British spelling is the norm (Wikipedia "Commonwealth English")."""
ELSEWHERE = 0.3
"""Likelihood of either variety's forms in a country that writes neither: English on signs there
follows either one, and there is less of it."""
SPANISH = "ES MX AR CO CL PE VE EC GT CU BO DO HN PY SV NI CR PA UY GQ"
GERMAN_DUTCH = "DE AT CH LI LU NL BE"
FRENCH = "FR BE CH LU MC"

BRITISH_FORMS = {
    "centre": 0.15, "centres": 0.15, "theatre": 0.4, "theatres": 0.4,
    "colour": 0.05, "colours": 0.05, "favourite": 0.05, "harbour": 0.1, "neighbourhood": 0.05,
    "flavour": 0.05, "flavours": 0.05, "honour": 0.05, "labour": 0.05, "parlour": 0.05,
    "defence": 0.05, "offence": 0.05, "tyre": 0.05, "tyres": 0.05, "jewellery": 0.05, "jewellers": 0.05,
    "car park": 0.05, "multi-storey": 0.05, "way out": 0.05, "lift": 0.2, "lifts": 0.2,
    "petrol": 0.05, "motorway": 0.05, "give way": 0.05, "dual carriageway": 0.05,
    "pay and display": 0.05, "lorry": 0.05, "lorries": 0.05, "chemist": 0.1, "takeaway": 0.1,
    "off licence": 0.05, "to let": 0.1, "cashpoint": 0.05, "footpath": 0.1, "high street": 0.1,
    "toilets": 0.3, "pavement": 0.2, "no entry": 0.2,
}
"""British forms, each with its likelihood in the countries that write American English (1 elsewhere:
where English is not the first language, signs in English follow either variety): 0.05 when American
signs all but never use it, more when they do in names or as an ordinary word ("Theatre" in the
names of American theatres, to "lift" a gate, "toilets")."""

AMERICAN_FORMS = {
    "center": 0.1, "centers": 0.1, "theater": 0.05, "theaters": 0.05, "color": 0.05, "colors": 0.05,
    "favorite": 0.05, "neighborhood": 0.05, "flavor": 0.05, "flavors": 0.05, "honor": 0.1,
    "labor": 0.1, "liter": 0.05, "liters": 0.05, "defense": 0.1, "offense": 0.05, "jewelry": 0.05,
    "jewelers": 0.05, "aluminum": 0.05, "organization": 0.2, "catalog": 0.2,
    "parking lot": 0.05, "parking garage": 0.05, "gas station": 0.05, "restroom": 0.05,
    "restrooms": 0.05, "elevator": 0.1, "elevators": 0.1, "sidewalk": 0.05, "freeway": 0.05,
    "turnpike": 0.05, "yield": 0.2, "zip code": 0.05, "drugstore": 0.05, "liquor store": 0.05,
    "for rent": 0.2, "realty": 0.05, "check cashing": 0.05, "pharmacy": 0.5, "ped xing": 0.05,
    "no outlet": 0.05,
}
"""American forms, each with its likelihood in the countries that write British English (against 1
where American English is written, `ELSEWHERE` in the rest)."""

ALSO_WRITTEN = {
    "centre": FRENCH, "centres": FRENCH, "theatre": FRENCH, "theatres": FRENCH,
    "lift": GERMAN_DUTCH, "lifts": GERMAN_DUTCH,
    "color": SPANISH, "colors": SPANISH, "honor": SPANISH, "labor": SPANISH,
    "center": GERMAN_DUTCH, "centers": GERMAN_DUTCH, "theater": GERMAN_DUTCH, "theaters": GERMAN_DUTCH,
    "liter": GERMAN_DUTCH, "liters": GERMAN_DUTCH,
}
"""Forms that are also words of another language ("théâtre" read without its accents), and that
language's countries (1 there)."""

WEIGHT = 0.6
"""Weight of one form; each further distinct form adds `EXTRA_WEIGHT`, up to `MAX_WEIGHT`."""
EXTRA_WEIGHT = 0.1
MAX_WEIGHT = 0.8


@cache
def _pattern(forms: tuple[str, ...]) -> re.Pattern[str]:
    """Whole-word, case-insensitive alternation of the forms, longest first; spaces match any spacing."""
    ordered = sorted(forms, key=len, reverse=True)
    alternatives = "|".join(re.escape(form).replace(r"\ ", r"\s+") for form in ordered)
    return re.compile(rf"(?<![\w-])(?:{alternatives})(?![\w-])", re.IGNORECASE)


def _british(form: str) -> dict[str, float]:
    """Likelihoods of one British form: 1 where British English is written, low where American is."""
    likes = dict.fromkeys(all_countries(), ELSEWHERE)
    likes |= dict.fromkeys(parse_shares(AMERICAN), BRITISH_FORMS[form])
    likes |= dict.fromkeys(parse_shares(ALSO_WRITTEN.get(form, "")), 1.0)
    return likes | dict.fromkeys(parse_shares(COMMONWEALTH), 1.0) | {"CA": CANADA}


def _american(form: str) -> dict[str, float]:
    """Likelihoods of one American form: 1 where American English is written, low where British is."""
    likes = dict.fromkeys(all_countries(), ELSEWHERE)
    likes |= dict.fromkeys(parse_shares(COMMONWEALTH), AMERICAN_FORMS[form])
    likes |= dict.fromkeys(parse_shares(ALSO_WRITTEN.get(form, "")), 1.0)
    return likes | dict.fromkeys(parse_shares(AMERICAN), 1.0) | {"CA": CANADA}


def spelling_clues(text: str) -> list[Clue]:
    """Return a clue for the British forms and one for the American forms the text has, if any.

    Each clue's likelihoods are the product of its forms' (the text shows all of them), scaled so the
    largest is 1.
    """
    clues = []
    variants = (("British", BRITISH_FORMS, _british), ("American", AMERICAN_FORMS, _american))
    for variant, forms, likes_of in variants:
        found = sorted({" ".join(m.group(0).lower().split()) for m in _pattern(tuple(forms)).finditer(text)})
        if not found:
            continue
        likes = {code: math.prod(likes_of(form).get(code, 0.0) for form in found) for code in all_countries()}
        weight = min(MAX_WEIGHT, WEIGHT + EXTRA_WEIGHT * (len(found) - 1))
        clues.append(Clue("spelling", f"{variant}: {', '.join(found[:4])}", relative(likes), round(weight, 4),
                          {"forms": found}))
    return clues
