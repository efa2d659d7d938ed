"""OSM: Overpass query building and the tool spec, with no network (the HTTP look-ups: tests/integration)."""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from geosleuth.core.config import Settings
from geosleuth.tools import osm
from geosleuth.tools.osm import build_overpass_query

AROUND = (48.2008, 16.3610, 2.0)


# --- query building ---------------------------------------------------------------------------


def ql_string_value(literal: str) -> str:
    """Undo Overpass QL string escapes (the ones build_overpass_query writes)."""
    return re.sub(r'\\(["\\])', r"\1", literal)


def name_regex(query: str) -> str:
    literal = re.search(r'~"((?:[^"\\]|\\.)*)",i\]', query).group(1)
    return ql_string_value(literal)


def test_query_shape_around_and_bbox():
    query = build_overpass_query(["Café Sperl"], around=(48.2, 16.36, 1.5), timeout_s=12, limit=30)
    assert query.startswith("[out:json][timeout:12];")
    assert query.count("(around:1500,48.200000,16.360000);") == 2
    assert 'node[~"^(name|name:' in query and 'way[~"^(name|name:' in query
    assert query.rstrip().endswith("out center 30;")
    boxed = build_overpass_query(["X"], bbox=(48.1, 16.2, 48.3, 16.5))
    assert "(48.100000,16.200000,48.300000,16.500000);" in boxed
    with pytest.raises(ValueError):
        build_overpass_query(["X"])


def test_query_escapes_regex_and_quotes():
    query = build_overpass_query(['St. Mary\'s (Old) "Pub"', "A|B*"], around=AROUND)
    regex = name_regex(query)
    assert re.fullmatch(regex, 'st. mary\'s (old) "pub"', re.IGNORECASE)
    assert re.fullmatch(regex, "A|B*")
    assert not re.fullmatch(regex, "StX Mary's Old Pub")
    assert not re.fullmatch(regex, "A")


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet=st.characters(blacklist_categories=("Cs", "Cc")), min_size=1, max_size=30))
def test_any_name_matches_itself_exactly(name):
    name = " ".join(name.split())
    if not name:
        return
    regex = name_regex(build_overpass_query([name], around=AROUND))
    assert re.fullmatch(regex, name)
    assert not re.fullmatch(regex, name + "x")


def test_the_osm_spec_reads_text_around_a_point():
    assert osm.SPEC.name == "osm" and "Overpass" in osm.SPEC.description
    assert osm.SPEC.needs == ("lines", "point")
    schema = osm.SPEC.langchain_tool(Settings()).get_input_schema().model_json_schema()
    assert {"text", "lat", "lon"} <= set(schema["required"])
