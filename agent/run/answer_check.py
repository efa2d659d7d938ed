"""The answer check: whether the LLM's committed answer is backed by the evidence.

Refused: an unknown country code; for a model that cannot see the photo, a country whose fused
probability is under SUPPORT_RATIO of the top country's; a point outside the stated country (unless
that country is the fused one, whose point is then used). A model that cannot see the photo and
agrees with the fused country gets the fused answer: it knows only the candidates the evidence
ranked, and the fusion ranks them better (measured: small models copy a weaker candidate).
"""

from __future__ import annotations

from pydantic import BaseModel, Field

from geosleuth.core.countries import get_country
from geosleuth.core.geo import country_at
from geosleuth.core.state import Guess
from geosleuth.run.fusion import Fusion
from geosleuth.tools.gazetteer_index import reverse_place

SUPPORT_RATIO = 0.1
"""A model that cannot see the photo may commit only to a country whose fused probability is at
least this fraction of the top country's: anything else is not supported by the evidence."""


class Answer(BaseModel):
    """The LLM's committed answer; every field is required in the schema it is asked for."""

    country_code: str = Field(pattern="^[A-Z]{2}$", description="ISO 3166-1 alpha-2")
    region: str = Field(max_length=80, description="first-level region, or ''")
    city: str = Field(max_length=80, description="town or city, or ''")
    lat: float = Field(ge=-90, le=90, description="latitude")
    lon: float = Field(ge=-180, le=180, description="longitude")
    confidence: float = Field(description="0-1, that the country is right")
    radius_km: float = Field(description="radius likely to hold the spot, km")
    rationale: str = Field(max_length=200, description="one or two sentences naming the evidence")


def checked_guess(
    answer: Answer, fusion: Fusion, fused: Guess, *, text_only: bool
) -> tuple[Guess | None, str]:
    """Turn the LLM's Answer into a Guess, or return (None, why) when the evidence does not back it.

    See the module docstring for the rules.
    """
    code = answer.country_code.strip().upper()
    try:
        country = get_country(code)
    except KeyError:
        return None, f"unknown country code {answer.country_code!r}"
    probabilities = fusion.belief.probabilities()
    top_p = fusion.belief.top(1)[0][1]
    if text_only and probabilities.get(code, 0.0) < SUPPORT_RATIO * top_p:
        return None, f"{code} is not supported by the evidence (p={probabilities.get(code, 0.0):.3f})"
    if text_only and code == fused.country_code:
        return fused, ""  # a model that cannot see adds no point the evidence did not already rank
    confidence = min(1.0, max(0.0, answer.confidence))
    if country_at(answer.lat, answer.lon) == code:
        place = reverse_place(answer.lat, answer.lon)
        radius = answer.radius_km if answer.radius_km > 0 else (fused.radius_km or 25.0)
        return Guess(
            country_code=code,
            country=country.name,
            region=place.admin1 or None,
            place=place.name,
            lat=answer.lat,
            lon=answer.lon,
            confidence=confidence,
            radius_km=radius,
        ), ""
    if code == fused.country_code:
        return fused.model_copy(update={"confidence": confidence}), ""
    return None, f"the point ({answer.lat:.3f}, {answer.lon:.3f}) is not in {code}"
