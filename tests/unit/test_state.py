"""Belief math: property tests on the fusion rule, and Evidence validation."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from geosleuth.core.state import LIKELIHOOD_FLOOR, Belief, Candidate, Evidence

CODES = ["US", "FR", "DE", "JP", "BR", "IN", "CN", "GB", "RU", "ZA"]
prior_st = st.dictionaries(st.sampled_from(CODES), st.floats(1e-6, 1e9), min_size=2, max_size=len(CODES))
likes_st = st.dictionaries(st.sampled_from(CODES), st.floats(0, 1e6), max_size=len(CODES))


@given(prior_st, likes_st, st.floats(0, 1), st.floats(0, 3))
def test_update_keeps_a_distribution(prior, likes, strength, weight):
    belief = Belief.from_prior(prior).update(
        Evidence(tool="t", country_likelihoods=likes, strength=strength), weight
    )
    probs = belief.probabilities()
    assert set(probs) == set(prior)
    assert math.isclose(sum(probs.values()), 1.0, rel_tol=1e-9)
    assert all(p > 0 for p in probs.values())


@given(prior_st, likes_st)
def test_update_never_lowers_the_most_likely_countrys_odds(prior, likes):
    """Bayes with likelihood ratios: the country with the highest likelihood gains against every other."""
    if not likes or max(likes.values()) == 0:
        return
    before = Belief.from_prior(prior)
    after = before.update(Evidence(tool="t", country_likelihoods=likes))
    best = max(likes, key=likes.get)
    if best not in prior:
        return
    for other in prior:
        gain_best = after.log_probs[best] - before.log_probs[best]
        gain_other = after.log_probs[other] - before.log_probs[other]
        assert gain_best >= gain_other - 1e-9


@given(prior_st)
def test_floor_bounds_how_far_one_clue_can_push(prior):
    before = Belief.from_prior(prior)
    code = sorted(prior)[0]
    after = before.update(Evidence(tool="t", country_likelihoods={code: 1.0}))
    for other in prior:
        if other != code:
            ratio_before = before.log_probs[code] - before.log_probs[other]
            ratio_after = after.log_probs[code] - after.log_probs[other]
            assert math.isclose(ratio_after - ratio_before, -math.log(LIKELIHOOD_FLOOR), rel_tol=1e-9)


@settings(max_examples=50)
@given(prior_st, likes_st)
def test_failed_or_zero_strength_evidence_changes_nothing(prior, likes):
    before = Belief.from_prior(prior)
    weak = before.update(Evidence(tool="t", country_likelihoods=likes, strength=0.0))
    failed = before.update(Evidence.failure("t", "timeout", "too slow"))
    for after in (weak, failed):
        for code in prior:
            assert math.isclose(after.log_probs[code], before.log_probs[code], abs_tol=1e-12)


def test_candidates_carry_their_evidence_id():
    ev = Evidence(tool="t", candidates=[Candidate(lat=1, lon=2)])
    belief = Belief.from_prior({"US": 1, "FR": 1}).update(ev)
    assert belief.candidates[0].evidence_id == ev.id
    assert belief.evidence_ids == [ev.id]


@pytest.mark.parametrize("likes", [{"usa": 1.0}, {"US": -1.0}, {"US": math.nan}, {"U": 1.0}])
def test_bad_likelihoods_are_refused(likes):
    with pytest.raises(ValidationError):
        Evidence(tool="t", country_likelihoods=likes)


@pytest.mark.parametrize("prior", [{}, {"US": 0.0}, {"US": math.inf}])
def test_bad_priors_are_refused(prior):
    with pytest.raises(ValueError):
        Belief.from_prior(prior)


def test_top_and_entropy():
    belief = Belief.from_prior({"US": 3, "FR": 1})
    assert belief.top(1)[0][0] == "US"
    assert math.isclose(belief.top(2)[1][1], 0.25)
    uniform = Belief.from_prior({c: 1 for c in CODES[:8]})
    assert math.isclose(uniform.entropy_bits(), 3.0)
