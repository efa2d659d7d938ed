"""The LLM planner: look first, then let a chat model propose places that tools check, then fuse.

1. **Look.** The look-first pass of the policy (`geosleuth.run.policy.look_step`: exif when allowed,
   scene, OCR, text clues, gazetteer, OSM, ...) runs with no LLM call; its fused answer is the floor
   of the run, so no timeout, error or refusal of the model can return less than the policy would.
   When it read no text, a model that cannot see the photo has nothing to reason about and the run
   commits without asking it.
2. **Hypothesise.** One call shows the model what was read and seen (text as quoted data, tool
   results, likely countries, candidate places) and asks for a `Reasoning`: named places with
   reasons, never coordinates (`geosleuth.run.reasoning`). In a chat question it may also call tools
   (zoom), and a second round reads what they found.
3. **Verify.** Each place is checked by the `hypothesis` tool (geocoded, in its country, in a country
   the evidence supports) and enters fusion as that tool's evidence; one that fails is recorded and
   has no effect. When `osm` is among the run's tools and answers (online, or a local endpoint), the
   names read are then looked up around each checked place it has not searched near yet
   (`geosleuth.run.reasoning.osm_checks`), so a place the photo's shops and streets are found near
   gains OSM candidates there. With `web_search` among the tools and a `search_url` set, the text read
   is searched with each checked place (`geosleuth.run.reasoning.search_checks`), within the
   per-photo query budget; the places the results name enter fusion with a modest weight.
4. **Commit.** The answer is the fused commit of all the evidence (`geosleuth.run.fusion.commit`), so
   the point comes from checked candidates; the model's rationale is kept only for the claims the
   evidence backs (`geosleuth.run.rationale_check`).
"""

from __future__ import annotations

import base64
import io
import json
import time
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any, TypeVar

from langchain_core.messages import HumanMessage, SystemMessage
from pydantic import BaseModel, ValidationError

from geosleuth.core.config import Settings
from geosleuth.core.countries import get_country
from geosleuth.core.run_state import GeoState
from geosleuth.core.state import Evidence
from geosleuth.run import llm_prefix, prompts
from geosleuth.run.context import AgentContext
from geosleuth.run.fusion import commit, fusion_of
from geosleuth.run.llm import LLMBackend
from geosleuth.run.policy import look_step
from geosleuth.run.rationale_check import check_rationale
from geosleuth.run.reasoning import (
    Hypothesis,
    Reasoning,
    describe_keys,
    hypothesis_call,
    json_shape,
    native_functions,
    omitted,
    osm_checks,
    reasoning_from_tool_calls,
    reasoning_schema,
    search_checks,
)
from geosleuth.run.toolnode import photo_lines, ready_tools
from geosleuth.tools import registry, text_readers
from geosleuth.tools.hypothesis import TOOL as HYPOTHESIS_TOOL

ModelT = TypeVar("ModelT", bound=BaseModel)
SHOWN = 3
"""Countries and candidate places the model is shown (the prompt is read at ~30 tokens/s on 2 cores)."""
SUMMARY_CHARS = 120
"""Longest tool summary the model is shown."""


def _croppers() -> set[str]:
    """Return the tools that look at a crop the planner chooses (their spec takes a `box`): zoom."""
    return {name for name, spec in registry().items() if "box" in spec.planner_args}


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


def describe_state(state: GeoState) -> str:
    """Summarise the run for the LLM: photo text (as data), what the tools found, countries, places."""
    evidence, belief = state["evidence"], state["belief"]
    lines, readers = photo_lines(evidence), text_readers()
    results = [f"{e.tool}: {e.summary[:SUMMARY_CHARS]}" for e in evidence if e.tool not in readers and e.ok]
    countries = "; ".join(f"{c} {get_country(c).name} {p:.2f}" for c, p in belief.top(SHOWN))
    places = [
        f"{c.label or 'point'} [{c.country_code or '?'}]"
        for c in sorted(belief.candidates, key=lambda c: -c.weight)[:SHOWN]
    ]
    return prompts.STATE.format(
        photo_text=_quoted(lines) if lines else prompts.NO_TEXT,
        results=_quoted(results) if results else prompts.NOTHING,
        countries=countries,
        places=_quoted(places) if places else prompts.NOTHING,
    )


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


def _line(exc: BaseException) -> str:
    """Return an exception as `Type: first line of its message`."""
    text = str(exc)
    return f"{type(exc).__name__}: {text.splitlines()[0] if text else ''}"


