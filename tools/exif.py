"""Tool "exif": what the photo file says about its own location (EXIF GPS, XMP, comments).

Reads only `Photo.metadata`, never pixels, so a photo passed through `Photo.without_metadata()`
(as every eval does by default) always gives a `no_result` failure. Sources, strongest first:
the EXIF GPS fix; coordinates written as text in XMP (`exif:GPSLatitude`), JPEG comments, PNG text
or EXIF text fields (`lat=48.85, lon=2.29`, `geo:lat=`, `geo:48.85,2.29`, `GPS: 48.85, 2.29`);
place fields (XMP `photoshop:City`/`Country`, IPTC `Iptc4xmpCore:Location`, `CountryCode`, and
labelled `City:`/`Country:`/`Location:` lines in comments). Each point's country comes from the
country polygons (`geosleuth.core.geo.country_at`); country names and codes via
`geosleuth.core.countries.find_country`.
"""

from __future__ import annotations

import html
import re
from typing import Any

from geosleuth.core.countries import find_country
from geosleuth.core.geo import country_at
from geosleuth.core.photo import Photo, PhotoMetadata
from geosleuth.core.state import Candidate, Evidence, timed
from geosleuth.tools.spec import ToolCall, ToolSpec

NAME = "exif"
DEFAULT_GPS_RADIUS_KM = 0.05
"""Radius of an EXIF GPS fix that states no accuracy (`GPSHPositioningError`)."""

SOURCE_STRENGTH = {"exif_gps": 1.0, "text_coordinates": 0.9, "place_names": 0.7}
"""How much fusion trusts the evidence, by its strongest kind of location source."""
SOURCE_LIKELIHOOD = {"exif_gps": 1.0, "text_coordinates": 0.8, "place_names": 0.6}
"""Relative likelihood given to the country each kind of source points at (they may disagree)."""

XMP_PLACE_FIELDS = (
    "Iptc4xmpCore:Location", "Iptc4xmpExt:Sublocation", "photoshop:City", "Iptc4xmpExt:City",
    "photoshop:State", "Iptc4xmpExt:ProvinceState", "photoshop:Country", "Iptc4xmpExt:CountryName",
)
XMP_COUNTRY_FIELDS = ("photoshop:Country", "Iptc4xmpExt:CountryName")
XMP_CODE_FIELDS = ("Iptc4xmpCore:CountryCode", "Iptc4xmpExt:CountryCode")
EXIF_TEXT_FIELDS = ("ImageDescription", "UserComment", "XPTitle", "XPComment", "XPSubject", "XPKeywords")

_NUMBER = r"([-+]?\d{1,3}(?:\.\d+)?)\s*°?\s*([NSEWnsew](?![a-zA-Z]))?"
_LAT = re.compile(r"(?<![a-z])(?:geo:)?lat(?:itude)?\s*[=:]\s*" + _NUMBER, re.I)
_LON = re.compile(r"(?<![a-z])(?:geo:)?(?:lon|lng|long|longitude)\s*[=:]\s*" + _NUMBER, re.I)
_PAIR = re.compile(
    r"(?<![a-z])(?:geo:|gps\s*[=:]?\s*|ll=)([-+]?\d{1,2}\.\d+)\s*[,;]\s*([-+]?\d{1,3}\.\d+)", re.I
)
_PLACE_LINE = re.compile(
    r"(?<![a-z])(?:geo:)?(city|town|village|locality|sublocation|location|place|state|province|region|"
    r"country)\s*[=:]\s*([^;|\n\r=]{2,100}?)\s*(?=$|[;|\n\r]|\s\w+\s*[=:])",
    re.I | re.M,
)
_XMP_DMS = re.compile(r"^\s*(\d+(?:\.\d+)?)(?:,(\d+(?:\.\d+)?))?(?:,(\d+(?:\.\d+)?))?\s*([NSEW])\s*$", re.I)


def read_metadata(photo: Photo) -> Evidence:
    """Read location, time and camera from the photo's file metadata (never its pixels).

    Args:
        photo: A loaded photo; pass `photo.without_metadata()` when metadata is withheld.

    Returns:
        Evidence with `is_metadata=True`: candidates from GPS or coordinates in text, country
        likelihoods, place names; a `no_result` failure when the file carries no metadata.
    """
    with timed() as clock:
        evidence = _evidence(photo.metadata)
    return evidence.model_copy(update={"seconds": clock[0], "inputs": {"photo_sha256": photo.sha256}})


