"""`geosleuth bench --suite eval`: eval throughput (photos per second) and memory, policy planner.

The photos are the examples plus the first `SHARED_PHOTOS` of im2gps3k-dev (when ../shared is
there), evaluated from scratch (no tool cache) into a temporary run folder: threads and processes at
2 workers, processes at 8, all with the configured tools, and threads at 2 workers once more without
the `scene` tool (what looking costs). Memory is the peak of the summed resident memory of this
process and its workers, sampled every 0.2 s.
"""

from __future__ import annotations

import csv
import tempfile
import threading
import time
from pathlib import Path

from geosleuth.app.cli_common import make_console
from geosleuth.core.config import Settings
from geosleuth.core.paths import source_root

SHARED_PHOTOS = 10
CONFIGS = (("thread", 2, False), ("thread", 2, True), ("process", 2, True), ("process", 8, True))
"""(backend, workers, with the scene tool). The first row also pays this process's one-time loads
(gazetteer index, OCR models), so the scene row after it shows what looking adds."""
SAMPLE_S = 0.2


def _photo_list(folder: Path) -> Path:
    """Write a labels CSV of the examples and the first shared photos; return its path."""
    from geosleuth.evals.datasets import SHARED_DATA, get_spec, load_samples

    samples = load_samples(get_spec(str(source_root() / "examples" / "labels.csv")))
    if (SHARED_DATA / "im2gps3k-dev" / "labels.csv").is_file():
        samples += load_samples(get_spec("im2gps3k-dev"), limit=SHARED_PHOTOS)
    path = folder / "bench-photos.csv"
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["id", "image", "lat", "lon", "country"])
        writer.writerows([s.id, str(s.image), s.lat, s.lon, s.country or ""] for s in samples)
    return path


class TreeMemory:
    """Samples the summed RSS of this process and its descendants in a background thread."""

    def __init__(self) -> None:
        """Start sampling."""
        import psutil

        self.peak = 0
        self._me = psutil.Process()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        import psutil

        while not self._stop.is_set():
            total = 0
            for proc in [self._me, *self._me.children(recursive=True)]:
                try:
                    total += proc.memory_info().rss
                except psutil.Error:
                    pass
            self.peak = max(self.peak, total)
            self._stop.wait(SAMPLE_S)

    def stop(self) -> float:
        """Stop sampling; return the peak in GB."""
        self._stop.set()
        self._thread.join()
        return self.peak / 1024**3


def run(settings: Settings) -> None:
    """Measure and print photos per second and peak memory for each backend and worker count."""
    from rich.table import Table

    from geosleuth.evals.runner import EvalOptions, run_eval

    console = make_console()
    blind = settings.model_copy(update={"planner": "policy"})
    table = Table(title="eval throughput, policy planner, no tool cache", title_justify="left")
    for column in ("backend", "workers", "scene", "photos", "wall s", "photos/s", "s/photo (in worker)",
                   "peak RSS GB", "errors"):
        table.add_column(column, justify="right")
    with tempfile.TemporaryDirectory(prefix="geosleuth-bench-eval-") as tmp:
        labels = _photo_list(Path(tmp))
        for backend, workers, scene in CONFIGS:
            tools = blind.tools if scene else tuple(t for t in blind.tools if t != "scene")
            memory = TreeMemory()
            start = time.perf_counter()
            summary = run_eval(
                EvalOptions(dataset=str(labels), out=Path(tmp) / f"{backend}-{workers}-{scene}",
                            planner="policy", workers=workers, backend=backend, tool_cache=False,
                            progress=False),
                blind.model_copy(update={"tools": tools}),
            )
            wall = time.perf_counter() - start
            peak = memory.stop()
            n = len(summary.rows)
            in_worker = sum(r["seconds"] for r in summary.rows) / max(n, 1)
            errors = sum(r.get("error") is not None for r in summary.rows)
            table.add_row(backend, str(workers), "yes" if scene else "no", str(n), f"{wall:.1f}",
                          f"{n / wall:.2f}", f"{in_worker:.2f}", f"{peak:.2f}", str(errors))
    console.print(table)
    console.print("wall time includes starting the workers (model loading in each process).")
