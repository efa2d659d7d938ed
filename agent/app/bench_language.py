"""`geosleuth bench --suite language`: how often the language detector is right on short texts.

Known sentences, Article 1 of the Universal Declaration of Human Rights in 50 languages
(`tools/data/udhr_article1.tsv`, the UN's translations), are cut into snippets of `SNIPPET_LENGTHS`
letters, one starting at every word (at every third letter in scripts written without spaces), and each
snippet goes to the detector as the language clue uses it (lingua, low-accuracy models, only languages
written in the snippet's script). Printed: accuracy per language and length, per script (the mean over
its languages), the top confusions, accuracy by the detector's own confidence, how often the language
clue fires on a snippet and is right, how often the word-list identifier reads a snippet and is right, and
the `MIN_LETTERS` table this measurement gives
(`thresholds`), which must equal `geosleuth.tools.clues.language.MIN_LETTERS` (a unit test checks).
"""

from __future__ import annotations

import unicodedata
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from importlib import resources
from typing import NamedTuple

from geosleuth.app.cli_common import make_console
from geosleuth.core.config import Settings
from geosleuth.tools.clues.language import (
    MIN_LETTERS,
    SNIPPET_LENGTHS,
    TARGET_ACCURACY,
    detector_languages,
    identify_many,
    language_clues,
    speaker_shares,
    word_languages,
)
from geosleuth.tools.clues.vocabulary import MIN_POSTERIOR, cldr_languages, identify_by_words

SENTENCES = "udhr_article1.tsv"
UNSPACED = ("Jpan", "Hans", "Hant", "Thai")
"""Writing systems without spaces between words: snippets start at every `UNSPACED_STEP`-th letter."""
UNSPACED_STEP = 3
CONFIDENCE_BINS = (0.0, 0.2, 0.4, 0.6, 0.8, 0.9, 1.01)


class Sentence(NamedTuple):
    """One known sentence: its language (ISO 639-1), its script (ISO 15924) and its text."""

    lang: str
    script: str
    text: str


class Outcome(NamedTuple):
    """What the detector said about one snippet of a known sentence."""

    lang: str
    script: str
    letters: int
    guessed: str | None
    confidence: float
    clue: str | None
    """The language of the clue `language_clues` gives for the snippet alone, None when it gives none."""
    by_words: str | None = None
    """The word-list identifier's top language (`vocabulary.identify_by_words`), None without a reading."""
    words_posterior: float = 0.0


@dataclass
class Measurement:
    """The outcomes of every snippet, with the summaries the bench prints."""

    outcomes: list[Outcome] = field(default_factory=list)

    def accuracy(self, lang: str, letters: int) -> float | None:
        """Return the share of snippets of a language and length whose top language is right."""
        hits = [o.guessed == o.lang for o in self.outcomes if o.lang == lang and o.letters == letters]
        return sum(hits) / len(hits) if hits else None

    def script_accuracy(self, script: str, letters: int) -> float | None:
        """Return the mean over a script's languages of their accuracy at a length."""
        langs = dict.fromkeys(o.lang for o in self.outcomes if o.script == script)
        values = [a for a in (self.accuracy(lang, letters) for lang in langs) if a is not None]
        return sum(values) / len(values) if values else None

    def confusions(self, top: int = 15) -> list[tuple[str, str, int, dict[int, int]]]:
        """Return the most frequent (true language, guessed language, count, count per length)."""
        counts: Counter[tuple[str, str]] = Counter()
        per_length: dict[tuple[str, str], Counter[int]] = defaultdict(Counter)
        for o in self.outcomes:
            if o.guessed != o.lang:
                key = (o.lang, o.guessed or "none")
                counts[key] += 1
                per_length[key][o.letters] += 1
        return [(a, b, n, dict(per_length[a, b])) for (a, b), n in counts.most_common(top)]

    def calibration(self, scripts: tuple[str, ...]) -> list[tuple[float, float, int, float]]:
        """Return (low, high, snippets, accuracy) per bin of the detector's confidence in its answer."""
        rows = []
        for low, high in zip(CONFIDENCE_BINS, CONFIDENCE_BINS[1:], strict=False):
            hits = [o.guessed == o.lang for o in self.outcomes
                    if o.script in scripts and low <= o.confidence < high]
            if hits:
                rows.append((low, min(high, 1.0), len(hits), sum(hits) / len(hits)))
        return rows

    def words_rates(self, letters: int, low: float, high: float = 1.01) -> tuple[int, float, float | None]:
        """Return the word-list readings at a length with a posterior in [low, high).

        Returns:
            How many snippets, their share of all snippets of that length, and the share of them whose
            word-list language is right (None when there are none).
        """
        at = [o for o in self.outcomes if o.letters == letters]
        within = [o for o in at if o.by_words is not None and low <= o.words_posterior < high]
        hits = sum(o.lang in cldr_languages(o.by_words or "") for o in within)
        right = hits / len(within) if within else None
        return len(within), (len(within) / len(at) if at else 0.0), right

    def clue_rates(self, letters: int) -> tuple[float, float | None]:
        """Return, at a length, the share of snippets giving a language clue and the share of those right."""
        at = [o for o in self.outcomes if o.letters == letters]
        fired = [o for o in at if o.clue is not None]
        right = sum(o.lang in cldr_languages(o.clue or "") for o in fired) / len(fired) if fired else None
        return (len(fired) / len(at) if at else 0.0), right


