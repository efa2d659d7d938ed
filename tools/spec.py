"""`ToolSpec`: everything the run knows about one tool, declared once in the tool's own module.

A tool module defines its typed function (e.g. `read_text(image, ...)`), a `run(call)` that feeds it
from a `ToolCall`, and `SPEC = ToolSpec(...)`; `geosleuth.tools.registry()` finds every `SPEC` in the
package. The planners, the tool node, the eval cache, the ablation, localizability, the README's
tool table and the LLM's tool descriptions all read these specs, so adding a tool means adding one
module (and its tests) and nothing else.
"""

from __future__ import annotations

import functools
import hashlib
import inspect
import sys
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from geosleuth.core.config import Settings, read_config_file, resolve_settings
from geosleuth.core.photo import Photo, PhotoError, load_photo
from geosleuth.core.state import Candidate, Evidence

if TYPE_CHECKING:
    from langchain_core.tools import BaseTool
    from PIL import Image

Need = Literal["photo", "lines", "point", "model"]
"""What a tool reads: the photo's pixels, the text read from it, a candidate point, a user's model."""
Cue = Literal["metadata", "text", "reads", "places", "scene"]
"""Which localizability cue a tool's Evidence feeds (`geosleuth.tools.localizability`)."""

MISSING = {
    "lines": "no text has been read from the photo yet (call ocr first)",
    "point": "no candidate point to search around yet (call gazetteer first)",
}
"""Why a tool cannot run yet, for each input that can be missing in a run."""
TEXT_ARG = {"text": {"type": "string", "description": "Photo lines to use (default: all)."}}
"""The argument a planner may give a text tool: which photo lines it should use."""


@dataclass(frozen=True)
class ToolCall:
    """The inputs of one tool call, as the run (or a LangChain caller) supplies them."""

    settings: Settings
    """The run's settings (engines, endpoints, models, caps)."""
    photo: Photo | None = None
    """The photo as the tools may see it (without metadata when metadata is withheld)."""
    lines: tuple[str, ...] = ()
    """The lines of text read from the photo that this call is about, in reading order."""
    point: Candidate | None = None
    """The best candidate point so far (what OSM searches around)."""
    candidates: tuple[Candidate, ...] = ()
    """Every candidate point the evidence has proposed so far (what a proposed place is checked against)."""
    country_hint: Mapping[str, float] = field(default_factory=dict)
    """The current country probabilities (the gazetteer's tie-breaker)."""
    args: Mapping[str, Any] = field(default_factory=dict)
    """What the planner chose for this call (see `ToolSpec.planner_args`), e.g. zoom's box."""
    called: tuple[str, ...] = ()
    """The tools that have already run on this photo, in order."""

    def image(self) -> Image.Image:
        """Return the photo's pixels (ValueError when the call has no photo)."""
        if self.photo is None:
            raise ValueError("this tool needs a photo")
        return self.photo.image


def _rounded(value: Any) -> Any:
    """Return a cache-key part made stable: floats rounded, mappings without negligible entries."""
    if isinstance(value, Candidate):
        return [round(value.lat, 5), round(value.lon, 5)]
    if isinstance(value, Mapping):
        return {k: round(v, 6) for k, v in sorted(value.items()) if v >= 1e-6}
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, tuple):
        return [_rounded(item) for item in value]
    return value


@functools.lru_cache(maxsize=None)
def _module_hash(module: str) -> str:
    """Hash of one module's source file and of the data files it declares ("no-source" when unreadable).

    A module reading a table of the package declares it in `DATA_FILES` (paths relative to the
    `geosleuth.tools` folder, e.g. "data/brands.csv"), so editing the table invalidates cached results.
    """
    try:
        source = Path(inspect.getfile(sys.modules[module]))
        digest = hashlib.sha256(source.read_bytes())
        for name in getattr(sys.modules[module], "DATA_FILES", ()):
            digest.update((Path(__file__).parent / name).read_bytes())
        return digest.hexdigest()[:16]
    except (KeyError, OSError, TypeError):
        return "no-source"


def _tool_modules(roots: Iterable[str]) -> list[str]:
    """Return the roots and every `geosleuth.tools` module they import, directly or not, in order."""
    seen: dict[str, None] = {}
    todo = list(roots)
    while todo:
        name = todo.pop(0)
        if name in seen or name not in sys.modules:
            continue
        seen[name] = None
        for value in vars(sys.modules[name]).values():
            used = value.__name__ if inspect.ismodule(value) else getattr(value, "__module__", None)
            if isinstance(used, str) and used.startswith("geosleuth.tools.") and used != __name__:
                todo.append(used)
    return list(seen)


