"""Localizability on photos read by the real OCR (the score on hand-built evidence: tests/unit)."""

from __future__ import annotations

import pytest

from geosleuth.core.paths import source_root
from geosleuth.core.photo import load_photo
from geosleuth.core.state import Evidence
from geosleuth.run.fusion import Fusion, prior_belief
from geosleuth.tools.localizability import localizability
from geosleuth.tools.ocr import read_text
from geosleuth.tools.text_clues import read_clues

EXAMPLES = source_root() / "examples"


def fused(*evidence: Evidence) -> Fusion:
    fusion = Fusion(prior_belief("gdp"))
    for item in evidence:
        fusion.add(item)
    return fusion


@pytest.mark.slow
def test_a_photo_with_a_readable_sign_scores_higher_than_one_without():
    scores = {}
    for name in ("gr_athens_pharmacy.jpg", "us_kennedy_space_center.jpg"):
        read = read_text(load_photo(EXAMPLES / name).image)
        clues = read_clues([line["text"] for line in read.observations.get("lines", [])])
        scores[name] = localizability([read, clues], fused(read, clues).belief)
    blank = load_photo(EXAMPLES / "gr_athens_pharmacy.jpg").image.resize((64, 64)).convert("L").convert("RGB")
    blank.paste((128, 128, 128), (0, 0, 64, 64))
    read = read_text(blank)
    clues = read_clues([])
    scores["grey"] = localizability([read, clues], fused(read, clues).belief)
    assert scores["gr_athens_pharmacy.jpg"] > 0.5 > scores["grey"]
    assert all(0 <= s <= 1 for s in scores.values())
