"""How ordinary a phrase is as text, and so how likely it is to name a place rather than mean a word.

A word read on a sign ("Mission", "Noble", "Google") may name a town, or be the ordinary word. wordfreq
(`zipf_frequency`, the Zipf scale: log10 of occurrences per billion words) counts both uses together.
Model: a place is mentioned in text about as often as its size suggests, `place_zipf(population)`;
whatever frequency the phrase has beyond that is its ordinary use. So the chance that the phrase means
the place is

    P(place | phrase) ≈ min(1, 10 ** (place_zipf(population) − observed_zipf(phrase)))

with `place_zipf(pop) = 1.4 · log10(pop) − 4`. The constants come from well-known towns, not from any
benchmark: Topeka (126k people) is 3.1 in English and the formula gives 3.1, Titusville (45k) 2.2 vs
2.5, Boston (654k) 4.7 vs 4.1, Chicago (2.7M) 4.8 vs 5.0, Leeds (536k) 4.0 vs 4.0, Hobart (255k) 3.4
vs 3.6. That is English text, which is written all over the world. Another language's text is
written mostly in its own countries, and mentions their towns more, the more so the fewer people
speak it (`home_offset`, from CLDR's speaker counts): 0.5 Zipf units more in Spanish (Sevilla 4.7,
formula 4.2; Murcia 4.2 vs 3.9), 0.8 in German (Stuttgart 5.0 vs 4.1, Graz 4.3 vs 3.7), 1.0 in
Italian (Bologna 5.0 vs 3.8), 1.2 in Dutch (Utrecht 5.1 vs 3.8), 1.5 in Greek (Θεσσαλονίκη 5.3 vs
3.7), 1.6 in Danish (Aarhus 5.4 vs 3.6): `HOME_SLOPE` per tenfold fewer speakers than English has,
plus `HOME_AT_ENGLISH`, fitted on some sixty such towns of 20 languages (residual spread 0.4 Zipf
units, against 0.5 for one offset for all languages).

The observed frequency is the largest over English (signs everywhere carry it), the languages of
the place's country (CLDR share ≥ `LANGUAGE_SHARE`) and, for a phrase in another script than Latin,
the languages written in that script (`SCRIPT_LANGUAGES`: the text's own language; "Αθήνα" is an
everyday Greek word, whichever country's village has it as a name), as far as wordfreq has them, each
compared with what the place explains in that language; the most ordinary reading decides. So
"Paris" (5.7 in French, 4.8 in English) is Paris, France (2.1M people: 5.9 and 4.9 expected),
"Split" (4.7 in English) is mostly the English word, not the Croatian town of 150k (3.3), and
"Google" (4.9) is not Topeka (3.1). Country languages, not a language detected in the text: the
question is asked once per candidate place, and if the photo is there, its signs are in those.

Phrases of several words: wordfreq's figure for them is not a phrase frequency (it combines the words
as if they were independent), so a phrase counts as its rarest word less `PHRASE_BONUS` per extra word.
Even a common word is followed by one given other word only a few percent of the time ("park" after
"central", "city" after "garden"), so two words together are about thirty times (1.5 Zipf units)
rarer than the rarer one alone: "Garden City" is 3.3, "Mountain View" 3.2, "Kennedy Space Center" 1.3.

Han, kana and Hangul: wordfreq needs tokenisers (jieba, MeCab) for Chinese, Japanese and Korean that
are not installed, and such text has no spaces to split at. A run of these characters is scored by
its length instead: most words are two characters long, so two characters read like an ordinary word
(`CJK_TWO_ZIPF`), and each further character makes a chance match `CJK_PER_CHAR` rarer (kana, a
syllabary, count half a character). Such a run is compared as home-language text (with the typical
offset, `HOME_OFFSET`): it is written in the place's own script.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from functools import cache

from wordfreq import available_languages, zipf_frequency

from geosleuth.core.countries import countries_for_language, get_country

PLACE_ZIPF_SLOPE = 1.4
"""Zipf units a place's mentions grow by per tenfold population."""
PLACE_ZIPF_AT_ONE = -4.0
"""Zipf frequency `place_zipf` gives a place of one person (the line's intercept)."""
HOME_SLOPE = 0.6
"""Zipf units a language mentions its own countries' towns more, per tenfold fewer speakers than English."""
HOME_AT_ENGLISH = 0.2
"""`home_offset` of a language with as many speakers as English."""
HOME_OFFSET = 1.0
"""The typical `home_offset` (German, Italian), for text wordfreq cannot read (Han, kana, Hangul)."""
LANGUAGE_SHARE = 0.1
"""Smallest CLDR share of a country's people for its language to be consulted."""
PHRASE_BONUS = 1.5
"""Zipf units a phrase is rarer than its rarest word, per word beyond the first."""
CJK_TWO_ZIPF = 4.5
"""Zipf frequency taken for a two-character Han or Hangul run: as common as an everyday word."""
CJK_PER_CHAR = 1.5
"""Zipf units each character beyond two takes off a Han/Hangul run (kana count half)."""

_ALIASES = {"hr": "sh", "sr": "sh", "bs": "sh", "no": "nb", "nn": "nb", "tl": "fil"}
"""CLDR language codes whose wordfreq list has another name (Serbo-Croatian, Norwegian Bokmål)."""
_NEEDS_TOKENISER = frozenset({"ja", "ko", "zh"})
"""wordfreq languages that need MeCab or jieba to split text, which are not installed."""
_WORDLISTS = frozenset(available_languages()) - _NEEDS_TOKENISER

