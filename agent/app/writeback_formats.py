"""The two file formats `geosleuth.app.writeback` writes: merged XMP sidecars and a JPEG's EXIF GPS IFD.

XMP: `merge_xmp` parses an existing sidecar with `xml.dom.minidom` (which keeps every prefix, processing
instruction, comment and unknown namespace as written), removes the properties it replaces wherever they
are, and adds one `rdf:Description` holding its own properties plus one appended `xmpMM:History` event.
`xmp_gps` reads `exif:GPSLatitude`/`GPSLongitude` back (attribute or element form).

EXIF: `jpeg_with_gps` rewrites only the JPEG's APP1 Exif segment, never the compressed image. It is
append-only inside the TIFF block: the new GPS IFD and a copy of IFD0 (with the GPS pointer added) go
at the end and the header points at the new IFD0, so every existing offset, MakerNote included, stays
valid; the old IFD0 is left behind unreferenced.
"""

from __future__ import annotations

import re
import struct
from collections.abc import Mapping
from dataclasses import dataclass
from xml.dom import minidom
from xml.dom.minidom import Attr, Document, Element
from xml.parsers.expat import ExpatError

XMLNS = "http://www.w3.org/2000/xmlns/"
RDF = "http://www.w3.org/1999/02/22-rdf-syntax-ns#"
GEOSLEUTH_NS = "http://ns.geosleuth.invalid/xmp/1.0/"
"""geosleuth's own XMP namespace (a name, not a page: `.invalid` can never belong to anyone else)."""
NAMESPACES = {
    "exif": "http://ns.adobe.com/exif/1.0/",
    "photoshop": "http://ns.adobe.com/photoshop/1.0/",
    "Iptc4xmpCore": "http://iptc.org/std/Iptc4xmpCore/1.0/xmlns/",
    "xmp": "http://ns.adobe.com/xap/1.0/",
    "xmpMM": "http://ns.adobe.com/xap/1.0/mm/",
    "stEvt": "http://ns.adobe.com/xap/1.0/sType/ResourceEvent#",
    "geosleuth": GEOSLEUTH_NS,
}
"""The prefixes `merge_xmp` writes, declared on the elements it adds (so they never clash)."""
EMPTY_SIDECAR = (
    '<?xml version="1.0" encoding="UTF-8"?>\n<x:xmpmeta xmlns:x="adobe:ns:meta/">\n'
    f' <rdf:RDF xmlns:rdf="{RDF}">\n </rdf:RDF>\n</x:xmpmeta>\n'
)

_TYPES = {"BYTE": 1, "ASCII": 2, "LONG": 4, "RATIONAL": 5, "UNDEFINED": 7}
_GPS_POINTER = 0x8825
_MAX_SEGMENT = 65535
_XMP_DMS = re.compile(r"^\s*(\d+(?:\.\d+)?)(?:,(\d+(?:\.\d+)?))?(?:,(\d+(?:\.\d+)?))?\s*([NSEW])\s*$", re.I)


class FormatError(ValueError):
    """A file that cannot be changed safely; the message is one line a person can act on."""


@dataclass(frozen=True)
class HistoryEvent:
    """One `xmpMM:History` entry: who changed the metadata, when, and a human-readable note."""

    agent: str
    when: str
    note: str


def xmp_coordinate(value: float, axis: str) -> str:
    """Format degrees the XMP way, "DDD,MM.mmmmmmK" (K: N/S for axis "lat", E/W for "lon")."""
    hemisphere = ("N" if value >= 0 else "S") if axis == "lat" else ("E" if value >= 0 else "W")
    micro_minutes = round(abs(value) * 60_000_000)
    degrees, rest = divmod(micro_minutes, 60_000_000)
    return f"{degrees},{rest / 1_000_000:09.6f}{hemisphere}"


def parse_xmp(data: bytes) -> Document:
    """Parse XMP text (a sidecar or an embedded packet); `FormatError` when it is not XML with rdf:RDF."""
    try:
        doc = minidom.parseString(data)
    except ExpatError as exc:
        raise FormatError(f"not valid XML ({exc})") from None
    if not doc.getElementsByTagNameNS(RDF, "RDF"):
        doc.unlink()
        raise FormatError("XML without an rdf:RDF element, so not XMP")
    return doc


def xmp_values(doc: Document, name: str) -> list[str]:
    """Return the text of every top-level occurrence of a property ("prefix:Name", a `NAMESPACES` prefix)."""
    prefix, local = name.split(":")
    return [text for _, text in _properties(_descriptions(doc), NAMESPACES[prefix], local)]


