"""The scene tool's label tables and what they make of given label probabilities (no model)."""

from __future__ import annotations

import csv
import math
from importlib import resources

import numpy as np
import pytest

from geosleuth.core.countries import all_countries
from geosleuth.core.state import Evidence
from geosleuth.run.fusion import Fusion, prior_belief
from geosleuth.tools import get_spec, scene, scene_labels
from geosleuth.tools.clues.base import parse_shares
from geosleuth.tools.scene_labels import LOCATABILITY, MIN_LABEL_P, TELLING, country_likelihoods


def rows(name: str) -> list[dict[str, str]]:
    text = resources.files("geosleuth.tools").joinpath(name).read_text(encoding="utf-8")
    return list(csv.DictReader(text.splitlines()))


def probs_of(labels: dict[str, float]) -> np.ndarray:
    """A softmax-like vector: the given labels, the rest spread evenly over the other classes."""
    names = scene.class_names()
    p = np.full(1000, (1 - sum(labels.values())) / (1000 - len(labels)), dtype=np.float32)
    for name, value in labels.items():
        p[names.index(name)] = value
    return p


def evidence_of(labels: dict[str, float]) -> Evidence:
    return scene.scene_evidence(probs_of(labels), scene.class_names())


def moved(*evidence: Evidence, prior: str = "gdp") -> tuple[dict[str, float], dict[str, float]]:
    """Country probabilities under a prior before and after folding the evidence in."""
    fusion = Fusion(prior_belief(prior))
    before = fusion.belief.probabilities()
    for item in evidence:
        fusion.add(item)
    return before, fusion.belief.probabilities()


def test_every_row_names_a_real_class_valid_countries_a_tier_a_place_and_a_source():
    names = set(scene.class_names())
    codes = set(all_countries())
    table = rows(scene_labels.DATA_FILES[0])
    assert len(table) == len(scene_labels.label_table()) >= 100  # no class twice
    for row in table:
        assert row["class"] in names, row["class"]
        assert row["telling"] in TELLING, row
        assert row["where"].strip() and row["note"].strip(), row
        assert row["source"].startswith("https://"), row
        for token, share in parse_shares(row["countries"]).items():
            assert 0 < share <= 1, row
            assert (token[1:] in scene_labels.regions()) if token.startswith("@") else token in codes, token
    for region in rows(scene_labels.DATA_FILES[1]):
        assert region["source"].startswith("https://") and region["note"].strip(), region
        shares = parse_shares(region["countries"])
        assert set(shares) <= codes and all(0 < s <= 1 for s in shares.values()), region["region"]


def test_regions_expand_with_their_shares_and_the_largest_share_wins():
    assert scene_labels.expand("AU PG:0.3") == {"AU": 1.0, "PG": 0.3}
    africa = scene_labels.expand("@safari_africa @sub_saharan_africa:0.4")
    assert africa["KE"] == 1.0 and africa["NG"] == pytest.approx(0.4) and "EG" not in africa
    mosque = scene_labels.label_table()["mosque"].countries
    assert mosque["TR"] == mosque["SA"] == mosque["ID"] == 1.0 and mosque["IN"] == 0.4
    assert "US" not in mosque and "CN" not in mosque


def test_an_indicative_label_raises_its_countries_in_proportion_to_its_probability():
    likes, used = country_likelihoods([("koala", 0.8), ("wombat", 0.05), ("tabby", 0.05)])
    assert set(likes) == set(all_countries())  # every country listed: unnamed ones keep the baseline
    assert likes["AU"] == pytest.approx(1 + 0.8 * (TELLING["strong"] - 1))
    assert likes["US"] == likes["FR"] == 1.0
    assert [u["label"] for u in used] == ["koala"]  # wombat at 0.05 is under MIN_LABEL_P
    assert used[0]["countries"] == "AU" and used[0]["where"] == "Australia"
    two, _ = country_likelihoods([("koala", 0.4), ("wallaby", 0.4)])
    assert two["AU"] == pytest.approx(1 + 0.8 * (TELLING["strong"] - 1))
    assert two["PG"] == pytest.approx(1 + 0.4 * 0.3 * (TELLING["strong"] - 1))
    assert country_likelihoods([("tabby", 0.9), ("koala", MIN_LABEL_P / 2)]) == ({}, [])


