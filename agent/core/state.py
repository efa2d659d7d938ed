"""The shared vocabulary: one `Evidence` per tool call, a `Belief` they update, a `Guess` from it.

Every tool returns an `Evidence`. The `Belief` is a probability distribution over ISO 3166-1 alpha-2
country codes plus a list of weighted candidate points; `Belief.update` folds one `Evidence` into it
with the deterministic rule documented in `docs/fusion.md`. A `Guess` is what the agent commits to.

This module imports nothing from `geosleuth.run.graph` or `tools/`, so tools can import it freely.
"""

from __future__ import annotations

import math
import time
import uuid
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any, Literal

from pydantic import BaseModel, Field, field_validator

ErrorType = Literal["unavailable", "timeout", "bad_input", "no_result", "rate_limited", "unknown"]
"""Expected failure kinds. `unknown` is what the tools node records for an unexpected exception."""

LIKELIHOOD_FLOOR = 0.02
"""Smallest relative likelihood a country keeps after one piece of evidence, so no single (possibly
misread) clue can rule a country out for good. See docs/fusion.md."""


class ToolError(BaseModel):
    """A typed, expected failure of a tool call."""

    type: ErrorType = Field(description="Kind of failure, from a fixed set.")
    message: str = Field(description="One line a person (or a model) can act on.")


class Candidate(BaseModel):
    """A weighted point the photo may have been taken at."""

    lat: float = Field(ge=-90, le=90, description="Latitude in degrees (WGS84).")
    lon: float = Field(ge=-180, le=180, description="Longitude in degrees (WGS84).")
    weight: float = Field(default=1.0, gt=0, description="Relative weight among this evidence's points.")
    label: str = Field(default="", description="What the point is, e.g. 'Lyon (GeoNames, pop 516k)'.")
    country_code: str | None = Field(default=None, description="ISO alpha-2 of the point, if known.")
    radius_km: float = Field(default=25.0, gt=0, description="How far the true spot may be from it.")
    evidence_id: str = Field(default="", description="Id of the Evidence that proposed the point.")


class Evidence(BaseModel):
    """What one tool call observed and what it claims about the location."""

    id: str = Field(default_factory=lambda: uuid.uuid4().hex[:12], description="Unique id.")
    tool: str = Field(description="Registered tool name, e.g. 'ocr'.")
    inputs: dict[str, Any] = Field(default_factory=dict, description="Arguments of the call (JSON-safe).")
    summary: str = Field(default="", description="One line: what was found.")
    country_likelihoods: dict[str, float] = Field(
        default_factory=dict,
        description="Relative likelihood of the observation for each ISO alpha-2 country it speaks "
        "for; countries not listed share the floor. Empty means the evidence says nothing "
        "about countries.",
    )
    candidates: list[Candidate] = Field(default_factory=list, description="Candidate points.")
    places: list[str] = Field(default_factory=list, description="Place names read or found.")
    observations: dict[str, Any] = Field(
        default_factory=dict, description="Raw findings (text, boxes, clues) for traces and other tools."
    )
    strength: float = Field(
        default=1.0, ge=0, le=1, description="How much the fusion rule trusts this evidence (0 = ignore)."
    )
    is_metadata: bool = Field(default=False, description="True when read from file metadata, not pixels.")
    seconds: float = Field(default=0.0, ge=0, description="Wall time of the call.")
    error: ToolError | None = Field(default=None, description="Set when the call failed.")

    @field_validator("country_likelihoods")
    @classmethod
    def _valid_likelihoods(cls, value: dict[str, float]) -> dict[str, float]:
        for code, like in value.items():
            if len(code) != 2 or not code.isupper():
                raise ValueError(f"country code {code!r} is not ISO 3166-1 alpha-2")
            if not (like >= 0 and math.isfinite(like)):
                raise ValueError(f"likelihood for {code} must be finite and >= 0, got {like}")
        return value

    @classmethod
    def failure(cls, tool: str, type: ErrorType, message: str, **fields: Any) -> Evidence:
        """Build the Evidence of a failed call: no claims, zero strength, a typed error."""
        error = ToolError(type=type, message=message)
        return cls(tool=tool, summary=message, strength=0.0, error=error, **fields)

    @property
    def ok(self) -> bool:
        """Whether the call succeeded."""
        return self.error is None

    def log_ratios(self, codes: Iterable[str]) -> dict[str, float]:
        """Return `log(max(l_c / max(l), LIKELIHOOD_FLOOR))` per country: what fusion scales and adds.

        Empty when the evidence failed or claims nothing about countries.
        """
        likes = self.country_likelihoods
        peak = max(likes.values(), default=0.0)
        if not self.ok or peak <= 0:
            return {}
        return {code: math.log(max(likes.get(code, 0.0) / peak, LIKELIHOOD_FLOOR)) for code in codes}


