"""Load a CLIP model once, from what `Settings.clip_model` names, and embed images and texts with it.

Shared by `clip_zero_shot`, `retrieval`, `geoclip` and `geosleuth index build`. Which model
(`resolve_spec`), in order:

1. `settings.clip_model` when set:
   * `hf:NAME_OR_FOLDER` - a Hugging Face transformers CLIP (`CLIPModel.from_pretrained`);
   * `open_clip:ARCH/PRETRAINED` - an open_clip architecture with a pretrained tag or a weights file;
   * an existing folder: with `open_clip_config.json` (open_clip's own save format) it is open_clip,
     with `config.json` it is transformers;
   * an existing weights file (`.pt`, `.bin`, `.safetensors`) whose name starts with an open_clip
     architecture, e.g. `ViT-B-32-laion2b.safetensors`;
   * `ARCH/PRETRAINED` where ARCH is a built-in open_clip architecture (`ViT-B-32/laion2b_s34b_b79k`);
   * anything else is a Hugging Face model name (`openai/clip-vit-large-patch14`).
2. else the first folder or weights file in `../shared/models/` that one of those rules accepts;
3. else none: the vision tools answer with an "unavailable" Evidence, without importing torch.

Names are fetched from the network only by the libraries themselves, and never when
`settings.hf_offline` (`HF_HUB_OFFLINE=1`: then `from_pretrained` looks in the local cache only). The
device is `settings.device` (auto: CUDA when torch sees it). Embeddings come back as float32 numpy
arrays, L2-normalised unless asked otherwise, computed in batches under `torch.inference_mode`.
"""

from __future__ import annotations

import functools
import hashlib
import importlib.util
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from geosleuth.core.extras import MissingExtra, require
from geosleuth.core.paths import shared_dir
from geosleuth.tools.torch_compat import ensure_torchvision_ops, resolve_device

if TYPE_CHECKING:
    import numpy as np
    from PIL import Image

    from geosleuth.core.config import Settings

SHARED_MODELS = shared_dir() / "models"
WEIGHT_SUFFIXES = (".pt", ".pth", ".bin", ".safetensors")
DEFAULT_BATCH = 32


class ClipUnavailable(RuntimeError):
    """No CLIP model is configured or the configured one cannot be loaded (one-line reason)."""


@dataclass(frozen=True)
class ModelSpec:
    """Where a CLIP model comes from: its loader, the loader's arguments, and a stable name."""

    backend: Literal["open_clip", "hf"]
    model: str
    """open_clip: an architecture or `local-dir:FOLDER`; hf: a model name or folder."""
    pretrained: str | None = None
    """open_clip only: a pretrained tag or a weights file."""

    @property
    def name(self) -> str:
        """Stable name recorded in index metadata and cache keys, e.g. 'open_clip:ViT-B-32/openai'."""
        tail = f"/{self.pretrained}" if self.pretrained else ""
        return f"{self.backend}:{self.model}{tail}"

    def local_files(self) -> list[Path]:
        """Return the local files the model is loaded from (empty for a name fetched by the library)."""
        found: list[Path] = []
        for path in [Path(p) for p in (self.model.removeprefix("local-dir:"), self.pretrained) if p]:
            if path.is_dir():
                found += sorted(p for p in path.iterdir() if p.is_file())
            elif path.is_file():
                found.append(path)
        return found

    def fingerprint(self) -> str:
        """Short hash of the name and the local files' sizes and modification times."""
        key = hashlib.sha256(self.name.encode())
        for path in self.local_files():
            stat = path.stat()
            key.update(f"{path.name}:{stat.st_size}:{stat.st_mtime_ns};".encode())
        return key.hexdigest()[:16]


@functools.cache
def open_clip_architectures() -> frozenset[str]:
    """Built-in open_clip architecture names, read once from its config folder without importing it."""
    spec = importlib.util.find_spec("open_clip")
    if spec is None or not spec.submodule_search_locations:
        return frozenset()
    folder = Path(next(iter(spec.submodule_search_locations))) / "model_configs"
    return frozenset(path.stem for path in folder.glob("*.json"))


def _architecture_prefix(file_name: str) -> str | None:
    """Return the longest built-in open_clip architecture a weights file's name starts with."""
    matches = [arch for arch in open_clip_architectures() if file_name.startswith(arch)]
    return max(matches, key=len) if matches else None


def spec_for_path(path: Path) -> ModelSpec | None:
    """Return the spec of a local model folder or weights file, None when it holds no CLIP model."""
    path = path.expanduser().resolve()
    if path.is_dir():
        if (path / "open_clip_config.json").is_file():
            return ModelSpec("open_clip", f"local-dir:{path}")
        if (path / "config.json").is_file():
            return ModelSpec("hf", str(path))
        return None
    if path.is_file() and path.suffix in WEIGHT_SUFFIXES:
        arch = _architecture_prefix(path.name)
        return ModelSpec("open_clip", arch, str(path)) if arch else None
    return None


