"""The evidence ledger: per-evidence odds factors summing to the fused log-odds, and replies built on them."""

from __future__ import annotations

import math

import pytest

from geosleuth.core.state import Belief, Evidence
from geosleuth.run.fusion import fusion_of, prior_belief
from geosleuth.run.ledger import (
    contributions,
    factor_text,
    parse_question,
    resolve_country,
    rests_on,
    what_would_change,
    why_not,
)

PRIOR = Belief.from_prior({"GR": 2.0, "CY": 0.25, "US": 25.0, "CN": 16.0, "IT": 2.0})


def athens_evidence() -> list[Evidence]:
    """What a Greek pharmacy sign yields, plus one clue for Cyprus and evidence that says nothing."""
    return [
        Evidence(tool="ocr", summary='read 2 lines: "ΦΑΡΜΑΚΕΙΟ", "Αθήνα"'),
        Evidence(tool="text_clues", summary="phone +30 -> GR", country_likelihoods={"GR": 1.0}, strength=0.9),
        Evidence(tool="gazetteer", summary="best: Athens, Attica, GR", country_likelihoods={"GR": 0.8},
                 strength=0.5),
        Evidence(tool="scene", summary="Mediterranean shop front",
                 country_likelihoods={"CY": 1.0, "GR": 0.3, "IT": 0.6}, strength=0.6),
        Evidence(tool="language", summary="Greek", country_likelihoods={"GR": 1.0, "CY": 1.0}),
        Evidence(tool="osm", summary="best: Athens", country_likelihoods={"GR": 1.0}, strength=0.0),
        Evidence.failure("geoclip", "timeout", "geoclip took too long"),
    ]


def log_odds(prior: Belief, evidence: list[Evidence], a: str, b: str) -> float:
    belief = fusion_of(prior, evidence).belief
    return belief.log_probs[a] - belief.log_probs[b]


@pytest.mark.parametrize("prior", [PRIOR, prior_belief("gdp")], ids=["small", "gdp"])
@pytest.mark.parametrize("pair", [("GR", "CY"), ("CY", "GR"), ("GR", "US"), ("IT", "CN"), ("US", "US")])
def test_contributions_sum_to_the_fused_log_odds(prior, pair):
    evidence = athens_evidence()
    entries = contributions(prior, evidence, *pair)
    assert sum(e.log_factor for e in entries) == pytest.approx(log_odds(prior, evidence, *pair), abs=1e-9)


def test_the_ledger_lists_the_prior_and_what_moved_the_odds_largest_first():
    evidence = athens_evidence()
    entries = contributions(PRIOR, evidence, "GR", "CY")
    tools = [e.tool for e in entries]
    # ocr (no claims), language (alike for both), osm (zero strength), geoclip (failed) changed nothing
    assert sorted(tools) == ["gazetteer", "prior", "scene", "text_clues"]
    sizes = [abs(e.log_factor) for e in entries]
    assert sizes == sorted(sizes, reverse=True)
    prior = next(e for e in entries if e.tool == "prior")
    assert prior.evidence_id is None and prior.factor == pytest.approx(8.0)
    scene = next(e for e in entries if e.tool == "scene")
    assert scene.log_factor < 0 and scene.evidence_id == evidence[3].id
    assert all(e.factor == pytest.approx(math.exp(e.log_factor)) for e in entries)


def test_why_not_names_each_side_s_own_evidence():
    evidence = athens_evidence()
    reply = why_not(PRIOR, evidence, "GR", "CY")
    lines = reply.splitlines()
    assert len(lines) <= 6
    odds = math.exp(log_odds(PRIOR, evidence, "GR", "CY"))
    assert lines[0] == f"Greece over Cyprus, 1 : {factor_text(odds)} against Cyprus."
    for_greece = next(line for line in lines if line.startswith("For Greece:"))
    for_cyprus = next(line for line in lines if line.startswith("For Cyprus:"))
    assert "text_clues (phone +30 -> GR)" in for_greece
    assert "gazetteer (best: Athens, Attica, GR)" in for_greece and "prior" in for_greece
    assert "scene" in for_cyprus and "scene" not in for_greece  # the clue for Cyprus is never support
    assert not any(tool in for_cyprus for tool in ("text_clues", "gazetteer", "prior"))  # nor Greece's for it
    for absent in ("ocr", "language", "osm", "geoclip"):
        assert absent not in reply
    support = [e.tool for e in contributions(PRIOR, evidence, "GR", "CY") if e.log_factor > 0]
    order = [for_greece.index(f"{tool} (") for tool in support]
    assert order == sorted(order)  # largest first
    assert "evidence worth ×" in lines[-1] and "+357" in lines[-1]