@contextmanager
def timed() -> Iterator[list[float]]:
    """Measure the wall time of a block; after it, the yielded list's first item holds seconds."""
    box = [0.0]
    start = time.perf_counter()
    try:
        yield box
    finally:
        box[0] = time.perf_counter() - start


class Guess(BaseModel):
    """The committed answer."""

    country_code: str | None = Field(description="ISO alpha-2 code, None when nothing can be said.")
    country: str | None = Field(description="Country name.")
    region: str | None = Field(default=None, description="First-level administrative region.")
    place: str | None = Field(default=None, description="Nearest populated place to lat/lon.")
    lat: float | None = Field(default=None, ge=-90, le=90, description="Latitude of the answer.")
    lon: float | None = Field(default=None, ge=-180, le=180, description="Longitude of the answer.")
    confidence: float = Field(ge=0, le=1, description="Probability that the country is right.")
    radius_km: float | None = Field(default=None, gt=0, description="Radius likely to hold the spot.")


class Belief(BaseModel):
    """A distribution over countries plus weighted candidate points; evidence updates it."""

    log_probs: dict[str, float] = Field(description="Natural-log probabilities, normalised.")
    candidates: list[Candidate] = Field(default_factory=list, description="Points from all evidence.")
    evidence_ids: list[str] = Field(default_factory=list, description="Evidence folded in, in order.")

    @classmethod
    def from_prior(cls, prior: Mapping[str, float]) -> Belief:
        """Start from a prior over countries (weights need not sum to one; zeros are not allowed)."""
        if not prior:
            raise ValueError("a prior needs at least one country")
        if any(not (w > 0 and math.isfinite(w)) for w in prior.values()):
            raise ValueError("prior weights must be finite and > 0")
        total = sum(prior.values())
        return cls(log_probs={c: math.log(w / total) for c, w in prior.items()})

    def probabilities(self) -> dict[str, float]:
        """Country probabilities, summing to one."""
        return {c: math.exp(lp) for c, lp in self.log_probs.items()}

    def top(self, k: int = 5) -> list[tuple[str, float]]:
        """Return the k most probable countries with their probabilities, most probable first."""
        ranked = sorted(self.log_probs.items(), key=lambda item: (-item[1], item[0]))[:k]
        return [(code, math.exp(lp)) for code, lp in ranked]

    def entropy_bits(self) -> float:
        """Shannon entropy of the country distribution, in bits."""
        return -sum(math.exp(lp) * lp for lp in self.log_probs.values()) / math.log(2)

    def update(self, evidence: Evidence, weight: float = 1.0) -> Belief:
        """Fold one piece of evidence in and return the new Belief (this one is left unchanged).

        Rule (log-linear pooling, docs/fusion.md): each country's log-probability gains
        `weight * strength * log(max(l_c / max(l), LIKELIHOOD_FLOOR))`, where `l_c` is the
        evidence's likelihood for country c (0 when unlisted); then the distribution is
        renormalised. Failed evidence and evidence with no country claims change only the
        candidate list.
        """
        if weight < 0 or not math.isfinite(weight):
            raise ValueError(f"weight must be finite and >= 0, got {weight}")
        log_probs = dict(self.log_probs)
        scale = weight * evidence.strength
        ratios = evidence.log_ratios(log_probs) if scale > 0 else {}
        if ratios:
            for code, ratio in ratios.items():
                log_probs[code] += scale * ratio
            norm = _logsumexp(log_probs.values())
            log_probs = {c: lp - norm for c, lp in log_probs.items()}
        points = [p.model_copy(update={"evidence_id": evidence.id}) for p in evidence.candidates]
        return Belief(
            log_probs=log_probs,
            candidates=[*self.candidates, *points] if evidence.ok else list(self.candidates),
            evidence_ids=[*self.evidence_ids, evidence.id],
        )


def _logsumexp(values: Iterable[float]) -> float:
    items = list(values)
    peak = max(items)
    return peak + math.log(sum(math.exp(v - peak) for v in items))
