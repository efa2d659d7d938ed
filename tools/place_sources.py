"""Read place files for the gazetteer index: GeoNames dumps, OpenStreetMap extracts, airportsdata.

GeoNames: the official tab-separated dump format, 19 fields a line (geonameid, name, asciiname,
alternatenames, latitude, longitude, feature class, feature code, country code, cc2, admin1 code,
admin2-4 codes, population, elevation, dem, timezone, modification date): allCountries.txt, a country
file such as DE.txt, cities500.txt, or the .zip of one as GeoNames serves it.

OpenStreetMap: the named nodes and ways tagged place=*, tourism=*, historic=* or amenity=* of an
extract (.osm XML or .osm.pbf; .osm.bz2 and .osm.gz too), read with pyosmium; a way's point is the
mean of its nodes' points. OSM has no country codes on most features: `country` is then "" and the
index fills it in from the nearest town.

airportsdata: the airports with an IATA code (the ones on signs and tickets), as landmarks ("S").
"""

from __future__ import annotations

import zipfile
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple

import airportsdata

if TYPE_CHECKING:
    import osmium

GEONAMES_FIELDS = 19
"""Fields in one line of a GeoNames dump."""

FEATURE_CLASSES = frozenset("AHLPRSTUV")
"""GeoNames feature classes: A region, H water, L park or area, P populated place, R road, S spot or
building, T mountain or hill, U undersea, V forest."""

OSM_KEYS = ("place", "tourism", "historic", "amenity")
"""OSM keys whose named nodes and ways become places."""

_OSM_PLACE_FEATURES = {
    **dict.fromkeys(
        ("city", "town", "village", "hamlet", "suburb", "quarter", "neighbourhood", "borough",
         "isolated_dwelling", "city_block", "farm", "allotments"), "P"),
    **dict.fromkeys(("island", "islet", "archipelago", "peninsula"), "T"),
    **dict.fromkeys(("country", "state", "province", "region", "county", "district", "municipality"), "A"),
    "square": "S",
}
"""Feature class of an OSM place=* value; any other place=* is "L", tourism/historic/amenity are "S"."""

_OSM_NAME_KEYS = ("alt_name", "old_name", "official_name", "int_name", "loc_name", "short_name")


class SourcePlace(NamedTuple):
    """One named feature read from a place file."""

    name: str
    alternates: tuple[str, ...]
    country: str  # ISO 3166-1 alpha-2; "" when the file does not say
    admin1: str  # the region's name when the file gives it, else ""
    admin1_code: str  # the GeoNames admin1 code, else ""
    lat: float
    lon: float
    population: int
    geonameid: int | None  # None: not a GeoNames feature
    feature: str  # GeoNames feature class letter


def source_signature(path: str) -> tuple[str, int, int]:
    """Return what identifies one version of a place file: its absolute path, size and mtime (ns).

    Raises:
        ValueError: When there is no such file.
    """
    file = Path(path).expanduser()
    if not file.is_file():
        raise ValueError(f"gazetteer source {path}: no such file")
    stat = file.stat()
    return str(file.resolve()), stat.st_size, stat.st_mtime_ns


def read_places(path: str) -> Iterator[SourcePlace]:
    """Yield the named features of one place file, read by its kind (GeoNames dump or OSM extract).

    Args:
        path: A GeoNames dump (.txt, or a .zip holding one) or an OpenStreetMap extract (.osm, .osm.pbf,
            .osm.bz2, .osm.gz).

    Raises:
        ValueError: One line naming the file (and the line, for a dump) when the file is missing, of
            an unknown kind, or malformed.
    """
    source_signature(path)  # raises when there is no such file
    file = Path(path).expanduser()
    name = file.name.lower()
    if name.endswith(".txt"):
        with open(file, "rb") as fh:
            yield from _read_geonames(fh, path)
    elif name.endswith(".zip"):
        yield from _read_geonames_zip(file, path)
    elif name.endswith((".osm", ".pbf", ".osm.bz2", ".osm.gz")):
        yield from _read_osm(file, path)
    else:
        raise ValueError(
            f"gazetteer source {path}: unknown kind of file (expected a GeoNames .txt or .zip, "
            "or an OpenStreetMap .osm or .osm.pbf)"
        )


def _read_geonames_zip(file: Path, path: str) -> Iterator[SourcePlace]:
    """Yield the places of the GeoNames dump inside a .zip (DE.zip holds DE.txt and readme.txt)."""
    try:
        with zipfile.ZipFile(file) as archive:
            names = [n for n in archive.namelist() if n.lower().endswith(".txt")]
            dumps = [n for n in names if "readme" not in n.lower()]
            if len(dumps) != 1:
                raise ValueError(f"gazetteer source {path}: expected one GeoNames .txt in it, found {dumps}")
            with archive.open(dumps[0]) as raw:
                yield from _read_geonames(raw, f"{path} ({dumps[0]})")
    except zipfile.BadZipFile as exc:
        raise ValueError(f"gazetteer source {path}: not a zip file ({exc})") from exc