def test_a_koala_raises_australia_clearly_but_strong_text_still_wins():
    koala = evidence_of({"koala": 0.8, "wombat": 0.05})
    assert koala.strength == scene.STRENGTH and koala.summary.startswith("scene: koala 0.80 (Australia), ")
    assert koala.observations["indicative"][0]["label"] == "koala"
    before, after = moved(koala)
    assert after["AU"] > 5 * before["AU"] and after["US"] < before["US"]
    assert after["AU"] < 0.5  # a look, not a verdict
    phone = Evidence(tool="text_clues", country_likelihoods={"NZ": 1.0}, strength=0.9)  # a valid NZ number
    for order in ((phone, koala), (koala, phone)):
        _, both = moved(*order, prior="uniform")
        assert max(both, key=both.get) == "NZ" and both["NZ"] > 2 * both["AU"]


def test_a_mosque_raises_the_muslim_majority_countries_mildly():
    before, after = moved(evidence_of({"mosque": 0.5, "dome": 0.2}))
    for code in ("TR", "SA", "ID", "MA"):
        assert 1.5 < after[code] / before[code] < 3.5, code
    assert max(after, key=after.get) == "US" and after["US"] < before["US"]


def test_without_an_indicative_label_there_are_no_claims_and_the_belief_does_not_move():
    found = evidence_of({"Egyptian cat": 0.6, "tabby": 0.2, "tiger cat": 0.1})
    assert found.country_likelihoods == {} and found.strength == 0.0
    assert found.observations["indicative"] == []
    before, after = moved(found)
    assert all(math.isclose(before[c], after[c]) for c in before)


def test_an_indicative_label_below_the_first_three_is_still_shown_with_its_place():
    found = evidence_of({"seashore": 0.3, "sandbar": 0.2, "lakeside": 0.15, "geyser": 0.12})
    shown = "scene: seashore 0.30, sandbar 0.20, lakeside 0.15, geyser 0.12 (Yellowstone and Iceland)"
    assert found.summary == shown
    assert found.country_likelihoods["IS"] > found.country_likelihoods["FR"] == 1.0


def test_each_class_has_one_kind_and_the_ranges_are_the_classes_they_claim():
    names = scene.class_names()
    kinds = scene_labels.scene_kinds(names)
    listed: list[str] = []
    for row in rows(scene_labels.DATA_FILES[2]):
        assert row["kind"] in LOCATABILITY and row["rationale"].strip(), row
        for part in row["classes"].split(";"):
            first, _, last = part.partition("-")
            listed += names[int(first): int(last or first) + 1] if first.isdigit() else [part]
    assert len(listed) == len(set(listed))  # no class in two rows
    assert {kinds[i] for i in range(151, 269)} == {"closeup"}  # the dog breeds
    assert (names[151], names[268]) == ("Chihuahua", "Mexican hairless")
    assert {kinds[names.index(name)] for name in ("tabby", "pizza", "laptop", "menu")} == {"closeup"}
    assert kinds[names.index("mosque")] == "landmark" and kinds[names.index("streetcar")] == "street"
    assert kinds[names.index("alp")] == "landscape" and kinds[names.index("bubble")] == "other"


def test_a_close_up_of_food_or_a_dog_reads_as_unlocatable_and_a_landscape_does_not():
    close = evidence_of({"pizza": 0.5, "plate": 0.2, "golden retriever": 0.2})
    assert close.observations["closeup"] > 0.85 and close.observations["localizable"] < 0.05
    assert close.summary.endswith("; a close-up (pet, food or object)")
    view = evidence_of({"alp": 0.5, "valley": 0.3, "church": 0.1})
    assert view.observations["closeup"] < 0.01 and view.observations["localizable"] > 0.35
    assert "close-up" not in view.summary


def test_an_unsure_model_is_not_taken_for_a_close_up():
    flat = scene.scene_evidence(np.full(1000, 1e-3, dtype=np.float32), scene.class_names())
    assert flat.observations["closeup"] <= 0.01  # although about half the classes are close-ups
    assert flat.observations["localizable"] == pytest.approx(LOCATABILITY["other"], abs=0.01)


def test_the_tables_are_part_of_the_scene_tools_cache_key():
    from geosleuth.tools.spec import _module_hash

    assert _module_hash("geosleuth.tools.scene_labels") in get_spec("scene").source_hash().split("+")
    assert get_spec("scene").cue == "scene" and get_spec("scene").ablation_tools() == ("scene",)
