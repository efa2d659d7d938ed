"""Tool "retrieval": the geotagged photos that look most like this one, as candidate points.

An index (made by `geosleuth index build IMAGES [LABELS] --out INDEX`) is a folder:

* the vectors (`geosleuth.tools.vector_index`): L2-normalised image embeddings searched by inner
  product (cosine) - a flat FAISS index (`index.faiss`) under 200,000 photos, IVF-PQ plus float16
  vectors for exact re-ranking (`vectors.npy`) from there on - read memory-mapped, so a large
  index costs page cache, not process memory;
* `points.csv` - one row per vector, in order: file (relative to IMAGES), lat, lon, country_code;
* `skipped.csv` - the photos left out and why (unreadable, no GPS fix, an invalid one);
* `meta.json` - format version, the embedder's name, fingerprint and dimension (`embedder`,
  `fingerprint`, `dim`), the count, the vector layout's parameters (`vectors`), skipped counts.

The photos' points come from a labels CSV or, without one, from each photo's own EXIF GPS fix (as
`geosleuth.core.photo` validates it): index the geotagged part of a library, locate the rest.

Embeddings come from an `Embedder` (`geosleuth.tools.embedders`): EfficientNet-Lite2, shipped, or a
CLIP. An index is only queried by the embedder that built it (same name, fingerprint and
dimension): another model's embeddings live in another space, so a mismatch is refused with an
error naming both. The tool returns the top-k neighbours (weights: softmax of cosine similarity),
and, as Img2Loc does, the least similar entries as negatives for an LLM prompt ("not like these").
Its country claims are the neighbours' vote measured against each country's share of the gallery
(`country_likelihoods`), so a gallery's make-up is not mistaken for evidence; its candidate points
are the neighbours' points that most of the neighbours' weight agrees on (`agreed_points`), so
scattered look-alikes do not displace a place read on a sign. Both rules were set after an eval
split by photographer (`geosleuth eval split`) showed raw votes and every neighbour's point losing
to the text tools alone; docs/vision.md has the figures.
"""

from __future__ import annotations

import csv
import json
import math
import shutil
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from PIL import Image

from geosleuth.core.countries import all_countries
from geosleuth.core.extras import MissingExtra
from geosleuth.core.geo import country_at, distance_km
from geosleuth.core.photo import FORMATS, PhotoError, load_photo
from geosleuth.core.state import Candidate, Evidence, timed
from geosleuth.tools.embedders import EFFICIENTNET, EmbedderUnavailable, load_embedder
from geosleuth.tools.spec import ToolCall, ToolSpec
from geosleuth.tools.vector_index import FLAT_LIMIT, VectorIndex, build

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

    from geosleuth.core.config import Settings
    from geosleuth.tools.embedders import Embedder

TOOL = "retrieval"
FORMAT_VERSION = 2
"""2: any embedder (`embedder`, `fingerprint`), flat or IVF-PQ vectors (`vectors`), skipped.csv."""
TOP_K = 16
NEGATIVES = 4
TEMPERATURE = 0.05
"""Softmax temperature over cosine similarities when weighting neighbours (CLIP's own is 0.01)."""
NEIGHBOUR_RADIUS_KM = 50.0
"""How far the photo may be from a neighbour's point (photos that look alike are rarely the same spot)."""
STRENGTH = 0.6
SMOOTHING = 0.1
"""Added to a country's vote and to its share of the gallery before the one is divided by the other:
a vote the size of the gallery's own share says nothing, and no vote can claim more than
(1 + SMOOTHING) / SMOOTHING = 11 times the odds (see `country_likelihoods`)."""
POINT_AGREEMENT = 0.5
"""A neighbour's point becomes a candidate only when at least this share of the neighbours' weight
lies within NEIGHBOUR_RADIUS_KM of it: scattered look-alikes name no place."""
IMAGE_MAX_SIDE = 448
"""Photos are scaled down to this long side, the same way when indexing and querying, before the
embedder's own resize (it keeps preprocessing cheap for large photos)."""
EXTRA_SUFFIXES = (".heic", ".heif", ".hif", ".avif")
"""Photo file endings Pillow lists only once pillow-heif is registered."""
UNREADABLE, NO_GPS, INVALID_GPS = "unreadable", "no GPS", "invalid GPS"
"""Why a photo is left out: `load_photo` refused it; its EXIF has no GPS position; it has GPS tags
but no valid fix (incomplete, out of range, or 0, 0)."""