def xmp_gps(doc: Document) -> tuple[float, float] | None:
    """Return (lat, lon) as a parsed XMP's exif:GPSLatitude/GPSLongitude state them, None when unreadable.

    Lenient on purpose (e.g. "41,60.0N" is read as written): it tells whether a position is there.
    """
    point = []
    for name in ("exif:GPSLatitude", "exif:GPSLongitude"):
        found = xmp_values(doc, name)
        match = _XMP_DMS.match(found[0]) if found else None
        if not match:
            return None
        degrees = sum(float(p) / 60**i for i, p in enumerate(match.groups()[:3]) if p is not None)
        point.append(-degrees if match[4].upper() in "SW" else degrees)
    return point[0], point[1]


def merge_xmp(
    existing: bytes | None, replace: Mapping[str, str], fill: Mapping[str, str], event: HistoryEvent
) -> bytes:
    """Return sidecar bytes: `existing` (or a new sidecar) with geosleuth's properties merged in.

    Args:
        existing: The current sidecar's bytes, None to start a new one.
        replace: "prefix:Name" -> value (prefixes from `NAMESPACES`); any current value is removed first.
        fill: Like `replace`, but a property the sidecar already has keeps its value.
        event: Appended to `xmpMM:History` (created when absent); earlier events stay.

    Raises:
        FormatError: `existing` is not XMP.
    """
    doc = parse_xmp(existing if existing is not None else EMPTY_SIDECAR.encode())
    rdf = doc.getElementsByTagNameNS(RDF, "RDF")[0]
    descriptions = _descriptions(doc)
    about = descriptions[0].getAttributeNS(RDF, "about") if descriptions else ""
    values = dict(replace)
    for name, value in fill.items():
        prefix, local = name.split(":")
        if not list(_properties(descriptions, NAMESPACES[prefix], local)):
            values[name] = value
    for name in values:
        prefix, local = name.split(":")
        for node, _ in list(_properties(descriptions, NAMESPACES[prefix], local)):
            if isinstance(node, Element):
                _detach(node)
            elif node.ownerElement is not None:
                node.ownerElement.removeAttributeNode(node)
    mine = _element(doc, rdf.prefix, RDF, "Description", about=about)
    for prefix, uri in NAMESPACES.items():
        mine.setAttributeNS(XMLNS, f"xmlns:{prefix}", uri)
    for name, value in values.items():
        mine.setAttributeNS(NAMESPACES[name.split(":")[0]], name, value)
    _append_event(doc, rdf.prefix, descriptions, mine, event)
    for description in descriptions:
        if _is_empty(description):
            _detach(description)
    rdf.appendChild(mine)
    rdf.appendChild(doc.createTextNode("\n"))
    out: bytes = doc.toxml(encoding="UTF-8")
    doc.unlink()
    return out + b"\n"


def _descriptions(doc: Document) -> list[Element]:
    """Return the top-level rdf:Description elements (children of rdf:RDF, not those inside structures)."""
    return [c for rdf in doc.getElementsByTagNameNS(RDF, "RDF") for c in rdf.childNodes
            if isinstance(c, Element) and c.namespaceURI == RDF and c.localName == "Description"]


def _properties(descriptions: list[Element], uri: str, local: str) -> list[tuple[Element | Attr, str]]:
    """Return every (node, text) of one property among the descriptions: attribute and element forms."""
    found: list[tuple[Element | Attr, str]] = []
    for description in descriptions:
        if (attribute := description.getAttributeNodeNS(uri, local)) is not None:
            found.append((attribute, attribute.value))
        for child in description.childNodes:
            if isinstance(child, Element) and child.namespaceURI == uri and child.localName == local:
                found.append((child, "".join(t.data for t in child.childNodes if t.nodeType == t.TEXT_NODE)))
    return found


def _detach(element: Element) -> None:
    if (parent := element.parentNode) is not None:
        parent.removeChild(element)


def _element(doc: Document, rdf_prefix: str | None, uri: str, local: str, **rdf_attributes: str) -> Element:
    """Return a new element; names in the RDF namespace use the document's own prefix for it."""
    prefix = (rdf_prefix or "rdf") if uri == RDF else next(p for p, u in NAMESPACES.items() if u == uri)
    element = doc.createElementNS(uri, f"{prefix}:{local}")
    for name, value in rdf_attributes.items():
        element.setAttributeNS(RDF, f"{rdf_prefix or 'rdf'}:{name}", value)
    return element


