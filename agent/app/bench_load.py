"""`geosleuth bench --suite load`: a long batch (2,000 photos, 2 workers) keeps memory and files flat.

The photos are the six examples/ photos copied under many names into a temporary folder, each with its
own JPEG comment (`photo 17 of 2000`): the pixels are the examples', the bytes differ, so the tool
cache misses and every photo is really read. With $GEOSLEUTH_BENCH_COPIES=identical they are plain byte
copies instead: the tool cache answers all but the first of each, so every default tool can run on
2,000 photos in minutes (the models loaded, the batch machinery and the cache under load). They are
located with `geosleuth.evals.batch.locate_many` (the policy planner, tools exif and ocr; metadata
used), while a thread samples the process's resident memory and open file descriptors every few
seconds. Printed: the samples over time, photos per second, the RSS and fd ranges after warm-up, and
whether results.jsonl has one row per photo.

How many photos, workers, seconds between samples and which tools: $GEOSLEUTH_BENCH_PHOTOS (default
2000), $GEOSLEUTH_BENCH_WORKERS (2), $GEOSLEUTH_BENCH_SAMPLE_S (5) and $GEOSLEUTH_BENCH_TOOLS (comma
separated, default exif,ocr; exif alone exercises only the batch machinery) and $GEOSLEUTH_BENCH_COPIES
(distinct or identical); `geosleuth bench` has no per-suite options.
"""

from __future__ import annotations

import os
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from geosleuth.app.cli_common import make_console
from geosleuth.core.config import Settings
from geosleuth.core.paths import source_root

EXAMPLES = source_root() / "examples"
TOOLS = ("exif", "ocr")
WARM_UP = 0.1
"""The fraction of the photos done before the memory baseline is taken (models load on first use)."""


@dataclass(frozen=True)
class Sample:
    """One look at the process: seconds since the start, resident MB, open fds, rows written so far."""

    seconds: float
    rss_mb: float
    fds: int
    rows: int


@dataclass
class LoadRun:
    """What a load run measured: the photos given, the rows written, the wall time and the samples."""

    photos: int
    rows: int
    seconds: float
    samples: list[Sample] = field(default_factory=list)

    def warm(self) -> list[Sample]:
        """Return the samples taken once WARM_UP of the photos were done (all of them when none was)."""
        after = [s for s in self.samples if s.rows >= WARM_UP * self.photos]
        return after or self.samples

    def rss_growth_mb(self) -> float:
        """Return the resident MB at the end minus the lowest after warm-up."""
        warm = self.warm()
        return warm[-1].rss_mb - min(s.rss_mb for s in warm)

    def fd_growth(self) -> int:
        """Return the open fds at the end minus the fewest after warm-up."""
        warm = self.warm()
        return warm[-1].fds - min(s.fds for s in warm)


def make_photos(folder: Path, count: int, *, identical: bool = False) -> list[Path]:
    """Write `count` JPEGs into `folder`: the examples in turn, each with a comment of its own (new bytes).

    With `identical`, plain byte copies of the examples instead: the tool cache then answers every photo
    after the first of each example, so a long batch with every tool takes minutes, not hours.
    """
    import shutil

    from PIL import Image

    examples = sorted(EXAMPLES.glob("*.jpg"))
    folder.mkdir(parents=True, exist_ok=True)
    if identical:
        copies = [folder / f"{i:05d}_{examples[i % len(examples)].stem}.jpg" for i in range(count)]
        for i, out in enumerate(copies):
            shutil.copyfile(examples[i % len(examples)], out)
        return copies
    loaded: list[tuple[str, Image.Image, bytes]] = []
    for path in examples:
        with Image.open(path) as opened:
            loaded.append((path.stem, opened.copy(), opened.info.get("exif", b"")))
    paths = []
    for i in range(count):
        stem, image, exif = loaded[i % len(loaded)]
        out = folder / f"{i:05d}_{stem}.jpg"
        image.save(out, quality=90, exif=exif, comment=f"photo {i} of {count}".encode())
        paths.append(out)
    return paths