@dataclass(frozen=True)
class ToolSpec:
    """One tool: its name, functions, inputs, readiness, fusion weight, cache key and descriptions."""

    name: str
    """The registered name planners and settings use."""
    function: Callable[..., Evidence]
    """The typed function that does the work (its module's source is part of the cache key)."""
    run: Callable[[ToolCall], Evidence]
    """Feeds `function` from a ToolCall; takes the run's settings and the photo in memory."""
    description: str
    """What the tool does and when to use it: the LLM reads the first paragraph."""
    needs: tuple[Need, ...]
    """Its inputs; a run offers the tool only once the inputs that can be missing are there."""
    weight: float = 1.0
    """How much its country claims count in fusion (log-linear pooling exponent)."""
    key: tuple[str, ...] = ()
    """What decides its result besides the photo and the planner's args: ToolCall fields ("lines",
    "point", "country_hint") or settings ("settings.ocr_engines")."""
    sources: tuple[Callable[..., Any], ...] = ()
    """Other functions whose modules decide its result (zoom reads with OCR's `read_text`)."""
    after: tuple[str, ...] = ()
    """Tools that must have run before it (zoom: ocr); a run offers it only after them."""
    metadata: bool = False
    """It reads the file's metadata, so it runs only when metadata is allowed."""
    reads_text: bool = False
    """Its Evidence holds `lines` read from the photo, which feed the text tools."""
    repeatable: bool = False
    """It may run more than once on a photo (zoom, on other crops)."""
    planner_args: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    """JSON-schema properties of the arguments a planner may choose (zoom's box, a text tool's text)."""
    cue: Cue | None = None
    """The localizability cue its Evidence feeds."""
    ablation: tuple[str, ...] | None = None
    """The tools of its "alone" row in `geosleuth eval ablate` (default: itself; () for no row)."""
    what: str = ""
    """One line for the README's tool table: what it does."""
    offline_source: str = ""
    """One line for the README's tool table: where its data or model comes from offline."""
    named_by: tuple[str, ...] = ()
    """Regexes (case-insensitive, matched on word boundaries) for the words prose uses to name the tool
    ("OpenStreetMap", "Overpass" for osm): how the rationale check finds a tool cited by an LLM."""

    def blocker(self, call: ToolCall) -> str | None:
        """Why the tool cannot run on `call` yet (metadata withheld, an input missing), else None."""
        if self.metadata and not call.settings.use_metadata:
            return "metadata is withheld in this run"
        if "lines" in self.needs and not call.lines:
            return MISSING["lines"]
        for tool in self.after:
            if tool not in call.called:
                return f"look at the whole photo first (call {tool})"
        if "point" in self.needs and call.point is None:
            return MISSING["point"]
        return None

    def source_hash(self) -> str:
        """Hash of the source modules of `function` and `sources`, and of the tool modules they import.

        Editing any of them (say, a clue module under `geosleuth.tools.clues`) invalidates the cache.
        """
        modules = _tool_modules(f.__module__ for f in (self.function, *self.sources))
        return "+".join(_module_hash(module) for module in modules)

    def cache_key(self, call: ToolCall) -> list[Any]:
        """Return the JSON-able inputs that decide this call's result: photo hash, args and `key` parts."""
        parts: list[Any] = [call.photo.sha256 if call.photo else None, dict(call.args)]
        for name in self.key:
            source: Any = call.settings if name.startswith("settings.") else call
            parts.append(_rounded(getattr(source, name.removeprefix("settings."))))
        return parts

    def ablation_tools(self) -> tuple[str, ...]:
        """Return the tools of this tool's ablation row (empty: it has none)."""
        return (self.name,) if self.ablation is None else self.ablation

    def langchain_tool(self, settings: Settings | None = None) -> BaseTool:
        """Wrap the tool as a LangChain tool for other agents: photo `path`, `text`, `lat`/`lon` as it needs.

        `settings` default to the resolved file and environment settings. A photo that cannot be read
        gives a `bad_input` Evidence, not an exception, so an agent can read the error and go on.
        """
        from langchain_core.tools import StructuredTool
        from pydantic import create_model

        fields: dict[str, Any] = {}
        if "photo" in self.needs:
            fields["path"] = (str, ...)
        if "lines" in self.needs:
            fields["text"] = (str, ...)
        if "point" in self.needs:
            fields.update(lat=(float, ...), lon=(float, ...))
        fields.update({name: (Any, None) for name in self.planner_args if name not in fields})
        schema = create_model(f"{self.name}_input", **fields)

        def invoke(**kwargs: Any) -> dict[str, Any]:
            return self._standalone(settings, kwargs).model_dump(mode="json")

        return StructuredTool.from_function(
            invoke, name=self.name, description=self.description, args_schema=schema
        )

    def _standalone(self, settings: Settings | None, kwargs: dict[str, Any]) -> Evidence:
        """Run the tool once outside a run, from a LangChain caller's arguments."""
        if settings is None:

            settings = resolve_settings(file=read_config_file())[0]
        point = None
        if "lat" in kwargs:
            point = Candidate(lat=kwargs["lat"], lon=kwargs["lon"], radius_km=settings.osm_radius_km)
        text = str(kwargs.get("text", ""))
        call = ToolCall(
            settings=settings,
            lines=tuple(line for line in text.splitlines() if line.strip()),
            point=point,
            args={k: v for k, v in kwargs.items() if k in self.planner_args and v is not None},
            called=tuple(self.after),
        )
        why = self.blocker(call)
        if why:
            return Evidence.failure(self.name, "bad_input", why)
        if "path" in kwargs:
            try:
                photo = load_photo(kwargs["path"], max_pixels=settings.max_pixels)
            except PhotoError as exc:
                return Evidence.failure(self.name, "bad_input", str(exc))
            call = replace(call, photo=photo if settings.use_metadata else photo.without_metadata())
        return self.run(call)
