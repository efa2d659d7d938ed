"""OpenStreetMap from a local extract: a SQLite index, built once, that the `osm` tool queries offline.

`build_index` reads an extract (.osm.pbf, .osm, .osm.bz2, .osm.gz; a Geofabrik or BBBike country or
city extract) with pyosmium and keeps its named nodes and ways that carry one of `KIND_KEYS` (a way
at the mean of its nodes, as the gazetteer reads extracts). Per feature it stores its names (name,
name:<language>, alt_name, old_name, official_name, ...), its kind tags and addr:country. Tables:
`features` (point, country, tags as JSON), `names` (every name folded: accents dropped, case folded,
spaces collapsed), `kinds` (key, value) and the R-tree `features_box` over the points, so a query
reads only the rows in its box.

The index of an extract lives in `<cache_dir>/osm-index/<file name>-<hash of its path>.sqlite`
(`index_path`), so read-only data folders work; `osm_extract` may also name such an index directly.
It records the extract's size and mtime: `geosleuth osm import` refuses to rebuild an index that is
up to date unless forced.

Queries (`geosleuth.tools.osm.query_extract` turns their answers into the same Evidence as the
Overpass path's): names near a point, names within a country (addr:country, else the country
polygon the point lies in) or a box, and kinds (cafe, pharmacy, shop, amenity=cafe) near a point.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import math
import sqlite3
import time
import unicodedata
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from geosleuth.core.geo import distance_km
from geosleuth.tools.place_sources import _osm_alternates, named_osm_features

FORMAT = 1
"""Bump when the tables change; an index of another format is rebuilt."""
KIND_KEYS = ("place", "amenity", "shop", "tourism", "railway", "highway", "building", "leisure", "natural",
             "historic", "office", "craft", "aeroway", "public_transport")
"""OSM keys whose named nodes and ways the index keeps (their values are the features' kinds)."""
_EXTRACT_SUFFIXES = (".osm.pbf", ".pbf", ".osm", ".osm.bz2", ".osm.gz")
_BATCH = 20_000
_KM_PER_DEGREE = 111.2
LIMIT = 50
"""Most features one query returns (nearest first, as Overpass's `out center 50`)."""


class OsmIndexError(ValueError):
    """An extract or index that cannot be read or built; the message is one line naming the file."""


@dataclass(frozen=True)
class Node:
    """A matched OSM node, shaped like overpy's for `geosleuth.tools.osm._overpass_evidence`."""

    id: int
    tags: dict[str, str]
    lat: float
    lon: float


@dataclass(frozen=True)
class Way:
    """A matched OSM way at its centre point, shaped like overpy's."""

    id: int
    tags: dict[str, str]
    center_lat: float
    center_lon: float


@dataclass(frozen=True)
class Found:
    """What a query matched, with the `nodes` and `ways` lists of an overpy result."""

    nodes: list[Node]
    ways: list[Way]


def fold(name: str) -> str:
    """Return the form names are matched in: accents dropped, case folded, whitespace collapsed."""
    if name.isascii():
        return " ".join(name.lower().split())
    decomposed = unicodedata.normalize("NFKD", name)
    return " ".join("".join(c for c in decomposed if not unicodedata.combining(c)).casefold().split())


def index_path(extract: Path, cache_dir: Path) -> Path:
    """Return where the index of `extract` lives (`extract` itself when it is a .sqlite index)."""
    extract = Path(extract).expanduser()
    if extract.suffix == ".sqlite":
        return extract
    digest = hashlib.sha256(str(extract.resolve()).encode()).hexdigest()[:12]
    return Path(cache_dir) / "osm-index" / f"{extract.name}-{digest}.sqlite"


def read_meta(index: Path) -> dict[str, str]:
    """Return the index's meta table (source, size, mtime_ns, format, counts, seconds).

    Raises:
        OsmIndexError: When the file is missing or not an index.
    """
    if not Path(index).is_file():
        raise OsmIndexError(f"no OpenStreetMap index at {index}: run `geosleuth osm import EXTRACT`")
    try:
        with _connect(index) as db:
            return dict(db.execute("SELECT key, value FROM meta").fetchall())
    except sqlite3.DatabaseError as exc:
        raise OsmIndexError(f"{index} is not an OpenStreetMap index ({exc})") from exc


def is_up_to_date(extract: Path, index: Path) -> bool:
    """Tell whether `index` exists, is of this FORMAT and was built from this version of `extract`."""
    try:
        meta = read_meta(index)
    except OsmIndexError:
        return False
    stat = Path(extract).stat()
    return meta.get("format") == str(FORMAT) and meta.get("size") == str(stat.st_size) and \
        meta.get("mtime_ns") == str(stat.st_mtime_ns)


def build_index(
    extract: Path, index: Path, *, on_progress: Callable[[int, int], None] | None = None
) -> dict[str, str]:
    """Read `extract` with pyosmium and write its named features into a new SQLite index at `index`.

    Args:
        extract: An OpenStreetMap extract (.osm.pbf, .osm, .osm.bz2, .osm.gz).
        index: The index file to write (replaced atomically when the build succeeds).
        on_progress: Called with (nodes kept, ways kept) every few thousand features.

    Returns:
        The new index's meta table.

    Raises:
        OsmIndexError: When the extract is missing, of another kind, or malformed.
    """
    extract = Path(extract).expanduser()
    if not extract.is_file():
        raise OsmIndexError(f"{extract}: no such file")
    if not extract.name.lower().endswith(_EXTRACT_SUFFIXES):
        raise OsmIndexError(f"{extract}: not an OpenStreetMap extract (.osm.pbf, .osm, .osm.bz2, .osm.gz)")
    stat, start = extract.stat(), time.perf_counter()
    index.parent.mkdir(parents=True, exist_ok=True)
    tmp = index.with_suffix(".tmp")
    tmp.unlink(missing_ok=True)
    try:
        with _connect(tmp) as db:
            db.executescript(_SCHEMA)
            counts = _load(db, _read_features(extract), on_progress)
            db.executescript(_INDEXES)
            meta = {"format": str(FORMAT), "source": str(extract.resolve()), "size": str(stat.st_size),
                    "mtime_ns": str(stat.st_mtime_ns), "nodes": str(counts[0]), "ways": str(counts[1]),
                    "features": str(sum(counts)), "seconds": f"{time.perf_counter() - start:.2f}"}
            db.executemany("INSERT INTO meta VALUES (?, ?)", meta.items())
            db.commit()
        tmp.replace(index)
    except (RuntimeError, sqlite3.DatabaseError) as exc:  # libosmium's parse and I/O errors
        raise OsmIndexError(f"{extract}: {' '.join(str(exc).split())}") from exc
    finally:
        tmp.unlink(missing_ok=True)
    return meta


_SCHEMA = """
PRAGMA journal_mode = OFF;
PRAGMA synchronous = OFF;
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT);
CREATE TABLE features (id INTEGER PRIMARY KEY, way INTEGER, osm_id INTEGER, lat REAL, lon REAL,
                       country TEXT, tags TEXT);
CREATE TABLE names (name TEXT, feature INTEGER);
CREATE TABLE kinds (key TEXT, value TEXT, feature INTEGER);
CREATE VIRTUAL TABLE features_box USING rtree(id, min_lat, max_lat, min_lon, max_lon);
"""
_INDEXES = """
CREATE INDEX names_name ON names (name);
CREATE INDEX kinds_feature ON kinds (feature);
"""


def _connect(path: Path) -> contextlib.closing[sqlite3.Connection]:
    """Open the SQLite file at `path`; the connection closes when the `with` block ends."""
    return contextlib.closing(sqlite3.connect(str(path)))


_Feature = tuple[bool, int, float, float, dict[str, str]]
"""One feature read from an extract: is it a way, its OSM id, lat, lon, the tags kept."""


def _read_features(extract: Path) -> Iterator[_Feature]:
    """Yield the named nodes and ways of `extract` that carry one of KIND_KEYS, with the tags kept."""
    for is_way, osm_id, lat, lon, tags in named_osm_features(extract, KIND_KEYS):
        yield is_way, osm_id, lat, lon, {k: v for k, v in tags.items() if _kept(k)}


def _kept(key: str) -> bool:
    return key in KIND_KEYS or key.startswith("name") or key.endswith("_name") or \
        key in ("addr:country", "is_in:country_code")


def _load(
    db: sqlite3.Connection, features: Iterable[_Feature], on_progress: Callable[[int, int], None] | None
) -> tuple[int, int]:
    """Insert features in batches; return (nodes, ways) inserted."""
    rows: list[tuple[Any, ...]] = []
    boxes: list[tuple[int, float, float, float, float]] = []
    names: list[tuple[str, int]] = []
    kinds: list[tuple[str, str, int]] = []
    counts = [0, 0]
    for number, (is_way, osm_id, lat, lon, tags) in enumerate(features, start=1):
        counts[is_way] += 1
        code = (tags.get("addr:country") or tags.get("is_in:country_code") or "").upper()
        rows.append((number, int(is_way), osm_id, lat, lon, code if len(code) == 2 else "",
                     json.dumps(tags, ensure_ascii=False)))
        boxes.append((number, lat, lat, lon, lon))
        names.extend((folded, number) for folded in {fold(n) for n in (tags["name"], *_osm_alternates(tags))})
        kinds.extend((key, tags[key], number) for key in KIND_KEYS if key in tags)
        if len(rows) >= _BATCH:
            _flush(db, rows, boxes, names, kinds)
            if on_progress is not None:
                on_progress(counts[0], counts[1])
    _flush(db, rows, boxes, names, kinds)
    if on_progress is not None:
        on_progress(counts[0], counts[1])
    return counts[0], counts[1]


def _flush(db: sqlite3.Connection, *batches: list[Any]) -> None:
    rows, boxes, names, kinds = batches
    db.executemany("INSERT INTO features VALUES (?, ?, ?, ?, ?, ?, ?)", rows)
    db.executemany("INSERT INTO features_box VALUES (?, ?, ?, ?, ?)", boxes)
    db.executemany("INSERT INTO names VALUES (?, ?)", names)
    db.executemany("INSERT INTO kinds VALUES (?, ?, ?)", kinds)
    for batch in batches:
        batch.clear()


def _around_box(lat: float, lon: float, radius_km: float) -> tuple[float, float, float, float]:
    """Return the (south, west, north, east) box around a circle."""
    dlat = radius_km / _KM_PER_DEGREE
    dlon = radius_km / (_KM_PER_DEGREE * max(math.cos(math.radians(lat)), 1e-6))
    return max(-90.0, lat - dlat), max(-180.0, lon - dlon), min(90.0, lat + dlat), min(180.0, lon + dlon)


_BY_NAME = "names AS m JOIN features AS f ON f.id = m.feature JOIN features_box AS b ON b.id = f.id"
"""Names first: the names index picks the few rows, the box (when any) filters them."""
_BY_BOX = "features_box AS b CROSS JOIN kinds AS m ON m.feature = b.id JOIN features AS f ON f.id = b.id"
"""The box first (CROSS JOIN keeps that order): a common kind has far more rows than a small box."""


def _select(index: Path, tables: str, where: str, params: Sequence[Any]) -> list[tuple[Any, ...]]:
    """Run one feature query: rows (way, osm_id, lat, lon, country, tags) of the features matched."""
    columns = "DISTINCT f.id, f.way, f.osm_id, f.lat, f.lon, f.country, f.tags"
    sql = f"SELECT {columns} FROM {tables} WHERE {where}"
    with _connect(index) as db:
        return [row[1:] for row in db.execute(sql, params).fetchall()]


_IN_BOX = "b.min_lat >= ? AND b.max_lat <= ? AND b.min_lon >= ? AND b.max_lon <= ?"


def _box_params(bbox: tuple[float, float, float, float]) -> list[float]:
    south, west, north, east = bbox
    return [south, north, west, east]


def _found(rows: Iterable[tuple[Any, ...]]) -> Found:
    nodes: list[Node] = []
    ways: list[Way] = []
    for way, osm_id, lat, lon, _country, tags in rows:
        if way:
            ways.append(Way(osm_id, json.loads(tags), lat, lon))
        else:
            nodes.append(Node(osm_id, json.loads(tags), lat, lon))
    return Found(nodes, ways)


def _nearest(rows: list[tuple[Any, ...]], lat: float, lon: float, radius_km: float) -> list[tuple[Any, ...]]:
    within = [(distance_km(lat, lon, r[2], r[3]), r) for r in rows]
    return [r for d, r in sorted(within, key=lambda x: x[0]) if d <= radius_km][:LIMIT]


def find_names(
    index: Path,
    names: list[str],
    *,
    around: tuple[float, float, float] | None = None,
    bbox: tuple[float, float, float, float] | None = None,
    country: str | None = None,
) -> Found:
    """Return the features of `index` named one of `names` (any of their names, folded) in an area.

    Args:
        index: An index written by `build_index`.
        names: Names read in the photo, matched whole after `fold`.
        around: (lat, lon, radius_km) circle; the nearest LIMIT features come back.
        bbox: (south, west, north, east) box, when `around` is not given.
        country: ISO alpha-2 code, when neither is given: features whose addr:country is it, or without
            one whose point lies in its polygon (Natural Earth).
    """
    folded = sorted({fold(n) for n in names})
    match = f"m.name IN ({', '.join('?' * len(folded))})"
    if around is not None:
        box = _around_box(*around)
        rows = _select(index, _BY_NAME, f"{match} AND {_IN_BOX}", [*folded, *_box_params(box)])
        return _found(_nearest(rows, *around))
    if bbox is not None:
        rows = _select(index, _BY_NAME, f"{match} AND {_IN_BOX}", [*folded, *_box_params(bbox)])
        return _found(sorted(rows, key=lambda r: r[1])[:LIMIT])
    if country is None:
        raise ValueError("give an area: around, bbox or country")
    from geosleuth.core.geo import country_at

    code = country.upper()
    rows = _select(index, _BY_NAME, f"{match} AND (f.country = ? OR f.country = '')", [*folded, code])
    inside = [r for r in rows if r[4] == code or country_at(r[2], r[3]) == code]
    return _found(sorted(inside, key=lambda r: r[1])[:LIMIT])


def find_kinds(index: Path, kinds: list[str], *, around: tuple[float, float, float]) -> Found:
    """Return the features of `index` of the given kinds near a point, nearest first.

    Args:
        index: An index written by `build_index`.
        kinds: "key=value" (amenity=cafe), a value (cafe, pharmacy: under any KIND_KEYS key) or a key
            (shop: any shop).
        around: (lat, lon, radius_km) circle.
    """
    clauses, params = [], []
    for kind in kinds:
        key, _, value = kind.strip().lower().partition("=")
        if value:
            clauses.append("(m.key = ? AND m.value = ?)")
            params += [key, value]
        else:
            clauses.append("(m.value = ? OR m.key = ?)")
            params += [key, key]
    box = _around_box(*around)
    where = f"{_IN_BOX} AND ({' OR '.join(clauses) or '0'})"
    return _found(_nearest(_select(index, _BY_BOX, where, [*_box_params(box), *params]), *around))