def prepared(image: Image.Image) -> Image.Image:
    """Scale `image` down so its long side is at most IMAGE_MAX_SIDE (indexing and queries alike)."""
    if max(image.size) <= IMAGE_MAX_SIDE:
        return image
    scale = IMAGE_MAX_SIDE / max(image.size)
    size = (max(1, round(image.width * scale)), max(1, round(image.height * scale)))
    return image.resize(size, Image.Resampling.LANCZOS, reducing_gap=3.0)


class RetrievalError(ValueError):
    """A bad index, labels file or embedder mismatch (one line a person can act on)."""


class IndexMissing(RetrievalError):
    """No index has been built at the configured folder (the tool is unavailable, not broken)."""


@dataclass(frozen=True)
class Neighbour:
    """One indexed photo returned by a query."""

    file: str
    lat: float
    lon: float
    country_code: str | None
    similarity: float


@dataclass(frozen=True)
class Entry:
    """One photo to index: its file, the name recorded for it, and where it was taken."""

    path: Path
    name: str
    """The file as recorded in points.csv (relative to the images folder)."""
    point: tuple[float, float] | None = None
    """(lat, lon); None: the photo's own EXIF GPS fix (photos without a valid one are skipped)."""
    country_code: str | None = None
    """ISO alpha-2; None: found from the point (`country_at`)."""


def read_labels(labels: Path, images: Path) -> list[Entry]:
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
        country = (row.get("country_code") or "").strip().upper() or None
        out.append(Entry(path, row["file"], (lat, lon), country))
    if not out:
        raise RetrievalError(f"{labels}: no rows")
    return out


def photo_suffixes() -> frozenset[str]:
    """Return the file endings of the formats `load_photo` reads (lower case, with the dot)."""
    Image.init()
    registered = {ext for ext, fmt in Image.registered_extensions().items() if fmt in FORMATS}
    return frozenset(registered | set(EXTRA_SUFFIXES))


def folder_entries(images: Path) -> list[Entry]:
    """List the photos under `images` as entries located by their own EXIF GPS fix, sorted by path.

    Photos are found recursively by file ending (`photo_suffixes`); hidden files and folders are
    left out.

    Raises:
        RetrievalError: `images` is not a folder, or it holds no photo.
    """
    if not images.is_dir():
        raise RetrievalError(f"{images} is not a folder")
    suffixes = photo_suffixes()
    found = sorted(
        path
        for path in images.rglob("*")
        if path.suffix.lower() in suffixes
        and path.is_file()
        and not any(part.startswith(".") for part in path.relative_to(images).parts)
    )
    if not found:
        raise RetrievalError(f"{images} holds no photos ({', '.join(sorted(suffixes))})")
    return [Entry(path, path.relative_to(images).as_posix()) for path in found]


def _no_fix_reason(exif: dict[str, Any]) -> str:
    """Return why a loaded photo has no GPS fix: no position tags at all, or tags making no valid fix."""
    return INVALID_GPS if "GPSLatitude" in exif or "GPSLongitude" in exif else NO_GPS


