"""Tool "clip_zero_shot": a calibrated country distribution from CLIP prompt ensembles.

How: the photo's CLIP image embedding is compared (cosine) with class embeddings of several prompt
groups (`geosleuth.tools.prompts_clip`): countries, continents, the script on signs, the side of the road, and
descriptive scene groups (setting, biome, architecture, road markings, how locatable the scene is).
A class embedding is the renormalised mean of its prompts' normalised text embeddings. Each group's
class probabilities are `softmax(logit_scale * cosine / TEMPERATURE)`.

Country likelihood: the product over the country-mapping groups of the group's mixture
`sum_k p_k * table_k(country)` (for the country group simply its probability), normalised to sum to
one over ISO alpha-2 codes. Scene groups go into `observations` only.

Calibration: CLIP's learned logit scale (100 for the public models) makes zero-shot softmaxes over
hundreds of classes far too sure of themselves; dividing by TEMPERATURE flattens them. Its value is
a conservative choice written down here, not fitted to any benchmark; the Evidence's strength is
fixed at STRENGTH so that fusion treats CLIP's guess as a hint next to text clues.

Text embeddings depend only on the model and the prompts: they are computed once and kept on disk
in `<cache_dir>/clip-text/` (one .npy per model fingerprint and prompt list).
"""

from __future__ import annotations

import hashlib
import math
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from geosleuth.core.state import Evidence, timed
from geosleuth.tools.clip_models import ClipUnavailable, load_clip
from geosleuth.tools.prompts_clip import LOCALIZABLE_SCORES, Group, country_groups, scene_groups
from geosleuth.tools.spec import ToolCall, ToolSpec

if TYPE_CHECKING:
    import numpy as np
    from PIL import Image

    from geosleuth.core.config import Settings
    from geosleuth.tools.clip_models import ClipModel

TOOL = "clip_zero_shot"
TEMPERATURE = 2.0
"""Divides CLIP's logits before the softmax (see the module docstring); 1 keeps CLIP's own scale."""
STRENGTH = 0.5
"""How much fusion trusts the CLIP country distribution (0..1)."""
TOP_K = 5


def text_embeddings(model: ClipModel, prompts: list[str], cache_root: Path) -> np.ndarray:
    """Embed `prompts` with the model's text encoder, reading/writing an on-disk cache.

    The file is `<cache_root>/clip-text/<model fingerprint>-<hash of the prompts>.npy`; a damaged or
    unreadable file is recomputed, a read-only cache folder only costs the recomputation.
    """
    import numpy as np

    digest = hashlib.sha256("\n".join(prompts).encode()).hexdigest()[:16]
    path = cache_root / "clip-text" / f"{model.spec.fingerprint()}-{digest}.npy"
    try:
        cached: np.ndarray = np.load(path)
        if cached.shape == (len(prompts), model.dim):
            return cached
    except (OSError, ValueError):
        pass
    vectors = model.encode_texts(prompts)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".{os.getpid()}.tmp.npy")
        np.save(tmp, vectors)
        tmp.replace(path)
    except OSError:
        pass
    return vectors


def ensemble(prompt_vectors: np.ndarray, sizes: list[int]) -> np.ndarray:
    """Average consecutive runs of normalised prompt embeddings (`sizes` per class) and renormalise."""
    import numpy as np

    bounds = np.cumsum([0, *sizes])
    means = np.stack([prompt_vectors[a:b].mean(axis=0) for a, b in zip(bounds[:-1], bounds[1:], strict=True)])
    unit: np.ndarray = means / np.linalg.norm(means, axis=1, keepdims=True)
    return unit.astype(np.float32)


def class_embeddings(model: ClipModel, group: Group, cache_root: Path) -> tuple[list[str], np.ndarray]:
    """Return the group's class names and their ensembled text embeddings (one row per class)."""
    classes = list(group.prompts)
    prompts = [p for c in classes for p in group.prompts[c]]
    vectors = text_embeddings(model, prompts, cache_root)
    return classes, ensemble(vectors, [len(group.prompts[c]) for c in classes])


def calibrated(similarities: np.ndarray, logit_scale: float, temperature: float = TEMPERATURE) -> np.ndarray:
    """Turn cosine similarities into probabilities: softmax(logit_scale * similarities / temperature)."""
    import numpy as np

    if temperature <= 0:
        raise ValueError("temperature must be > 0")
    logits = logit_scale * np.asarray(similarities, dtype=np.float64) / temperature
    logits -= logits.max()
    weights = np.exp(logits)
    probabilities: np.ndarray = weights / weights.sum()
    return probabilities