def parse_spec(text: str) -> ModelSpec:
    """Turn a `clip_model` setting into a ModelSpec (see the module docstring for the forms).

    Raises:
        ClipUnavailable: for a path-like value that names no model folder or weights file.
    """
    text = text.strip()
    if text.startswith("hf:"):
        return ModelSpec("hf", text.removeprefix("hf:"))
    if text.startswith("open_clip:"):
        arch, _, pretrained = text.removeprefix("open_clip:").partition("/")
        if pretrained and Path(pretrained).expanduser().exists():
            pretrained = str(Path(pretrained).expanduser().resolve())
        return ModelSpec("open_clip", arch, pretrained or None)
    path = Path(text).expanduser()
    if path.exists():
        spec = spec_for_path(path)
        if spec is None:
            raise ClipUnavailable(
                f"{path} holds no CLIP model (expected an open_clip_config.json or config.json folder, "
                f"or a weights file named after an open_clip architecture, e.g. ViT-B-32-x.safetensors)"
            )
        return spec
    arch, _, pretrained = text.partition("/")
    if pretrained and arch in open_clip_architectures():
        return ModelSpec("open_clip", arch, pretrained)
    return ModelSpec("hf", text)


def resolve_spec(settings: Settings, shared_models: Path = SHARED_MODELS) -> ModelSpec | None:
    """Pick the CLIP model: `settings.clip_model`, else the first model in `shared_models`, else None."""
    if settings.clip_model:
        return parse_spec(settings.clip_model)
    if shared_models.is_dir():
        for entry in sorted(shared_models.iterdir()):
            spec = spec_for_path(entry)
            if spec is not None:
                return spec
    return None


class ClipModel:
    """A loaded CLIP: image and text encoders, preprocessing, tokenizer, on one device."""

    def __init__(self, spec: ModelSpec, device: str = "cpu", *, local_only: bool = False) -> None:
        """Load the model `spec` names onto `device` ('cpu' or 'cuda'); raise ClipUnavailable if it fails.

        `local_only`: a Hugging Face model comes from the local cache only, never the network.
        """
        ensure_torchvision_ops()
        self.spec = spec
        self.device = device
        self.text_batches_encoded = 0
        """How many text batches went through the text encoder (the on-disk cache skips them)."""
        try:
            if spec.backend == "open_clip":
                self._load_open_clip()
            else:
                self._load_hf(local_only)
        except (OSError, RuntimeError, ValueError, KeyError) as exc:
            raise ClipUnavailable(f"cannot load CLIP model {spec.name}: {str(exc).splitlines()[0]}") from exc
        self.model.eval()

    def _load_open_clip(self) -> None:
        import open_clip

        model, _, preprocess = open_clip.create_model_and_transforms(
            self.spec.model, pretrained=self.spec.pretrained, device=self.device
        )
        self.model, self._preprocess = model, preprocess
        self._tokenizer = open_clip.get_tokenizer(self.spec.model)
        config = open_clip.get_model_config(self.spec.model) or {}
        vision = config.get("vision_cfg", {})
        self.dim = int(config.get("embed_dim") or model.encode_text(self._tokenizer(["x"])).shape[-1])
        self.vision = {
            "width": vision.get("width"),
            "layers": vision.get("layers"),
            "patch_size": vision.get("patch_size"),
        }
        self.logit_scale = float(model.logit_scale.exp().item())

    def _load_hf(self, local_only: bool) -> None:
        from transformers import AutoTokenizer, CLIPImageProcessor, CLIPModel

        model = CLIPModel.from_pretrained(self.spec.model, local_files_only=local_only)
        # `to` through the class: transformers wraps it with functools.wraps, which mypy cannot bind.
        self.model = CLIPModel.to(model, self.device)
        self._processor = CLIPImageProcessor.from_pretrained(self.spec.model, local_files_only=local_only)
        self._hf_tokenizer = AutoTokenizer.from_pretrained(self.spec.model, local_files_only=local_only)
        config = self.model.config
        self.dim = int(config.projection_dim)
        self.vision = {
            "width": config.vision_config.hidden_size,
            "layers": config.vision_config.num_hidden_layers,
            "patch_size": config.vision_config.patch_size,
        }
        self.logit_scale = float(self.model.logit_scale.exp().item())

    @property
    def name(self) -> str:
        """The model's stable name (see ModelSpec.name)."""
        return self.spec.name

    @property
    def is_vit_l14(self) -> bool:
        """Whether this is a ViT-L/14 (24 layers of width 1024, 14-px patches, 768-d embeddings)."""
        return self.vision == {"width": 1024, "layers": 24, "patch_size": 14} and self.dim == 768

    def _pixels(self, images: list[Image.Image]) -> Any:
        import torch

        if self.spec.backend == "open_clip":
            return torch.stack([self._preprocess(im.convert("RGB")) for im in images]).to(self.device)
        batch = self._processor(images=[im.convert("RGB") for im in images], return_tensors="pt")
        return batch["pixel_values"].to(self.device)

    def _image_features(self, pixels: Any) -> Any:
        if self.spec.backend == "open_clip":
            return self.model.encode_image(pixels)
        return _tensor(self.model.get_image_features(pixel_values=pixels))

    def _text_features(self, texts: list[str]) -> Any:
        if self.spec.backend == "open_clip":
            return self.model.encode_text(self._tokenizer(texts).to(self.device))
        tokens = self._hf_tokenizer(texts, padding=True, truncation=True, return_tensors="pt").to(self.device)
        return _tensor(self.model.get_text_features(**tokens))

    def encode_images(
        self, images: list[Image.Image], *, batch_size: int = DEFAULT_BATCH, normalize: bool = True
    ) -> np.ndarray:
        """Embed images (any mode; converted to RGB) into an (n, dim) float32 array."""
        return self._encode(
            images, lambda chunk: self._image_features(self._pixels(chunk)), batch_size, normalize
        )

    def encode_texts(self, texts: list[str], *, batch_size: int = 256, normalize: bool = True) -> np.ndarray:
        """Embed texts into an (n, dim) float32 array (prefer `clip_zero_shot.text_embeddings`)."""

        def run(chunk: list[str]) -> Any:
            self.text_batches_encoded += 1
            return self._text_features(chunk)

        return self._encode(texts, run, batch_size, normalize)

    def _encode(self, items: list[Any], run: Any, batch_size: int, normalize: bool) -> np.ndarray:
        import numpy as np
        import torch

        if batch_size < 1:
            raise ValueError("batch_size must be >= 1")
        parts = []
        with torch.inference_mode():
            for start in range(0, len(items), batch_size):
                features = run(items[start : start + batch_size]).float()
                if normalize:
                    features = torch.nn.functional.normalize(features, dim=-1)
                parts.append(features.cpu().numpy())
        return np.concatenate(parts) if parts else np.zeros((0, self.dim), dtype=np.float32)


