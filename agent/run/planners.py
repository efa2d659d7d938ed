"""Planners for the agent graph, and `run_planner`, the one entry point that locates a photo.

Two planners choose tools through the same graph (`geosleuth.run.graph`): `PolicyPlanner`, the fixed,
deterministic baseline (`geosleuth.run.policy.next_tool`), and `LLMPlanner`, where a chat model picks the next
tools and commits to a structured answer. Both run tools through `call_tool`, which fills each tool's
inputs from the run's state (the photo as the tools may see it, the text read so far, the Belief), so
a planner only names tools (and, for the LLM, optionally picks lines of text or a zoom box).

The LLM planner asks for JSON that a schema constrains (small local models), or uses native tool calls
where the backend has them. Its committed answer is checked against the evidence: an unknown country,
a country the evidence does not support (for a model that cannot see the photo), a point outside the
stated country, or an unparsable reply falls back to the fused commit of `geosleuth.run.fusion` — never (0, 0).
"""

from __future__ import annotations

import base64
import io
import json
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, Field, ValidationError

from geosleuth.core.config import Settings
from geosleuth.core.photo import Photo
from geosleuth.run.policy import LocateResult, next_tool
from geosleuth.core.state import Evidence, Guess

if TYPE_CHECKING:
    from geosleuth.run.graph import AgentContext, GeoState
    from geosleuth.run.traces import TraceStore

TEXT_TOOLS = ("text_clues", "gazetteer", "osm")
"""Tools that work on the text read from the photo."""
TEXT_FIRST = ("text_clues", "gazetteer")
"""Tools the LLM must run on text read from the photo before it may commit (when they are in use)."""
READERS = ("ocr", "zoom")
"""Tools whose Evidence holds lines of text read from the photo."""
OSM_RADIUS_KM = 50.0
"""How far around the best candidate point the OSM check searches."""
SUPPORT_RATIO = 0.1
"""A model that cannot see the photo may commit only to a country whose fused probability is at
least this fraction of the top country's: anything else is not supported by the evidence."""
STRUCTURED_RETRIES = 2
"""Extra attempts when the LLM's reply does not parse or validate."""
MAX_TOOLS_PER_DECISION = 3
ZOOM_MAX_AREA = 0.5
"""Largest share of the photo a zoom crop may cover (a bigger one only re-reads what OCR read)."""
MAX_ZOOMS = 2
"""Zooms a locate run may make (each costs an LLM decision; small models tend to zoom on and on)."""
IMAGE_SIDE = 768
"""Long side, in pixels, of the photo sent to a vision model."""


class PlannerError(RuntimeError):
    """The requested planner cannot run (e.g. `--planner llm` with no LLM available)."""


# tools in the context of a run ---------------------------------------------------------------------


def photo_lines(evidence: list[Evidence]) -> list[str]:
    """The distinct lines of text read from the photo so far (by ocr and zoom), in reading order."""
    lines = [
        line["text"]
        for item in evidence
        if item.tool in READERS and item.ok
        for line in item.observations.get("lines", [])
    ]
    return list(dict.fromkeys(lines))


def blocker(name: str, settings: Settings, evidence: list[Evidence], belief: Any) -> str | None:
    """Why tool `name` cannot run yet in this state (a missing input), or None when it can."""
    if name == "exif" and not settings.use_metadata:
        return "metadata is withheld in this run"
    if name in TEXT_TOOLS and not photo_lines(evidence):
        return "no text has been read from the photo yet (call ocr first)"
    if name == "zoom" and not any(item.tool == "ocr" for item in evidence):
        return "look at the whole photo first (call ocr)"
    if name == "osm" and not belief.candidates:
        return "no candidate point to search around yet (call gazetteer first)"
    return None


def _chosen_lines(lines: list[str], text: str | None) -> list[str]:
    """The photo lines a planner picked by quoting them in `text`; all lines when it picked none.

    Only text actually read from the photo reaches the tools, so a planner cannot invent evidence.
    """
    wanted = [
        part.strip().casefold() for part in (text or "").replace(";", "\n").splitlines() if part.strip()
    ]
    picked = [line for line in lines if any(w in line.casefold() or line.casefold() in w for w in wanted)]
    return picked or lines


