"""`geosleuth bench --suite index`: the retrieval index's two layouts, flat and IVF-PQ, side by side.

Synthetic sets of EfficientNet-Lite2-sized (1280-d) unit vectors, clustered like image embeddings
rather than uniform noise: a Gaussian mixture of `count / 200` centres drawn uniformly on the sphere,
each vector its centre plus isotropic noise of a per-vector scale (uniform in 1-3, over sqrt(dim)),
normalised back onto the unit sphere. Queries are fresh draws from the same mixture. The set is
generated in chunks into a memory-mapped float32 file, so memory stays bounded.

Printed per size and layout (`geosleuth.tools.vector_index.build`, the flat one forced below its
limit and IVF-PQ forced above it): the index folder's size on disk; build seconds and peak RSS (a
fresh process; the input vectors are memory-mapped and the pages it reads count); the median
milliseconds of one top-10 query over QUERIES queries on the memory-mapped index, the query
process's peak RSS (the index file pages the queries touched count: a flat search touches them all)
and its private memory after the queries (RssAnon, without mapped files); recall@10 against the
flat index's exact answers.

Sizes: `$GEOSLEUTH_BENCH_INDEX_SIZES`, comma-separated entry counts (default 100000; 1000000 takes
about six minutes on 2 CPU cores, 10 GB of memory and 13 GB of temporary disk).
"""

from __future__ import annotations

import os
import statistics
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from pathlib import Path
from typing import TYPE_CHECKING, Any

from geosleuth.app.cli_common import make_console
from geosleuth.core.config import Settings

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

SIZES_ENV = "GEOSLEUTH_BENCH_INDEX_SIZES"
DEFAULT_SIZES = (100_000,)
DIM = 1280
QUERIES = 100
K = 10
PER_CENTRE = 200
"""Vectors per mixture centre, on average."""
NOISE = (1.0, 3.0)
"""Range of the per-vector noise scale (times 1/sqrt(dim) per coordinate)."""
CHUNK = 50_000


def sizes() -> list[int]:
    """Return the set sizes to measure: `$GEOSLEUTH_BENCH_INDEX_SIZES` (comma-separated), else DEFAULT_SIZES.

    Raises:
        SystemExit: a size that is not a positive whole number.
    """
    text = os.environ.get(SIZES_ENV, "")
    try:
        found = [int(part.replace("_", "")) for part in text.split(",") if part.strip()]
    except ValueError:
        raise SystemExit(f"geosleuth: error: {SIZES_ENV}={text!r} is not a list of numbers") from None
    if any(n < 1 for n in found):
        raise SystemExit(f"geosleuth: error: {SIZES_ENV}={text!r} holds a size under 1")
    return found or list(DEFAULT_SIZES)