def _failure(exc: BaseException) -> str:
    """Say why a model call failed, for the trace: the exception, then its root cause unless it says it.

    The client wraps a dead connection as `Connection error.`; the cause it hides (a reset connection,
    a refused port) is what says the server went away.
    """
    root, seen = exc, {id(exc)}
    while (inner := root.__cause__ or root.__context__) is not None and id(inner) not in seen:
        root = inner
        seen.add(id(inner))
    said, cause = _line(exc), _line(root)
    return said if cause.split(": ", 1)[1] in said else f"{said} ({cause})"


def streamed_reply(runnable: Any, messages: list[Any], seconds: float) -> Any:
    """Stream one reply and return it whole; past `seconds`, close the stream and raise TimeoutError.

    Closing the stream closes the connection, which makes llama.cpp stop generating at once; a plain
    request that times out leaves the server writing a reply nobody reads (measured: the slot stayed
    busy for over 120 s), which would slow the next photo. Before the first token the HTTP client's
    own timeout (the same seconds) applies.
    """
    deadline = time.perf_counter() + seconds
    reply = None
    chunks = runnable.stream(messages)
    try:
        for chunk in chunks:
            reply = chunk if reply is None else reply + chunk
            if time.perf_counter() > deadline:
                raise TimeoutError(f"no complete reply within {seconds:.0f} s")
    finally:
        chunks.close()
    if reply is None:
        raise ValueError("the model sent an empty stream")
    return reply


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
    """Look first, then a chat model proposes places that tools check; see the module docstring."""

    name = "llm"

    def __init__(self, chat_model: Any, *, model: str | None, vision: bool, native_tools: bool) -> None:
        """Wrap a LangChain chat model (ChatOpenAI, or a scripted fake in tests).

        Args:
            chat_model: The chat model.
            model: The model's name, for traces.
            vision: Send the photo (and zoom crops) to the model.
            native_tools: Ask for the reasoning as native tool calls, not as schema-constrained JSON.
        """
        self.chat_model, self.model, self.vision, self.native_tools = chat_model, model, vision, native_tools
        self.base_url: str | None = None
        """The endpoint, when built `from_backend`: the embedded one keeps its system prompt's cache."""
        self._start: Callable[[], Future[tuple[Any, LLMBackend]]] | None = None
        self._starting: Future[tuple[Any, LLMBackend]] | None = None

    @classmethod
    def from_backend(cls, chat_model: Any, backend: LLMBackend, settings: Settings) -> LLMPlanner:
        """Build from `geosleuth.run.llm.make_chat_model`'s (model, backend), honouring `llm_tool_calling`."""
        native = {"native": True, "json": False}.get(settings.llm_tool_calling, bool(backend.supports_tools))
        vision = bool(backend.supports_vision)
        planner = cls(chat_model, model=backend.model, vision=vision, native_tools=native)
        planner.base_url = backend.base_url
        return planner

    @classmethod
    def while_starting(
        cls, start: Callable[[], Future[tuple[Any, LLMBackend]]], backend: LLMBackend, settings: Settings
    ) -> LLMPlanner:
        """Build a planner whose model is started by `start` only once the look-first pass reads text.

        `backend` is what the model will be (`geosleuth.run.llm.embedded_backend`); `start` returns the
        future of its (chat model, backend) pair (`geosleuth.run.llm.start_chat_model`). The model
        loads while the pass's last tools run, a photo with no text never starts it, and the first
        decision waits for it within the run's time budget. A model that fails to start fails each
        decision with its error, so the run keeps its look-first answer.
        """
        planner = cls.from_backend(None, backend, settings)
        planner.base_url, planner._start = None, start
        return planner

    def _begin_start(self, evidence: list[Evidence]) -> None:
        """Start the model (see `while_starting`) once the evidence holds text read in the photo."""
        if self._start is not None and (self.vision or photo_lines(evidence)):
            self._starting, self._start = self._start(), None

    def _chat_model(self, seconds_left: float) -> Any:
        """Return the chat model, first waiting up to `seconds_left` (at least 1 s) for one still starting."""
        if self._start is not None:
            self._starting, self._start = self._start(), None
        if self._starting is not None:
            chat_model, backend = self._starting.result(timeout=max(1.0, seconds_left))
            self.chat_model, self.base_url, self._starting = chat_model, backend.base_url, None
        return self.chat_model

    # prompts -----------------------------------------------------------------------------------------
    def _messages(self, state: GeoState, ctx: AgentContext, ask: str) -> list[Any]:
        """Build the messages: the fixed system prefix, the last chat turns, the state and the request."""
        history = [m for m in state.get("messages", []) if m.type in ("human", "ai")]
        history = (history[:-1] if state.get("question") else history)[-6:]  # the question is in `ask`
        text = describe_state(state) + ask
        content: Any = text
        side = ctx.settings.llm_image_side
        system = prompts.SYSTEM.format(
            count=ctx.settings.max_hypotheses,
            keys=describe_keys(Reasoning, omit=omitted([], rationale=False)),
            place_keys=describe_keys(Hypothesis),
            shape=json_shape(Reasoning, omit=omitted([], rationale=False)),
        )
        if self.vision:
            system += " " + prompts.SIGHT_VISION
            content = [
                {"type": "text", "text": text},
                {"type": "image_url", "image_url": {"url": _data_url(ctx.photo.image, side)}},
            ]
            zooms = [e for e in state["evidence"] if e.tool in _croppers() and "box" in e.observations]
            if zooms:
                crop = ctx.photo.image.crop(tuple(zooms[-1].observations["box"]))
                content.append({"type": "image_url", "image_url": {"url": _data_url(crop, side)}})
        return [SystemMessage(system), *history, HumanMessage(content)]

    def _invoke(
        self,
        runnable: Any,
        messages: list[Any],
        ctx: AgentContext,
        state: GeoState,
        parse: Callable[[Any], Any],
    ) -> tuple[Any, int, int, str | None]:
        """Ask the model, retrying when `parse` fails, tracing each; return (parsed, calls, tokens, error).

        All the tries together get the time left in the run's budget (`max_seconds`), at least 1 s.
        """
        calls, tokens, error = 0, 0, None
        system = messages[0].content if messages and isinstance(messages[0], SystemMessage) else None
        if self.base_url and isinstance(system, str):
            llm_prefix.restore(self.base_url, system)  # a new process: the system prompt's saved cache
        left = ctx.settings.max_seconds - (time.time() - state["base"]["started"])
        end = time.perf_counter() + max(1.0, left)
        for _ in range(1 + ctx.settings.structured_retries):
            start = time.perf_counter()
            seconds = end - start
            if seconds <= 0:
                error = error or "TimeoutError: the time budget is spent"
                break
            reply, error = None, None
            try:
                reply = streamed_reply(runnable, messages, seconds)
                parsed = parse(reply)
            except Exception as exc:  # noqa: BLE001 - a failed call is traced and the run falls back
                parsed, error = None, _failure(exc)
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
                if self.base_url and isinstance(system, str):
                    llm_prefix.save(self.base_url, system)
                return parsed, calls, tokens, None
            if reply is None:  # the backend failed: retrying the same request will not help
                break
        return None, calls, tokens, error

    def _runnable(self, tools: list[str], settings: Settings, seconds_left: float, *, rationale: bool) -> Any:
        """Bind the chat model to the reply's shape, its token cap and the time left in the budget."""
        chat_model = self._chat_model(seconds_left)
        limits = {"max_tokens": settings.llm_reply_tokens, "timeout": max(1.0, seconds_left)}
        if self.native_tools:
            return chat_model.bind_tools(native_functions(tools), **limits)
        schema = reasoning_schema(tools, max_places=settings.max_hypotheses,
                                  max_tools=settings.max_tools_per_decision, rationale=rationale)
        return chat_model.bind(
            response_format={"type": "json_schema",
                             "json_schema": {"name": "reasoning", "strict": True, "schema": schema}},
            **limits,
        )

    # the planner -------------------------------------------------------------------------------------
    def decide(self, state: GeoState, ctx: AgentContext) -> dict[str, Any]:
        """Run the look-first pass, then one reasoning round (two in a chat question that calls tools).

        A locate run asks the model once, and only when the pass read text (or the model can see the
        photo); the places it names go to the `hypothesis` tool. In a chat question the model may also
        call the tools that are ready (zoom), each checked against the refusals so far.
        """
        settings, question = ctx.settings, state.get("question")
        self._begin_start(state["evidence"])
        if not question and (step := look_step(state, ctx)) is not None:
            return step
        rounds = state.get("rounds", 0)
        if rounds == 1 and not question and (
            verify := osm_checks(state["evidence"], settings) + search_checks(state["evidence"], settings)
        ):
            return {"pending": verify, "rounds": 2}
        if rounds and not (question and state.get("more") and rounds < 2):
            return {"pending": [], "stop": "places checked"}
        if not question and not self.vision and not photo_lines(state["evidence"]):
            return {"pending": [], "stop": "look-first: no text read, nothing for the model to reason about"}
        if not question and rounds == 0:
            ctx.emit("floor", commit(fusion_of(ctx.prior, state["evidence"])))
        offered = ready_tools(state, settings, ctx.photo) if question and rounds == 0 else []
        ask = ""
        if question:
            tools = prompts.TOOLS.format(offered=describe_tools(offered)) if offered else ""
            keys = describe_keys(Reasoning, omit=omitted(offered, rationale=True))
            quoted = json.dumps(question, ensure_ascii=False)
            ask = prompts.QUESTION.format(question=quoted, tools=tools, keys=keys)
        left = settings.max_seconds - (time.time() - state["base"]["started"])
        parse: Callable[[Any], Reasoning] = (
            reasoning_from_tool_calls if self.native_tools else (lambda r: _parse(r.content, Reasoning))
        )
        reasoning, calls, tokens, error = self._invoke(
            self._runnable(offered, settings, left, rationale=bool(question)),
            self._messages(state, ctx, ask), ctx, state, parse,
        )
        usage = {"llm_calls": state.get("llm_calls", 0) + calls, "tokens": state.get("tokens", 0) + tokens,
                 "rounds": rounds + 1, "more": False}
        if reasoning is None:
            return {**usage, "pending": [], "stop": f"llm failed: {error}",
                    "rationale": f"fused evidence (the model failed: {error})"}
        pending = [hypothesis_call(place, seen=self.vision)
                   for place in reasoning.places[: settings.max_hypotheses]]
        asked = tool_calls(reasoning, offered, state["evidence"], settings)
        said = reasoning.rationale if question else " ".join(
            f"{p.place}{', ' + p.region if p.region else ''} ({p.country_code}): {p.reason.rstrip('.')}."
            for p in reasoning.places
        )
        update = {**usage, "pending": pending + asked, "more": bool(asked),
                  "rationale": whole_sentences(said)}
        return update if update["pending"] else {**update, "stop": "the model proposed no place"}

    def answer(self, state: GeoState, ctx: AgentContext) -> dict[str, Any]:
        """Commit by fusion of all the evidence; keep the rationale's claims that the evidence backs."""
        guess = commit(fusion_of(ctx.prior, state["evidence"]))
        evidence = state["evidence"]
        checked = check_rationale(state.get("rationale") or "", evidence, answer_country=guess.country_code)
        rationale = checked.text or _checked_places(evidence) or f"fused evidence ({state.get('stop')})"
        return {"guess": guess, "rationale": rationale, "rationale_flags": list(checked.flags)}