def _evidence(meta: PhotoMetadata) -> Evidence:
    if meta.is_empty:
        return Evidence.failure(NAME, "no_result", "no metadata in the file", is_metadata=True)
    texts = _texts(meta)
    points = _points(meta, texts)
    names, codes = _places(meta.xmp, texts)
    likelihoods: dict[str, float] = {}
    for kind, code in [(kind, c.country_code) for kind, c in points] + [("place_names", c) for c in codes]:
        if code:
            likelihoods[code] = max(likelihoods.get(code, 0.0), SOURCE_LIKELIHOOD[kind])
    kinds = [kind for kind, _ in points] + (["place_names"] if names or codes else [])
    strength = max((SOURCE_STRENGTH[k] for k in kinds), default=0.0)
    observations: dict[str, Any] = {
        "gps": list(meta.gps) if meta.gps else None,
        "gps_altitude_m": meta.gps_altitude,
        "gps_accuracy_m": meta.exif.get("GPSHPositioningError"),
        "taken_at": meta.taken_at,
        "camera": meta.camera,
        "texts": texts,
        "country_codes": codes,
    }
    return Evidence(
        tool=NAME,
        summary=_summary(meta, points, names),
        country_likelihoods=likelihoods,
        candidates=[c for _, c in points],
        places=names,
        observations=observations,
        strength=strength,
        is_metadata=True,
    )


def _texts(meta: PhotoMetadata) -> list[str]:
    """Free text the file carries: JPEG comments / PNG text, then EXIF text fields."""
    fields = [meta.exif.get(name) for name in EXIF_TEXT_FIELDS]
    return [*meta.comments, *(f for f in fields if isinstance(f, str) and f.strip())]


def _points(meta: PhotoMetadata, texts: list[str]) -> list[tuple[str, Candidate]]:
    """Candidate points with their source kind, EXIF fix first, duplicates (same ~100 m) dropped."""
    found: list[tuple[str, float, float, float, str]] = []
    if meta.gps:
        accuracy = meta.exif.get("GPSHPositioningError")
        if isinstance(accuracy, int | float) and accuracy > 0:  # a stated accuracy, in metres
            radius = accuracy / 1000
        else:
            radius = DEFAULT_GPS_RADIUS_KM
        found.append(("exif_gps", *meta.gps, radius, "EXIF GPS fix"))
    if meta.xmp and (xmp_point := _xmp_gps(meta.xmp)):
        found.append(
            ("text_coordinates", *xmp_point, DEFAULT_GPS_RADIUS_KM, "XMP exif:GPSLatitude/GPSLongitude")
        )
    for text in texts:
        if point := text_coordinates(text):
            lat, lon, radius = point
            found.append(("text_coordinates", lat, lon, radius, f"coordinates in text {text[:60]!r}"))
    points, seen = [], set()
    for kind, lat, lon, radius, label in found:
        key = (round(lat, 3), round(lon, 3))
        if key not in seen:
            seen.add(key)
            points.append((kind, Candidate(lat=lat, lon=lon, radius_km=radius, label=label,
                                           country_code=country_at(lat, lon))))
    return points


def text_coordinates(text: str) -> tuple[float, float, float] | None:
    """Find a latitude/longitude written in free text; return (lat, lon, radius_km) or None.

    Understands `lat=48.8584, lon=2.2945`, `latitude: 48.85 N longitude: 2.29 E`, Flickr machine
    tags `geo:lat=... geo:lon=...`, geo URIs `geo:48.85,2.29`, `GPS: 48.85, 2.29` and `ll=48.85,2.29`.
    The radius follows the number of decimals written. (0, 0) and out-of-range values are ignored.
    """
    lat_match, lon_match = _LAT.search(text), _LON.search(text)
    if lat_match and lon_match:
        values = [(lat_match[1], lat_match[2]), (lon_match[1], lon_match[2])]
    elif pair := _PAIR.search(text):
        values = [(pair[1], None), (pair[2], None)]
    else:
        return None
    (lat, lat_hem), (lon, lon_hem) = values
    lat_deg = -abs(float(lat)) if (lat_hem or "").upper() == "S" else float(lat)
    lon_deg = -abs(float(lon)) if (lon_hem or "").upper() == "W" else float(lon)
    if not (-90 <= lat_deg <= 90 and -180 <= lon_deg <= 180) or (lat_deg == 0 and lon_deg == 0):
        return None
    decimals = min(len(v.partition(".")[2]) for v in (lat, lon))
    return lat_deg, lon_deg, max(DEFAULT_GPS_RADIUS_KM, 111.32 * 0.5 * 10.0**-decimals)