def build_index(
    entries: Sequence[Entry],
    embedder: Embedder,
    out: Path,
    *,
    batch_size: int = 32,
    force: bool = False,
    on_batch: Callable[[int, int], None] | None = None,
    flat_limit: int = FLAT_LIMIT,
) -> dict[str, Any]:
    """Embed the photos of `entries` with `embedder` and write an index folder to `out`; return its metadata.

    Photos that cannot be loaded, or (for entries without a point) carry no valid EXIF GPS fix, are
    skipped: counted by reason in the metadata (`skipped`) and listed in `skipped.csv`. `on_batch`
    gets (photos done, total) after each batch. The folder is written next to `out` and renamed into
    place, so an interrupted build leaves no half index.

    Raises:
        RetrievalError: `out` exists and `force` is False, or no photo could be indexed.
    """
    import numpy as np

    if out.exists() and not force:
        raise RetrievalError(f"{out} exists; pass --force to replace it")
    parts: list[npt.NDArray[np.float32]] = []
    kept: list[tuple[str, float, float, str | None]] = []
    skipped: list[tuple[str, str, str]] = []
    for start in range(0, len(entries), batch_size):
        images, chunk = [], []
        for entry in entries[start : start + batch_size]:
            try:
                photo = load_photo(entry.path)
            except PhotoError as exc:
                skipped.append((entry.name, UNREADABLE, str(exc)))
                continue
            point = entry.point or photo.metadata.gps
            if point is None:
                reason = _no_fix_reason(photo.metadata.exif)
                skipped.append((entry.name, reason, f"{entry.path}: {reason}"))
                continue
            lat, lon = point
            images.append(prepared(photo.image))
            chunk.append((entry.name, lat, lon, entry.country_code or country_at(lat, lon)))
        if images:
            parts.append(embedder.encode_images(images, batch_size=batch_size))
            kept += chunk
        if on_batch:
            on_batch(min(start + batch_size, len(entries)), len(entries))
    reasons = dict(sorted(Counter(s[1] for s in skipped).items(), key=lambda item: (-item[1], item[0])))
    if not kept:
        counts = ", ".join(f"{n} {why}" for why, n in reasons.items())
        raise RetrievalError(f"no photo could be indexed ({counts or 'none given'})")
    meta = {
        "format_version": FORMAT_VERSION,
        "embedder": embedder.name,
        "fingerprint": embedder.fingerprint,
        "dim": embedder.dim,
        "count": len(kept),
        "created": time.time(),
        "skipped": reasons,
    }
    write_index(out, np.concatenate(parts), kept, meta, skipped=skipped, flat_limit=flat_limit)
    return meta


def write_index(
    out: Path,
    vectors: npt.NDArray[np.float32],
    points: Sequence[tuple[str, float, float, str | None]],
    meta: dict[str, Any],
    *,
    skipped: Sequence[tuple[str, str, str]] = (),
    flat_limit: int = FLAT_LIMIT,
) -> None:
    """Write an index folder (vectors, points.csv, skipped.csv, meta.json) atomically to `out`.

    `vectors` are the points' unit embeddings in order; `skipped` holds (file, reason, detail) rows.
    The vector layout's parameters are added to `meta` as `vectors`.
    """
    tmp = out.with_name(f".{out.name}.tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    meta["vectors"] = build(vectors, tmp, flat_limit=flat_limit)
    with (tmp / "points.csv").open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["file", "lat", "lon", "country_code"])
        writer.writerows([f, lat, lon, c or ""] for f, lat, lon, c in points)
    with (tmp / "skipped.csv").open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["file", "reason", "detail"])
        writer.writerows(skipped)
    (tmp / "meta.json").write_text(json.dumps(meta, indent=1), encoding="utf-8")
    if out.exists():
        shutil.rmtree(out)
    tmp.rename(out)