SCRIPT_LANGUAGES = (
    (re.compile(r"[\u0370-\u03ff]"), ("el",)),
    (re.compile(r"[\u0400-\u04ff]"), ("ru", "uk", "bg", "mk", "sh")),
    (re.compile(r"[\u0590-\u05ff]"), ("he",)),
    (re.compile(r"[\u0600-\u06ff]"), ("ar", "fa", "ur")),
    (re.compile(r"[\u0900-\u097f]"), ("hi",)),
    (re.compile(r"[\u0980-\u09ff]"), ("bn",)),
    (re.compile(r"[\u0b80-\u0bff]"), ("ta",)),
)
"""The wordfreq languages written in each non-Latin script it has (Han, kana and Hangul aside)."""

UNSPACED_LETTER = r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af]"
"""A kana, Han or Hangul character: scripts written without spaces between words."""
_CJK = re.compile(UNSPACED_LETTER)
_KANA = re.compile(r"[\u3040-\u30ff]")
_WORD = re.compile(r"[^\W\d_]+")


def place_zipf(population: int) -> float:
    """Return how often (Zipf scale, in English) a place of this many people is mentioned in text."""
    return PLACE_ZIPF_SLOPE * math.log10(max(population, 1)) + PLACE_ZIPF_AT_ONE


@cache
def country_languages(country_code: str) -> tuple[str, ...]:
    """Return the wordfreq languages of a country's people (CLDR share ≥ `LANGUAGE_SHARE`), English first.

    Args:
        country_code: ISO 3166-1 alpha-2 code; an unknown code gives English only.
    """
    try:
        spoken = get_country(country_code).languages
    except KeyError:
        spoken = ()
    languages = ["en"]
    for tag, share in spoken:
        code = _ALIASES.get(tag.split("-")[0], tag.split("-")[0])
        if share >= LANGUAGE_SHARE and code in _WORDLISTS and code not in languages:
            languages.append(code)
    return tuple(languages)


@cache
def home_offset(language: str) -> float:
    """Return how much more often (Zipf units) a wordfreq language mentions towns of its own countries.

    Args:
        language: A wordfreq language other than English ("de"; "sh" counts Croatian, Serbian and
            Bosnian speakers together).
    """
    tags = [language, *(tag for tag, code in _ALIASES.items() if code == language)]
    speakers = sum(sum(countries_for_language(tag).values()) for tag in tags)
    english = sum(countries_for_language("en").values())
    return HOME_AT_ENGLISH + HOME_SLOPE * math.log10(english / max(speakers, 1.0))


def phrase_zipf(phrase: str, language: str) -> float:
    """Return how common a phrase is as text in one language (Zipf scale, 0 for unknown words).

    A multi-word phrase is its rarest word less `PHRASE_BONUS` per extra word; a phrase with Han, kana
    or Hangul is scored by its length (see the module docstring), whatever the language.
    """
    if _CJK.search(phrase):
        return _cjk_zipf(phrase)
    words = _WORD.findall(phrase)
    if not words:
        return 0.0
    rarest = min(word_zipf(word.casefold(), language) for word in words)
    return max(0.0, rarest - PHRASE_BONUS * (len(words) - 1))


def _cjk_zipf(phrase: str) -> float:
    """Return the Zipf frequency taken for a phrase with Han, kana or Hangul: by its length."""
    chars = len(_CJK.findall(phrase)) - len(_KANA.findall(phrase)) / 2
    return max(0.0, CJK_TWO_ZIPF - CJK_PER_CHAR * (chars - 2))


@cache
def word_zipf(word: str, language: str) -> float:
    """Return a word's Zipf frequency in a wordfreq language (0 when unknown or the list is missing)."""
    return float(zipf_frequency(word, language)) if language in _WORDLISTS else 0.0


def wordfreq_languages() -> frozenset[str]:
    """Return the wordfreq languages whose lists can be read here (those needing no tokeniser)."""
    return _WORDLISTS


KNOWN_ZIPF = 1.0
"""A word with at least this Zipf frequency in a language (once per 100 million words) is a word of it."""


def known_share(text: str, language: str) -> float | None:
    """Return the share of a text's words of three letters or more found in a language's word list.

    None when wordfreq has no list for the language (or none without a tokeniser), or the text has no
    such word: then nothing can be said. Used to check that text identified as a language is made of
    its words, not of OCR noise the detector had to call something.
    """
    lang = _ALIASES.get(language, language)
    words = [w.casefold() for w in _WORD.findall(text) if len(w) >= 3]
    if lang not in _WORDLISTS or not words:
        return None
    return sum(word_zipf(w, lang) >= KNOWN_ZIPF for w in words) / len(words)


def place_chance(phrase: str, population: int, languages: Sequence[str] = ("en",)) -> float:
    """Return the chance that a phrase read in a photo names a place of this size, not an ordinary word.

    Args:
        phrase: The text read, e.g. "Mission" or "Titusville".
        population: The place's population (a landmark: the population of a town as well known).
        languages: The place's home languages in wordfreq, e.g. `country_languages(place's country)`;
            English and the languages of the phrase's script are read too, without `home_offset`
            unless they are among these (English never has one).

    Returns:
        min(1, 10 ** (expected − observed)) for the language where the phrase is most ordinary
        relative to what the place explains: 1 for a rare name, near 0 for an everyday word.
    """
    base = place_zipf(population)
    if _CJK.search(phrase):  # written in the place's own script: compared as home-language text
        return min(1.0, math.pow(10.0, base + HOME_OFFSET - _cjk_zipf(phrase)))
    written = [lang for pattern, langs in SCRIPT_LANGUAGES if pattern.search(phrase) for lang in langs]
    home = set(languages) - {"en"}
    excess = max(
        phrase_zipf(phrase, language) - base - (home_offset(language) if language in home else 0.0)
        for language in dict.fromkeys(("en", *languages, *written))
    )
    return min(1.0, math.pow(10.0, -excess))