def xmp_values(xmp: str, name: str) -> list[str]:
    """Return every value of an XMP property (attribute or element form, rdf:li items unpacked)."""
    key = re.escape(name)
    values = [m[2] for m in re.finditer(rf"(?<![\w:]){key}\s*=\s*([\"'])(.*?)\1", xmp, re.S)]
    for body in re.findall(rf"<{key}(?:\s[^>]*)?>(.*?)</{key}>", xmp, re.S):
        items = re.findall(r"<rdf:li(?:\s[^>]*)?>(.*?)</rdf:li>", body, re.S)
        values.extend(items or [body])
    cleaned = (html.unescape(re.sub(r"<[^>]+>", " ", v)).strip() for v in values)
    return list(dict.fromkeys(v for v in cleaned if v))


def _xmp_gps(xmp: str) -> tuple[float, float] | None:
    """(lat, lon) from XMP `exif:GPSLatitude`/`exif:GPSLongitude` ("DDD,MM.mmmmN" or "DDD,MM,SSN")."""
    parsed = []
    for name, limit in (("exif:GPSLatitude", 90.0), ("exif:GPSLongitude", 180.0)):
        values = xmp_values(xmp, name)
        match = _XMP_DMS.match(values[0]) if values else None
        if not match:
            return None
        parts = [float(p) for p in match.groups()[:3] if p is not None]
        degrees = sum(p / 60**i for i, p in enumerate(parts))
        if degrees > limit or any(p >= 60 for p in parts[1:]):
            return None
        parsed.append(-degrees if match[4].upper() in "SW" else degrees)
    lat, lon = parsed
    return None if lat == 0 and lon == 0 else (lat, lon)


def _places(xmp: str | None, texts: list[str]) -> tuple[list[str], list[str]]:
    """Place names (XMP place fields, labelled lines in text) and the country codes they name."""
    names: list[str] = []
    country_names: list[str] = []
    codes: list[str] = []
    if xmp:
        for field in XMP_PLACE_FIELDS:
            names.extend(xmp_values(xmp, field))
        for field in XMP_COUNTRY_FIELDS:
            country_names.extend(xmp_values(xmp, field))
        for field in XMP_CODE_FIELDS:
            codes.extend(c for c in map(_country_code, xmp_values(xmp, field)) if c)
    for text in texts:
        for label, value in _PLACE_LINE.findall(text):
            if re.search(r"[^\W\d_]", value):  # at least one letter: not a coordinate
                names.append(value.strip(" ,."))
                if label.lower() == "country":
                    country_names.append(value)
    codes.extend(c for c in map(_country_code, country_names) if c)
    return list(dict.fromkeys(names)), list(dict.fromkeys(codes))


def _country_code(name_or_code: str) -> str | None:
    """ISO alpha-2 for a country name (many languages) or alpha-2/alpha-3 code; exact matches only."""
    country = find_country(name_or_code)
    return country.code if country else None


def _summary(meta: PhotoMetadata, points: list[tuple[str, Candidate]], names: list[str]) -> str:
    parts = [f"{c.label} {c.lat:.6f}, {c.lon:.6f} ({c.country_code or 'no country'})" for _, c in points[:3]]
    if names:
        parts.append("places: " + ", ".join(names[:5]))
    if not parts:
        parts.append("no location in the metadata")
    parts += [f"taken {meta.taken_at}"] if meta.taken_at else []
    parts += [f"camera {meta.camera}"] if meta.camera else []
    return "; ".join(parts)

def run(call: ToolCall) -> Evidence:
    """Read the location clues in the run's photo file metadata."""
    if call.photo is None:
        return Evidence.failure(NAME, "bad_input", "no photo", is_metadata=True)
    return read_metadata(call.photo)


SPEC = ToolSpec(
    name=NAME,
    function=read_metadata,
    run=run,
    description="""Read where a photo was taken from the file's own metadata: EXIF GPS, XMP places, comments.

Offered only when metadata is allowed: it reads the file itself. Returns candidate points with
radius_km, country_likelihoods, place names, capture time and camera. A file without metadata
gives error type no_result.""",
    needs=("photo",),
    weight=3.0,  # a GPS fix in the file is near-certain (when metadata is allowed at all)
    metadata=True,
    cue="metadata",
    what="GPS, time, camera, place text in XMP / JPEG comments (metadata; off in evals)",
    offline_source="Pillow",
    named_by=(r"exif", r"gps", r"metadata"),
)
