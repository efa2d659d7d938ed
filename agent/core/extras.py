"""Optional install extras: which modules each one provides, and one message when one is missing.

The default install runs locate, batch, eval and trace (rapidocr and tesseract OCR, the scene model on
onnxruntime, the embedded LLM with the `llm` extra). Code that needs a package of another extra calls
`require` before importing it, so a missing package fails with one line naming the extra, e.g.
"CLIP needs the vision extra: pip install 'geosleuth[vision]'"; `geosleuth doctor` lists what
`missing` finds.
"""

from __future__ import annotations

import importlib.util

EXTRAS: dict[str, tuple[str, ...]] = {
    "vision": (
        "torch", "torchvision", "open_clip", "transformers", "easyocr", "easyocr_en_models", "geoclip",
        "faiss", "efficientnet_lite_pytorch",
    ),
    "ray": ("ray",),
}
"""The import names each optional extra of pyproject.toml provides (the `llm` extra: `run.local_llm`)."""


class MissingExtra(ImportError):
    """A package of an optional extra is not installed; the message names the extra to install."""


def installed(module: str) -> bool:
    """Whether `module` can be imported here (found without importing it)."""
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):  # a dotted name whose parent is missing, or a broken spec
        return False


def hint(extra: str) -> str:
    """Return the command that installs `extra`, e.g. "pip install 'geosleuth[vision]'"."""
    return f"pip install 'geosleuth[{extra}]'"


def require(module: str, extra: str, what: str) -> None:
    """Raise MissingExtra, naming `extra`, unless `module` (needed by `what`, e.g. "CLIP") is installed."""
    if not installed(module):
        raise MissingExtra(f"{what} needs the {extra} extra: {hint(extra)}")


def missing(extra: str) -> list[str]:
    """Return the modules of `extra` (see EXTRAS) that are not installed, in EXTRAS order."""
    return [module for module in EXTRAS[extra] if not installed(module)]
