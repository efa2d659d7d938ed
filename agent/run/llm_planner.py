"""The LLM planner: a chat model picks the next tools, then commits to a structured answer.

It asks for JSON that a schema constrains (small local models) or uses native tool calls where the
backend has them; both schemas come from the Pydantic models `Decision` and `Answer`, and the prompt
describes their keys from the same models' field descriptions. Text read from the photo reaches the
model only as quoted data. The committed answer is checked against the evidence
(`geosleuth.run.answer_check`); an unusable one falls back to the fused commit of
`geosleuth.run.fusion`, never (0, 0).
"""

from __future__ import annotations

import base64
import io
import json
import time
from collections.abc import Callable
from typing import Any, Literal, TypeVar

from langchain_core.messages import HumanMessage, SystemMessage
from pydantic import BaseModel, Field, ValidationError, create_model

from geosleuth.core.config import Settings
from geosleuth.core.countries import get_country
from geosleuth.core.run_state import GeoState
from geosleuth.core.state import Evidence
from geosleuth.run import prompts
from geosleuth.run.answer_check import Answer, checked_guess
from geosleuth.run.budget import steps_left
from geosleuth.run.context import AgentContext
from geosleuth.run.fusion import commit, fusion_of
from geosleuth.run.llm import LLMBackend
from geosleuth.run.toolnode import photo_lines, ready_tools, usable_tools
from geosleuth.tools import registry, text_readers

ModelT = TypeVar("ModelT", bound=BaseModel)


class Decision(BaseModel):
    """The LLM's choice of the next step."""

    action: Literal["call_tool", "commit"] = Field(description='"call_tool" or "commit"')
    tools: list[str] = Field(default_factory=list, description="names to call now, in order; [] to commit")
    text: str = Field(
        default="", max_length=200, description='photo lines a text tool should use, or "" for all'
    )
    box: list[float] = Field(
        default_factory=lambda: [0.0, 0.0, 1.0, 1.0],
        min_length=4,
        max_length=4,
        description="for zoom: the part to look at, [left, top, right, bottom] as 0-1 fractions of the "
        "photo, e.g. [0, 0, 0.5, 0.5] is the top-left quarter; else [0, 0, 1, 1]",
    )
    reason: str = Field(default="", max_length=48, description="a few words")


def strict_schema(model: type[BaseModel]) -> dict[str, Any]:
    """Return the model's JSON schema with every property required and no others (constrained decoding)."""
    schema = model.model_json_schema()
    schema["required"] = list(schema["properties"])
    schema["additionalProperties"] = False
    return schema


def decision_model(tools: list[str], *, may_commit: bool, max_tools: int) -> type[Decision]:
    """Return a Decision whose `tools` are limited to `tools`, at most `max_tools` of them.

    With `may_commit` False the only action is "call_tool" and at least one tool must be named.
    """
    actions = ("call_tool", "commit") if may_commit else ("call_tool",)
    names = tuple(tools)
    # Literals built at run time: types only Pydantic sees, so they are values (Any) to mypy.
    action_type: Any = Literal[actions]
    tool_type: Any = Literal[names]
    tools_type: Any = list[tool_type]
    fields = Decision.model_fields
    model: type[Decision] = create_model(
        "Decision",
        __base__=Decision,
        action=(action_type, Field(description=fields["action"].description)),
        tools=(
            tools_type,
            Field(
                default_factory=list,
                min_length=0 if may_commit else 1,
                max_length=max_tools,
                description=fields["tools"].description,
            ),
        ),
    )
    return model


def _croppers() -> set[str]:
    """Return the tools that look at a crop the planner chooses (their spec takes a `box`): zoom."""
    return {name for name, spec in registry().items() if "box" in spec.planner_args}


def describe_keys(model: type[BaseModel]) -> str:
    """Return the model's JSON keys with their descriptions, for the prompt (the schema's own words)."""
    return ", ".join(f'"{name}" ({field.description})' for name, field in model.model_fields.items())


def _quoted(texts: list[str]) -> str:
    """Each text as a JSON string on its own line, with < and > escaped so it cannot close a tag."""
    return "\n".join(
        json.dumps(t, ensure_ascii=False).replace("<", "\\u003c").replace(">", "\\u003e") for t in texts
    )


def _first_sentence(text: str) -> str:
    return text.strip().split("\n")[0].split(". ")[0].rstrip(".")


