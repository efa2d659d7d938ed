"""Tool "retrieval": the geotagged photos that look most like this one, as candidate points.

An index (made by `geosleuth index build IMAGES LABELS --out INDEX`) is a folder:

* `index.faiss` - a FAISS inner-product index of L2-normalised CLIP image embeddings (cosine), read
  memory-mapped (`faiss.IO_FLAG_MMAP_IFC`), so a large index costs page cache, not process memory;
* `points.csv` - one row per vector, in order: file, lat, lon, country_code;
* `meta.json` - format version, the CLIP model's name and fingerprint, the embedding size, count.

An index is only queried with the model that built it: another model's embeddings live in another
space, so a mismatch is refused with a clear error. The tool returns the top-k neighbours as
weighted candidate points (weights: softmax of cosine similarity), a country vote from them, and,
as Img2Loc does, the least similar entries as negatives for an LLM prompt ("not like these").
"""

from __future__ import annotations

import csv
import json
import math
import shutil
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from PIL import Image

from geosleuth.core.geo import country_at
from geosleuth.core.photo import PhotoError, load_photo
from geosleuth.core.state import Candidate, Evidence, timed
from geosleuth.tools.clip_models import ClipUnavailable, load_clip
from geosleuth.tools.spec import ToolCall, ToolSpec

if TYPE_CHECKING:
    import numpy as np

    from geosleuth.core.config import Settings
    from geosleuth.tools.clip_models import ClipModel

TOOL = "retrieval"
FORMAT_VERSION = 1
TOP_K = 16
NEGATIVES = 4
TEMPERATURE = 0.05
"""Softmax temperature over cosine similarities when weighting neighbours (CLIP's own is 0.01)."""
NEIGHBOUR_RADIUS_KM = 50.0
"""How far the photo may be from a neighbour's point (photos that look alike are rarely the same spot)."""
STRENGTH = 0.6
IMAGE_MAX_SIDE = 448
"""Photos are scaled down to this long side, the same way when indexing and querying, before CLIP's
own resize (it keeps preprocessing cheap for large photos)."""


def prepared(image: Image.Image) -> Image.Image:
    """Scale `image` down so its long side is at most IMAGE_MAX_SIDE (indexing and queries alike)."""
    if max(image.size) <= IMAGE_MAX_SIDE:
        return image
    scale = IMAGE_MAX_SIDE / max(image.size)
    size = (max(1, round(image.width * scale)), max(1, round(image.height * scale)))
    return image.resize(size, Image.Resampling.LANCZOS, reducing_gap=3.0)


class RetrievalError(ValueError):
    """A bad index, labels file or model mismatch (one line a person can act on)."""


@dataclass(frozen=True)
class Neighbour:
    """One indexed photo returned by a query."""

    file: str
    lat: float
    lon: float
    country_code: str | None
    similarity: float


def read_labels(labels: Path, images: Path) -> list[tuple[Path, float, float, str | None]]:
    """Read a labels CSV (columns file, lat, lon, optional country_code); files are relative to `images`.

    Raises:
        RetrievalError: a missing column or file, or a coordinate that is not a valid number.
    """
    try:
        with labels.open(newline="", encoding="utf-8") as handle:
            reader = csv.DictReader(handle)
            missing = {"file", "lat", "lon"} - set(reader.fieldnames or [])
            if missing:
                raise RetrievalError(f"{labels}: missing column(s) {', '.join(sorted(missing))}")
            rows = list(reader)
    except OSError as exc:
        raise RetrievalError(f"cannot read {labels}: {exc.strerror}") from None
    out = []
    for line, row in enumerate(rows, start=2):
        try:
            lat, lon = float(row["lat"]), float(row["lon"])
        except (TypeError, ValueError):
            raise RetrievalError(
                f"{labels}:{line}: lat/lon {row['lat']!r}, {row['lon']!r} are not numbers"
            ) from None
        if not (-90 <= lat <= 90 and -180 <= lon <= 180):
            raise RetrievalError(f"{labels}:{line}: lat/lon {lat}, {lon} out of range")
        path = images / row["file"]
        if not path.is_file():
            raise RetrievalError(f"{labels}:{line}: image {path} does not exist")
        out.append((path, lat, lon, (row.get("country_code") or "").strip().upper() or None))
    if not out:
        raise RetrievalError(f"{labels}: no rows")
    return out


