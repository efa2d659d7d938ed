"""The deterministic fusion rule: prior + evidence -> Belief -> Guess (the no-LLM baseline).

Documented in docs/fusion.md. In short:
1. Prior over countries from a general source, never fitted to any benchmark: by default the share
   of world GDP (Natural Earth), or population share (GeoNames), or uniform (`Settings.prior`).
2. Each Evidence updates the Belief by log-linear pooling (`Belief.update`), scaled by the tool's
   fusion weight (its `ToolSpec.weight`) and the evidence's own `strength`.
3. The Guess takes the most probable country; its point is the best-supported candidate point inside
   that country (weight x evidence strength, summed over candidates within 25 km of each other), or,
   when no evidence placed a point there, the country's largest city (`geosleuth.tools.country_points`,
   measured against two central points in docs/fusion.md), with the population's mean distance to it
   as the radius.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from geosleuth.core.countries import all_countries, get_country, population_prior
from geosleuth.core.geo import country_areas_km2, country_at, country_gdp_musd, distance_km
from geosleuth.core.state import Belief, Candidate, Evidence, Guess
from geosleuth.tools import fusion_weight
from geosleuth.tools.country_points import country_point
from geosleuth.tools.gazetteer_index import reverse_place

CLUSTER_KM = 25.0


@dataclass
class Step:
    """One piece of evidence and the Belief right after it was folded in."""

    evidence: Evidence
    belief: Belief


@dataclass
class Fusion:
    """A running fusion: the prior, then one Step per Evidence."""

    prior: Belief
    steps: list[Step] = field(default_factory=list)

    @property
    def belief(self) -> Belief:
        """The current Belief (the prior when no evidence is in)."""
        return self.steps[-1].belief if self.steps else self.prior

    def add(self, evidence: Evidence) -> Belief:
        """Fold one Evidence in with its tool's weight and return the new Belief."""
        belief = self.belief.update(evidence, fusion_weight(evidence.tool))
        self.steps.append(Step(evidence, belief))
        return belief

    def influence(self, country_code: str) -> list[tuple[Evidence, float]]:
        """For each step, how much it moved `country_code`'s probability (after minus before)."""
        rows = []
        before = self.prior
        for step in self.steps:
            delta = math.exp(step.belief.log_probs[country_code]) - math.exp(before.log_probs[country_code])
            rows.append((step.evidence, delta))
            before = step.belief
        return rows


def fusion_of(prior: Belief, evidence: list[Evidence]) -> Fusion:
    """Rebuild the Fusion (prior plus one step per Evidence) of a run's evidence."""
    fusion = Fusion(prior=prior)
    for item in evidence:
        fusion.add(item)
    return fusion


PRIOR_FLOOR = 1e-4
"""Smallest share any country gets in a prior, relative to the largest, so none starts at zero."""


def prior_belief(kind: str = "gdp") -> Belief:
    """Return the prior Belief over countries, from a general source (never from benchmark labels).

    `gdp`: each country's share of world GDP (Natural Earth GDP_MD), a proxy for how many photos are
    taken there (cameras, travel, photo sharing scale with wealth); `population`: share of world
    population (GeoNames); `uniform`: every country alike. Countries without a figure get the floor.
    """
    codes = all_countries()
    if kind == "population":
        weights = population_prior()
    elif kind == "gdp":

        gdp = country_gdp_musd()
        weights = {code: gdp.get(code, 0.0) for code in codes}
    elif kind == "uniform":
        weights = {code: 1.0 for code in codes}
    else:
        raise ValueError(f"unknown prior {kind!r}: use gdp, population or uniform")
    floor = max(weights.values()) * PRIOR_FLOOR
    return Belief.from_prior({code: max(w, floor) for code, w in weights.items()})


def best_point(belief: Belief, country_code: str, strengths: dict[str, float]) -> Candidate | None:
    """Pick the best-supported candidate point inside `country_code`, or None when there is none.

    A candidate's support is its weight times its evidence's strength, plus that of every other
    candidate in the country within CLUSTER_KM (agreeing clues reinforce each other).
    """
    inside = [
        c for c in belief.candidates
        if (c.country_code or country_at(c.lat, c.lon)) == country_code
    ]
    if not inside:
        return None

    def own(c: Candidate) -> float:
        return c.weight * strengths.get(c.evidence_id, 1.0)

    def support(c: Candidate) -> float:
        return sum(own(o) for o in inside if distance_km(c.lat, c.lon, o.lat, o.lon) <= CLUSTER_KM)

    return max(inside, key=lambda c: (support(c), own(c)))


def commit(fusion: Fusion) -> Guess:
    """Turn the current Belief into a Guess (country, region, place, point, confidence, radius)."""
    belief = fusion.belief
    code, probability = belief.top(1)[0]
    country = get_country(code)
    strengths = {step.evidence.id: step.evidence.strength for step in fusion.steps}
    point = best_point(belief, code, strengths)
    if point is not None:
        lat, lon, radius = point.lat, point.lon, point.radius_km
    elif (city := country_point(code)) is not None:
        lat, lon, radius = city.lat, city.lon, max(25.0, city.mean_km)
    elif country.capital_lat is not None and country.capital_lon is not None:
        lat, lon = country.capital_lat, country.capital_lon
        radius = max(25.0, math.sqrt(country_areas_km2().get(code, 10_000.0) / math.pi))
    else:
        return Guess(country_code=code, country=country.name, confidence=probability)
    nearest = reverse_place(lat, lon)
    return Guess(
        country_code=code,
        country=country.name,
        region=nearest.admin1 or None,
        place=nearest.name,
        lat=lat,
        lon=lon,
        confidence=probability,
        radius_km=radius,
    )
