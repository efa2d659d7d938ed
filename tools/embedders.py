"""Image embedders for retrieval: one interface over EfficientNet-Lite2 (shipped) and CLIP (your weights).

An `Embedder` turns photos into L2-normalised float32 vectors and says which space they live in:
`name`, `fingerprint` and `dim` are recorded in a retrieval index's metadata, and an index is only
queried by the embedder that built it.

* `efficientnet-lite2`: the scene tool's ImageNet-1k EfficientNet-Lite2 (`geosleuth.tools.scene`,
  run by onnxruntime; the ONNX file is exported once into the cache), its 1280-d pooled features.
  Needs no user weights. Fingerprint: the first 16 hex digits of the shipped weights' sha256 (the
  ONNX file is named by it too). Device: the onnxruntime provider the session runs on.
* `clip`: the configured CLIP model (`geosleuth.tools.clip_models`), its image embedding. Name and
  fingerprint are the model's own (`ModelSpec.name`, `ModelSpec.fingerprint`).

`load_embedder(settings)` picks by `settings.retrieval_embedder`: "auto" is CLIP when `clip_model` is
set, else EfficientNet-Lite2. Nothing heavy is imported before an embedder is loaded.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

from geosleuth.tools import scene
from geosleuth.tools.clip_models import DEFAULT_BATCH, ClipUnavailable, load_clip

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt
    from PIL import Image

    from geosleuth.core.config import Settings
    from geosleuth.tools.clip_models import ClipModel

EFFICIENTNET = scene.MODEL
"""The name of the EfficientNet-Lite2 embedder ("efficientnet-lite2")."""
CLIP = "clip"
CHOICES = ("auto", EFFICIENTNET, CLIP)
"""The values of `Settings.retrieval_embedder` and `geosleuth index build --embedder`."""


class EmbedderUnavailable(RuntimeError):
    """The chosen embedder cannot run here: no CLIP configured, a package or file missing (one line)."""


class Embedder(Protocol):
    """Something that embeds photos into one space of unit vectors."""

    @property
    def name(self) -> str:
        """Which model: "efficientnet-lite2", or a CLIP's name such as "open_clip:ViT-B-32/openai"."""
        ...

    @property
    def dim(self) -> int:
        """Length of the vectors."""
        ...

    @property
    def device(self) -> str:
        """Where it runs: "cpu" or "cuda"."""
        ...

    @property
    def fingerprint(self) -> str:
        """Short hash of the weights: two embedders with equal name and fingerprint share a space."""
        ...

    def encode_images(
        self, images: list[Image.Image], batch_size: int = DEFAULT_BATCH
    ) -> npt.NDArray[np.float32]:
        """Embed `images` (any mode) into an (n, dim) float32 array of L2-normalised rows."""
        ...


class EfficientNetEmbedder:
    """EfficientNet-Lite2's pooled ImageNet features (1280-d), through the scene tool's ONNX session."""

    name = EFFICIENTNET
    dim = scene.FEATURES

    def __init__(self, settings: Settings) -> None:
        """Load the scene model for `settings` (cache folder, device), exporting the ONNX file if needed.

        Raises:
            EmbedderUnavailable: the model cannot run here (see `scene.load_model`).
        """
        try:
            self.model = scene.load_model(settings)
            self.fingerprint = scene.weights_sha256()[:16]
        except scene.SceneUnavailable as exc:
            raise EmbedderUnavailable(str(exc)) from exc
        self.device = "cuda" if self.model.provider == scene.CUDA else "cpu"

    def encode_images(
        self, images: list[Image.Image], batch_size: int = DEFAULT_BATCH
    ) -> npt.NDArray[np.float32]:
        """Embed `images` into an (n, 1280) float32 array of L2-normalised rows, `batch_size` per run."""
        import numpy as np

        if batch_size < 1:
            raise ValueError("batch_size must be >= 1")
        parts = [np.zeros((0, self.dim), dtype=np.float32)]
        for start in range(0, len(images), batch_size):
            batch = np.concatenate([scene.preprocess(image) for image in images[start : start + batch_size]])
            _, pooled = self.model.forward(batch)
            parts.append(scene.unit_rows(pooled))
        return np.concatenate(parts)


class ClipEmbedder:
    """A loaded CLIP model's image embedding."""

    def __init__(self, model: ClipModel) -> None:
        """Wrap `model` (see `clip_models.load_clip`)."""
        self.model = model

    @property
    def name(self) -> str:
        """The CLIP's stable name (`ModelSpec.name`)."""
        return self.model.name

    @property
    def dim(self) -> int:
        """The CLIP's embedding size."""
        return int(self.model.dim)

    @property
    def device(self) -> str:
        """The device the CLIP runs on."""
        return self.model.device

    @property
    def fingerprint(self) -> str:
        """The CLIP's fingerprint (`ModelSpec.fingerprint`: name plus its files' sizes and times)."""
        return self.model.spec.fingerprint()

    def encode_images(
        self, images: list[Image.Image], batch_size: int = DEFAULT_BATCH
    ) -> npt.NDArray[np.float32]:
        """Embed `images` with CLIP's image encoder into an (n, dim) float32 array of unit rows."""
        vectors: npt.NDArray[np.float32] = self.model.encode_images(images, batch_size=batch_size)
        return vectors


def resolve_name(settings: Settings, name: str | None = None) -> str:
    """Return the concrete embedder for `name` (default: `settings.retrieval_embedder`): "auto" resolved.

    Raises:
        ValueError: a name other than those in CHOICES.
    """
    choice = name or settings.retrieval_embedder
    if choice not in CHOICES:
        raise ValueError(f"unknown embedder {choice!r}; choose one of {', '.join(CHOICES)}")
    if choice == "auto":
        return CLIP if settings.clip_model else EFFICIENTNET
    return choice


def load_embedder(settings: Settings, name: str | None = None) -> Embedder:
    """Return the embedder `name` picks (default: `settings.retrieval_embedder`; see `resolve_name`).

    Models are loaded once per process (the scene session and CLIP models are cached).

    Raises:
        EmbedderUnavailable: the embedder cannot run here.
        ValueError: an unknown name.
    """
    if resolve_name(settings, name) == EFFICIENTNET:
        return EfficientNetEmbedder(settings)
    try:
        return ClipEmbedder(load_clip(settings))
    except ClipUnavailable as exc:
        raise EmbedderUnavailable(str(exc)) from exc