def _tensor(output: Any) -> Any:
    """Return the projected features of a transformers call (a tensor, or transformers 5's output object)."""
    import torch

    if isinstance(output, torch.Tensor):
        return output
    pooled = getattr(output, "pooler_output", None)
    if isinstance(pooled, torch.Tensor):
        return pooled
    return output[0]


_loaded: dict[tuple[str, str, str], ClipModel] = {}
_lock = threading.Lock()


def load_clip(settings: Settings, shared_models: Path = SHARED_MODELS) -> ClipModel:
    """Return the configured CLIP model, loaded once per process (per spec, files and device).

    Raises:
        ClipUnavailable: when no model is configured or found, or when loading fails.
    """
    spec = resolve_spec(settings, shared_models)
    if spec is None:
        raise ClipUnavailable(
            "no CLIP model configured: set clip_model (GEOSLEUTH_CLIP_MODEL) "
            "or put weights in ../shared/models"
        )
    try:
        require("open_clip" if spec.backend == "open_clip" else "transformers", "vision", "CLIP")
        device = resolve_device(settings.device)
    except (MissingExtra, ValueError) as exc:
        raise ClipUnavailable(str(exc)) from exc
    key = (spec.name, spec.fingerprint(), device)
    with _lock:
        if key not in _loaded:
            _loaded[key] = ClipModel(spec, device, local_only=settings.hf_offline)
        return _loaded[key]


TINY_CONFIG: dict[str, Any] = {
    "embed_dim": 64,
    "vision_cfg": {"image_size": 32, "layers": 2, "width": 64, "patch_size": 8, "head_width": 32},
    "text_cfg": {"context_length": 77, "vocab_size": 49408, "width": 64, "heads": 2, "layers": 2},
}
"""A tiny open_clip architecture (ViT of width 64, 2 layers, 32-px images) for benchmarks and tests."""


def save_random_open_clip(folder: Path, model_cfg: dict[str, Any] | None = None, seed: int = 0) -> Path:
    """Write a randomly initialised open_clip model in open_clip's folder format and return the folder.

    The folder (`open_clip_config.json` + `open_clip_pytorch_model.bin`) loads like any real model
    folder (`clip_model = FOLDER`); with random weights it measures speed and exercises the code,
    never accuracy.
    """
    import json

    require("open_clip", "vision", "a random open_clip model")
    import torch

    ensure_torchvision_ops()
    import open_clip

    config = model_cfg or TINY_CONFIG
    torch.manual_seed(seed)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "open_clip_config.json").write_text(json.dumps({"model_cfg": config, "preprocess_cfg": {}}))
    torch.save(open_clip.CLIP(**config).state_dict(), folder / "open_clip_pytorch_model.bin")
    return folder