IMAGE_TOOLS = {
    "clip_zero_shot": "geosleuth.tools.clip_zero_shot:clip_zero_shot",
    "retrieval": "geosleuth.tools.retrieval:retrieve",
    "geoclip": "geosleuth.tools.geoclip_tool:geoclip_locate",
}
"""Vision tools the agent calls as `function(image, settings)`: the run's settings, no file round trip."""


def call_tool(
    name: str, args: dict[str, Any], state: GeoState, *, photo: Photo, settings: Settings
) -> Evidence:
    """Run the registered tool `name` on the current photo, with inputs taken from the state.

    `args` may hold "text" (which photo lines the text tools get) and "box" (zoom's crop, fractions).
    A tool this module has no rule for is called through its LangChain wrapper when its required
    arguments are a photo `path` (it gets the photo as the tools may see it, saved without metadata)
    or a `text` (the photo lines). Missing inputs give a `bad_input` Evidence naming what to do first.
    """
    from geosleuth.tools import REGISTRY

    evidence, belief = state["evidence"], state["belief"]
    if name not in REGISTRY:
        return Evidence.failure(
            name, "bad_input", f"unknown tool {name!r}; known: {', '.join(REGISTRY)}", inputs=args
        )
    why = blocker(name, settings, evidence, belief)
    if why:
        return Evidence.failure(name, "bad_input", why, inputs=args)
    lines = _chosen_lines(photo_lines(evidence), args.get("text"))
    if name == "exif":
        from geosleuth.tools.exif import read_metadata

        return read_metadata(photo)
    if name == "ocr":
        from geosleuth.tools.ocr import read_text

        return read_text(
            photo.image, engines=settings.ocr_engines, max_side=settings.ocr_max_side, device=settings.device
        )
    if name == "zoom":
        from geosleuth.tools.zoom import zoom

        return zoom(
            photo.image,
            args.get("box") or [0, 0, 1, 1],
            engines=settings.ocr_engines,
            max_side=settings.ocr_max_side,
            device=settings.device,
        )
    if name == "text_clues":
        from geosleuth.tools.text_clues import read_clues

        return read_clues(lines)
    if name == "gazetteer":
        from geosleuth.tools.gazetteer import find_places

        return find_places(lines, country_hint=belief.probabilities())
    if name == "osm":
        from geosleuth.tools.osm import query_overpass

        anchor = max(belief.candidates, key=lambda c: c.weight)
        return query_overpass(
            lines,
            around=(anchor.lat, anchor.lon, OSM_RADIUS_KM),
            endpoint=settings.overpass_url,
            timeout_s=settings.osm_timeout_s,
            cache_dir=settings.cache_dir / "osm",
            retries=settings.osm_retries,
        )
    if name in IMAGE_TOOLS:
        import importlib

        module, function = IMAGE_TOOLS[name].split(":")
        return getattr(importlib.import_module(module), function)(photo.image, settings)
    return _call_wrapper(name, photo, lines)


def _call_wrapper(name: str, photo: Photo, lines: list[str]) -> Evidence:
    """Call a registered tool through its LangChain wrapper, on the photo file or on the photo's text."""
    from geosleuth.tools import get_tool

    tool = get_tool(name)
    schema = tool.get_input_schema().model_json_schema()
    required, known = set(schema.get("required", [])), set(schema.get("properties", {}))
    if "path" in known and required <= {"path"}:
        with tempfile.TemporaryDirectory(prefix="geosleuth-") as folder:
            path = Path(folder) / f"photo-{photo.sha256[:16]}.png"
            photo.image.save(path)  # pixels only: no metadata, a neutral name
            result = tool.invoke({"path": str(path)})
    elif "text" in known and required <= {"text"}:
        if not lines:
            return Evidence.failure(
                name, "bad_input", "no text has been read from the photo yet (call ocr first)"
            )
        result = tool.invoke({"text": "\n".join(lines)})
    else:
        return Evidence.failure(
            name, "bad_input", f"the agent cannot call {name!r}: it needs {sorted(required)}"
        )
    return Evidence.model_validate(result)