def describe_tools(tools: list[str]) -> str:
    """One line per tool: its name and the first sentence of its spec's description."""
    specs = registry()
    return "\n".join(f"- {t}: {_first_sentence(specs[t].description)}" for t in tools)


def describe_state(state: GeoState, ctx: AgentContext) -> str:
    """Summarise the run for the LLM: photo text (as data), results, countries, places, budget."""
    evidence, belief = state["evidence"], state["belief"]
    called = ", ".join(dict.fromkeys(e.tool for e in evidence)) or prompts.NOTHING
    lines, readers = photo_lines(evidence), text_readers()
    results = [f"{e.tool}: {e.summary}" for e in evidence if e.tool not in readers]
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


def _data_url(image: Any, side: int) -> str:
    """Return the image as a base64 JPEG data URL, scaled down to `side` pixels on its long side."""
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


def _parse(content: Any, model: type[ModelT]) -> ModelT:
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
    def from_backend(cls, chat_model: Any, backend: LLMBackend, settings: Settings) -> LLMPlanner:
        """Build from `geosleuth.run.llm.make_chat_model`'s (model, backend), honouring `llm_tool_calling`."""
        native = {"native": True, "json": False}.get(settings.llm_tool_calling, bool(backend.supports_tools))
        return cls(chat_model, model=backend.model, vision=bool(backend.supports_vision), native_tools=native)

    # prompts -----------------------------------------------------------------------------------------
    def _messages(self, state: GeoState, ctx: AgentContext, ask: str) -> list[Any]:
        sight = prompts.SIGHT_VISION if self.vision else prompts.SIGHT_TEXT_ONLY
        history = [m for m in state.get("messages", []) if m.type in ("human", "ai")]
        history = (history[:-1] if state.get("question") else history)[
            -6:
        ]  # the question is in the state text
        text = describe_state(state, ctx) + ask
        content: Any = text
        side = ctx.settings.llm_image_side
        if self.vision:
            content = [
                {"type": "text", "text": text},
                {"type": "image_url", "image_url": {"url": _data_url(ctx.photo.image, side)}},
            ]
            zooms = [e for e in state["evidence"] if e.tool in _croppers() and "box" in e.observations]
            if zooms:
                crop = ctx.photo.image.crop(tuple(zooms[-1].observations["box"]))
                content.append({"type": "image_url", "image_url": {"url": _data_url(crop, side)}})
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
        for _ in range(1 + ctx.settings.structured_retries):
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
        been through the tools whose spec sets `before_commit` (text_clues, gazetteer), committing is
        not offered.
        """
        settings = ctx.settings
        offered = ready_tools(state, settings, ctx.photo)
        if not offered:
            return {"pending": [], "stop": "no tool left to call"}
        if len(offered) == 1 and not state["evidence"]:
            return {"pending": [{"tool": offered[0], "args": {}}]}
        first = {name for name in offered if registry()[name].before_commit}
        may_commit = not (photo_lines(state["evidence"]) and first)
        model = decision_model(offered, may_commit=may_commit, max_tools=settings.max_tools_per_decision)
        ask = prompts.DECIDE.format(keys=describe_keys(Decision), offered=", ".join(offered))
        messages = self._messages(state, ctx, ask)
        if self.native_tools:
            runnable = self.chat_model.bind_tools(_tool_specs(offered, may_commit=may_commit))
            parse: Callable[[Any], Any] = _decision_from_tool_calls
        else:
            runnable = self._json_runnable("decision", strict_schema(model))

            def parse(reply: Any) -> Decision:
                return _parse(reply.content, Decision)

        decision, calls, tokens, error = self._invoke(runnable, messages, ctx, state, parse)
        usage = {"llm_calls": state.get("llm_calls", 0) + calls, "tokens": state.get("tokens", 0) + tokens}
        if decision is None:
            return {**usage, "pending": [], "stop": f"llm failed: {error}"}
        if decision.action == "commit" or not decision.tools:
            return {**usage, "pending": [], "stop": f"llm committed: {decision.reason}".strip()}
        refused = refused_calls(state["evidence"])
        asked = [(tool, _args_for(tool, decision)) for tool in decision.tools]
        if all(_call_key(tool, args) in refused for tool, args in asked):
            return {**usage, "pending": [], "stop": f"llm repeated a refused call ({decision.tools[0]})"}
        pending = []
        for index, (tool, args) in enumerate(asked):
            call: dict[str, Any] = {"tool": tool, "args": args}
            if _call_key(tool, args) in refused:
                call["refusal"] = (
                    f"refused before, so withdrawn for this photo ({refused[_call_key(tool, args)]}); "
                    f"you may call: {', '.join(offered)}, or commit"
                )
            elif index >= settings.max_tools_per_decision:  # answered, not dropped, so the model learns why
                call["refusal"] = (
                    f"not run: at most {settings.max_tools_per_decision} tool calls per decision "
                    "(max_tools_per_decision)"
                )
            elif tool not in offered:
                call["refusal"] = f"{tool!r} cannot be called now; you may call: {', '.join(offered)}"
            elif "box" in registry()[tool].planner_args:
                call["refusal"] = zoom_refusal(decision.box, state["evidence"], settings.zoom_max_area)
            pending.append(call)
        return {**usage, "pending": pending}

    def answer(self, state: GeoState, ctx: AgentContext) -> dict[str, Any]:
        """Ask the model for its structured answer; check it against the evidence, else commit by fusion."""
        fusion = fusion_of(ctx.prior, state["evidence"])
        fused = commit(fusion)
        messages = self._messages(state, ctx, prompts.ANSWER.format(keys=describe_keys(Answer)))
        reply, calls, tokens, error = self._invoke(
            self._json_runnable("answer", strict_schema(Answer)),
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


def refused_calls(evidence: list[Evidence]) -> dict[str, str]:
    """Return the calls refused so far on this photo (tool and arguments) with why: a refusal withdraws them.

    A planner's call that could not run is recorded as a `bad_input` Evidence with the call's
    arguments as its inputs; the same call would be refused again, so it is not offered again.
    """
    refused: dict[str, str] = {}
    for e in evidence:
        if e.error is not None and e.error.type == "bad_input":
            refused.setdefault(_call_key(e.tool, e.inputs), e.error.message)  # the first reason given
    return refused


def _call_key(tool: str, args: Any) -> str:
    """One string per tool call: the tool and its arguments as sorted JSON."""
    return json.dumps([tool, args], sort_keys=True, default=str)


def zoom_refusal(box: list[float], evidence: list[Evidence], max_area: float) -> str | None:
    """Why a zoom into `box` would add nothing (None when it may run): too big a crop, or one seen before.

    The model tends to "zoom" into the whole photo, which only re-reads what OCR read; a crop must
    cover at most `max_area` (`Settings.zoom_max_area`) of the photo and not repeat an earlier zoom's box.
    """
    if len(box) == 4:
        area = max(0.0, box[2] - box[0]) * max(0.0, box[3] - box[1])
        if area > max_area:
            return (
                f"zoom box {box} covers {area:.0%} of the photo: choose a part (at most {max_area:.0%})"
            )
    croppers = _croppers()
    if any(item.tool in croppers and item.inputs.get("box") == [float(v) for v in box] for item in evidence):
        return f"already zoomed into {box}: choose another part or commit"
    return None


def _args_for(tool: str, decision: Decision) -> dict[str, Any]:
    """Return the arguments a Decision gives one tool, as its spec's `planner_args` name them (box, text)."""
    spec = registry().get(tool)
    wanted = spec.planner_args if spec else {}
    if "box" in wanted:
        return {"box": decision.box}
    if "text" in wanted and decision.text.strip():
        return {"text": decision.text}
    return {}


def _tool_specs(tools: list[str], *, may_commit: bool = True) -> list[dict[str, Any]]:
    """OpenAI function specs for native tool calling: each tool with its planner arguments, and `commit`."""
    specs = registry()
    functions = [
        {
            "type": "function",
            "function": {
                "name": name,
                "description": specs[name].description.split("\n\n")[0],
                "parameters": {"type": "object", "properties": dict(specs[name].planner_args)},
            },
        }
        for name in tools
    ]
    if not may_commit:
        return functions
    functions.append(
        {
            "type": "function",
            "function": {
                "name": "commit",
                "description": "Stop calling tools and commit to an answer.",
                "parameters": {"type": "object", "properties": {"reason": {"type": "string"}}},
            },
        }
    )
    return functions


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
            (c["args"]["box"] for c in calls if "box" in c.get("args", {})),
            [0.0, 0.0, 1.0, 1.0],
        ),
    )
