"""The tool registry: every name resolves to a LangChain tool of that name; unknown names get a hint."""

from __future__ import annotations

import pytest

from geosleuth.tools import REGISTRY, check_tool_name, get_tool, register


@pytest.mark.parametrize("name", sorted(REGISTRY))
def test_every_registered_tool_loads_under_its_name(name):
    tool = get_tool(name)
    assert tool.name == name
    assert len(tool.description) > 40  # the text an LLM reads to decide when to call it


def test_unknown_names_get_a_did_you_mean():
    with pytest.raises(ValueError, match="Did you mean 'gazetteer'"):
        check_tool_name("gazeteer")


def test_a_name_cannot_point_at_two_tools():
    with pytest.raises(ValueError, match="registered twice"):
        register("ocr", "tools.other:thing")