def usable_tools(settings: Settings) -> list[str]:
    """Tools a planner may call in a run: `Settings.tools` (exif only with metadata), plus zoom after ocr."""
    names = [t for t in settings.tools if t != "exif" or settings.use_metadata]
    if "ocr" in names and "zoom" not in names:
        names.append("zoom")
    return names


def ready_tools(state: GeoState, settings: Settings) -> list[str]:
    """Usable tools that can run now and have not run yet this session.

    Zoom may run again: up to MAX_ZOOMS times in a locate run, and on every chat question.
    """
    called = [e.tool for e in state["evidence"]]
    zoom_ok = called.count("zoom") < MAX_ZOOMS or bool(state.get("question"))
    return [
        t
        for t in usable_tools(settings)
        if (zoom_ok if t == "zoom" else t not in called)
        and blocker(t, settings, state["evidence"], state["belief"]) is None
    ]


# the policy planner --------------------------------------------------------------------------------


class PolicyPlanner:
    """The deterministic planner: the next ready tool in `Settings.tools` order; commits by fusion."""

    name = "policy"
    model = None

    def decide(self, state: GeoState, ctx: AgentContext) -> dict[str, Any]:
        """Pick the next tool whose inputs are ready, or stop when none is left."""
        settings = ctx.settings

        def ready(tool: str) -> bool:
            return blocker(tool, settings, state["evidence"], state["belief"]) is None

        choice = next_tool(settings.tools, state.get("cursor", 0), ready)
        if choice is None:
            return {"pending": [], "stop": "policy: no tool left", "cursor": len(settings.tools)}
        index, tool = choice
        return {"pending": [{"tool": tool, "args": {}}], "cursor": index + 1}

    def answer(self, state: GeoState, ctx: AgentContext) -> dict[str, Any]:
        """Commit to the fused Belief's answer."""
        from geosleuth.run.fusion import commit
        from geosleuth.run.graph import fusion_of

        return {"guess": commit(fusion_of(ctx.prior, state["evidence"])), "rationale": None}


# the LLM planner -----------------------------------------------------------------------------------


class Decision(BaseModel):
    """The LLM's choice of the next step."""

    action: Literal["call_tool", "commit"] = Field(description="Call tools now, or commit to an answer.")
    tools: list[str] = Field(default_factory=list, description="Tools to call now, in order.")
    text: str = Field(default="", description="Which photo lines a text tool should use.")
    box: list[float] = Field(
        default_factory=lambda: [0.0, 0.0, 1.0, 1.0], description="Zoom crop (fractions)."
    )
    reason: str = Field(default="", description="Why, in a few words.")


class Answer(BaseModel):
    """The LLM's committed answer; every field is required in the schema it is asked for."""

    country_code: str = Field(description="ISO 3166-1 alpha-2 code.")
    region: str = Field(description="First-level region, or ''.")
    city: str = Field(description="Town or city, or ''.")
    lat: float = Field(ge=-90, le=90, description="Latitude.")
    lon: float = Field(ge=-180, le=180, description="Longitude.")
    confidence: float = Field(description="Probability that the country is right, 0-1.")
    radius_km: float = Field(description="Radius likely to hold the spot, km.")
    rationale: str = Field(description="The evidence behind the answer, briefly.")


def decision_schema(tools: list[str], *, may_commit: bool = True) -> dict[str, Any]:
    """JSON schema of a Decision whose tools are limited to `tools` (all fields required).

    With `may_commit` False the only action is "call_tool" and at least one tool must be named.
    """
    return {
        "type": "object",
        "properties": {
            "action": {"type": "string", "enum": ["call_tool", "commit"] if may_commit else ["call_tool"]},
            "tools": {
                "type": "array",
                "items": {"type": "string", "enum": tools},
                "minItems": 0 if may_commit else 1,
                "maxItems": MAX_TOOLS_PER_DECISION,
            },
            "text": {"type": "string", "maxLength": 200},
            "box": {"type": "array", "items": {"type": "number"}, "minItems": 4, "maxItems": 4},
            "reason": {"type": "string", "maxLength": 48},
        },
        "required": ["action", "tools", "text", "box", "reason"],
        "additionalProperties": False,
    }


