"""What the LLM is asked for after the look-first pass: hypotheses, tool calls and a rationale.

`Reasoning` is the structured reply: up to `Settings.max_hypotheses` named places (`Hypothesis`,
checked by the `hypothesis` tool, never trusted as coordinates), the tools to call now (chat
questions only; a locate run asks once and calls none) and a short rationale, which is checked
against the evidence at commit. Small local models get it as a JSON schema that constrains decoding
(`reasoning_schema`); models with native tool calls get one function per tool plus `propose_place`
and `answer` (`native_functions`, parsed back by `reasoning_from_tool_calls`).
"""

from __future__ import annotations

import json
import typing
from collections.abc import Sequence
from typing import Any

from pydantic import BaseModel, Field

from geosleuth.core.config import Settings
from geosleuth.core.geo import distance_km
from geosleuth.core.state import Evidence
from geosleuth.tools import registry
from geosleuth.tools.hypothesis import ARGS as HYPOTHESIS_ARGS
from geosleuth.tools.hypothesis import TOOL as HYPOTHESIS_TOOL
from geosleuth.tools.osm import TOOL as OSM_TOOL
from geosleuth.tools.web_search import TOOL as SEARCH_TOOL

PROPOSE = "propose_place"
"""The native function a tool-calling model proposes a place with."""
ANSWER = "answer"
"""The native function a tool-calling model gives its rationale with."""


class Hypothesis(BaseModel):
    """One place the LLM proposes, with its reason; the `hypothesis` tool checks it."""

    place: str = Field(max_length=80, description=HYPOTHESIS_ARGS["place"]["description"])
    region: str = Field(default="", max_length=60, description=HYPOTHESIS_ARGS["region"]["description"])
    country_code: str = Field(pattern="^[A-Z]{2}$", description="ISO 3166-1 alpha-2, e.g. 'US'")
    reason: str = Field(default="", max_length=48, description=HYPOTHESIS_ARGS["reason"]["description"])


class Reasoning(BaseModel):
    """The LLM's reply after seeing the evidence."""

    places: list[Hypothesis] = Field(default_factory=list, description="the places, best first; [] if none")
    tools: list[str] = Field(default_factory=list, description="tools to call now, or []")
    box: list[float] = Field(
        default_factory=lambda: [0.0, 0.0, 1.0, 1.0],
        min_length=4,
        max_length=4,
        description="for zoom: the part to look at, [left, top, right, bottom] as 0-1 fractions of the "
        "photo, e.g. [0, 0, 0.5, 0.5] is the top-left quarter; else [0, 0, 1, 1]",
    )
    rationale: str = Field(default="", max_length=160, description="one or two sentences naming the evidence")


def strict_schema(model: type[BaseModel]) -> dict[str, Any]:
    """Return the model's JSON schema with every property required and no others (constrained decoding)."""
    schema = model.model_json_schema()
    schema["required"] = list(schema["properties"])
    schema["additionalProperties"] = False
    for definition in schema.get("$defs", {}).values():
        definition["required"] = list(definition["properties"])
        definition["additionalProperties"] = False
    return schema


def omitted(tools: list[str], *, rationale: bool) -> tuple[str, ...]:
    """Return the Reasoning keys a reply leaves out.

    `tools` and `box` go when there is no tool to offer; `rationale` in a locate run, where the places'
    reasons are the rationale (every token costs about 0.1 s on 2 cores).
    """
    return (() if tools else ("tools", "box")) + (() if rationale else ("rationale",))


def reasoning_schema(tools: list[str], *, max_places: int, max_tools: int, rationale: bool) -> dict[str, Any]:
    """Return the strict JSON schema of a Reasoning: at most `max_places` places, tools among `tools`.

    The keys `omitted` names are left out, so the model cannot fill them.
    """
    schema = strict_schema(Reasoning)
    props = schema["properties"]
    props["places"]["maxItems"] = max_places
    props["places"]["minItems"] = min(1, max_places)  # small models otherwise reply [] to play safe
    if tools:
        props["tools"]["items"] = {"type": "string", "enum": list(tools)}
        props["tools"]["maxItems"] = max_tools
    for key in omitted(tools, rationale=rationale):
        del props[key]
    schema["required"] = list(props)
    return schema


def json_shape(model: type[BaseModel], omit: tuple[str, ...] = ()) -> str:
    """Return the reply's shape as compact one-line JSON with "..." for values, for the prompt.

    Shown to the model so that it writes its reply without spaces or line breaks: under the schema's
    grammar the embedded model otherwise indents it, which doubled the tokens of a two-place reply
    (101 against 55, about 0.09 s each on 2 cores).
    """
    return json.dumps(_shape(model, omit), separators=(",", ":"), ensure_ascii=False)


