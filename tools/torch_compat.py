"""Compatibility shim that lets the pinned torchvision import on a CPU-only torch.

Why: the project pins `torch==2.13.0` (a CPU wheel on machines without a GPU) and
`torchvision==0.28.0`, whose PyPI wheel is a CUDA build. Its compiled extension `_C.so` cannot load
beside a CPU torch, so the operators `torchvision::nms` and `torchvision::qnms` are never defined, and
`import torchvision` dies in `_meta_registrations.py` with
`RuntimeError: operator torchvision::nms does not exist` (upstream: pytorch/vision#9085).
easyocr and open_clip import torchvision, so they fail the same way.

What: `ensure_torchvision_ops()` is called before anything imports torchvision. On a CUDA torch it
returns at once and changes nothing. On a CPU torch it first tries to load torchvision's own
extension; only when that fails does it define the two operator schemas, which is all the import
needs. The compiled ops themselves (nms, roi_align, ...) stay unavailable in that case and raise
torchvision's own clear error if called; geosleuth's OCR and CLIP paths do not call them.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Callable
from pathlib import Path

from geosleuth.core.extras import MissingExtra, installed, require

_done = False


def _extension_loads() -> bool:
    """Whether torchvision's compiled extension loads beside this torch (loading it if so)."""
    import torch

    spec = importlib.util.find_spec("torchvision")
    if spec is None or not spec.submodule_search_locations:
        return True  # no torchvision installed: nothing to fix
    load_library: Callable[[str], None] = torch.ops.load_library  # unannotated in torch
    for lib in Path(next(iter(spec.submodule_search_locations))).glob("_C*.so"):
        try:
            load_library(str(lib))
            return True
        except (OSError, ImportError):
            return False
    return False


def ensure_torchvision_ops() -> None:
    """Make `import torchvision` (and easyocr, open_clip) work on a CPU torch; no-op on CUDA torch."""
    global _done
    if _done:
        return
    import torch

    if torch.version.cuda is None and not _extension_loads():
        # torch leaves Library's __init__ and define unannotated: name the signatures used here.
        new_library: Callable[[str, str], torch.library.Library] = torch.library.Library
        lib = new_library("torchvision", "DEF")
        define: Callable[[str], object] = lib.define
        for name in ("nms", "qnms"):
            define(f"{name}(Tensor dets, Tensor scores, float iou_threshold) -> Tensor")
        globals()["_library"] = lib  # the Library object must outlive this call
    _done = True


def resolve_device(device: str) -> str:
    """Map the `device` setting ('auto' | 'cpu' | 'cuda') to the torch device models run on.

    'auto' picks CUDA when torch sees a GPU (the CPU without torch). Raises ValueError when 'cuda' is
    asked for and none is seen, or torch (the vision extra) is not installed.
    """
    if device == "cpu" or (device == "auto" and not installed("torch")):
        return "cpu"
    try:
        require("torch", "vision", "device 'cuda'")
    except MissingExtra as exc:
        raise ValueError(str(exc)) from exc
    import torch

    if torch.cuda.is_available():
        return "cuda"
    if device == "cuda":
        raise ValueError("device 'cuda' was asked for but torch sees no CUDA device")
    return "cpu"