def answer_schema() -> dict[str, Any]:
    """JSON schema of an Answer (all fields required)."""
    return {
        "type": "object",
        "properties": {
            "country_code": {"type": "string", "pattern": "^[A-Z]{2}$"},
            "region": {"type": "string", "maxLength": 80},
            "city": {"type": "string", "maxLength": 80},
            "lat": {"type": "number"},
            "lon": {"type": "number"},
            "confidence": {"type": "number"},
            "radius_km": {"type": "number"},
            "rationale": {"type": "string", "maxLength": 200},
        },
        "required": list(Answer.model_fields),
        "additionalProperties": False,
    }


def _quoted(texts: list[str]) -> str:
    """Each text as a JSON string on its own line, with < and > escaped so it cannot close a tag."""
    return "\n".join(
        json.dumps(t, ensure_ascii=False).replace("<", "\\u003c").replace(">", "\\u003e") for t in texts
    )


def _first_sentence(text: str) -> str:
    return text.strip().split("\n")[0].split(". ")[0].rstrip(".")


def describe_tools(tools: list[str]) -> str:
    """One line per tool: its name and the first sentence of the description the model reads."""
    from geosleuth.tools import get_tool

    return "\n".join(f"- {t}: {_first_sentence(get_tool(t).description)}" for t in tools)


def describe_state(state: GeoState, ctx: AgentContext) -> str:
    """A compact summary of the run for the LLM: photo text (as data), results, countries, places, budget."""
    from geosleuth.run import prompts
    from geosleuth.core.countries import get_country
    from geosleuth.run.graph import steps_left

    evidence, belief = state["evidence"], state["belief"]
    called = ", ".join(dict.fromkeys(e.tool for e in evidence)) or prompts.NOTHING
    lines = photo_lines(evidence)
    results = [f"{e.tool}: {e.summary}" for e in evidence if e.tool not in READERS]
    countries = "; ".join(f"{c} {get_country(c).name} {p:.2f}" for c, p in belief.top(5))
    places = [
        f"{c.label or 'point'} [{c.country_code or '?'}] ({c.lat:.4f}, {c.lon:.4f}) ±{c.radius_km:.0f} km"
        for c in sorted(belief.candidates, key=lambda c: -c.weight)[:5]
    ]
    text = prompts.STATE.format(
        called=called,
        photo_text=_quoted(lines) if lines else prompts.NO_TEXT,
        results=_quoted(results) if results else prompts.NOTHING,
        countries=countries,
        places=_quoted(places) if places else prompts.NOTHING,
        left=max(0, steps_left(state, ctx.settings)),
    )
    if state.get("question"):
        text += prompts.QUESTION.format(question=json.dumps(state["question"], ensure_ascii=False))
    return text


def _data_url(image: Any, side: int = IMAGE_SIDE) -> str:
    """The image as a base64 JPEG data URL, scaled down to `side` pixels on its long side."""
    copy = image.convert("RGB")
    copy.thumbnail((side, side))
    buffer = io.BytesIO()
    copy.save(buffer, format="JPEG", quality=85)
    return "data:image/jpeg;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def _usage(message: Any) -> tuple[int, int]:
    """Prompt and completion tokens of an AIMessage (0, 0 when the backend does not say)."""
    usage = getattr(message, "usage_metadata", None) or {}
    return int(usage.get("input_tokens", 0)), int(usage.get("output_tokens", 0))


def _as_records(messages: list[Any]) -> list[dict[str, Any]]:
    """Messages as role/content records for the trace (inline images are replaced by the store)."""
    return [{"role": m.type, "content": m.content} for m in messages]


def _parse(content: Any, model: type[BaseModel]) -> BaseModel:
    """Parse a JSON reply (optionally fenced in ```json) into `model`; ValueError when it does not fit."""
    text = (
        content
        if isinstance(content, str)
        else "".join(part.get("text", "") if isinstance(part, dict) else str(part) for part in content)
    )
    text = text.strip()
    if text.startswith("```"):
        text = text.strip("`").removeprefix("json").strip()
    try:
        return model.model_validate(json.loads(text))
    except (json.JSONDecodeError, ValidationError) as exc:
        raise ValueError(f"reply is not a valid {model.__name__}: {str(exc).splitlines()[0]}") from exc