def load_sentences() -> list[Sentence]:
    """Read the known sentences shipped in `geosleuth.tools` (data/udhr_article1.tsv)."""
    text = (resources.files("geosleuth.tools") / "data" / SENTENCES).read_text(encoding="utf-8")
    rows = [line.split("\t") for line in text.splitlines() if line.strip() and not line.startswith("#")]
    return [Sentence(lang, script, sentence) for lang, script, sentence in rows]


def snippets(text: str, letters: int, *, unspaced: bool = False) -> list[str]:
    """Cut a text into snippets of exactly `letters` letters (with what lies between them).

    Snippets start at every word, or at every `UNSPACED_STEP`-th letter for a script written without
    spaces, and end after their last letter's combining marks; none runs past the text's end.
    """
    starts = [i for i, ch in enumerate(text)
              if ch.isalpha() and (unspaced or i == 0 or not (text[i - 1].isalpha() or text[i - 1] in "'’-"))]
    if unspaced:
        starts = starts[::UNSPACED_STEP]
    out = []
    for start in starts:
        count, end = 0, start
        while end < len(text) and count < letters:
            count += text[end].isalpha()
            end += 1
        if count < letters:
            break
        while end < len(text) and unicodedata.category(text[end]).startswith("M"):
            end += 1
        out.append(text[start:end])
    return out


def measure(
    sentences: list[Sentence] | None = None, lengths: tuple[int, ...] = SNIPPET_LENGTHS, *, clues: bool = True
) -> Measurement:
    """Run the detector on every snippet of every known sentence, as the language clue would.

    Args:
        sentences: The known sentences; all of `load_sentences()` by default.
        lengths: Snippet lengths in letters.
        clues: Also run `language_clues` on each snippet alone (`Outcome.clue`); None there otherwise.
    """
    measurement = Measurement()
    for sentence in sentences if sentences is not None else load_sentences():
        for letters in lengths:
            cut = snippets(sentence.text, letters, unspaced=sentence.script in UNSPACED)
            for snippet, guesses in zip(cut, identify_many(cut), strict=True):
                fits = [(lang, c) for lang, c in guesses if speaker_shares(lang, sentence.script)] or guesses
                guessed, confidence = fits[0] if fits else (None, 0.0)
                found = language_clues([snippet]) if clues else []
                clue = found[0].value if found else None
                read = identify_by_words(snippet, word_languages(sentence.script))
                by_words, posterior = read[0] if read else (None, 0.0)
                measurement.outcomes.append(Outcome(
                    sentence.lang, sentence.script, letters, guessed, confidence, clue, by_words, posterior
                ))
    return measurement


