"""Tool "geoclip": GeoCLIP (Vivanco Cepeda et al., NeurIPS 2023) - image features against a GPS gallery.

GeoCLIP learns a location encoder (random Fourier features of equal-earth projected coordinates at
three scales, then MLPs) in the same 512-d space as an image head (an MLP on the *OpenAI CLIP
ViT-L/14* image embedding). Locating a photo ranks a gallery of 100k GPS points by the cosine of
their location embeddings with the photo's embedding, softmax over the gallery with GeoCLIP's learnt
logit scale.

The `geoclip` wheel ships the gallery (`coordinates_100K.csv`), the location encoder weights, the
image head and the logit scale: all of that works offline and is used here. The CLIP ViT-L/14 itself
is not shipped: without one configured (`clip_model`: open_clip `ViT-L-14/openai`, an HF
`openai/clip-vit-large-patch14` folder, or a folder/file of the same weights) the tool answers with an
"unavailable: needs CLIP ViT-L/14 weights" Evidence. Other ViT-L/14 weights (e.g. LAION) run, but the
head was trained on OpenAI's features, so their answers are off.

The gallery's location embeddings (about 30 s for 100k points on 2 CPU cores) are computed once and
kept in `<cache_dir>/geoclip/` as float16.
"""

from __future__ import annotations

import csv
import hashlib
import importlib.util
import os
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from geosleuth.core.extras import MissingExtra, require
from geosleuth.core.geo import country_at
from geosleuth.core.state import Candidate, Evidence, timed
from geosleuth.tools.clip_models import ClipUnavailable, load_clip
from geosleuth.tools.spec import ToolCall, ToolSpec
from geosleuth.tools.torch_compat import ensure_torchvision_ops

if TYPE_CHECKING:
    import numpy as np
    from PIL import Image

    from geosleuth.core.config import Settings
    from geosleuth.tools.clip_models import ClipModel

TOOL = "geoclip"
TOP_K = 10
"""Gallery points returned as candidates."""
VOTE_K = 200
"""Gallery points whose probabilities vote for their countries."""
CANDIDATE_RADIUS_KM = 25.0
STRENGTH = 0.6
NEEDS = "unavailable: needs CLIP ViT-L/14 weights"


def package_dir() -> Path:
    """Return the installed `geoclip` package's `model` folder (found without importing the package)."""
    require("geoclip", "vision", "GeoCLIP")
    spec = importlib.util.find_spec("geoclip")
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError("the geoclip package has no model folder")
    return Path(next(iter(spec.submodule_search_locations))) / "model"


@cache
def gallery_coordinates() -> np.ndarray:
    """GeoCLIP's GPS gallery as an (n, 2) float32 array of (lat, lon)."""
    import numpy as np

    with (package_dir() / "gps_gallery" / "coordinates_100K.csv").open(newline="") as handle:
        rows = [(float(r["LAT"]), float(r["LON"])) for r in csv.DictReader(handle)]
    return np.asarray(rows, dtype=np.float32)


@cache
def _modules() -> tuple[Any, Any, float]:
    """Load the pretrained location encoder, image head and logit scale (exp'd), on the CPU, in eval mode."""
    import torch


    ensure_torchvision_ops()  # geoclip's package import pulls in transformers and torchvision
    from geoclip import LocationEncoder

    weights = package_dir() / "weights"
    encoder = LocationEncoder().eval()  # loads weights/location_encoder_weights.pth
    head = torch.nn.Sequential(torch.nn.Linear(768, 768), torch.nn.ReLU(), torch.nn.Linear(768, 512))
    head.load_state_dict(
        torch.load(weights / "image_encoder_mlp_weights.pth", map_location="cpu", weights_only=True)
    )
    scale = torch.load(weights / "logit_scale_weights.pth", map_location="cpu", weights_only=True)
    return encoder, head.eval(), float(scale.exp())


def location_embeddings(coordinates: np.ndarray, batch_size: int = 4096) -> np.ndarray:
    """Normalised 512-d GeoCLIP location embeddings of (lat, lon) rows, float32."""
    import numpy as np
    import torch

    encoder = _modules()[0]
    parts = []
    with torch.inference_mode():
        for start in range(0, len(coordinates), batch_size):
            chunk = torch.from_numpy(
                np.ascontiguousarray(coordinates[start : start + batch_size], dtype=np.float32)
            )
            parts.append(torch.nn.functional.normalize(encoder(chunk), dim=-1).numpy())
    return np.concatenate(parts)


_galleries: dict[Path, np.ndarray] = {}
"""Gallery embeddings already read in this process, by cache file."""