class LLMPlanner:
    """A chat model chooses the tools and commits; see the module docstring for the safeguards."""

    name = "llm"

    def __init__(self, chat_model: Any, *, model: str | None, vision: bool, native_tools: bool) -> None:
        """Wrap a LangChain chat model (ChatOpenAI, or a scripted fake in tests).

        Args:
            chat_model: The chat model.
            model: The model's name, for traces.
            vision: Send the photo (and zoom crops) to the model.
            native_tools: Ask for decisions as native tool calls, not as schema-constrained JSON.
        """
        self.chat_model, self.model, self.vision, self.native_tools = chat_model, model, vision, native_tools

    @classmethod
    def from_backend(cls, chat_model: Any, backend: Any, settings: Settings) -> LLMPlanner:
        """Build from `geosleuth.run.llm.make_chat_model`'s (model, backend), honouring `llm_tool_calling`."""
        native = {"native": True, "json": False}.get(settings.llm_tool_calling, bool(backend.supports_tools))
        return cls(chat_model, model=backend.model, vision=bool(backend.supports_vision), native_tools=native)

    # prompts -----------------------------------------------------------------------------------------
    def _messages(self, state: GeoState, ctx: AgentContext, ask: str) -> list[Any]:
        from langchain_core.messages import HumanMessage, SystemMessage

        from geosleuth.run import prompts

        sight = prompts.SIGHT_VISION if self.vision else prompts.SIGHT_TEXT_ONLY
        history = [m for m in state.get("messages", []) if m.type in ("human", "ai")]
        history = (history[:-1] if state.get("question") else history)[
            -6:
        ]  # the question is in the state text
        text = describe_state(state, ctx) + ask
        content: Any = text
        if self.vision:
            content = [
                {"type": "text", "text": text},
                {"type": "image_url", "image_url": {"url": _data_url(ctx.photo.image)}},
            ]
            zooms = [e for e in state["evidence"] if e.tool == "zoom" and "box" in e.observations]
            if zooms:
                crop = ctx.photo.image.crop(tuple(zooms[-1].observations["box"]))
                content.append({"type": "image_url", "image_url": {"url": _data_url(crop)}})
        system = prompts.SYSTEM.format(sight=sight, tools=describe_tools(usable_tools(ctx.settings)))
        return [SystemMessage(system), *history, HumanMessage(content)]

    def _invoke(
        self,
        runnable: Any,
        messages: list[Any],
        ctx: AgentContext,
        state: GeoState,
        parse: Callable[[Any], Any],
    ) -> tuple[Any, int, int, str | None]:
        """Ask the model, retrying when `parse` fails, tracing each; return (parsed, calls, tokens, error)."""
        calls, tokens, error = 0, 0, None
        for _ in range(1 + STRUCTURED_RETRIES):
            start = time.perf_counter()
            reply, error = None, None
            try:
                reply = runnable.invoke(messages)
                parsed = parse(reply)
            except Exception as exc:  # noqa: BLE001 - a failed call is traced and the run falls back
                parsed, error = None, f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
            tokens_in, tokens_out = _usage(reply)
            calls, tokens = calls + 1, tokens + tokens_in + tokens_out
            ctx.tracer.step(
                kind="llm",
                name=self.model or "llm",
                input=_as_records(messages),
                output=None
                if reply is None
                else {
                    "content": reply.content,
                    "tool_calls": getattr(reply, "tool_calls", None),
                    "parsed": parsed.model_dump() if isinstance(parsed, BaseModel) else parsed,
                },
                error=error,
                seconds=time.perf_counter() - start,
                tokens_in=tokens_in,
                tokens_out=tokens_out,
                belief=state["belief"].probabilities(),
            )
            if error is None:
                return parsed, calls, tokens, None
            if reply is None:  # the backend failed: retrying the same request will not help
                break
        return None, calls, tokens, error

    def _json_runnable(self, name: str, schema: dict[str, Any]) -> Any:
        return self.chat_model.bind(
            response_format={
                "type": "json_schema",
                "json_schema": {"name": name, "strict": True, "schema": schema},
            }
        )

    # the planner -------------------------------------------------------------------------------------
    def decide(self, state: GeoState, ctx: AgentContext) -> dict[str, Any]:
        """Ask the model for the next tools; an error or a commit ends the turn.

        The model is offered only tools that can run now and have not run yet (zoom may repeat). With
        none left the turn commits; at the start of a run with exactly one tool to offer, that tool
        runs without asking (there is nothing to choose). While text read from the photo has not yet
        been through the TEXT_FIRST tools, committing is not offered (small models tend to commit on
        the raw text alone, throwing away the clues those tools find).
        """
        from geosleuth.run import prompts

        offered = ready_tools(state, ctx.settings)
        if not offered:
            return {"pending": [], "stop": "no tool left to call"}
        if len(offered) == 1 and not state["evidence"]:
            return {"pending": [{"tool": offered[0], "args": {}}]}
        may_commit = not (photo_lines(state["evidence"]) and set(offered) & set(TEXT_FIRST))
        messages = self._messages(state, ctx, prompts.DECIDE.replace("{offered}", ", ".join(offered)))
        if self.native_tools:
            runnable = self.chat_model.bind_tools(_tool_specs(offered, may_commit=may_commit))
            parse: Callable[[Any], Any] = _decision_from_tool_calls
        else:
            runnable = self._json_runnable("decision", decision_schema(offered, may_commit=may_commit))

            def parse(reply: Any) -> Decision:
                return _parse(reply.content, Decision)

        decision, calls, tokens, error = self._invoke(runnable, messages, ctx, state, parse)
        usage = {"llm_calls": state.get("llm_calls", 0) + calls, "tokens": state.get("tokens", 0) + tokens}
        if decision is None:
            return {**usage, "pending": [], "stop": f"llm failed: {error}"}
        if decision.action == "commit" or not decision.tools:
            return {**usage, "pending": [], "stop": f"llm committed: {decision.reason}".strip()}
        pending = []
        for tool in decision.tools[:MAX_TOOLS_PER_DECISION]:
            call: dict[str, Any] = {"tool": tool, "args": _args_for(tool, decision)}
            if tool not in offered:  # answered with an error Evidence, so the model learns why
                call["refusal"] = f"{tool!r} cannot be called now; you may call: {', '.join(offered)}"
            elif tool == "zoom":
                call["refusal"] = zoom_refusal(decision.box, state["evidence"])
            pending.append(call)
        return {**usage, "pending": pending}

    def answer(self, state: GeoState, ctx: AgentContext) -> dict[str, Any]:
        """Ask the model for its structured answer; check it against the evidence, else commit by fusion."""
        from geosleuth.run import prompts
        from geosleuth.run.fusion import commit
        from geosleuth.run.graph import fusion_of

        fusion = fusion_of(ctx.prior, state["evidence"])
        fused = commit(fusion)
        messages = self._messages(state, ctx, prompts.ANSWER)
        reply, calls, tokens, error = self._invoke(
            self._json_runnable("answer", answer_schema()),
            messages,
            ctx,
            state,
            lambda r: _parse(r.content, Answer),
        )
        usage = {"llm_calls": state.get("llm_calls", 0) + calls, "tokens": state.get("tokens", 0) + tokens}
        if reply is None:
            return {
                **usage,
                "guess": fused,
                "rationale": f"fused evidence (the model's answer failed: {error})",
            }
        guess, why = checked_guess(reply, fusion, fused, text_only=not self.vision)
        if guess is None:
            return {
                **usage,
                "guess": fused,
                "rationale": f"fused evidence (the model's answer was set aside: {why}). {reply.rationale}",
            }
        return {**usage, "guess": guess, "rationale": reply.rationale}


