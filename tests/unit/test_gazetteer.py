"""The gazetteer's name folding, phrases and layout (searches on the real index: tests/integration)."""

from __future__ import annotations

from geosleuth.tools.gazetteer import IN_LINE, LOWER_CASE, _layout, _phrases
from geosleuth.tools.gazetteer_index import fold


def test_fold_strips_case_accents_and_punctuation():
    assert fold("Île-de-France") == "ile de france"
    assert fold("  ZÜRICH ") == "zurich"
    assert fold("Straße") == "strasse"
    assert fold("Łódź") == "lodz"
    assert fold("Saint-Ouen, l'Aumône") == "saint ouen l aumone"


def texts(line: str) -> list[str]:
    """Return the phrases of a line that would be looked up, longest first."""
    return [text for _, _, text, _ in _phrases(line)]


def test_phrases_longest_first_never_at_stop_words_or_glued_to_digits():
    assert texts("Welcome to Frankfurt") == ["Welcome to Frankfurt", "Welcome", "Frankfurt"]
    assert texts("4LAE651 B8631") == []  # letters inside a plate are no word
    assert texts("Stuttgart 45 km") == ["Stuttgart km", "Stuttgart"]
    assert texts("www.paris.com info@lyon.fr") == []


def test_unspaced_scripts_give_every_substring_once():
    found = texts("東京都")
    assert found == ["東京都", "東京", "京都"]


def test_layout_reads_a_capitalised_line_of_its_own_as_a_name():
    words = ["Titusville", "Florida"]
    assert _layout("Titusville", ["Titusville", "km"], 0, 1) == 1.0  # short words do not count
    assert _layout("Titusville", words, 0, 1) == IN_LINE
    assert _layout("cove", ["cove"], 0, 1) == LOWER_CASE
    assert _layout("never", ["we", "never", "forget"], 1, 2) == IN_LINE * LOWER_CASE
    assert _layout("渋谷", ["東京都渋谷区"], 10_002, 10_004) == 1.0
