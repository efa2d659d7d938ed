"""The gazetteer's name folding (searches on the real GeoNames index: tests/integration)."""

from __future__ import annotations

from geosleuth.tools.gazetteer_index import fold


def test_fold_strips_case_accents_and_punctuation():
    assert fold("Île-de-France") == "ile de france"
    assert fold("  ZÜRICH ") == "zurich"
    assert fold("Straße") == "strasse"
    assert fold("Łódź") == "lodz"
    assert fold("Saint-Ouen, l'Aumône") == "saint ouen l aumone"