def zoom_refusal(box: list[float], evidence: list[Evidence]) -> str | None:
    """Why a zoom into `box` would add nothing (None when it may run): too big a crop, or one seen before.

    The model tends to "zoom" into the whole photo, which only re-reads what OCR read; a crop must
    cover at most ZOOM_MAX_AREA of the photo and not repeat an earlier zoom's box.
    """
    if len(box) == 4:
        area = max(0.0, box[2] - box[0]) * max(0.0, box[3] - box[1])
        if area > ZOOM_MAX_AREA:
            return (
                f"zoom box {box} covers {area:.0%} of the photo: choose a part (at most {ZOOM_MAX_AREA:.0%})"
            )
    if any(item.tool == "zoom" and item.inputs.get("box") == [float(v) for v in box] for item in evidence):
        return f"already zoomed into {box}: choose another part or commit"
    return None


def _args_for(tool: str, decision: Decision) -> dict[str, Any]:
    """The arguments a Decision gives one tool: zoom gets the box, text tools the text, others none."""
    if tool == "zoom":
        return {"box": decision.box}
    if tool in TEXT_TOOLS and decision.text.strip():
        return {"text": decision.text}
    return {}


def _tool_specs(tools: list[str], *, may_commit: bool = True) -> list[dict[str, Any]]:
    """OpenAI function specs for native tool calling: each tool with simple arguments, and `commit`."""
    from geosleuth.tools import get_tool

    specs = []
    for name in tools:
        properties: dict[str, Any] = {}
        if name == "zoom":
            properties["box"] = {
                "type": "array",
                "items": {"type": "number"},
                "minItems": 4,
                "maxItems": 4,
                "description": "Crop [left, top, right, bottom] as 0-1 fractions of the photo.",
            }
        elif name in TEXT_TOOLS:
            properties["text"] = {"type": "string", "description": "Photo lines to use (default: all)."}
        specs.append(
            {
                "type": "function",
                "function": {
                    "name": name,
                    "description": get_tool(name).description.split("\n\n")[0],
                    "parameters": {"type": "object", "properties": properties},
                },
            }
        )
    if not may_commit:
        return specs
    specs.append(
        {
            "type": "function",
            "function": {
                "name": "commit",
                "description": "Stop calling tools and commit to an answer.",
                "parameters": {"type": "object", "properties": {"reason": {"type": "string"}}},
            },
        }
    )
    return specs