def gallery_embeddings(cache_root: Path, coordinates: np.ndarray | None = None) -> np.ndarray:
    """Location embeddings of the gallery (default: all of it), computed once and cached on disk (float16)."""
    import numpy as np

    coords = gallery_coordinates() if coordinates is None else coordinates
    weights = package_dir() / "weights" / "location_encoder_weights.pth"
    key = hashlib.sha256(coords.tobytes() + str(weights.stat().st_size).encode()).hexdigest()[:16]
    path = cache_root / "geoclip" / f"gallery-{key}.npy"
    if path in _galleries:
        return _galleries[path]
    try:
        cached = np.load(path)
        if cached.shape == (len(coords), 512):
            _galleries[path] = cached.astype(np.float32)
            return _galleries[path]
    except (OSError, ValueError):
        pass
    vectors = _galleries[path] = location_embeddings(coords)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".{os.getpid()}.tmp.npy")
        np.save(tmp, vectors.astype(np.float16))
        tmp.replace(path)
    except OSError:
        pass
    return vectors


def image_embedding(clip_features: np.ndarray) -> np.ndarray:
    """GeoCLIP's image head on unnormalised ViT-L/14 CLIP image features (768-d): normalised 512-d."""
    import numpy as np
    import torch

    head = _modules()[1]
    with torch.inference_mode():
        out = head(torch.from_numpy(np.asarray(clip_features, dtype=np.float32).reshape(-1, 768)))
        return torch.nn.functional.normalize(out, dim=-1).numpy()


def rank_gallery(
    query: np.ndarray, gallery: np.ndarray, coordinates: np.ndarray, k: int
) -> list[tuple[float, float, float]]:
    """Softmax over the gallery of `logit_scale * cosine(query, point)`; the top k as (lat, lon, p)."""
    import numpy as np

    logits = _modules()[2] * (gallery @ np.asarray(query, dtype=np.float32).reshape(-1))
    logits = logits.astype(np.float64) - logits.max()
    probs = np.exp(logits)
    probs /= probs.sum()
    top = np.argsort(-probs)[:k]
    return [(float(coordinates[i, 0]), float(coordinates[i, 1]), float(probs[i])) for i in top]


def geoclip_locate(
    image: Image.Image, settings: Settings, *, model: ClipModel | None = None, k: int = TOP_K
) -> Evidence:
    """Locate a photo with GeoCLIP: ViT-L/14 image features -> GeoCLIP head -> GPS gallery top-k.

    Returns:
        Evidence with the top-k gallery points as candidates and a country vote from the top
        VOTE_K points; "unavailable: needs CLIP ViT-L/14 weights" (strength 0) without such a model.
    """
    with timed() as clock:
        try:
            require("geoclip", "vision", "GeoCLIP")
            model = model or load_clip(settings)
        except (ClipUnavailable, MissingExtra) as exc:
            return Evidence.failure(TOOL, "unavailable", f"{NEEDS} ({exc})")
        if not model.is_vit_l14:
            return Evidence.failure(
                TOOL, "unavailable", f"{NEEDS} (the configured {model.name} is another model)"
            )
        features = model.encode_images([image], normalize=False)[0]
        ranked = rank_gallery(
            image_embedding(features)[0],
            gallery_embeddings(settings.cache_dir),
            gallery_coordinates(),
            max(k, VOTE_K),
        )
    votes: dict[str, float] = {}
    for lat, lon, p in ranked:
        code = country_at(lat, lon)
        if code:
            votes[code] = votes.get(code, 0.0) + p
    candidates = [
        Candidate(
            lat=lat,
            lon=lon,
            weight=max(p, 1e-12),
            label=f"GeoCLIP gallery point (p {p:.3f})",
            country_code=country_at(lat, lon),
            radius_km=CANDIDATE_RADIUS_KM,
        )
        for lat, lon, p in ranked[:k]
    ]
    best = ranked[0]
    return Evidence(
        tool=TOOL,
        summary=f"GeoCLIP: best {best[0]:.3f}, {best[1]:.3f} (p {best[2]:.3f})",
        country_likelihoods=votes,
        candidates=candidates,
        strength=STRENGTH,
        seconds=clock[0],
        inputs={"model": model.name, "k": k},
        observations={
            "model": model.name,
            "top": [[round(a, 5), round(b, 5), round(p, 5)] for a, b, p in ranked[:k]],
        },
    )


def run(call: ToolCall) -> Evidence:
    """Rank GeoCLIP's gallery for the run's photo."""
    return geoclip_locate(call.image(), call.settings)


SPEC = ToolSpec(
    name=TOOL,
    function=geoclip_locate,
    run=run,
    description="""Predict GPS points for a photo with GeoCLIP (a model trained to map photos to coordinates).

Use it for outdoor photos without readable text: it returns the 10 most likely points on Earth and
a country vote. Needs a CLIP ViT-L/14 model (clip_model); unavailable otherwise.""",
    needs=("photo", "model"),
    weight=0.8,
    key=("settings.clip_model", "settings.device"),
    what="GeoCLIP's GPS gallery and location encoder (shipped in the `geoclip` wheel)",
    offline_source="needs CLIP ViT-L/14 weights",
    named_by=(r"geoclip",),
)