def group_probabilities(
    model: ClipModel, image_vector: np.ndarray, group: Group, cache_root: Path
) -> dict[str, float]:
    """Class probabilities of one group for one normalised image embedding."""
    classes, matrix = class_embeddings(model, group, cache_root)
    probs = calibrated(matrix @ image_vector, model.logit_scale)
    return {c: float(p) for c, p in zip(classes, probs, strict=True)}


def country_distribution(groups: list[tuple[Group, dict[str, float]]]) -> dict[str, float]:
    """Combine country-mapping groups: product over groups of `sum_k p_k * table_k(c)`, normalised.

    The countries are those of the first group; a country a group's tables give nothing gets the
    smallest positive value of that group instead of zero, so no one group rules a country out.
    """
    countries = list(groups[0][0].countries)
    log_like = dict.fromkeys(countries, 0.0)
    for group, probs in groups:
        mixture = {c: sum(p * group.countries[k].get(c, 0.0) for k, p in probs.items()) for c in countries}
        floor = min((v for v in mixture.values() if v > 0), default=1.0)
        for c in countries:
            log_like[c] += math.log(max(mixture[c], floor))
    peak = max(log_like.values())
    weights = {c: math.exp(v - peak) for c, v in log_like.items()}
    total = sum(weights.values())
    return {c: w / total for c, w in weights.items()}


def localizable_score(probs: dict[str, float]) -> float:
    """Return the scene's expected locatability: the sum over kinds of P(kind) * LOCALIZABLE_SCORES[kind]."""
    return sum(p * LOCALIZABLE_SCORES[kind] for kind, p in probs.items())


def clip_zero_shot(image: Image.Image, settings: Settings, *, model: ClipModel | None = None) -> Evidence:
    """Guess the country (and describe the scene) with CLIP zero-shot prompt ensembles.

    Args:
        image: The photo's pixels.
        settings: Where the model comes from (`clip_model`, `device`) and the cache folder.
        model: An already loaded model (default: `load_clip(settings)`).

    Returns:
        Evidence with a distribution over ISO alpha-2 codes summing to one, or an "unavailable"
        Evidence (strength 0) when no CLIP model is configured or it cannot be loaded.
    """
    with timed() as clock:
        try:
            model = model or load_clip(settings)
        except ClipUnavailable as exc:
            return Evidence.failure(TOOL, "unavailable", f"unavailable: {exc}")
        vector = model.encode_images([image])[0]
        mapped = [(g, group_probabilities(model, vector, g, settings.cache_dir)) for g in country_groups()]
        described = {
            g.name: group_probabilities(model, vector, g, settings.cache_dir) for g in scene_groups()
        }
        distribution = country_distribution(mapped)
    top = sorted(distribution.items(), key=lambda item: -item[1])[:TOP_K]
    scene = {name: max(probs.items(), key=lambda item: item[1]) for name, probs in described.items()}
    observations: dict[str, Any] = {
        "model": model.name,
        "temperature": TEMPERATURE,
        "top_countries": [[c, round(p, 4)] for c, p in top],
        "groups": {g.name: _top(probs) for g, probs in mapped[1:]},
        "scene": {name: [label, round(p, 4)] for name, (label, p) in scene.items()},
        "localizable": round(localizable_score(described["localizable"]), 4),
    }
    summary = "CLIP: " + ", ".join(f"{c} {p:.0%}" for c, p in top[:3])
    summary += "; " + ", ".join(f"{label}" for name, (label, _p) in scene.items() if name != "localizable")
    return Evidence(
        tool=TOOL,
        summary=summary,
        country_likelihoods=distribution,
        observations=observations,
        strength=STRENGTH,
        seconds=clock[0],
        inputs={"model": model.name},
    )


def _top(probs: dict[str, float], k: int = 3) -> list[list[Any]]:
    return [[c, round(p, 4)] for c, p in sorted(probs.items(), key=lambda item: -item[1])[:k]]


def run(call: ToolCall) -> Evidence:
    """Ask the run's CLIP model about the run's photo."""
    return clip_zero_shot(call.image(), call.settings)


SPEC = ToolSpec(
    name=TOOL,
    function=clip_zero_shot,
    run=run,
    description="""Ask CLIP which country the photo looks like (landscape, architecture, roads, sign script).

Use it when the photo has little or no readable text, or to check a guess from text clues. It
returns a probability per country, the likely continent and script, the side of the road, and scene
attributes (urban/rural, biome, architecture, road markings). Weaker than readable signs.
Unavailable when no CLIP model is configured.""",
    needs=("photo", "model"),
    weight=0.6,  # a look, not a reading: landscapes and buildings repeat across borders
    key=("settings.clip_model", "settings.device"),
    cue="scene",
    what="country, continent, script, driving side and scene prompt ensembles",
    offline_source="CLIP weights you provide",
    named_by=(r"(?-i:CLIP)", r"clip_zero_shot"),
)