def _decision_from_tool_calls(reply: Any) -> Decision:
    """Turn a native tool-calling reply into a Decision (no tool call, or `commit`, means commit)."""
    calls = [c for c in getattr(reply, "tool_calls", None) or [] if c["name"] != "commit"]
    if not calls:
        return Decision(action="commit", reason=str(reply.content)[:160])
    first = calls[0].get("args", {})
    return Decision(
        action="call_tool",
        tools=[c["name"] for c in calls],
        text=str(first.get("text", "")),
        box=next(
            (c["args"]["box"] for c in calls if c["name"] == "zoom" and "box" in c.get("args", {})),
            [0.0, 0.0, 1.0, 1.0],
        ),
    )


def checked_guess(answer: Answer, fusion: Any, fused: Guess, *, text_only: bool) -> tuple[Guess | None, str]:
    """Turn the LLM's Answer into a Guess, or return (None, why) when the evidence does not back it.

    Refused: an unknown country code; for a model that cannot see the photo, a country whose fused
    probability is under SUPPORT_RATIO of the top country's; a point outside the stated country (unless
    that country is the fused one, whose point is then used). A model that cannot see the photo and
    agrees with the fused country gets the fused answer: it knows only the candidates the evidence
    ranked, and the fusion ranks them better (measured: small models copy a weaker candidate).
    """
    from geosleuth.core.countries import get_country
    from geosleuth.core.geo import country_at
    from geosleuth.tools.gazetteer import reverse_place

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


# the entry point -----------------------------------------------------------------------------------


def resolve_planner(requested: str, settings: Settings) -> str:
    """Turn "auto" into "llm" when an LLM is available, else "policy"; other names pass through."""
    if requested != "auto":
        return requested
    try:
        from geosleuth.run.llm import llm_available
    except ImportError:
        return "policy"
    return "llm" if llm_available(settings) is True else "policy"


def make_planner(name: str, settings: Settings, chat: tuple[Any, Any] | None = None) -> Any:
    """Build the planner `name` ("policy" or "llm"); `chat` is a ready (chat model, backend) pair.

    Raises:
        PlannerError: "llm" was asked for and no LLM can be built.
    """
    if name == "policy":
        return PolicyPlanner()
    if chat is None:
        try:
            from geosleuth.run.llm import llm_available, make_chat_model
        except ImportError as exc:
            raise PlannerError(f"the LLM planner is not installed: {exc}") from exc
        available = llm_available(settings)
        if available is not True:
            raise PlannerError(f"no LLM available: {available}")
        try:
            chat = make_chat_model(settings)
        except RuntimeError as exc:  # geosleuth.run.llm.LLMError: the endpoint or embedded model cannot be used
            raise PlannerError(f"no LLM available: {exc}") from exc
    return LLMPlanner.from_backend(chat[0], chat[1], settings)


