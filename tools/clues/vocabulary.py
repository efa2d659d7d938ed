"""Language from the words themselves: a word-list identifier for texts too short for the detector.

A sign often holds two or three words ("DU BARRAGE", "Gare du", "RECEPCE"): too few letters for lingua
to be right (`geosleuth.tools.clues.language.MIN_LETTERS`), yet a human geolocator reads them as French
or Czech at a glance, because they are common words of one language and rare in the others. This
identifier does the same with wordfreq's word lists: each language's likelihood of the text is the
product of its words' frequencies there (a unigram model, naive Bayes with every language equally likely
beforehand), a word missing from a list counts as `FLOOR_ZIPF`, and the posterior is normalised over the
languages wordfreq has in the text's script. A word every list knows about equally ("hotel",
"restaurant") moves nothing; one known in a single language ("recepce") moves a lot; OCR noise known in
none moves nothing either.

How often its top language is right on short snippets of known sentences, by its posterior, is measured
by `geosleuth bench --suite language` and gives `MIN_POSTERIOR` (docs/text_clues.md).
"""

from __future__ import annotations

import math

import regex

from geosleuth.tools.word_rarity import word_zipf

FLOOR_ZIPF = 1.0
"""Zipf frequency taken for a word missing from a language's list (wordfreq lists stop about there:
once per hundred million words)."""

MIN_POSTERIOR = 0.9
"""Posterior the top language needs for the text to be called that language (measured: see the module
docstring)."""

MIN_WORD_LETTERS = 2
"""Shorter tokens (initials, lone letters of OCR noise) are not read as words."""

LOCAL_WORDS = 4
"""Words from which a text reads as written for the locals. A shorter one is likely a name (a shop, a
dish, a brand: "Cafe du Monde" in New Orleans, "Pizzeria Napoli" anywhere), and names travel, so its
clue's weight is scaled by words / `LOCAL_WORDS`. A modelling assumption from general knowledge (shop
names borrow French, Italian and English everywhere), not a measurement."""

SPLIT_LANGUAGES = {"sh": ("hr", "sr", "bs")}
"""wordfreq lists that stand for several CLDR languages: Serbo-Croatian is Croatian, Serbian and Bosnian."""

_WORD = regex.compile(r"\p{L}+(?:['’]\p{L}+)*")


def identify_by_words(text: str, languages: tuple[str, ...]) -> list[tuple[str, float]]:
    """Return the languages of a text by its words' frequencies, most likely first.

    Args:
        text: The text's letters of one script (other scripts blanked out).
        languages: The wordfreq languages written in that script, to choose from.

    Returns:
        (wordfreq language code, posterior) pairs summing to one over `languages` (`cldr_languages` turns
        a code into the CLDR languages it stands for); empty when the text has no word of
        `MIN_WORD_LETTERS` letters or there are fewer than two languages to choose from.
    """
    words = [w.casefold() for w in _WORD.findall(text) if len(w) >= MIN_WORD_LETTERS]
    if not words or len(languages) < 2:
        return []
    scores = {
        lang: sum(max(word_zipf(word, lang), FLOOR_ZIPF) for word in words) * math.log(10)
        for lang in languages
    }
    peak = max(scores.values())
    total = sum(math.exp(s - peak) for s in scores.values())
    ranked = sorted(scores.items(), key=lambda item: -item[1])
    return [(lang, math.exp(score - peak) / total) for lang, score in ranked]


def word_count(text: str) -> int:
    """Return how many words of `MIN_WORD_LETTERS` letters or more a text has."""
    return sum(len(w) >= MIN_WORD_LETTERS for w in _WORD.findall(text))


def cldr_languages(lang: str) -> tuple[str, ...]:
    """Return the CLDR languages a wordfreq language stands for ("sh" -> Croatian, Serbian, Bosnian)."""
    return SPLIT_LANGUAGES.get(lang, (lang,))
