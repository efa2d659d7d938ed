"""Configuration in one place: `Settings`, resolved from flags > environment > file > defaults.

Every setting is a typed field with a default and a description. `resolve_settings` is the only
resolver: a value counts as "set" when it is not None (never "when it differs from the default").
Environment variables are `GEOSLEUTH_<FIELD>` in upper case, and for the fields in `ENV_ALIASES` also
the standard variable of the library they configure (`HF_HUB_OFFLINE`, `HF_HOME`); the file is TOML,
by default `geosleuth.toml` in the working directory or the file named by `GEOSLEUTH_CONFIG`, with the
fields at the top level or under a `[geosleuth]` table.

This is the only module that reads the environment for settings; the rest of the project gets them
from a `Settings`. `default_cache_dir` is the one default read outside a `Settings`, by the build-once
pickles of `geosleuth.core.cache`.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field, PrivateAttr, ValidationError, model_validator

ENV_PREFIX = "GEOSLEUTH_"
ENV_ALIASES: dict[str, tuple[str, ...]] = {"hf_offline": ("HF_HUB_OFFLINE",), "hf_home": ("HF_HOME",)}
"""Fields also read from standard variables of the libraries they configure; `GEOSLEUTH_<FIELD>` wins."""
Source = Literal["flag", "env", "file", "default", "code"]
"""Where a setting's value came from; "code" marks a value a command set for its run (evals withhold
metadata, an ablation row picks its tools)."""


def default_cache_dir(env: Mapping[str, str] | None = None) -> Path:
    """Return the cache folder: $GEOSLEUTH_CACHE_DIR, else $XDG_CACHE_HOME/geosleuth or ~/.cache/geosleuth."""
    env = os.environ if env is None else env
    if env.get("GEOSLEUTH_CACHE_DIR"):
        return Path(env["GEOSLEUTH_CACHE_DIR"]).expanduser()
    return Path(env.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "geosleuth"


class Settings(BaseModel):
    """Everything a run can be configured with."""

    model_config = {"extra": "forbid"}
    _sources: dict[str, Source] = PrivateAttr(default_factory=dict)

    use_metadata: bool = Field(
        default=True,
        description="Let tools read file metadata (EXIF GPS, XMP, JPEG comments). Evals turn it off.",
    )
    tools: tuple[str, ...] = Field(
        default=("exif", "scene", "ocr", "text_clues", "gazetteer", "osm"),
        description="Tools the policy planner runs, in order. Left at this default, `retrieval` joins "
        "right after `scene` whenever retrieval_index is set.",
    )
    prior: Literal["gdp", "population", "uniform"] = Field(
        default="gdp",
        description="Prior over countries: share of world GDP (Natural Earth), of population, or uniform.",
    )
    ocr_engines: tuple[str, ...] = Field(
        default=("rapidocr", "tesseract"),
        description="OCR engines in order: rapidocr (fast; Latin, CJK), easyocr (GPU if present), tesseract.",
    )
    ocr_max_side: int = Field(default=1600, ge=256, le=8192, description="Long side OCR sees, in pixels.")
    device: Literal["auto", "cpu", "cuda"] = Field(
        default="auto", description="Where models run: auto picks CUDA when present."
    )
    max_pixels: int = Field(
        default=80_000_000, ge=1, description="Larger images are refused as decompression bombs."
    )
    overpass_url: str = Field(
        default="https://overpass-api.de/api/interpreter", description="Overpass API endpoint."
    )
    nominatim_url: str = Field(
        default="https://nominatim.openstreetmap.org", description="Nominatim endpoint (scheme://host[:port])."
    )
    osm_timeout_s: float = Field(default=8.0, gt=0, le=120, description="Time budget of one OSM look-up.")
    osm_retries: int = Field(default=2, ge=0, le=10, description="Retries after a 429/5xx/timeout.")
    osm_radius_km: float = Field(
        default=50.0, gt=0, le=1000, description="How far around the best candidate point OSM searches."
    )
    search_url: str = Field(
        default="",
        description="SearXNG-compatible JSON search endpoint of the `web_search` tool, e.g. a self-hosted "
        "SearXNG at http://127.0.0.1:8888/search (docs/search.md); empty: web search is off.",
    )
    search_timeout_s: float = Field(default=8.0, gt=0, le=120, description="Time budget of one web search.")
    search_retries: int = Field(
        default=2, ge=0, le=10, description="Web search retries after a 429/5xx/timeout."
    )
    search_budget: int = Field(default=3, ge=0, le=50, description="Most web search queries per photo.")
    osm_extract: Path | None = Field(
        default=None,
        description="OpenStreetMap extract (.osm.pbf, e.g. from Geofabrik) indexed by `geosleuth osm "
        "import`, or that index (.sqlite): the osm tool then answers from it offline, not from Overpass.",
    )
    user_agent: str = Field(default="geosleuth/0.1 (offline-first photo geolocation)",
                            description="User-Agent sent to OSM services.")
    cache_dir: Path = Field(default_factory=default_cache_dir, description="Folder for on-disk caches.")
    data_dir: Path | None = Field(
        default=None,
        description="Root of published datasets for `geosleuth eval` (default: <cache_dir>/datasets).",
    )
    gazetteer_sources: tuple[str, ...] = Field(
        default=(),
        description="Extra place files the gazetteer merges into its index: GeoNames dumps "
        "(allCountries.txt, DE.txt, cities500.txt or their .zip) and OpenStreetMap extracts "
        "(.osm, .osm.pbf). Comma-separated in the environment.",
    )
    # the agent
    planner: Literal["auto", "policy", "llm"] = Field(
        default="auto",
        description="Who picks the next tool: an LLM, the fixed policy, or auto (LLM if one answers).",
    )
    llm_base_url: str | None = Field(
        default=None,
        description="OpenAI-compatible endpoint (OpenAI, vLLM, llama.cpp, Ollama). "
        "Unset: the embedded local model.",
    )
    llm_model: str | None = Field(default=None, description="Model name sent to the endpoint.")
    llm_api_key_env: str = Field(
        default="OPENAI_API_KEY", description="Environment variable holding the API key (never stored)."
    )
    llm_vision: Literal["auto", "yes", "no"] = Field(
        default="auto", description="Send the photo to the LLM: auto asks the model's capabilities."
    )
    llm_tool_calling: Literal["auto", "native", "json"] = Field(
        default="auto",
        description="Native tool calls, or JSON-schema constrained decisions (small local models).",
    )
    llm_threads: int = Field(
        default=0, ge=0, le=256, description="CPU threads of the embedded model (0: all)."
    )
    llm_context: int = Field(
        default=8192, ge=1024, le=131072, description="Context window of the embedded model."
    )
    max_steps: int = Field(
        default=12, ge=1, le=64,
        description="Agent budget: tool calls per photo (the look-first pass and the checks of places).",
    )
    max_seconds: float = Field(default=120.0, gt=0, description="Agent budget: seconds per photo.")
    max_tokens: int = Field(default=20_000, ge=256, description="Agent budget: LLM tokens per photo.")
    stop_confidence: float = Field(
        default=0.9, gt=0, le=1, description="The guard commits once the top country has this probability."
    )
    low_localizability: float = Field(
        default=0.05, ge=0, le=1,
        description="With only zoom left, the guard commits when localizability is below this.",
    )
    max_hypotheses: int = Field(
        default=2, ge=0, le=10, description="Places the LLM may propose per decision (each is checked)."
    )
    llm_reply_tokens: int = Field(
        default=256, ge=32, le=8192, description="Most tokens one LLM reply may have."
    )
    max_tools_per_decision: int = Field(
        default=3, ge=1, le=16, description="Tool calls one LLM decision may ask for; more get a refusal."
    )
    structured_retries: int = Field(
        default=2, ge=0, le=10, description="Extra LLM attempts when a reply does not parse or validate."
    )
    max_zooms: int = Field(default=2, ge=0, le=32, description="Zooms one locate run may make.")
    zoom_max_area: float = Field(
        default=0.5, gt=0, le=1, description="Largest share of the photo one zoom crop may cover."
    )
    llm_image_side: int = Field(
        default=768, ge=64, le=4096, description="Long side, in pixels, of the photo sent to a vision LLM."
    )
    trace_db: Path | None = Field(
        default=None, description="SQLite trace store (default: <cache_dir>/traces.sqlite)."
    )
    # vision
    clip_model: str | None = Field(
        default=None,
        description="CLIP for zero-shot and retrieval: open_clip 'arch/pretrained', an HF name, "
        "or a local path. "
        "Unset: the first model found in ../shared/models, else none.",
    )
    retrieval_index: Path | None = Field(
        default=None, description="FAISS index made by `geosleuth index build` for the retrieval tool."
    )
    retrieval_embedder: Literal["auto", "efficientnet-lite2", "clip"] = Field(
        default="auto",
        description="What embeds photos for retrieval (and `geosleuth index build`): efficientnet-lite2 "
        "(shipped, no weights needed) or clip (clip_model); auto: clip when clip_model is set, else "
        "efficientnet-lite2. An index is only queried with the embedder that built it.",
    )
    hf_offline: bool = Field(
        default=False,
        description="Load Hugging Face models from the local cache only, never from the network "
        "(also $HF_HUB_OFFLINE).",
    )
    hf_home: Path | None = Field(
        default=None,
        description="The Hugging Face cache (also $HF_HOME, which the libraries read themselves; "
        "default: ~/.cache/huggingface); doctor lists the models in its hub/.",
    )

    @model_validator(mode="after")
    def _retrieval_joins_the_default_tools(self) -> Settings:
        """With an index configured and `tools` left at its default, retrieval runs right after scene."""
        if "tools" not in self.model_fields_set and self.retrieval_index is not None:
            at = self.tools.index("scene") + 1 if "scene" in self.tools else len(self.tools)
            self.tools = (*self.tools[:at], "retrieval", *self.tools[at:])
        return self

    def sources(self) -> dict[str, Source]:
        """Where each value came from ("default" for all when the settings were not resolved)."""
        return {name: self._sources.get(name, "default") for name in type(self).model_fields}

    def model_copy(self, *, update: Mapping[str, Any] | None = None, deep: bool = False) -> Settings:
        """Return a copy with `update` applied; the updated fields are recorded as set by "code"."""
        copy = super().model_copy(update=update, deep=deep)
        copy._sources = {**self._sources, **dict.fromkeys(update or {}, "code")}
        return copy


def _coerce(name: str, variable: str, raw: str) -> Any:
    """Turn the string of environment `variable` into the JSON-ish value pydantic validates for `name`."""
    annotation = str(Settings.model_fields[name].annotation)
    if annotation.startswith("tuple"):
        return tuple(part.strip() for part in raw.split(",") if part.strip())
    if annotation == "<class 'bool'>":
        if raw.lower() in {"1", "true", "yes", "on"}:
            return True
        if raw.lower() in {"0", "false", "no", "off"}:
            return False
        raise ValueError(f"{variable}={raw!r} is not a boolean")
    return raw


def _env_layer(env: Mapping[str, str]) -> dict[str, Any]:
    """Return the fields set in `env`: by `GEOSLEUTH_<FIELD>`, else by the field's alias (empty is unset)."""
    layer: dict[str, Any] = {}
    for name in Settings.model_fields:
        names = (ENV_PREFIX + name.upper(), *ENV_ALIASES.get(name, ()))
        variable = next((v for v in names if env.get(v) not in (None, "")), None)
        if variable is not None:
            layer[name] = _coerce(name, variable, env[variable])
    return layer