def run_planner(
    photo: Photo,
    settings: Settings,
    *,
    planner: str | None = None,
    traces: TraceStore | None = None,
    truth: dict | None = None,
    eval_run: str | None = None,
    on_evidence: Callable[[Evidence], None] | None = None,
    photo_path: str | None = None,
    chat: tuple[Any, Any] | None = None,
    on_event: Callable[[str, Any], None] | None = None,
) -> LocateResult:
    """Locate one photo with a planner through the agent graph, tracing the run when `traces` is given.

    Args:
        photo: The loaded photo. Tools see `photo.without_metadata()` when `settings.use_metadata` is False.
        settings: The run's settings (tools, budgets, LLM).
        planner: "policy", "llm" or "auto" (LLM when one is available); None means `settings.planner`.
        traces: Where to record the run (header, each LLM and tool step, the commit).
        truth: {"lat", "lon", "country"}, written to the trace only; it never reaches tools or the LLM.
        eval_run: Name of the eval run this photo belongs to (trace header).
        on_evidence: Called after each tool call, for live display.
        photo_path: The photo's path as the caller names it, for the trace header.
        chat: A ready (chat model, backend) pair for the LLM planner (default: `geosleuth.run.llm.make_chat_model`).
        on_event: Called with each graph event (see `geosleuth.run.graph.AgentContext.on_event`).

    Raises:
        PlannerError: the LLM planner was asked for and no LLM is available.
    """
    from geosleuth.run.fusion import prior_belief
    from geosleuth.run.graph import AgentContext, Tracer, fresh_run, fusion_of, graph, recursion_limit

    start = time.perf_counter()
    chosen = make_planner(resolve_planner(planner or settings.planner, settings), settings, chat)
    seen = photo if settings.use_metadata else photo.without_metadata()
    prior = prior_belief(settings.prior)
    tracer = Tracer(traces)
    if traces is not None:
        tracer.run_id = traces.start_run(
            kind="eval" if eval_run else "locate",
            planner=chosen.name,
            photo=photo_path or str(photo.path),
            photo_sha256=photo.sha256,
            config=settings.model_dump(mode="json"),
            model=chosen.model,
            eval_run=eval_run,
            truth=truth,
            prior=prior.probabilities(),
        )

    def event(kind: str, payload: Any) -> None:
        if kind == "evidence" and on_evidence is not None:
            on_evidence(payload)
        if on_event is not None:
            on_event(kind, payload)

    from geosleuth.evals.tool_cache import cached_tool_call  # evals reuse tool results by photo hash (off otherwise)

    ctx = AgentContext(
        photo=seen,
        settings=settings,
        planner=chosen,
        prior=prior,
        tracer=tracer,
        on_event=event,
        call_tool=lambda name, args, state: cached_tool_call(
            call_tool, name, args, state, photo=seen, settings=settings
        ),
    )
    try:
        final = graph.invoke(
            fresh_run(prior), context=ctx, config={"recursion_limit": recursion_limit(settings)}
        )
    except BaseException as exc:
        if traces is not None and tracer.run_id:
            traces.finish_run(
                tracer.run_id,
                guess=None,
                error=f"{type(exc).__name__}: {exc}",
                seconds=time.perf_counter() - start,
            )
        raise
    result = LocateResult(
        guess=final["guess"],
        fusion=fusion_of(prior, final["evidence"]),
        seconds=time.perf_counter() - start,
        planner=chosen.name,
        trace_id=tracer.run_id,
        llm_calls=final["llm_calls"],
        tool_calls=final["steps"],
        tokens=final["tokens"],
        evidence=list(final["evidence"]),
        rationale=final.get("rationale"),
    )
    if traces is not None and tracer.run_id:
        traces.finish_run(
            tracer.run_id,
            guess=result.guess.model_dump(mode="json"),
            seconds=result.seconds,
            llm_calls=result.llm_calls,
            tool_calls=result.tool_calls,
            tokens=result.tokens,
        )
    return result
