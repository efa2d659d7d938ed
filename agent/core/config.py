"""Configuration in one place: `Settings`, resolved from flags > environment > file > defaults.

Every setting is a typed field with a default and a description. `resolve_settings` is the only
resolver: a value counts as "set" when it is not None (never "when it differs from the default").
Environment variables are `GEOSLEUTH_<FIELD>` in upper case; the file is TOML, by default
`geosleuth.toml` in the working directory or the file named by `GEOSLEUTH_CONFIG`, with the fields at
the top level or under a `[geosleuth]` table.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field, ValidationError

from geosleuth.core.cache import cache_dir

ENV_PREFIX = "GEOSLEUTH_"
Source = Literal["flag", "env", "file", "default"]


class Settings(BaseModel):
    """Everything a run can be configured with."""

    model_config = {"extra": "forbid"}

    use_metadata: bool = Field(
        default=True,
        description="Let tools read file metadata (EXIF GPS, XMP, JPEG comments). Evals turn it off.",
    )
    tools: tuple[str, ...] = Field(
        default=("exif", "ocr", "text_clues", "gazetteer", "osm"),
        description="Tools the policy planner runs, in order.",
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
    user_agent: str = Field(default="geosleuth/0.1 (offline-first photo geolocation)",
                            description="User-Agent sent to OSM services.")
    cache_dir: Path = Field(default_factory=cache_dir, description="Folder for on-disk caches.")
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
    max_steps: int = Field(default=8, ge=1, le=64, description="Agent budget: tool calls per photo.")
    max_seconds: float = Field(default=120.0, gt=0, description="Agent budget: seconds per photo.")
    max_tokens: int = Field(default=20_000, ge=256, description="Agent budget: LLM tokens per photo.")
    stop_confidence: float = Field(
        default=0.9, gt=0, le=1, description="The guard commits once the top country has this probability."
    )
    low_localizability: float = Field(
        default=0.05, ge=0, le=1,
        description="With only zoom left, the guard commits when localizability is below this.",
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


def _coerce(name: str, raw: str) -> Any:
    """Turn an environment string into the JSON-ish value pydantic can validate for field `name`."""
    annotation = str(Settings.model_fields[name].annotation)
    if annotation.startswith("tuple"):
        return tuple(part.strip() for part in raw.split(",") if part.strip())
    if annotation == "<class 'bool'>":
        if raw.lower() in {"1", "true", "yes", "on"}:
            return True
        if raw.lower() in {"0", "false", "no", "off"}:
            return False
        raise ValueError(f"{ENV_PREFIX}{name.upper()}={raw!r} is not a boolean")
    return raw


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
    except tomllib.TOMLDecodeError as exc:
        raise ValueError(f"config file {candidate} is not valid TOML: {exc}") from exc
    return dict(data.get("geosleuth", data))


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
        ("env", {
            name: _coerce(name, env[ENV_PREFIX + name.upper()])
            for name in Settings.model_fields
            if env.get(ENV_PREFIX + name.upper()) not in (None, "")
        }),
        ("flag", {k: v for k, v in (flags or {}).items() if v is not None}),
    ]
    values: dict[str, Any] = {}
    sources: dict[str, Source] = {name: "default" for name in Settings.model_fields}
    for source, layer in layers:
        for name, value in layer.items():
            if name not in Settings.model_fields:
                raise ValueError(f"unknown setting {name!r} (from {source})")
            values[name], sources[name] = value, source
    try:
        return Settings(**values), sources
    except ValidationError as exc:
        first = exc.errors()[0]
        field = str(first["loc"][0]) if first["loc"] else "?"
        raise ValueError(f"setting {field} (from {sources.get(field, '?')}): {first['msg']}") from exc