def _read_geonames(lines: Iterable[bytes], where: str) -> Iterator[SourcePlace]:
    """Yield the places of a GeoNames dump (UTF-8), one a line; `where` names the file in errors."""
    number = 0
    try:
        for number, line in enumerate(lines, start=1):
            if line.strip():
                yield _geonames_place(line.decode("utf-8").rstrip("\r\n").split("\t"))
    except ValueError as exc:  # UnicodeDecodeError too
        raise ValueError(f"gazetteer source {where}, line {number}: {exc}") from exc


def _geonames_place(fields: list[str]) -> SourcePlace:
    """Return the place of one dump line's fields; ValueError says what is wrong with them."""
    if len(fields) != GEONAMES_FIELDS:
        raise ValueError(f"expected {GEONAMES_FIELDS} tab-separated GeoNames fields, found {len(fields)}")
    geonameid, lat, lon, population = int(fields[0]), float(fields[4]), float(fields[5]), int(fields[14] or 0)
    feature = fields[6] or "L"  # a few GeoNames features have no class: the vaguest, area
    if not (-90 <= lat <= 90 and -180 <= lon <= 180) or feature not in FEATURE_CLASSES or not fields[1]:
        raise ValueError(f"bad name, point ({lat}, {lon}) or feature class {feature!r}")
    return SourcePlace(
        name=fields[1], alternates=tuple(a for a in fields[3].split(",") if a), country=fields[8],
        admin1="", admin1_code=fields[10], lat=lat, lon=lon, population=population, geonameid=geonameid,
        feature=feature,
    )


def _read_osm(file: Path, path: str) -> Iterator[SourcePlace]:
    """Yield the named place, tourism, historic and amenity nodes and ways of an OSM extract."""
    try:
        for _, _, lat, lon, tags in named_osm_features(file, OSM_KEYS):
            yield _osm_place(tags, lat, lon)
    except RuntimeError as exc:  # libosmium's parse and I/O errors
        raise ValueError(f"gazetteer source {path}: {' '.join(str(exc).split())}") from exc


def named_osm_features(
    file: Path, keys: Iterable[str]
) -> Iterator[tuple[bool, int, float, float, dict[str, str]]]:
    """Yield (is a way, OSM id, lat, lon, tags) of each named node and way of an OSM file with one of `keys`.

    A way stands at the mean of its nodes; an element without a location is skipped. libosmium's
    parse and I/O errors are RuntimeErrors.
    """
    import osmium

    processor = (
        osmium.FileProcessor(str(file), osmium.osm.NODE | osmium.osm.WAY)
        .with_locations()
        .with_filter(osmium.filter.KeyFilter(*keys))
        .with_filter(osmium.filter.KeyFilter("name"))  # in C: unnamed benches never reach Python
    )
    for obj in processor:
        tags = dict(obj.tags)
        if not tags.get("name"):
            continue
        if isinstance(obj, osmium.osm.Node):
            point = (obj.location.lat, obj.location.lon) if obj.location.valid() else None
        elif isinstance(obj, osmium.osm.Way):
            point = _mean_point([n.location for n in obj.nodes if n.location.valid()])
        else:  # the processor reads nodes and ways only
            continue
        if point is not None:
            yield isinstance(obj, osmium.osm.Way), obj.id, point[0], point[1], tags


def _mean_point(locations: list[osmium.osm.Location]) -> tuple[float, float] | None:
    """Return the mean point of a way's node locations (a closed way's repeated node counted once)."""
    if len(locations) > 1 and locations[0] == locations[-1]:
        locations.pop()
    if not locations:
        return None
    return sum(n.lat for n in locations) / len(locations), sum(n.lon for n in locations) / len(locations)


def _osm_place(tags: dict[str, str], lat: float, lon: float) -> SourcePlace:
    """Turn the tags and point of one OSM feature into a `SourcePlace`."""
    place = tags.get("place")
    feature = _OSM_PLACE_FEATURES.get(place, "L") if place else "S"
    country = tags.get("addr:country", "").upper()
    population = tags.get("population", "").replace(",", "").replace(" ", "")
    return SourcePlace(
        name=tags["name"], alternates=tuple(_osm_alternates(tags)),
        country=country if len(country) == 2 and country.isalpha() else "",
        admin1="", admin1_code="", lat=lat, lon=lon,
        population=int(population) if population.isdigit() else 0, geonameid=None, feature=feature,
    )


def _osm_alternates(tags: dict[str, str]) -> Iterable[str]:
    """Yield an OSM feature's other names: name:<language> and the alt/old/official/... names."""
    for key, value in tags.items():
        language = key.startswith("name:") and key[5:].replace("-", "").isalpha() and len(key) <= 15
        if language or key in _OSM_NAME_KEYS:
            yield from (v.strip() for v in value.split(";") if v.strip())


def read_airports() -> Iterator[SourcePlace]:
    """Yield the airports of airportsdata that have an IATA code, as landmarks (feature "S")."""
    for airport in airportsdata.load("IATA").values():
        yield SourcePlace(
            name=airport["name"], alternates=(), country=airport["country"], admin1=airport["subd"],
            admin1_code="", lat=float(airport["lat"]), lon=float(airport["lon"]), population=0,
            geonameid=None, feature="S",
        )
