"""Tool specs run for real: osm against a closed port, the OCR and text_clues LangChain tools."""

from __future__ import annotations

import re

from geosleuth.core.config import Settings
from geosleuth.core.paths import source_root
from geosleuth.core.state import Candidate
from geosleuth.tools import get_spec
from geosleuth.tools.spec import ToolCall

EXAMPLES = source_root() / "examples"


def test_osm_sends_the_settings_user_agent_and_radius():
    point = Candidate(lat=48.85, lon=2.33)
    settings = Settings(overpass_url="http://127.0.0.1:9/api", user_agent="test-agent/1", osm_radius_km=7)
    call = ToolCall(settings=settings, lines=("Café de Flore",), point=point)
    evidence = get_spec("osm").run(call)
    assert evidence.error and evidence.error.type == "unavailable"  # port 9: nothing listens
    assert evidence.inputs["around"] == (48.85, 2.33, 7.0)


def test_langchain_tools_take_the_settings_they_are_given(tmp_path):
    ocr = get_spec("ocr").langchain_tool(Settings(ocr_engines=("rapidocr",)))
    read = ocr.invoke({"path": str(EXAMPLES / "fr_paris_cafe_de_flore.jpg")})
    assert any(re.search("FLORE", line["text"], re.I) for line in read["observations"]["lines"])
    assert {line["engine"] for line in read["observations"]["lines"]} == {"rapidocr"}
    refused = ocr.invoke({"path": str(tmp_path / "not.jpg")})
    assert refused["error"]["type"] == "bad_input"
    clues = get_spec("text_clues").langchain_tool(Settings()).invoke({"text": "서울특별시\n+82 2 2133 0000"})
    assert max(clues["country_likelihoods"], key=clues["country_likelihoods"].get) == "KR"