def _append_event(doc: Document, rdf_prefix: str | None, descriptions: list[Element], mine: Element,
                  event: HistoryEvent) -> None:
    """Append one event to the existing xmpMM:History sequence, or start one in `mine`."""
    history = next((n for n, _ in _properties(descriptions, NAMESPACES["xmpMM"], "History")
                    if isinstance(n, Element)), None)
    if history is None:
        history = _element(doc, rdf_prefix, NAMESPACES["xmpMM"], "History")
        mine.appendChild(history)
    seq = next((c for c in history.childNodes if isinstance(c, Element) and c.namespaceURI == RDF
                and c.localName == "Seq"), None)
    if seq is None:
        seq = _element(doc, rdf_prefix, RDF, "Seq")
        history.appendChild(seq)
    item = _element(doc, rdf_prefix, RDF, "li", parseType="Resource")
    item.setAttributeNS(XMLNS, "xmlns:stEvt", NAMESPACES["stEvt"])
    for local, text in (("action", "edited"), ("changed", "/metadata"), ("softwareAgent", event.agent),
                        ("when", event.when), ("parameters", event.note)):
        field = _element(doc, rdf_prefix, NAMESPACES["stEvt"], local)
        field.appendChild(doc.createTextNode(text))
        item.appendChild(field)
    seq.appendChild(item)


def _is_empty(description: Element) -> bool:
    """Whether a description holds no property: only rdf:about / xmlns attributes, whitespace text."""
    attributes = description.attributes
    names = [attributes.item(i) for i in range(attributes.length)]
    if any(a is not None and a.namespaceURI not in (XMLNS, RDF) for a in names):
        return False
    return all(c.nodeType == c.TEXT_NODE and not c.data.strip() for c in description.childNodes)


@dataclass(frozen=True)
class GpsFix:
    """What `jpeg_with_gps` writes into the GPS IFD (EXIF 2.3 tags)."""

    lat: float
    lon: float
    error_m: float | None
    """GPSHPositioningError, metres; None leaves the tag out."""
    area: str
    """GPSAreaInformation: the place's name and where the position came from (any text)."""


def jpeg_with_gps(data: bytes, fix: GpsFix) -> bytes:
    """Return JPEG bytes whose EXIF carries `fix` as its GPS IFD; the image data is left byte for byte.

    An existing GPS IFD is replaced (the caller decides whether that is allowed); a file without EXIF
    gets an APP1 Exif segment after its JFIF header.

    Raises:
        FormatError: not a JPEG, unreadable EXIF, or an EXIF block that would outgrow its 64 KB segment.
    """
    if not data.startswith(b"\xff\xd8\xff"):
        raise FormatError("not a JPEG file: EXIF is written losslessly into JPEG only (use --write xmp)")
    segments = _leading_segments(data)
    exif = next(((s, e) for m, s, e in segments if m == 0xE1 and data[s + 4:s + 10] == b"Exif\0\0"), None)
    if exif is None:
        start = end = next((s for m, s, _ in segments if m != 0xE0), segments[-1][2] if segments else 2)
        tiff = b"II*\0\0\0\0\0"  # a header without IFD0
    else:
        start, end = exif
        if any(m == 0xE2 and data[s + 4:s + 8] == b"MPF\0" and s < start for m, s, _ in segments):
            raise FormatError("multi-picture JPEG with EXIF after its MPF index: growing EXIF would break it")
        tiff = data[start + 10:end]
    payload = b"Exif\0\0" + _tiff_with_gps(tiff, fix)
    if len(payload) + 2 > _MAX_SEGMENT:
        raise FormatError("the EXIF block would outgrow JPEG's 64 KB APP1 segment")
    return data[:start] + b"\xff\xe1" + (len(payload) + 2).to_bytes(2, "big") + payload + data[end:]


def _leading_segments(data: bytes) -> list[tuple[int, int, int]]:
    """(marker, start, end) of each marker segment before the first scan (SOS) or EOI."""
    segments: list[tuple[int, int, int]] = []
    pos = 2
    while pos + 4 <= len(data):
        if data[pos] != 0xFF:
            raise FormatError("corrupt JPEG: no marker where one should be")
        marker = data[pos + 1]
        if marker == 0xFF:
            pos += 1
            continue
        if marker in (0xDA, 0xD9):
            return segments
        length = int.from_bytes(data[pos + 2:pos + 4], "big")
        if length < 2 or pos + 2 + length > len(data):
            raise FormatError("corrupt JPEG: a segment runs past the end of the file")
        segments.append((marker, pos, pos + 2 + length))
        pos += 2 + length
    raise FormatError("truncated JPEG: no image data")