def thresholds(measurement: Measurement, target: float = TARGET_ACCURACY) -> dict[str, int]:
    """Return the `MIN_LETTERS` table a measurement gives.

    A script is identified from the shortest measured length at which the detector is right for `target`
    of its snippets (mean over the script's languages), and only if the detector can choose between two
    or more languages written in it; other scripts are left out.
    """
    table = {}
    for script in dict.fromkeys(o.script for o in measurement.outcomes):
        if len(detector_languages(script)) < 2:
            continue
        lengths = sorted({o.letters for o in measurement.outcomes if o.script == script})
        for letters in lengths:
            accuracy = measurement.script_accuracy(script, letters)
            if accuracy is not None and accuracy >= target:
                table[script] = letters
                break
    return table


def _percent(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.0f}"


def run(settings: Settings) -> None:
    """Measure the language detector on snippets of the known sentences and print the tables."""
    from rich.table import Table

    del settings  # the detector has no settings
    console = make_console()
    sentences = load_sentences()
    measurement = measure(sentences)
    lengths = SNIPPET_LENGTHS
    table = Table(title="language detector: % of snippets whose top language is right", title_justify="left")
    for column in ("language", "script", *(f"{n} letters" for n in lengths)):
        table.add_column(column)
    for sentence in sentences:
        table.add_row(sentence.lang, sentence.script,
                      *(_percent(measurement.accuracy(sentence.lang, n)) for n in lengths))
    console.print(table)
    scripts = Table(title="per script: mean over its languages (%)", title_justify="left")
    for column in ("script", "languages", *(f"{n}" for n in lengths), "MIN_LETTERS"):
        scripts.add_column(column)
    derived = thresholds(measurement)
    for script in dict.fromkeys(s.script for s in sentences):
        count = sum(s.script == script for s in sentences)
        accuracies = (_percent(measurement.script_accuracy(script, n)) for n in lengths)
        scripts.add_row(script, str(count), *accuracies, str(derived.get(script, "not identified")))
    console.print(scripts)
    confusions = Table(title="top confusions (all lengths)", title_justify="left")
    for column in ("true", "read as", "snippets", *(f"{n}" for n in lengths)):
        confusions.add_column(column)
    for true, guessed, count, per_length in measurement.confusions():
        confusions.add_row(true, guessed, str(count), *(str(per_length.get(n, 0)) for n in lengths))
    console.print(confusions)
    calibration = Table(title="accuracy by the detector's confidence (Latin, Cyrillic, Arabic)",
                        title_justify="left")
    for column in ("confidence", "snippets", "right %"):
        calibration.add_column(column)
    for low, high, count, accuracy in measurement.calibration(("Latn", "Cyrl", "Arab")):
        calibration.add_row(f"{low:.1f}-{high:.1f}", str(count), _percent(accuracy))
    console.print(calibration)
    words = Table(title="word lists (all 50 languages, 8 with no list): snippets read at posterior >= "
                  f"{MIN_POSTERIOR} and right among them", title_justify="left")
    for column in ("letters", "read %", "right %", "posterior 0.5-0.9: n, right %"):
        words.add_column(column)
    for n in lengths:
        _, share, right = measurement.words_rates(n, MIN_POSTERIOR)
        count, _, below = measurement.words_rates(n, 0.5, MIN_POSTERIOR)
        words.add_row(str(n), _percent(share), _percent(right), f"{count}, {_percent(below)}")
    console.print(words)
    clue = Table(title="the language clue on one snippet alone", title_justify="left")
    for column in ("letters", "gives a clue %", "clue right %"):
        clue.add_column(column)
    for n in lengths:
        fired, right = measurement.clue_rates(n)
        clue.add_row(str(n), _percent(fired), _percent(right))
    console.print(clue)
    same = "equal to" if derived == MIN_LETTERS else "DIFFERENT FROM"
    console.print(f"thresholds measured: {derived}, {same} MIN_LETTERS {MIN_LETTERS}"
                  f" (target {TARGET_ACCURACY:.0%})")
