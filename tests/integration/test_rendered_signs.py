"""Signs rendered in several scripts and languages, read by the real OCR, then turned into clues.

The script and language clues must hold on what the OCR really reads: rare scripts point to their
countries, Latin alone says nothing, a language is named by the detector only from a long enough text,
by the word lists from a few common words, never from a script it is not written in, and a
photographer's credit names no language.
"""

from __future__ import annotations

import pytest
from PIL import Image

from geosleuth.core.countries import population_prior
from geosleuth.core.state import Belief, Evidence
from geosleuth.evals.scenes import FontMissingError, base_photo, render_sign
from geosleuth.tools.ocr import read_text, tesseract_packs
from geosleuth.tools.text_clues import _find_clues, _pool, _summary, read_clues

SIZE = (1224, 816)

SIGNS = [
    # (id, base photo, lines, tesseract packs needed, expected language or None, countries expected on top)
    ("english", "rocket.jpg", ["NATIONAL MUSEUM", "Please keep your ticket until", "the end of your visit"],
     (), "en", None),
    ("german", "coffee.png", ["Bitte beachten Sie", "die Öffnungszeiten", "Der Eingang ist im Hof"],
     (), "de", None),
    ("french", "brick.png", ["Boulangerie du Marché", "Pain frais et croissants", "tous les jours"],
     (), "fr", None),
    ("russian", "grass.png", ["Добро пожаловать", "Вход через главные ворота"], ("Cyrillic",), "ru", None),
    ("greek", "gravel.png", ["ΦΑΡΜΑΚΕΙΟ", "Αθήνα"], ("Greek",), None, {"GR", "CY"}),
    ("korean", "chelsea.png", ["남산공원", "서울특별시 중구"], ("Hangul",), None, {"KR", "KP"}),
    ("japanese", "rocket.jpg", ["東京都 渋谷区", "ありがとうございます"], (), None, {"JP"}),
]


def _sign(base: str, lines: list[str]) -> Image.Image:
    try:
        return render_sign(base_photo(base, size=SIZE), lines, position=(0.08, 0.1), size=0.5,
                           colours=("#0b3d91", "#ffffff"), perspective=0.05)
    except FontMissingError as exc:
        pytest.skip(f"font missing: {exc}")


def _need(packs: tuple[str, ...]) -> None:
    if not packs:
        return
    have = tesseract_packs()
    missing = [p for p in packs if p not in have]
    if missing:
        pytest.skip(f"tesseract packs {missing} are not installed (scripts/install-system-deps.sh)")


def _read(image: Image.Image) -> list[str]:
    evidence = read_text(image)
    assert evidence.ok, evidence.summary
    return [line["text"] for line in evidence.observations["lines"]]


def _languages(evidence: Evidence) -> list[dict]:
    return [c for c in evidence.observations["clues"] if c["kind"] == "language"]


@pytest.mark.parametrize(
    ("name", "base", "lines", "packs", "language", "top"), SIGNS, ids=[s[0] for s in SIGNS]
)
def test_rendered_sign_clues(name, base, lines, packs, language, top):
    _need(packs)
    read = _read(_sign(base, lines))
    evidence = read_clues(read)
    assert evidence.ok, (read, evidence.summary)
    found = _languages(evidence)
    if language:
        assert [c["value"] for c in found] == [language], (read, found)
        assert found[0]["confidence"] > 0.5
    else:
        assert not found, (read, found)  # the script says it all; no language from the script again
    assert not any(c["value"] == "fi" for c in found)
    if top:
        likes = evidence.country_likelihoods
        best = sorted(likes, key=lambda c: -likes[c])[: len(top)]
        assert set(best) == top, (read, evidence.summary)
        # One script clue moves the population prior at most 50-fold (the likelihood floor): Greece stays
        # behind China and India on Greek letters alone, but comes next.
        belief = Belief.from_prior(population_prior()).update(evidence)
        assert top & {code for code, _ in belief.top(3)}


def test_short_latin_sign_is_faint_and_names_no_country():
    read = _read(_sign("coffee.png", ["HOTEL CENTRAL"]))
    assert any("HOTEL" in line.upper() for line in read), read
    clues = _find_clues(read)
    assert [c.kind for c in clues] == ["script"] and clues[0].value == "Latn" and clues[0].weight < 0.05
    likelihoods, strength = _pool(clues)
    assert strength < 0.05
    assert _summary(clues, likelihoods).endswith("Latin: no country stands out")


@pytest.mark.parametrize(("lines", "language"), [
    (["HOTEL RESTAURANT", "DU BARRAGE"], "fr"), (["Salida de emergencia"], "es"),
    (["Uscita di sicurezza"], "it"), (["Kein Ausgang"], "de"),
])
def test_short_signs_name_their_language_by_their_words(lines, language):
    """Far below the detector's 32 letters, a few common words of one language still name it."""
    read = _read(_sign("brick.png", lines))
    (found,) = _languages(read_clues(read))
    assert found["value"] == language and found["method"] == "word lists", (read, found)


def test_photographer_credit_names_no_language():
    read = _read(_sign("chelsea.png", ["© Frane Medak"]))
    assert any("Medak" in line for line in read), read
    assert not _languages(read_clues(read))