def read_config_file(path: Path | None = None) -> dict[str, Any]:
    """Read the TOML config file (explicit path, $GEOSLEUTH_CONFIG, or ./geosleuth.toml if present)."""
    explicit = path or (Path(os.environ["GEOSLEUTH_CONFIG"]) if os.environ.get("GEOSLEUTH_CONFIG") else None)
    candidate = explicit or Path("geosleuth.toml")
    if not candidate.is_file():
        if explicit:
            raise ValueError(f"config file {explicit} does not exist")
        return {}
    try:
        data = tomllib.loads(candidate.read_text(encoding="utf-8"))
    except UnicodeDecodeError as exc:
        raise ValueError(
            f"config file {candidate} is not UTF-8 text ({exc.reason} at byte {exc.start})"
        ) from None
    except (tomllib.TOMLDecodeError, RecursionError) as exc:  # RecursionError: arrays nested too deep
        raise ValueError(f"config file {candidate} is not valid TOML: {exc}") from exc
    table = data.get("geosleuth", data)
    if not isinstance(table, dict):
        raise ValueError(f"config file {candidate}: [geosleuth] must be a table, not {type(table).__name__}")
    return dict(table)


def resolve_settings(
    flags: Mapping[str, Any] | None = None,
    env: Mapping[str, str] | None = None,
    file: Mapping[str, Any] | None = None,
) -> tuple[Settings, dict[str, Source]]:
    """Resolve settings with precedence flags > env > file > defaults; None means "not set".

    Returns the settings and, for each field, where its value came from. Raises ValueError with a
    message naming the bad field and its source when a value does not validate or a name is unknown.
    """
    env = os.environ if env is None else env
    layers: list[tuple[Source, dict[str, Any]]] = [
        ("file", {k: v for k, v in (file or {}).items() if v is not None}),
        ("env", _env_layer(env)),
        ("flag", {k: v for k, v in (flags or {}).items() if v is not None}),
    ]
    values: dict[str, Any] = {}
    sources: dict[str, Source] = {name: "default" for name in Settings.model_fields}
    for source, layer in layers:
        for name, value in layer.items():
            if name not in Settings.model_fields:
                raise ValueError(f"unknown setting {name!r} (from {source})")
            values[name], sources[name] = value, source
    values.setdefault("cache_dir", default_cache_dir(env))  # the default, from `env` like every other value
    try:
        settings = Settings(**values)
        settings._sources = dict(sources)
        return settings, sources
    except ValidationError as exc:
        first = exc.errors()[0]
        field = str(first["loc"][0]) if first["loc"] else "?"
        raise ValueError(f"setting {field} (from {sources.get(field, '?')}): {first['msg']}") from exc