def test_why_not_names_at_most_four_contributions_a_side():
    many = [
        Evidence(tool=f"clue{i}", summary=f"{i}", country_likelihoods={"GR": 1.0}, strength=0.1 * (i + 1))
        for i in range(6)
    ]
    for_greece = why_not(PRIOR, many, "GR", "CY").splitlines()[1]
    assert for_greece.count("×") == 4
    assert for_greece.index("clue5") < for_greece.index("clue4") and "clue0" not in for_greece


def test_why_not_the_answer_itself_and_evidence_against_the_answer():
    assert why_not(PRIOR, athens_evidence(), "GR", "GR").startswith("Greece is my answer.")
    reply = why_not(PRIOR, [], "GR", "US")  # an answer the evidence does not back (an LLM's)
    odds = factor_text(math.exp(PRIOR.log_probs["US"] - PRIOR.log_probs["GR"]))
    assert reply.startswith(f"Greece is my answer, but the evidence puts United States ahead {odds} : 1.")


def test_what_would_change_names_the_runners_up_and_the_factor_they_need():
    evidence = athens_evidence()
    belief = fusion_of(PRIOR, evidence).belief
    (answer, p), (first, p1), (second, p2) = belief.top(3)
    assert answer == "GR"
    lines = what_would_change(PRIOR, evidence, "GR").splitlines()
    assert len(lines) == 4 and lines[0].startswith("I answer Greece (")
    names = {"US": "United States", "CN": "China", "IT": "Italy", "CY": "Cyprus"}
    assert lines[1].startswith(names[first]) and f"×{factor_text(p / p1)}" in lines[1]
    assert lines[2].startswith(names[second]) and f"×{factor_text(p / p2)}" in lines[2]
    assert "text_clues" in lines[3] and "scene" not in lines[3]


def test_rests_on_gives_the_top_three_contributions_against_the_runner_up():
    evidence = athens_evidence()
    line = rests_on(PRIOR, evidence, "GR")
    belief = fusion_of(PRIOR, evidence).belief
    rival = belief.top(2)[1][0]
    top = contributions(PRIOR, evidence, "GR", rival)[:3]
    assert line.startswith(f"{math.exp(belief.log_probs['GR']) * 100:.0f} % sure of the country, against ")
    assert line.count("×") == 3
    assert [line.index(f"{e.tool} (") for e in top] == sorted(line.index(f"{e.tool} (") for e in top)
    assert rests_on(Belief.from_prior({"GR": 1.0}), evidence, "GR") == ""


@pytest.mark.parametrize(
    ("factor", "text"),
    [(1.04, "1.04"), (3.24, "3.2"), (40.2, "40"), (4312.0, "4,300"), (1.23e12, "1.2e12"), (0.1, "0.1"),
     (0.00982, "0.0098"), (9.97, "10")],
)
def test_factors_are_rounded_readably(factor, text):
    assert factor_text(factor) == text


@pytest.mark.parametrize(
    ("question", "parsed", "code"),
    [
        ("why not Cyprus?", ("why_not", "Cyprus"), "CY"),
        ("Why not in cyprus", ("why_not", "cyprus"), "CY"),
        ("what about the US?", ("why_not", "US"), "US"),
        ("why isn't it UK", ("why_not", "UK"), "GB"),
        ("why is it not Portugal instead?", ("why_not", "Portugal"), "PT"),
        ("Could it be gr?", ("why_not", "gr"), "GR"),
        ("why not U.S.?", ("why_not", "U.S"), "US"),
        ("why not Atlantis?", ("why_not", "Atlantis"), None),
        ("What would change your mind?", ("change_mind", None), None),
        ("so what would make you change it?", ("change_mind", None), None),
    ],
)
def test_why_not_questions_are_recognised(question, parsed, code):
    assert parse_question(question) == parsed
    assert (parsed[1] and resolve_country(parsed[1])) == code


@pytest.mark.parametrize(
    "question",
    ["why not zoom in on the sign?", "what about it?", "read the sign on the left again: why not Portugal?",
     "where is this?", "could it be older than 1990?"],
)
def test_other_questions_are_left_to_the_llm(question):
    assert parse_question(question) is None
