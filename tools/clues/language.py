"""Language clue: the language of the text (lingua), as likelihoods over the countries speaking it.

The detector is only asked where its answer is worth having, and its own confidence sets the clue's
strength:

* The text is split by writing system (each line goes with its main script; letters of other scripts
  are left out of it), so Latin words in a Japanese photo are judged as Latin text, and Japanese text
  can never come out as a language written in Latin letters (Finnish), nor the reverse.
* A writing system's text is identified only when it has at least `MIN_LETTERS` letters: the length at
  which the detector names the right language for `TARGET_ACCURACY` of the snippets of known sentences
  (Article 1 of the UDHR in 50 languages, `geosleuth bench --suite language`; table and choice in
  docs/text_clues.md). Scripts written in one detectable language (Greek, Hangul, kana, Thai, Hebrew,
  Georgian, ...) get no language clue, since the script clue says it already; nor do Han characters
  alone (the detector calls them Chinese by rule, Japanese place names included), nor Devanagari
  (Hindi and Marathi stay confused at every measured length).
* The likelihood mixes, by the detector's confidence, the countries of each language written in the
  text's script (share of each country's people speaking it), and the weight is the detector's
  confidence in its top language times how distinctive the mixture is (English fits most countries a
  bit), not a curve of the text's length, times the share of the text's words found in that language's
  word list (wordfreq; `UNLISTED` for a language without one): OCR noise the detector must call
  something (Tsonga, Yoruba, Esperanto for garbled Latin letters) is not made of a language's words.
* The same text is also read by its words (`geosleuth.tools.clues.vocabulary`, wordfreq's lists of 42
  languages), at any length: "DU BARRAGE" is French, though far too short for the detector. That
  reading counts when its posterior reaches `vocabulary.MIN_POSTERIOR`, with the same likelihood and
  weight rule, its posterior as the confidence; of the two readings, the one with the larger weight
  is the clue.
"""

from __future__ import annotations

from collections import defaultdict
from functools import cache
from typing import Any

import regex

from geosleuth.core.countries import all_countries, countries_for_language
from geosleuth.tools.clues.base import HOST, NOT_WORDS, Clue, distinctiveness, relative, shares
from geosleuth.tools.clues.script import letter_counts, writing_system
from geosleuth.tools.clues.vocabulary import (
    LOCAL_WORDS,
    MIN_POSTERIOR,
    cldr_languages,
    identify_by_words,
    word_count,
)
from geosleuth.tools.word_rarity import known_share, wordfreq_languages

TARGET_ACCURACY = 0.9
"""Share of known-sentence snippets of a script (mean over its languages) the detector must get right at
a length for texts of that length to be identified."""

SNIPPET_LENGTHS = (8, 12, 16, 24, 32, 48)
"""Snippet lengths, in letters, at which the detector is measured."""

MIN_LETTERS: dict[str, int] = {"Latn": 32, "Cyrl": 32, "Arab": 48}
"""Letters of one script a text needs before its language is identified, per ISO 15924 script.

Measured with lingua's low-accuracy models on the snippets of `SNIPPET_LENGTHS` letters (mean accuracy
over the script's languages; docs/text_clues.md): Latin 53 % at 8 letters, 78 % at 16, 88 % at 24, 92 %
at 32; Cyrillic 86 % at 24, 90 % at 32; Arabic script 88 % at 32, 97 % at 48. Scripts not listed are
not identified. A unit test derives this table again from the measurement."""

MIN_CONFIDENCE = 0.01
"""Languages the detector gives less confidence than this are left out of the clue's mixture."""

WEIGHT_BASE = 0.7
"""Weight of a certain language clue (confidence 1) that fits every country alike (as before the
measurement: only the length curve it was multiplied by is replaced, by the detector's confidence)."""

WEIGHT_DISTINCT = 0.25
"""Weight added to a certain language clue as it fits fewer countries (up to 0.95 for one country)."""

SIGNAGE_FLOOR: dict[str, float] = {"en": 0.2}
"""Smallest likelihood a language gets in any country, for languages written on signs well beyond their
speakers: English is the world's lingua franca of shop names, brands, tourist and transport signs (Japan,
China, Korea, the Gulf, Europe). Without it an English sign would cut a country where few people speak
English fifty-fold; with it, five-fold. A modelling assumption from general knowledge, not a fit."""

UNLISTED = 0.3
"""Weight factor of a language with no word list to check the text against (`known_share` is None)."""

_NORMALISE = str.maketrans("șțȘȚ", "şţŞŢ")
"""Romanian letters with a comma below, as the detector's models spell them (with a cedilla): measured,
'Ele sunt înzestrate cu rațiune și conștiință' reads as Tagalog, with cedillas as Romanian (1.0)."""


@cache
def _detector() -> Any:
    """Build the lingua detector once, for all spoken languages (no Latin), in low-accuracy mode.

    Measured: ~70 MB and 0.35 s to first answer, against ~1.1 GB and 10 s for the high-accuracy models.
    """
    from lingua import LanguageDetectorBuilder

    return LanguageDetectorBuilder.from_all_spoken_languages().with_low_accuracy_mode().build()


def _guesses(values: Any) -> list[tuple[str, float]]:
    return [(v.language.iso_code_639_1.name.lower(), float(v.value)) for v in values if v.value > 0]