class Mixture:
    """A Gaussian mixture on the unit sphere (see the module docstring) that draws vectors in chunks."""

    def __init__(self, count: int, dim: int = DIM, seed: int = 0) -> None:
        """Draw `count / PER_CENTRE` centres (at least one) uniformly on the sphere."""
        import numpy as np

        self.rng = np.random.default_rng(seed)
        self.dim = dim
        centres = self.rng.standard_normal((max(1, count // PER_CENTRE), dim), dtype=np.float32)
        self.centres = centres / np.linalg.norm(centres, axis=1, keepdims=True)

    def draw(self, count: int) -> npt.NDArray[np.float32]:
        """Return `count` unit vectors from the mixture, float32."""
        import numpy as np

        which = self.rng.integers(0, len(self.centres), count)
        scale = self.rng.uniform(*NOISE, size=(count, 1)).astype(np.float32) / np.float32(np.sqrt(self.dim))
        noise = self.rng.standard_normal((count, self.dim), dtype=np.float32)
        vectors: npt.NDArray[np.float32] = self.centres[which] + noise * scale
        vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
        return vectors

    def write(self, path: Path, count: int) -> None:
        """Write `count` vectors to the .npy file `path`, CHUNK at a time."""
        import numpy as np

        out = np.lib.format.open_memmap(path, mode="w+", dtype=np.float32, shape=(count, self.dim))
        for start in range(0, count, CHUNK):
            out[start : start + CHUNK] = self.draw(min(CHUNK, count - start))
        out.flush()
        del out


def _status_mb(field: str) -> float:
    """Return a memory figure of this process from /proc/self/status, in MB.

    VmHWM is the peak RSS (unlike ru_maxrss it does not start from the parent's); RssAnon the
    private memory now, without the pages of mapped files (page cache, shared and reclaimable).
    """
    status = Path("/proc/self/status").read_text()
    return int(next(line for line in status.splitlines() if line.startswith(f"{field}:")).split()[1]) / 1024


def build_in_child(vectors: Path, folder: Path, flat_limit: int) -> dict[str, Any]:
    """Build an index of the .npy `vectors` into `folder` (run in a fresh process); return the figures."""
    import numpy as np

    from geosleuth.tools.vector_index import build

    start = time.perf_counter()
    params = build(np.load(vectors, mmap_mode="r"), folder, flat_limit=flat_limit)
    return {"params": params, "build_s": time.perf_counter() - start, "build_rss_mb": _status_mb("VmHWM")}


def query_in_child(folder: Path, params: dict[str, Any], queries: Path) -> dict[str, Any]:
    """Time one top-K query at a time on the memory-mapped index (in a fresh process); return the figures."""
    import numpy as np

    from geosleuth.tools.vector_index import VectorIndex

    index = VectorIndex(folder, params)
    rows = np.load(queries)
    index.search(rows[:1], K)  # warm-up
    times, ids = [], []
    for row in rows:
        start = time.perf_counter()
        _, found = index.search(row[None], K)
        times.append((time.perf_counter() - start) * 1000)
        ids.append(found[0])
    return {
        "query_ms": statistics.median(times),
        "query_rss_mb": _status_mb("VmHWM"),
        "query_private_mb": _status_mb("RssAnon"),
        "ids": np.stack(ids),
    }


def _in_child(function: Any, *args: Any) -> dict[str, Any]:
    """Run `function(*args)` in a fresh spawned process (its own peak RSS) and return its result."""
    with ProcessPoolExecutor(max_workers=1, mp_context=get_context("spawn")) as pool:
        result: dict[str, Any] = pool.submit(function, *args).result()
    return result


def _folder_mb(folder: Path) -> float:
    return sum(p.stat().st_size for p in folder.iterdir()) / 1e6


def recall_at(found: npt.NDArray[np.int64], exact: npt.NDArray[np.int64]) -> float:
    """Mean share of each row of `exact` (the true top k ids) that the same row of `found` holds."""
    hits = [len(set(f.tolist()) & set(e.tolist())) / len(e) for f, e in zip(found, exact, strict=True)]
    return statistics.fmean(hits)


def measure(count: int, folder: Path) -> list[dict[str, Any]]:
    """Measure the flat and the IVF-PQ layout on `count` mixture vectors, working in `folder`."""
    import numpy as np

    mixture = Mixture(count)
    vectors, queries = folder / "vectors.npy", folder / "queries.npy"
    mixture.write(vectors, count)
    np.save(queries, mixture.draw(QUERIES))
    rows: list[dict[str, Any]] = []
    for kind, flat_limit in (("flat", count + 1), ("ivf_pq", 0)):
        out = folder / kind
        built = _in_child(build_in_child, vectors, out, flat_limit)
        queried = _in_child(query_in_child, out, built["params"], queries)
        rows.append({"count": count, "kind": kind, "disk_mb": _folder_mb(out)} | built | queried)
    for row in rows:
        row["recall"] = recall_at(row["ids"], rows[0]["ids"])
    return rows


def _describe(params: dict[str, Any]) -> str:
    if params["kind"] == "flat":
        return "exact"
    keys = ("nlist", "m", "nbits", "nprobe", "rerank", "train_size")
    return ", ".join(f"{key} {params[key]}" for key in keys)


def run(settings: Settings) -> None:
    """Measure and print disk size, peak RSS, build time, query latency and recall@10 per size and layout."""
    from rich.table import Table

    console = make_console()
    table = Table(
        title=f"retrieval index, {DIM}-d clustered unit vectors, top-{K} of {QUERIES} single queries "
        f"(load average {os.getloadavg()[0]:.1f} at start)",
        title_justify="left",
    )
    for column in ("entries", "layout", "disk MB", "build s", "build peak RSS MB", "query ms (median)",
                   "query peak RSS MB", "query private MB", f"recall@{K}", "parameters"):
        table.add_column(column)
    for count in sizes():
        with tempfile.TemporaryDirectory(prefix="geosleuth-bench-index-") as tmp:
            for row in measure(count, Path(tmp)):
                table.add_row(
                    f"{count:,}", row["kind"], f"{row['disk_mb']:.0f}", f"{row['build_s']:.1f}",
                    f"{row['build_rss_mb']:.0f}", f"{row['query_ms']:.2f}", f"{row['query_rss_mb']:.0f}",
                    f"{row['query_private_mb']:.0f}", f"{row['recall']:.3f}", _describe(row["params"]),
                )
    console.print(table)
