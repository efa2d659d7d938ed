"""Localizability: a [0, 1] score of how locatable a photo is, from evidence and belief alone."""

from __future__ import annotations

import math

import pytest

from geosleuth.core.state import Candidate, Evidence
from geosleuth.run.fusion import Fusion, prior_belief
from geosleuth.tools.localizability import (
    CLOSEUP_WEIGHT,
    WEIGHTS,
    closeup_share,
    localizability,
    localizability_cues,
)


def fused(*evidence: Evidence) -> Fusion:
    fusion = Fusion(prior_belief("gdp"))
    for item in evidence:
        fusion.add(item)
    return fusion


def test_no_evidence_scores_zero_whatever_the_prior():
    for kind in ("gdp", "population", "uniform"):
        assert localizability([], prior_belief(kind)) == 0.0


def test_failed_evidence_counts_for_nothing():
    failed = Evidence.failure("text_clues", "no_result", "nothing read")
    assert localizability([failed], fused(failed).belief) == 0.0


def test_a_gps_fix_makes_a_photo_fully_locatable():
    fix = Evidence(
        tool="exif",
        candidates=[Candidate(lat=48.85, lon=2.35)],
        country_likelihoods={"FR": 1.0},
        is_metadata=True,
    )
    assert localizability([fix], fused(fix).belief) == pytest.approx(1.0)


def test_the_score_is_a_weighted_noisy_or_of_the_cues():
    clues = Evidence(tool="text_clues", country_likelihoods={"GR": 0.75, "CY": 0.25}, strength=0.8)
    fusion = fused(clues)
    cues = localizability_cues([clues], fusion.belief)
    assert cues["text"] == pytest.approx(0.8 * 0.75)
    assert cues["places"] == 0 and cues["spread"] == 0 and cues["metadata"] == 0
    assert 0 < cues["belief"] < 1
    expected = 1 - math.prod(1 - WEIGHTS[name] * value for name, value in cues.items())
    assert localizability([clues], fusion.belief) == pytest.approx(expected)


def test_agreeing_points_score_higher_than_scattered_ones():
    near = Evidence(
        tool="gazetteer",
        strength=0.5,
        country_likelihoods={"FR": 1.0},
        candidates=[Candidate(lat=48.85, lon=2.35), Candidate(lat=48.9, lon=2.3)],
    )
    far = Evidence(
        tool="gazetteer",
        strength=0.5,
        country_likelihoods={"FR": 1.0},
        candidates=[Candidate(lat=48.85, lon=2.35), Candidate(lat=-33.9, lon=151.2)],
    )
    together, apart = (
        localizability_cues([near], fused(near).belief),
        localizability_cues([far], fused(far).belief),
    )
    assert together["spread"] > 0.9 > 0.1 > apart["spread"]
    assert localizability([near], fused(near).belief) > localizability([far], fused(far).belief)


def test_clip_scene_locatability_is_used_when_clip_ran():
    scene = Evidence(tool="clip_zero_shot", strength=0.5, observations={"localizable": 0.9})
    assert localizability_cues([scene], fused(scene).belief)["scene"] == 0.9


def test_the_scene_tools_label_locatability_feeds_the_scene_cue():
    labels = Evidence(tool="scene", strength=0.0, observations={"localizable": 0.7, "closeup": 0.0})
    assert localizability_cues([labels], fused(labels).belief)["scene"] == 0.7
    assert localizability([labels], fused(labels).belief) == pytest.approx(WEIGHTS["scene"] * 0.7)


def test_a_close_up_lowers_every_cue_but_the_gps_fix():
    clues = Evidence(tool="text_clues", country_likelihoods={"GR": 0.75, "CY": 0.25}, strength=0.8)
    alone = localizability([clues], fused(clues).belief)
    pet = Evidence(tool="scene", strength=0.0, observations={"localizable": 0.0, "closeup": 0.9})
    both = [clues, pet]
    cues = localizability_cues(both, fused(*both).belief)
    damping = 1 - CLOSEUP_WEIGHT * 0.9
    expected = 1 - math.prod(1 - WEIGHTS[name] * damping * value for name, value in cues.items())
    assert closeup_share(both) == 0.9
    assert localizability(both, fused(*both).belief) == pytest.approx(expected)
    assert localizability(both, fused(*both).belief) < 0.7 * alone
    fix = Evidence(tool="exif", candidates=[Candidate(lat=48.85, lon=2.35)], country_likelihoods={"FR": 1.0})
    assert localizability([fix, pet], fused(fix, pet).belief) == pytest.approx(1.0)


def test_only_successful_scene_cue_evidence_says_close_up():
    failed = Evidence.failure("scene", "unavailable", "no model", observations={"closeup": 1.0})
    other = Evidence(tool="text_clues", strength=0.0, observations={"closeup": 1.0})  # not a scene cue
    assert closeup_share([failed, other]) == 0.0