def _shape(model: type[BaseModel], omit: tuple[str, ...] = ()) -> dict[str, Any]:
    """Return the model's keys with "..." values; a list of models holds one such shape."""
    shape: dict[str, Any] = {}
    for name, field in model.model_fields.items():
        if name in omit:
            continue
        (item,) = typing.get_args(field.annotation) or (None,)
        nested = isinstance(item, type) and issubclass(item, BaseModel)
        shape[name] = [_shape(item)] if nested else "..."
    return shape


def describe_keys(model: type[BaseModel], omit: tuple[str, ...] = ()) -> str:
    """Return the model's JSON keys with their descriptions, for the prompt (the schema's own words)."""
    return ", ".join(
        f'"{name}" ({field.description})' for name, field in model.model_fields.items() if name not in omit
    )


def native_functions(tools: list[str]) -> list[dict[str, Any]]:
    """OpenAI function specs: `propose_place`, each tool with its planner arguments, and `answer`."""
    specs = registry()

    def function(name: str, description: str, properties: dict[str, Any]) -> dict[str, Any]:
        return {"type": "function", "function": {
            "name": name, "description": description,
            "parameters": {"type": "object", "properties": properties},
        }}

    return [
        function(PROPOSE, "Propose one place the photo may show, with its country and reason.",
                 dict(HYPOTHESIS_ARGS)),
        *(function(name, specs[name].description.split("\n\n")[0], dict(specs[name].planner_args))
          for name in tools),
        function(ANSWER, "Give your rationale, naming the evidence.", {"rationale": {"type": "string"}}),
    ]


def reasoning_from_tool_calls(reply: Any) -> Reasoning:
    """Turn a native tool-calling reply into a Reasoning (text content counts as the rationale)."""
    calls = getattr(reply, "tool_calls", None) or []
    places = [Hypothesis.model_validate(c.get("args", {})) for c in calls if c["name"] == PROPOSE]
    said = [str(c.get("args", {}).get("rationale", "")) for c in calls if c["name"] == ANSWER]
    tools = [c for c in calls if c["name"] not in (PROPOSE, ANSWER)]
    box = next((c["args"]["box"] for c in tools if "box" in c.get("args", {})), [0.0, 0.0, 1.0, 1.0])
    rationale = " ".join(s for s in said if s) or str(reply.content or "")
    return Reasoning(places=places, tools=[c["name"] for c in tools], box=box, rationale=rationale[:160])


def hypothesis_call(place: Hypothesis, *, seen: bool) -> dict[str, Any]:
    """Return the pending call that checks one proposed place with the `hypothesis` tool."""
    return {"tool": HYPOTHESIS_TOOL, "args": {**place.model_dump(), "seen": seen}}


def osm_checks(evidence: Sequence[Evidence], settings: Settings) -> list[dict[str, Any]]:
    """Return pending `osm` calls for the names read, around each checked place osm has not searched near.

    None when `osm` is not among the run's tools, or when it answered `unavailable` (offline) already:
    then the check would only repeat the failure.
    """
    if OSM_TOOL not in settings.tools or any(
        e.tool == OSM_TOOL and e.error is not None and e.error.type == "unavailable" for e in evidence
    ):
        return []
    searched = [tuple(e.inputs["around"][:2]) for e in evidence
                if e.tool == OSM_TOOL and e.inputs.get("around")]
    calls: list[dict[str, Any]] = []
    for item in evidence:
        point = item.observations.get("point") if item.tool == HYPOTHESIS_TOOL and item.ok else None
        if point and all(distance_km(*point, *seen) > settings.osm_radius_km for seen in searched):
            calls.append({"tool": OSM_TOOL, "args": {"near": list(point)}})
            searched.append(tuple(point))
    return calls


def search_checks(evidence: Sequence[Evidence], settings: Settings) -> list[dict[str, Any]]:
    """Return pending `web_search` calls: the text read with each checked place not searched yet.

    None when `web_search` is not among the run's tools, no `search_url` is set, or it answered
    `unavailable` already; at most what is left of `search_budget`.
    """
    done = [e for e in evidence if e.tool == SEARCH_TOOL]
    if SEARCH_TOOL not in settings.tools or not settings.search_url or any(
        e.error is not None and e.error.type == "unavailable" for e in done
    ):
        return []
    searched = {str(e.inputs.get("place", "")).casefold() for e in done}
    calls: list[dict[str, Any]] = []
    for item in evidence:
        place = str(item.inputs.get("place", "")).partition(",")[0].strip()
        if item.tool == HYPOTHESIS_TOOL and item.ok and place and place.casefold() not in searched:
            calls.append({"tool": SEARCH_TOOL, "args": {"place": place}})
            searched.add(place.casefold())
    return calls[: max(0, settings.search_budget - len(done))]
