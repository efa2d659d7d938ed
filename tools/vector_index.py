"""The FAISS side of a retrieval index: build it from unit vectors, open it memory-mapped, search it.

Scores are inner products of L2-normalised vectors (cosine similarity). Two layouts, chosen by size:

* under FLAT_LIMIT entries, a flat inner-product index (`index.faiss`): exact, and read with
  `faiss.IO_FLAG_MMAP_IFC`, which maps the vectors in place (read-only, shared page cache);
* from FLAT_LIMIT entries on, IVF-PQ (`index.faiss`) plus the raw vectors as float16
  (`vectors.npy`). The coarse quantizer is spherical k-means over `nlist = 4 * sqrt(n)` lists
  (at most n / MIN_LIST), trained on a random sample of TRAIN_PER_LIST vectors per list; each
  vector's residual is product-quantized into `m` subquantizers of 8 bits (`m` the largest divisor
  of the dimension up to dim / SUB_DIM; the codebooks learn from at most PQ_TRAIN_PER_CODE * 256
  residuals). A query probes `nprobe` lists, takes the RERANK * k best PQ candidates and re-ranks
  them exactly against the float16 vectors, so the top k match a flat search's (recall@10 >= 0.9
  in `geosleuth bench --suite index`). The index is read with `faiss.IO_FLAG_MMAP` (its inverted
  lists map the file) without the precomputed residual tables, and the vectors are mapped with
  random-access advice (no read-ahead): a query touches only the lists it probes and the rows it
  re-ranks.

Every parameter is returned by `build` and recorded in the index's metadata; `VectorIndex` reads them
back from there. Negatives (the least similar entries) come from searching with the negated query.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import TYPE_CHECKING, Any

from geosleuth.core.extras import require

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

FLAT_LIMIT = 200_000
"""From this many entries on, `build` writes IVF-PQ instead of a flat index."""
INDEX_FILE = "index.faiss"
VECTORS_FILE = "vectors.npy"
"""IVF-PQ only: the raw vectors as float16, row i for id i, for exact re-ranking."""
LISTS_PER_SQRT = 4
"""nlist = LISTS_PER_SQRT * sqrt(n), rounded."""
MIN_LIST = 40
"""nlist is at most n / MIN_LIST: lists of at least 40 entries on average."""
TRAIN_PER_LIST = 25
"""Coarse k-means training vectors per list (faiss's own minimum, 39, is lowered to this)."""
PQ_TRAIN_PER_CODE = 64
"""The PQ codebooks learn from at most this many residuals per code (faiss's default is 256)."""
SUB_DIM = 8
"""Target dimensions per PQ subquantizer: m is the largest divisor of dim up to dim / SUB_DIM."""
NBITS = 8
PROBE_SHARE = 32
"""A query probes nlist / PROBE_SHARE lists (at least MIN_PROBE)."""
MIN_PROBE = 16
RERANK = 10
"""A query re-ranks RERANK * k PQ candidates exactly."""
KMEANS_ITERATIONS = 10
CHUNK = 65_536
"""Vectors added (and written as float16) per step, so a memory-mapped input is read in pieces."""


def ivf_pq_params(count: int, dim: int) -> dict[str, Any]:
    """Return the IVF-PQ parameters `build` uses for `count` vectors of `dim` dimensions."""
    nlist = max(1, min(round(LISTS_PER_SQRT * math.sqrt(count)), count // MIN_LIST))
    m = max(d for d in range(1, max(1, dim // SUB_DIM) + 1) if dim % d == 0)
    return {
        "kind": "ivf_pq",
        "metric": "inner_product",
        "count": count,
        "dim": dim,
        "nlist": nlist,
        "m": m,
        "nbits": NBITS,
        "nprobe": min(nlist, max(MIN_PROBE, round(nlist / PROBE_SHARE))),
        "rerank": RERANK,
        "train_size": min(count, max(TRAIN_PER_LIST * nlist, PQ_TRAIN_PER_CODE * 2**NBITS)),
        "pq_train_per_code": PQ_TRAIN_PER_CODE,
        "kmeans_iterations": KMEANS_ITERATIONS,
        "spherical": True,
        "vectors": VECTORS_FILE,
        "vectors_dtype": "float16",
    }


def build(
    vectors: npt.NDArray[np.float32], folder: Path, *, flat_limit: int = FLAT_LIMIT, seed: int = 0
) -> dict[str, Any]:
    """Write an index of `vectors` ((n, d) float32 unit rows; id i is row i) into `folder`; return its params.

    A flat index under `flat_limit` rows, IVF-PQ with float16 vectors for re-ranking from there on
    (see the module docstring). `vectors` may be a `numpy.memmap`: it is read in chunks.

    Raises:
        ValueError: `vectors` is empty or not two-dimensional.
    """
    require("faiss", "vision", "a FAISS index")
    import faiss
    import numpy as np

    if vectors.ndim != 2 or not len(vectors):
        raise ValueError(f"expected a non-empty (n, d) matrix, got shape {vectors.shape}")
    count, dim = vectors.shape
    folder.mkdir(parents=True, exist_ok=True)
    raw: np.memmap[Any, Any] | None = None
    if count < flat_limit:
        index: Any = faiss.IndexFlatIP(dim)
        params: dict[str, Any] = {"kind": "flat", "metric": "inner_product", "count": count, "dim": dim}
    else:
        params = ivf_pq_params(count, dim)
        quantizer = faiss.IndexFlatIP(dim)
        index = faiss.IndexIVFPQ(
            quantizer, dim, params["nlist"], params["m"], params["nbits"], faiss.METRIC_INNER_PRODUCT
        )
        index.cp.niter = index.pq.cp.niter = params["kmeans_iterations"]
        index.cp.spherical = params["spherical"]
        index.cp.seed = seed
        index.cp.min_points_per_centroid = TRAIN_PER_LIST
        index.pq.cp.max_points_per_centroid = params["pq_train_per_code"]
        index.use_precomputed_table = -1  # IP needs no residual tables; they would cost nlist*m*256 floats
        sample = np.sort(np.random.default_rng(seed).choice(count, params["train_size"], replace=False))
        index.train(np.ascontiguousarray(vectors[sample], dtype=np.float32))
        raw = np.lib.format.open_memmap(
            folder / VECTORS_FILE, mode="w+", dtype=np.float16, shape=(count, dim)
        )
    for start in range(0, count, CHUNK):
        chunk = np.ascontiguousarray(vectors[start : start + CHUNK], dtype=np.float32)
        index.add(chunk)
        if raw is not None:
            raw[start : start + len(chunk)] = chunk
    if raw is not None:
        raw.flush()
        del raw
    faiss.write_index(index, str(folder / INDEX_FILE))
    return params


def map_rows(path: Path) -> npt.NDArray[Any]:
    """Map a .npy file read-only with random-access advice: no read-ahead, so only touched rows load."""
    import mmap

    import numpy as np

    with path.open("rb") as handle:
        version = np.lib.format.read_magic(handle)
        read_header = (
            np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
        )
        shape, fortran, dtype = read_header(handle)
        offset = handle.tell()
        mapped = mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ)
    if hasattr(mmap, "MADV_RANDOM"):
        mapped.madvise(mmap.MADV_RANDOM)
    rows: npt.NDArray[Any] = np.ndarray(
        shape, dtype=dtype, buffer=mapped, offset=offset, order="F" if fortran else "C"
    )
    return rows


class VectorIndex:
    """An index folder's vectors, opened memory-mapped, searched by inner product."""

    def __init__(self, folder: Path, params: dict[str, Any], *, mmap: bool = True) -> None:
        """Open the index `build` wrote into `folder` with the `params` it returned.

        Raises:
            ValueError: unknown parameters, or files that do not match them.
            RuntimeError: faiss cannot read the index file.
        """
        require("faiss", "vision", "a FAISS index")
        import faiss
        import numpy as np

        self.params = params
        kind = params.get("kind")
        self.index: Any
        self.vectors: npt.NDArray[Any] | None = None
        if kind == "flat":
            # IO_FLAG_MMAP_IFC maps a flat index's vectors in place (read-only, shared); the older
            # IO_FLAG_MMAP copies them into memory for flat indexes (faiss 1.15).
            self.index = faiss.read_index(str(folder / INDEX_FILE), faiss.IO_FLAG_MMAP_IFC if mmap else 0)
        elif kind == "ivf_pq":
            flags = faiss.IO_FLAG_SKIP_PRECOMPUTE_TABLE | (faiss.IO_FLAG_MMAP if mmap else 0)
            self.index = faiss.read_index(str(folder / INDEX_FILE), flags)
            self.index.nprobe = int(params["nprobe"])
            path = folder / params["vectors"]
            self.vectors = map_rows(path) if mmap else np.load(path)
            if self.vectors.shape != (self.index.ntotal, self.index.d):
                raise ValueError(f"{params['vectors']} holds {self.vectors.shape}, not the index's vectors")
        else:
            raise ValueError(f"unknown vector index kind {kind!r}")

    @property
    def ntotal(self) -> int:
        """How many vectors the index holds."""
        return int(self.index.ntotal)

    @property
    def dim(self) -> int:
        """The vectors' dimension."""
        return int(self.index.d)

    def search(
        self, queries: npt.NDArray[np.float32], k: int
    ) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.int64]]:
        """Return (scores, ids), each (nq, k), of the k entries with the highest inner product per query.

        Best first; rows are padded with score -inf and id -1 when fewer than k are found. Search with
        the negated query for the least similar entries.
        """
        import numpy as np

        queries = np.ascontiguousarray(queries, dtype=np.float32).reshape(-1, self.dim)
        k = max(1, min(k, self.ntotal))
        if self.vectors is None:
            scores, ids = self.index.search(queries, k)
            return scores, ids
        _, candidates = self.index.search(queries, min(self.ntotal, k * int(self.params["rerank"])))
        scores = np.full((len(queries), k), -np.inf, dtype=np.float32)
        ids = np.full((len(queries), k), -1, dtype=np.int64)
        for row, (query, found) in enumerate(zip(queries, candidates, strict=True)):
            found = np.sort(found[found >= 0])  # ascending ids read the memory-mapped rows in file order
            exact = self.vectors[found].astype(np.float32) @ query
            best = np.argsort(-exact, kind="stable")[:k]
            scores[row, : len(best)] = exact[best]
            ids[row, : len(best)] = found[best]
        return scores, ids
