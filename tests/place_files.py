"""Small place files for the gazetteer-source tests: GeoNames dump lines, OSM XML and PBF extracts."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from xml.sax.saxutils import quoteattr

Tags = dict[str, str]
Node = tuple[int, float, float, Tags]
"""An OSM node: id, lat, lon, tags."""
Way = tuple[int, list[int], Tags]
"""An OSM way: id, node ids, tags."""


def geonames_line(
    geonameid: int, name: str, lat: float, lon: float, feature: str, code: str, country: str,
    admin1: str = "", alternates: Sequence[str] = (), population: int = 0,
) -> str:
    """Return one line of a GeoNames dump (19 tab-separated fields) for the given values."""
    return "\t".join([
        str(geonameid), name, name, ",".join(alternates), str(lat), str(lon), feature, code, country, "",
        admin1, "", "", "", str(population), "", "", "", "2024-01-01",
    ])


def write_osm_xml(path: Path, nodes: Sequence[Node], ways: Sequence[Way] = ()) -> Path:
    """Write an OSM XML extract of nodes and ways."""
    def tag_lines(tags: Tags) -> str:
        return "".join(f"<tag k={quoteattr(k)} v={quoteattr(v)}/>" for k, v in tags.items())

    lines = ['<?xml version="1.0" encoding="UTF-8"?>', '<osm version="0.6" generator="geosleuth tests">']
    for i, lat, lon, tags in nodes:
        lines.append(f'<node id="{i}" lat="{lat}" lon="{lon}">{tag_lines(tags)}</node>')
    for i, refs, tags in ways:
        members = "".join(f'<nd ref="{n}"/>' for n in refs)
        lines.append(f'<way id="{i}">{members}{tag_lines(tags)}</way>')
    path.write_text("\n".join([*lines, "</osm>"]) + "\n", encoding="utf-8")
    return path


def write_osm_pbf(path: Path, nodes: Sequence[Node]) -> Path:
    """Write an .osm.pbf extract of nodes with pyosmium's writer."""
    import osmium

    with osmium.SimpleWriter(str(path)) as writer:
        for i, lat, lon, tags in nodes:
            writer.add_node(osmium.osm.mutable.Node(id=i, location=(lon, lat), tags=tags))
    return path
