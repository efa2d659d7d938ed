"""`geosleuth bench --suite vision`: CLIP image embedding throughput and FAISS query latency.

Measured, never asserted:

* images per second through the CLIP image encoder (preprocessing included) for a tiny random
  open_clip model, a random-init ViT-B-16 (same compute as the real one; no download), and the
  configured real model when there is one; on the CPU and, when torch sees one, on CUDA;
* the median latency of one top-16 query on a flat inner-product index of 100k random unit vectors
  of the real CLIP sizes (512: ViT-B; 768: ViT-L), read memory-mapped as the retrieval tool does.
"""

from __future__ import annotations

import statistics
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from geosleuth.app.cli_common import make_console
from geosleuth.core.config import Settings

if TYPE_CHECKING:
    from PIL.Image import Image

    from geosleuth.tools.clip_models import ClipModel

IMAGES = 64
QUERY_ENTRIES = 100_000
QUERIES = 50


def _photos(count: int) -> list[Image]:
    """Random 640x480 RGB photos (preprocessing cost as for real photos)."""
    import numpy as np
    from PIL import Image

    rng = np.random.default_rng(0)
    return [Image.fromarray(rng.integers(0, 255, (480, 640, 3), dtype=np.uint8)) for _ in range(count)]


def images_per_second(model: ClipModel, photos: list[Image], batch_size: int = 32) -> float:
    """Images per second through `model.encode_images` after one warm-up batch."""
    model.encode_images(photos[:batch_size], batch_size=batch_size)
    if model.device == "cuda":
        import torch

        torch.cuda.synchronize()
    start = time.perf_counter()
    model.encode_images(photos, batch_size=batch_size)
    if model.device == "cuda":
        import torch

        torch.cuda.synchronize()
    return len(photos) / (time.perf_counter() - start)


def query_latency_ms(dim: int, entries: int = QUERY_ENTRIES, queries: int = QUERIES) -> float:
    """Median milliseconds of one top-16 query on a memory-mapped flat IP index of random unit vectors."""
    import faiss
    import numpy as np

    rng = np.random.default_rng(0)
    vectors = rng.normal(size=(entries, dim)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    index = faiss.IndexFlatIP(dim)
    index.add(vectors)
    with tempfile.TemporaryDirectory() as folder:
        path = str(Path(folder) / "index.faiss")
        faiss.write_index(index, path)
        mapped = faiss.read_index(path, faiss.IO_FLAG_MMAP_IFC)
        times = []
        for row in vectors[:queries]:
            start = time.perf_counter()
            mapped.search(row.reshape(1, -1), 16)
            times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def _models(settings: Settings, folder: Path) -> list[tuple[str, Any]]:
    """(label, ModelSpec) of the tiny model, a random ViT-B-16 and the configured real model, if any."""
    from geosleuth.tools.clip_models import TINY_CONFIG, resolve_spec, save_random_open_clip, spec_for_path
    from geosleuth.tools.torch_compat import ensure_torchvision_ops

    ensure_torchvision_ops()
    import open_clip

    specs = [
        ("tiny random", spec_for_path(save_random_open_clip(folder / "tiny", TINY_CONFIG))),
        (
            "ViT-B-16 random init",
            spec_for_path(save_random_open_clip(folder / "vitb16", open_clip.get_model_config("ViT-B-16"))),
        ),
    ]
    real = resolve_spec(settings)
    if real is not None:
        specs.append((f"real: {real.name}", real))
    return specs


def run(settings: Settings) -> None:
    """Measure and print CLIP embedding throughput (CPU, CUDA if present) and index query latency."""
    from geosleuth.core.extras import require

    for module in ("torch", "open_clip", "faiss"):
        require(module, "vision", "the vision benchmark")
    import torch
    from rich.table import Table

    from geosleuth.tools.clip_models import ClipModel, ClipUnavailable

    console = make_console()
    devices = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
    photos = _photos(IMAGES)
    table = Table(title=f"CLIP image embedding ({IMAGES} photos of 640x480, batch 32)", title_justify="left")
    for column in ("model", "device", "images/s"):
        table.add_column(column)
    with tempfile.TemporaryDirectory() as tmp:
        for label, spec in _models(settings, Path(tmp)):
            for device in devices:
                try:
                    model = ClipModel(spec, device)
                except ClipUnavailable as exc:
                    table.add_row(label, device, f"unavailable: {exc}")
                    continue
                table.add_row(label, device, f"{images_per_second(model, photos):.1f}")
                del model
    console.print(table)
    latency = Table(
        title=f"retrieval query, flat IP index of {QUERY_ENTRIES:,} entries (mmap)", title_justify="left"
    )
    for column in ("dim", "median ms / query (top-16)"):
        latency.add_column(column)
    for dim in (512, 768):
        latency.add_row(str(dim), f"{query_latency_ms(dim):.2f}")
    console.print(latency)