def _rows(results: Path) -> int:
    """Rows in a results.jsonl written so far (0 before it exists)."""
    try:
        with results.open("rb") as handle:
            return sum(1 for _ in handle)
    except FileNotFoundError:
        return 0


def measure_load(folder: Path, settings: Settings, *, run_dir: Path, workers: int = 2,
                 sample_s: float = 5.0) -> LoadRun:
    """Locate every photo of `folder` as one batch in `run_dir`, sampling RSS and fds every `sample_s`."""
    import psutil
    from rich.console import Console

    from geosleuth.evals.batch import find_photos, locate_many

    process = psutil.Process()
    results = run_dir / "results.jsonl"
    samples: list[Sample] = []
    stop = threading.Event()
    start = time.perf_counter()

    def sample() -> None:
        samples.append(Sample(time.perf_counter() - start, process.memory_info().rss / 2**20,
                              process.num_fds(), _rows(results)))

    def sampler() -> None:
        while not stop.wait(sample_s):
            sample()

    photos = len(find_photos([folder]))
    sample()
    thread = threading.Thread(target=sampler, daemon=True)
    thread.start()
    try:
        locate_many(folder, settings, run_dir=run_dir, workers=workers, console=Console(quiet=True))
    finally:
        stop.set()
        thread.join()
    sample()
    return LoadRun(photos, _rows(results), time.perf_counter() - start, samples)


def run(settings: Settings) -> None:
    """Run the load suite and print its samples and summary (see the module docstring)."""
    from rich.table import Table

    console = make_console()
    count = int(os.environ.get("GEOSLEUTH_BENCH_PHOTOS", "2000"))
    workers = int(os.environ.get("GEOSLEUTH_BENCH_WORKERS", "2"))
    sample_s = float(os.environ.get("GEOSLEUTH_BENCH_SAMPLE_S", "5"))
    tools = tuple(os.environ.get("GEOSLEUTH_BENCH_TOOLS", ",".join(TOOLS)).split(","))
    copies = os.environ.get("GEOSLEUTH_BENCH_COPIES", "distinct")
    if copies not in ("distinct", "identical"):
        raise SystemExit(f"GEOSLEUTH_BENCH_COPIES must be distinct or identical, not {copies!r}")
    with tempfile.TemporaryDirectory(prefix="geosleuth-load-") as tmp:
        made = time.perf_counter()
        make_photos(Path(tmp) / "photos", count, identical=copies == "identical")
        console.print(f"load: {count} photos ({copies} bytes) written in {time.perf_counter() - made:.1f} s; "
                      f"locating with {workers} workers, tools {', '.join(tools)}, policy planner")
        load_settings = settings.model_copy(update={"tools": tools, "planner": "policy",
                                                    "cache_dir": Path(tmp) / "cache"})
        result = measure_load(Path(tmp) / "photos", load_settings, run_dir=Path(tmp) / "batch",
                              workers=workers, sample_s=sample_s)
    table = Table(title="load: samples", title_justify="left")
    for column in ("s", "rows", "RSS MB", "open fds"):
        table.add_column(column)
    step = max(1, len(result.samples) // 40)
    for s in [*result.samples[:-1:step], result.samples[-1]]:
        table.add_row(f"{s.seconds:.0f}", str(s.rows), f"{s.rss_mb:.0f}", str(s.fds))
    console.print(table)
    warm = result.warm()
    console.print({
        "photos": result.photos, "rows": result.rows, "rows_match": result.rows == result.photos,
        "seconds": round(result.seconds, 1), "photos_per_s": round(result.photos / result.seconds, 2),
        "rss_mb_after_warm_up": [round(min(s.rss_mb for s in warm)), round(max(s.rss_mb for s in warm))],
        "rss_growth_mb": round(result.rss_growth_mb(), 1),
        "fds_after_warm_up": [min(s.fds for s in warm), max(s.fds for s in warm)],
        "fd_growth": result.fd_growth(),
    })
