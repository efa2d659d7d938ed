"""The geosleuth tools: one module per tool, each a typed function returning Evidence.

`REGISTRY` names every tool once and points, lazily as `module:attribute`, at its LangChain
wrapper, so importing this package stays cheap. Unknown names fail with a "did you mean" hint.
"""

from __future__ import annotations

import difflib
import importlib
from typing import Any

REGISTRY: dict[str, str] = {}


def register(name: str, target: str) -> None:
    """Register a tool's LangChain wrapper under a unique name (`target` is 'module:attribute')."""
    if name in REGISTRY and REGISTRY[name] != target:
        raise ValueError(f"tool {name!r} is registered twice ({REGISTRY[name]} and {target})")
    REGISTRY[name] = target


def check_tool_name(name: str) -> str:
    """Return `name` if it is a registered tool; else raise ValueError with a did-you-mean hint."""
    if name in REGISTRY:
        return name
    close = difflib.get_close_matches(name, REGISTRY, n=1)
    hint = f" Did you mean {close[0]!r}?" if close else ""
    raise ValueError(f"unknown tool {name!r}.{hint} Known tools: {', '.join(REGISTRY)}")


def get_tool(name: str) -> Any:
    """Import and return the LangChain tool registered under `name`."""
    module, attribute = REGISTRY[check_tool_name(name)].split(":")
    return getattr(importlib.import_module(module), attribute)


for _name, _target in (
    ("exif", "tools.exif:exif_tool"),
    ("ocr", "tools.ocr:ocr_tool"),
    ("text_clues", "tools.text_clues:text_clues_tool"),
    ("gazetteer", "tools.gazetteer:gazetteer_tool"),
    ("osm", "tools.osm:osm_tool"),
    ("zoom", "tools.zoom:zoom_tool"),
    ("clip_zero_shot", "tools.clip_zero_shot:clip_zero_shot_tool"),
    ("retrieval", "tools.retrieval:retrieval_tool"),
    ("geoclip", "tools.geoclip_tool:geoclip_tool"),
):
    register(_name, _target)