def whole_sentences(text: str) -> str:
    """Drop a trailing fragment that a length cap cut off mid-sentence (keep it when it is all there is)."""
    text = text.strip()
    if not text or text[-1] in ".!?\"')":
        return text
    cut = max(text.rfind(". "), text.rfind("! "), text.rfind("? "))
    return text[: cut + 1] if cut > 0 else text


def _checked_places(evidence: list[Evidence]) -> str:
    """Join the checked hypotheses' summaries, for a rationale the check emptied."""
    return "; ".join(e.summary for e in evidence if e.tool == HYPOTHESIS_TOOL and e.ok)


def tool_calls(
    reasoning: Reasoning, offered: list[str], evidence: list[Evidence], settings: Settings
) -> list[dict[str, Any]]:
    """Return the pending calls for the tools a Reasoning asks for; one that must not run carries a refusal.

    Refused: a call refused before on this photo (withdrawn), one past `max_tools_per_decision`, a tool
    not offered now, a zoom box too large or seen before. Refusals are answered, not dropped, so the
    model (and the trace) learns why.
    """
    refused = refused_calls(evidence)
    pending = []
    for index, tool in enumerate(reasoning.tools):
        args = _args_for(tool, reasoning)
        call: dict[str, Any] = {"tool": tool, "args": args}
        if _call_key(tool, args) in refused:
            call["refusal"] = (
                f"refused before, so withdrawn for this photo ({refused[_call_key(tool, args)]}); "
                f"you may call: {', '.join(offered) or 'nothing more'}"
            )
        elif index >= settings.max_tools_per_decision:
            call["refusal"] = (
                f"not run: at most {settings.max_tools_per_decision} tool calls per decision "
                "(max_tools_per_decision)"
            )
        elif tool not in offered:
            call["refusal"] = f"{tool!r} cannot be called now; you may call: {', '.join(offered) or 'none'}"
        elif "box" in registry()[tool].planner_args:
            call["refusal"] = zoom_refusal(reasoning.box, evidence, settings.zoom_max_area)
        pending.append(call)
    return pending


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


def _args_for(tool: str, reasoning: Reasoning) -> dict[str, Any]:
    """Return the arguments a Reasoning gives one tool, as its spec's `planner_args` name them (box)."""
    spec = registry().get(tool)
    wanted = spec.planner_args if spec else {}
    if "box" in wanted:
        return {"box": reasoning.box}
    return {}