def identify(text: str) -> list[tuple[str, float]]:
    """Return the detector's languages for a text, most likely first.

    Returns:
        (ISO 639-1 code in lower case, confidence) pairs with a confidence above zero; the confidences of
        all languages sum to one.
    """
    return _guesses(_detector().compute_language_confidence_values(text.translate(_NORMALISE)))


def identify_many(texts: list[str]) -> list[list[tuple[str, float]]]:
    """Return `identify` for each text, computed in parallel."""
    normalised = [text.translate(_NORMALISE) for text in texts]
    found = _detector().compute_language_confidence_values_in_parallel(normalised)
    return [_guesses(values) for values in found]


@cache
def speaker_shares(lang: str, script: str) -> dict[str, float]:
    """Return the share of each country's people speaking a language written in a script.

    Empty when no country writes the language in that script ('fi' in 'Jpan'), so no text in the script
    can be that language.
    """
    return shares(countries_for_language(f"{lang}-{script}"))


@cache
def detector_languages(script: str) -> frozenset[str]:
    """Return the detector's languages (ISO 639-1) that some country writes in a script (ISO 15924)."""
    from lingua import Language

    codes = (language.iso_code_639_1.name.lower() for language in Language.all_spoken_ones())
    return frozenset(code for code in codes if speaker_shares(code, script))


def only_script(text: str, script: str) -> str:
    """Return the text with the letters of other scripts than `script` (ISO 15924) blanked out."""
    return str(regex.sub(rf"[^\P{{L}}\p{{Script={script}}}]+", " ", text))


def language_clues(texts: list[str]) -> list[Clue]:
    """Identify the language of the texts, at most one clue per writing system.

    Each text (an OCR line) goes with its writing system; the lines of one system are read together, by
    the word lists (`words_clue`) and, with enough letters, by the detector (`clue_for`): the clue with
    the larger weight counts (the detector must call OCR noise something; the word lists know only their
    42 languages).
    """
    groups: dict[str, list[str]] = defaultdict(list)
    for raw in texts:
        text = NOT_WORDS.sub(" ", HOST.sub(" ", raw))
        system = writing_system(letter_counts(text))
        if system in MIN_LETTERS:
            groups[system].append(only_script(text, system))
    clues = []
    for script, parts in groups.items():
        joined = " ".join(" ".join(parts).split())
        letters = sum(ch.isalpha() for ch in joined)
        found = [words_clue(joined, script, letters)]
        if letters >= MIN_LETTERS[script]:
            found.append(clue_for(joined, script, letters))
        best = max((clue for clue in found if clue is not None), key=lambda clue: clue.weight, default=None)
        if best is not None:
            clues.append(best)
    return clues


def clue_for(text: str, script: str, letters: int) -> Clue | None:
    """Return the detector's language clue for a text in one script, or None when no language fits."""
    guesses = [(lang, c) for lang, c in identify(text) if c >= MIN_CONFIDENCE and _shares(lang, script)]
    return _clue(text, script, letters, guesses, "detector")


def words_clue(text: str, script: str, letters: int) -> Clue | None:
    """Return the word-list language clue for a text of one script (any length), or None.

    The text is called a language only when the word-list identifier's posterior for it reaches
    `vocabulary.MIN_POSTERIOR` (`geosleuth.tools.clues.vocabulary`); a text of fewer than
    `vocabulary.LOCAL_WORDS` words weighs less (it is likely a name, and names travel).
    """
    read = identify_by_words(text, word_languages(script))
    guesses = [(lang, p) for lang, p in read if p >= MIN_CONFIDENCE]
    if not guesses or guesses[0][1] < MIN_POSTERIOR:
        return None
    clue = _clue(text, script, letters, guesses, "word lists")
    if clue is not None:
        clue.weight *= min(1.0, word_count(text) / LOCAL_WORDS)
    return clue


@cache
def word_languages(script: str) -> tuple[str, ...]:
    """Return the wordfreq languages some country writes in a script (ISO 15924)."""
    return tuple(sorted(lang for lang in wordfreq_languages() if _shares(lang, script)))


def _shares(lang: str, script: str) -> dict[str, float]:
    """Speaker shares of a detector or wordfreq language written in a script (summed over its parts)."""
    total: dict[str, float] = defaultdict(float)
    for part in cldr_languages(lang):
        for code, share in speaker_shares(part, script).items():
            total[code] += share
    return total


def _clue(text: str, script: str, letters: int, guesses: list[tuple[str, float]], method: str) -> Clue | None:
    """Build the language clue from (language, confidence) guesses, best first; None when none fits."""
    if not guesses:
        return None
    mixture: dict[str, float] = defaultdict(float)
    for lang, confidence in guesses:
        for code, share in _shares(lang, script).items():
            mixture[code] += confidence * share
    likes = relative(mixture)
    if not likes:
        return None
    for lang, confidence in guesses:
        if lang in SIGNAGE_FLOOR:
            floor = confidence * SIGNAGE_FLOOR[lang]
            likes = {code: max(likes.get(code, 0.0), floor) for code in all_countries()}
    top, confidence = guesses[0]
    known = known_share(text, top)
    lexical = UNLISTED if known is None else known
    weight = lexical * confidence * (WEIGHT_BASE + WEIGHT_DISTINCT * distinctiveness(likes))
    extra = {
        "letters": letters,
        "script": script,
        "method": method,
        "confidence": round(confidence, 3),
        "known_words": None if known is None else round(known, 3),
        "languages": {lang: round(c, 3) for lang, c in guesses[:5]},
    }
    return Clue("language", top, likes, weight, extra)