def _tiff_with_gps(tiff: bytes, fix: GpsFix) -> bytes:
    """Append a GPS IFD and a copy of IFD0 pointing at it; repoint the header to the copy."""
    order = {b"II": "<", b"MM": ">"}.get(tiff[:2])
    if order is None or len(tiff) < 8 or struct.unpack(order + "H", tiff[2:4])[0] != 42:
        raise FormatError("unreadable EXIF (no TIFF header): not touching it")
    entries, next_ifd = [], 0
    if ifd0 := struct.unpack(order + "I", tiff[4:8])[0]:
        if ifd0 + 2 > len(tiff):
            raise FormatError("unreadable EXIF (IFD0 outside the block): not touching it")
        count = struct.unpack(order + "H", tiff[ifd0:ifd0 + 2])[0]
        table_end = ifd0 + 2 + 12 * count
        if table_end + 4 > len(tiff):
            raise FormatError("unreadable EXIF (IFD0 runs past the block): not touching it")
        entries = [tiff[p:p + 12] for p in range(ifd0 + 2, table_end, 12)]
        next_ifd = struct.unpack(order + "I", tiff[table_end:table_end + 4])[0]
    entries = [e for e in entries if struct.unpack(order + "H", e[:2])[0] != _GPS_POINTER]
    out = bytearray(tiff + b"\0" * (len(tiff) % 2))
    gps_offset = len(out)
    out += _ifd(order, _gps_entries(order, fix), gps_offset)
    new_ifd0 = len(out)
    entries.append(struct.pack(order + "HHII", _GPS_POINTER, _TYPES["LONG"], 1, gps_offset))
    entries.sort(key=lambda e: struct.unpack(order + "H", e[:2])[0])
    out += struct.pack(order + "H", len(entries)) + b"".join(entries) + struct.pack(order + "I", next_ifd)
    out[4:8] = struct.pack(order + "I", new_ifd0)
    return bytes(out)


def _gps_entries(order: str, fix: GpsFix) -> list[tuple[int, str, int, bytes]]:
    """(tag, type, count, value bytes) of the GPS IFD: version, lat/lon, datum, method, area, error."""
    def rationals(*pairs: tuple[int, int]) -> bytes:
        return b"".join(struct.pack(order + "II", n, d) for n, d in pairs)

    def dms(value: float) -> bytes:
        ten_thousandths = round(abs(value) * 36_000_000)  # 1/10000 s of arc
        degrees, rest = divmod(ten_thousandths, 36_000_000)
        minutes, seconds = divmod(rest, 600_000)
        return rationals((degrees, 1), (minutes, 1), (seconds, 10_000))

    if fix.area.isascii():
        area = b"ASCII\0\0\0" + fix.area.encode("ascii")
    else:
        area = b"UNICODE\0" + fix.area.encode("utf-16-le" if order == "<" else "utf-16-be")
    entries = [
        (0x0000, "BYTE", 4, bytes([2, 3, 0, 0])),
        (0x0001, "ASCII", 2, b"N\0" if fix.lat >= 0 else b"S\0"),
        (0x0002, "RATIONAL", 3, dms(fix.lat)),
        (0x0003, "ASCII", 2, b"E\0" if fix.lon >= 0 else b"W\0"),
        (0x0004, "RATIONAL", 3, dms(fix.lon)),
        (0x0012, "ASCII", 7, b"WGS-84\0"),
        (0x001B, "UNDEFINED", 14, b"ASCII\0\0\0MANUAL"),  # EXIF 2.3: GPS, CELLID, WLAN or MANUAL
        (0x001C, "UNDEFINED", len(area), area),
    ]
    if fix.error_m is not None:
        entries.append((0x001F, "RATIONAL", 1, rationals((min(round(fix.error_m), 2**32 - 1), 1))))
    return entries


def _ifd(order: str, entries: list[tuple[int, str, int, bytes]], offset: int) -> bytes:
    """One IFD at `offset` of the TIFF block: its table, then the values longer than 4 bytes."""
    table, values = bytearray(), bytearray()
    data_at = offset + 2 + 12 * len(entries) + 4
    for tag, kind, count, value in sorted(entries):
        if len(value) <= 4:
            field = value.ljust(4, b"\0")
        else:
            field = struct.pack(order + "I", data_at + len(values))
            values += value + b"\0" * (len(value) % 2)
        table += struct.pack(order + "HHI", tag, _TYPES[kind], count) + field
    return struct.pack(order + "H", len(entries)) + bytes(table) + struct.pack(order + "I", 0) + bytes(values)