def read_meta(folder: Path) -> dict[str, Any]:
    """Return an index folder's metadata, checked for the current format version.

    Raises:
        IndexMissing: the folder or its meta.json does not exist.
        RetrievalError: an unreadable meta.json or another format version.
    """
    try:
        meta: dict[str, Any] = json.loads((folder / "meta.json").read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise IndexMissing(f"no index at {folder} (build one with `geosleuth index build`)") from None
    except (OSError, json.JSONDecodeError) as exc:
        raise RetrievalError(f"{folder} is not a geosleuth index (meta.json: {exc})") from None
    if not isinstance(meta, dict) or meta.get("format_version") != FORMAT_VERSION:
        version = meta.get("format_version") if isinstance(meta, dict) else None
        raise RetrievalError(
            f"{folder}: index format {version} is not {FORMAT_VERSION}; "
            "rebuild it with `geosleuth index build`"
        )
    return meta


class RetrievalIndex:
    """A loaded index folder: its memory-mapped vectors, points and metadata."""

    def __init__(self, folder: Path, *, embedder: Embedder | None = None, mmap: bool = True) -> None:
        """Open `folder`; with `embedder`, refuse it unless the index was built with that embedder.

        Raises:
            IndexMissing: nothing has been built at `folder`.
            RetrievalError: missing files, an unknown format version, or a different embedder.
        """
        self.folder = folder
        self.meta = read_meta(folder)
        if embedder is not None:
            self.check(embedder)
        try:
            self.vectors = VectorIndex(folder, self.meta["vectors"], mmap=mmap)
            with (folder / "points.csv").open(newline="", encoding="utf-8") as handle:
                self.points = [
                    (row["file"], float(row["lat"]), float(row["lon"]), row["country_code"] or None)
                    for row in csv.DictReader(handle)
                ]
        except (OSError, RuntimeError, ValueError, KeyError) as exc:
            reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            raise RetrievalError(f"{folder} is a damaged index ({reason}); rebuild it") from None
        if len(self.points) != self.vectors.ntotal:
            raise RetrievalError(f"{folder}: {self.vectors.ntotal} vectors but {len(self.points)} points")
        counts = Counter(code for _, _, _, code in self.points if code)
        self.country_shares = {code: n / max(1, len(self.points)) for code, n in counts.items()}
        """Each country's share of the indexed photos (the base rate its votes are measured against)."""

    def check(self, embedder: Embedder) -> None:
        """Refuse `embedder` unless it is the one that built the index (name, fingerprint, dim).

        Raises:
            RetrievalError: one line naming both embedders and the two ways out.
        """
        built = (self.meta.get("embedder"), self.meta.get("fingerprint"), self.meta.get("dim"))
        if built == (embedder.name, embedder.fingerprint, embedder.dim):
            return
        name, fingerprint, dim = built
        setting = (
            f'retrieval_embedder = "{EFFICIENTNET}"'
            if name == EFFICIENTNET
            else f'retrieval_embedder = "clip" with clip_model = "{name}"'
        )
        raise RetrievalError(
            f"{self.folder} was built with embedder {name} (fingerprint {fingerprint}, dim {dim}), not "
            f"this run's {embedder.name} (fingerprint {embedder.fingerprint}, dim {embedder.dim}); "
            f"rebuild the index with `geosleuth index build`, or set {setting}"
        )

    def _neighbours(self, vector: npt.NDArray[np.float32], k: int) -> list[Neighbour]:
        scores, ids = self.vectors.search(vector.reshape(1, -1), k)
        return [
            Neighbour(*self.points[int(i)], similarity=float(s))
            for s, i in zip(scores[0], ids[0], strict=True)
            if i >= 0
        ]

    def search(self, vector: npt.NDArray[np.float32], k: int = TOP_K) -> list[Neighbour]:
        """Return the k most similar indexed photos, most similar first."""
        return self._neighbours(vector, k)

    def farthest(self, vector: npt.NDArray[np.float32], k: int = NEGATIVES) -> list[Neighbour]:
        """Return the k least similar indexed photos (negatives), least similar first."""
        return [
            Neighbour(n.file, n.lat, n.lon, n.country_code, -n.similarity)
            for n in self._neighbours(-vector, k)
        ]


_indexes: dict[tuple[str, int], RetrievalIndex] = {}


def open_index(folder: Path, embedder: Embedder | None = None) -> RetrievalIndex:
    """Return the index at `folder`, checked against `embedder` when one is given.

    It is opened once per process, and again once rebuilt (a new meta.json).

    Raises:
        IndexMissing: nothing has been built at `folder`.
        RetrievalError: see `RetrievalIndex`.
    """
    meta_file = folder / "meta.json"
    key = (str(folder.resolve()), meta_file.stat().st_mtime_ns if meta_file.is_file() else 0)
    if key not in _indexes:
        _indexes[key] = RetrievalIndex(folder)
    index = _indexes[key]
    if embedder is not None:
        index.check(embedder)
    return index


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
    embedder: Embedder | None = None,
    k: int = TOP_K,
    negatives: int = NEGATIVES,
) -> Evidence:
    """Find the indexed geotagged photos most like `image` and propose their points.

    `embedder` defaults to the run's (`load_embedder(settings)`); it must be the one that built the
    index.

    Returns:
        Evidence with up to k candidate points, a country vote (neighbour weights summed per country)
        and the neighbours and negatives in `observations`; an "unavailable" Evidence when no index
        is configured or built or the embedder cannot run, a "bad_input" one for a broken index or
        one built by another embedder.
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
            index = open_index(settings.retrieval_index)  # before the embedder: no model loads for nothing
            embedder = embedder or load_embedder(settings)
            index.check(embedder)
        except (IndexMissing, EmbedderUnavailable, MissingExtra) as exc:
            return Evidence.failure(TOOL, "unavailable", f"unavailable: {exc}")
        except RetrievalError as exc:
            return Evidence.failure(TOOL, "bad_input", str(exc))
        vector = embedder.encode_images([prepared(image)])[0]
        near = index.search(vector, k)
        far = index.farthest(vector, negatives) if negatives else []
    weights = neighbour_weights(near)
    votes: dict[str, float] = {}
    for n, w in zip(near, weights, strict=True):
        if n.country_code:
            votes[n.country_code] = votes.get(n.country_code, 0.0) + w
    candidates = agreed_points(near, weights)
    top = max(votes.items(), key=lambda item: item[1]) if votes else None
    summary = f"{len(near)} look-alike photos" + (f"; most in {top[0]} ({top[1]:.0%})" if top else "")
    if near and not candidates:
        summary += "; too scattered to name a place"
    return Evidence(
        tool=TOOL,
        summary=summary,
        country_likelihoods=country_likelihoods(votes, index.country_shares),
        candidates=candidates,
        strength=STRENGTH,
        seconds=clock[0],
        inputs={"index": str(settings.retrieval_index), "k": k},
        observations={
            "embedder": embedder.name,
            "neighbours": [_row(n) for n in near],
            "negatives": [_row(n) for n in far],
        },
    )


def country_likelihoods(votes: dict[str, float], shares: dict[str, float]) -> dict[str, float]:
    """Each country's likelihood from the neighbours' vote, measured against its share of the gallery.

    `(vote + SMOOTHING) / (share + SMOOTHING)` for every country: a gallery that is one third
    American votes American a third of the time for any photo, so only a vote above a country's
    share raises it, and a country the gallery does not hold is left as it was (1).
    """
    likes = dict.fromkeys(all_countries(), 1.0)
    for code in {*votes, *shares}:
        likes[code] = (votes.get(code, 0.0) + SMOOTHING) / (shares.get(code, 0.0) + SMOOTHING)
    return likes


def agreed_points(near: Sequence[Neighbour], weights: Sequence[float]) -> list[Candidate]:
    """Return the neighbours' points near which at least POINT_AGREEMENT of the neighbours' weight lies."""
    points = []
    for n, w in zip(near, weights, strict=True):
        agreement = sum(
            wo for o, wo in zip(near, weights, strict=True)
            if distance_km(n.lat, n.lon, o.lat, o.lon) <= NEIGHBOUR_RADIUS_KM
        )
        if agreement >= POINT_AGREEMENT:
            label = f"looks like {n.file} (cos {n.similarity:.2f})"
            points.append(Candidate(
                lat=n.lat, lon=n.lon, weight=max(w, 1e-9), label=label, country_code=n.country_code,
                radius_km=NEIGHBOUR_RADIUS_KM,
            ))
    return points


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
`geosleuth index build` by the run's embedder (EfficientNet-Lite2, or CLIP when configured);
unavailable otherwise.""",
    needs=("photo",),
    weight=0.8,
    key=(
        "settings.retrieval_embedder",
        "settings.clip_model",
        "settings.retrieval_index",
        "settings.device",
    ),
    what="nearest geotagged photos in a FAISS index (`geosleuth index build`: flat, IVF-PQ past 200k "
    "photos) as candidate points",
    offline_source="EfficientNet-Lite2 (shipped) or CLIP weights + your index",
    named_by=(r"retrieval", r"similar photos?", r"nearest neighbou?rs?"),
)