def build_index(
    rows: Sequence[tuple[Path, float, float, str | None]],
    model: ClipModel,
    out: Path,
    *,
    batch_size: int = 32,
    force: bool = False,
    on_batch: Callable[[int, int], None] | None = None,
) -> dict[str, Any]:
    """Embed the photos in `rows` with `model` and write an index folder to `out`; return its metadata.

    Photos that cannot be loaded are skipped and listed in the metadata (`skipped`). The folder is
    written next to `out` and renamed into place, so an interrupted build leaves no half index.

    Raises:
        RetrievalError: `out` exists and `force` is False, or no photo could be loaded.
    """
    import faiss
    import numpy as np


    if out.exists() and not force:
        raise RetrievalError(f"{out} exists; pass --force to replace it")
    index = faiss.IndexFlatIP(model.dim)
    kept: list[tuple[str, float, float, str | None]] = []
    skipped: list[str] = []
    for start in range(0, len(rows), batch_size):
        images, chunk = [], []
        for path, lat, lon, country in rows[start : start + batch_size]:
            try:
                images.append(prepared(load_photo(path).image))
            except PhotoError as exc:
                skipped.append(str(exc))
                continue
            chunk.append((path.name, lat, lon, country or country_at(lat, lon)))
        if images:
            index.add(
                np.ascontiguousarray(model.encode_images(images, batch_size=batch_size), dtype=np.float32)
            )
            kept += chunk
        if on_batch:
            on_batch(min(start + batch_size, len(rows)), len(rows))
    if not kept:
        raise RetrievalError("no photo could be loaded; nothing to index")
    meta = {
        "format_version": FORMAT_VERSION,
        "model": model.name,
        "fingerprint": model.spec.fingerprint(),
        "dim": model.dim,
        "count": len(kept),
        "metric": "inner_product",
        "created": time.time(),
        "skipped": skipped,
    }
    write_index(out, index, kept, meta)
    return meta


def write_index(
    out: Path, index: Any, points: Sequence[tuple[str, float, float, str | None]], meta: dict[str, Any]
) -> None:
    """Write an index folder (FAISS index, points.csv, meta.json) atomically to `out`."""
    import faiss

    tmp = out.with_name(f".{out.name}.tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    faiss.write_index(index, str(tmp / "index.faiss"))
    with (tmp / "points.csv").open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["file", "lat", "lon", "country_code"])
        writer.writerows([f, lat, lon, c or ""] for f, lat, lon, c in points)
    (tmp / "meta.json").write_text(json.dumps(meta, indent=1), encoding="utf-8")
    if out.exists():
        shutil.rmtree(out)
    tmp.rename(out)


