"""`geosleuth bench --suite scene`: how many photos per second the scene model (EfficientNet-Lite2) labels.

Measured, never asserted, on each onnxruntime device this machine has (CPU; CUDA when present):

* the model alone on preprocessed inputs, batch 1 and batch 16;
* the whole tool per photo (JPEG decode, resize and crop, model, top labels) on one thread;
* the same with two and eight threads sharing the one model, which batches their photos
  (`geosleuth.tools.batcher`); the mean batch size shows how much they shared.

Photos: the first 64 of ../shared/data/im2gps3k-dev when present, else the project's examples/.
"""

from __future__ import annotations

import statistics
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING

from geosleuth.app.cli_common import make_console
from geosleuth.core.config import Settings
from geosleuth.core.paths import shared_dir, source_root

if TYPE_CHECKING:
    from geosleuth.tools.scene import SceneModel

PHOTOS = 64
THREADS = (1, 2, 8)


def bench_photos() -> list[Path]:
    """Return the photos to time: the first PHOTOS dev photos, else the examples (sorted by name)."""
    dev = shared_dir() / "data" / "im2gps3k-dev" / "images"
    folder = dev if dev.is_dir() else source_root() / "examples"
    return sorted(folder.glob("*.jpg"))[:PHOTOS]


def model_photos_per_second(model: SceneModel, batch: int, rounds: int = 4) -> float:
    """Photos per second through the model alone on random preprocessed inputs of `batch` photos."""
    import numpy as np

    inputs = np.random.default_rng(0).normal(size=(batch, 3, 260, 260)).astype(np.float32)
    model.forward(inputs)  # warm-up
    times = []
    for _ in range(rounds):
        start = time.perf_counter()
        model.forward(inputs)
        times.append(time.perf_counter() - start)
    return batch / statistics.median(times)


def tool_photos_per_second(paths: list[Path], settings: Settings, threads: int) -> tuple[float, float]:
    """Photos per second of decode + `scene.classify` on `threads` threads; and the mean batch size."""
    from geosleuth.core.photo import load_photo
    from geosleuth.tools import scene

    def label(path: Path) -> None:
        found = scene.classify(load_photo(path).image, settings)
        if not found.ok:
            raise RuntimeError(found.summary)

    model = scene.load_model(settings)
    label(paths[0])  # warm-up
    before_batches, before_photos = model.batcher.batches, model.batcher.items
    start = time.perf_counter()
    with ThreadPoolExecutor(threads) as pool:
        list(pool.map(label, paths))
    seconds = time.perf_counter() - start
    batches = model.batcher.batches - before_batches
    return len(paths) / seconds, (model.batcher.items - before_photos) / max(1, batches)


def run(settings: Settings) -> None:
    """Measure and print scene photos per second on each device (see the module docstring)."""
    import onnxruntime
    from rich.table import Table

    from geosleuth.tools import scene

    console = make_console()
    paths = bench_photos()
    if not paths:
        console.print("[yellow]no photos to time: neither ../shared/data nor examples/ has any[/yellow]")
        return
    devices = ["cpu"] + (["cuda"] if scene.CUDA in onnxruntime.get_available_providers() else [])
    table = Table(title=f"scene (EfficientNet-Lite2, ONNX) on {len(paths)} photos from {paths[0].parent}",
                  title_justify="left")
    for column in ("device", "measure", "photos/s", "mean batch"):
        table.add_column(column)
    for device in devices:
        run_settings = settings.model_copy(update={"device": device})
        model = scene.load_model(run_settings)
        for batch in (1, 16):
            table.add_row(model.provider, f"model alone, batch {batch}",
                          f"{model_photos_per_second(model, batch):.1f}", str(batch))
        for threads in THREADS:
            rate, mean_batch = tool_photos_per_second(paths, run_settings, threads)
            table.add_row(
                model.provider, f"decode + tool, {threads} thread(s)", f"{rate:.1f}", f"{mean_batch:.2f}"
            )
    console.print(table)