class RetrievalIndex:
    """A loaded index folder: the memory-mapped FAISS index, its points and metadata."""

    def __init__(self, folder: Path, *, model: ClipModel | None = None, mmap: bool = True) -> None:
        """Open `folder`; with `model`, refuse it unless the index was built with that model.

        Raises:
            RetrievalError: missing files, an unknown format version, or a different model.
        """
        import faiss

        self.folder = folder
        try:
            self.meta = json.loads((folder / "meta.json").read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as exc:
            raise RetrievalError(f"{folder} is not a geosleuth index (meta.json: {exc})") from None
        if self.meta.get("format_version") != FORMAT_VERSION:
            raise RetrievalError(
                f"{folder}: index format {self.meta.get('format_version')} is not "
                f"{FORMAT_VERSION}; rebuild it with `geosleuth index build`"
            )
        if model is not None and (model.name != self.meta["model"] or model.dim != self.meta["dim"]):
            raise RetrievalError(
                f"{folder} was built with CLIP model {self.meta['model']} (dim {self.meta['dim']}), "
                f"not the configured {model.name} (dim {model.dim}); rebuild the index or set clip_model"
            )
        # IO_FLAG_MMAP_IFC maps a flat index's vectors in place (read-only, shared); the older
        # IO_FLAG_MMAP copies them into memory for flat indexes (faiss 1.15).
        flags = faiss.IO_FLAG_MMAP_IFC if mmap else 0
        self.index = faiss.read_index(str(folder / "index.faiss"), flags)
        with (folder / "points.csv").open(newline="", encoding="utf-8") as handle:
            self.points = [
                (row["file"], float(row["lat"]), float(row["lon"]), row["country_code"] or None)
                for row in csv.DictReader(handle)
            ]
        if len(self.points) != self.index.ntotal:
            raise RetrievalError(f"{folder}: {self.index.ntotal} vectors but {len(self.points)} points")

    def _neighbours(self, vector: np.ndarray, k: int) -> list[Neighbour]:
        import numpy as np

        query = np.ascontiguousarray(vector.reshape(1, -1), dtype=np.float32)
        scores, ids = self.index.search(query, min(k, self.index.ntotal))
        return [
            Neighbour(*self.points[int(i)], similarity=float(s))
            for s, i in zip(scores[0], ids[0], strict=True)
            if i >= 0
        ]

    def search(self, vector: np.ndarray, k: int = TOP_K) -> list[Neighbour]:
        """Return the k most similar indexed photos, most similar first."""
        return self._neighbours(vector, k)

    def farthest(self, vector: np.ndarray, k: int = NEGATIVES) -> list[Neighbour]:
        """Return the k least similar indexed photos (negatives), least similar first."""
        return [
            Neighbour(n.file, n.lat, n.lon, n.country_code, -n.similarity)
            for n in self._neighbours(-vector, k)
        ]


_indexes: dict[tuple[str, str], RetrievalIndex] = {}


def open_index(folder: Path, model: ClipModel) -> RetrievalIndex:
    """Return the index at `folder` checked against `model`, opened once per process."""
    key = (str(folder.resolve()), model.name)
    if key not in _indexes:
        _indexes[key] = RetrievalIndex(folder, model=model)
    return _indexes[key]


def neighbour_weights(neighbours: Sequence[Neighbour], temperature: float = TEMPERATURE) -> list[float]:
    """Softmax of the neighbours' similarities divided by `temperature` (summing to one)."""
    if not neighbours:
        return []
    peak = max(n.similarity for n in neighbours)
    raw = [math.exp((n.similarity - peak) / temperature) for n in neighbours]
    return [r / sum(raw) for r in raw]


def retrieve(
    image: Image.Image,
    settings: Settings,
    *,
    model: ClipModel | None = None,
    k: int = TOP_K,
    negatives: int = NEGATIVES,
) -> Evidence:
    """Find the indexed geotagged photos most like `image` and propose their points.

    Returns:
        Evidence with up to k candidate points, a country vote (neighbour weights summed per country)
        and the neighbours and negatives in `observations`; an "unavailable" Evidence when no index
        or CLIP model is configured, a "bad_input" one for a broken or mismatched index.
    """
    with timed() as clock:
        if settings.retrieval_index is None:
            return Evidence.failure(
                TOOL,
                "unavailable",
                "unavailable: no retrieval index configured "
                "(build one with `geosleuth index build`, then set retrieval_index)",
            )
        try:
            model = model or load_clip(settings)
            index = open_index(settings.retrieval_index, model)
        except ClipUnavailable as exc:
            return Evidence.failure(TOOL, "unavailable", f"unavailable: {exc}")
        except RetrievalError as exc:
            return Evidence.failure(TOOL, "bad_input", str(exc))
        vector = model.encode_images([prepared(image)])[0]
        near = index.search(vector, k)
        far = index.farthest(vector, negatives) if negatives else []
    weights = neighbour_weights(near)
    votes: dict[str, float] = {}
    for n, w in zip(near, weights, strict=True):
        if n.country_code:
            votes[n.country_code] = votes.get(n.country_code, 0.0) + w
    candidates = [
        Candidate(
            lat=n.lat,
            lon=n.lon,
            weight=max(w, 1e-9),
            label=f"looks like {n.file} (cos {n.similarity:.2f})",
            country_code=n.country_code,
            radius_km=NEIGHBOUR_RADIUS_KM,
        )
        for n, w in zip(near, weights, strict=True)
    ]
    top = max(votes.items(), key=lambda item: item[1]) if votes else None
    summary = f"{len(near)} look-alike photos" + (f"; most in {top[0]} ({top[1]:.0%})" if top else "")
    return Evidence(
        tool=TOOL,
        summary=summary,
        country_likelihoods=votes,
        candidates=candidates,
        strength=STRENGTH,
        seconds=clock[0],
        inputs={"index": str(settings.retrieval_index), "k": k},
        observations={
            "model": model.name,
            "neighbours": [_row(n) for n in near],
            "negatives": [_row(n) for n in far],
        },
    )


def _row(n: Neighbour) -> dict[str, Any]:
    return {
        "file": n.file,
        "lat": n.lat,
        "lon": n.lon,
        "country_code": n.country_code,
        "similarity": round(n.similarity, 4),
    }


def run(call: ToolCall) -> Evidence:
    """Query the run's retrieval index with the run's photo."""
    return retrieve(call.image(), call.settings)


SPEC = ToolSpec(
    name=TOOL,
    function=retrieve,
    run=run,
    description="""Find geotagged photos that look like this one and return their coordinates as candidates.

Use it for photos without readable text (landscapes, streets, landmarks) to get candidate points and
a country vote; the least similar photos come back as negatives. Needs an index built with
`geosleuth index build` and the same CLIP model; unavailable otherwise.""",
    needs=("photo", "model"),
    weight=0.8,
    key=("settings.clip_model", "settings.retrieval_index", "settings.device"),
    what="nearest geotagged photos in a FAISS index (`geosleuth index build`) as candidate points",
    offline_source="CLIP weights + your index",
)
