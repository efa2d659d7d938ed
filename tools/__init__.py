"""The geosleuth tools: one module per tool, each a typed function returning Evidence and its `SPEC`.

`registry()` finds every module of this package that defines `SPEC` (a `ToolSpec`) and registers
it under its name, once per process; importing this package stays cheap because the tool modules
are imported only then, and they import their models lazily. Unknown names fail with a
"did you mean" hint.
"""

from __future__ import annotations

import difflib
import functools
import importlib
import pkgutil

from geosleuth.tools.spec import ToolSpec


@functools.lru_cache(maxsize=1)
def registry() -> dict[str, ToolSpec]:
    """Every tool of the package by name, in module order; two specs with one name are an error."""
    specs: dict[str, ToolSpec] = {}
    for module in pkgutil.iter_modules(__path__):
        spec = getattr(importlib.import_module(f"{__name__}.{module.name}"), "SPEC", None)
        if not isinstance(spec, ToolSpec):
            continue
        if spec.name in specs:
            raise ValueError(f"tool {spec.name!r} is declared twice ({module.name} and another module)")
        specs[spec.name] = spec
    return specs


def check_tool_name(name: str) -> str:
    """Return `name` if it is a registered tool; else raise ValueError with a did-you-mean hint."""
    known = registry()
    if name in known:
        return name
    close = difflib.get_close_matches(name, known, n=1)
    hint = f" Did you mean {close[0]!r}?" if close else ""
    raise ValueError(f"unknown tool {name!r}.{hint} Known tools: {', '.join(known)}")


def get_spec(name: str) -> ToolSpec:
    """Return the ToolSpec registered under `name` (ValueError with a hint when there is none)."""
    return registry()[check_tool_name(name)]


def fusion_weight(tool: str) -> float:
    """How much Evidence from `tool` counts in fusion: its spec's weight, 1.0 for an unknown name."""
    spec = registry().get(tool)
    return spec.weight if spec else 1.0


def text_readers() -> tuple[str, ...]:
    """Return the tools whose Evidence holds lines read from the photo (ocr, zoom)."""
    return tuple(name for name, spec in registry().items() if spec.reads_text)


def text_tools() -> tuple[str, ...]:
    """Return the tools that work on the lines of text read from the photo (text_clues, gazetteer, osm)."""
    return tuple(name for name, spec in registry().items() if "lines" in spec.needs)


def tool_table() -> str:
    """Render the README's tool table (Markdown) from the specs."""
    rows = ["| tool | reads | what it does | offline source |", "|---|---|---|---|"]
    for name, spec in registry().items():
        rows.append(f"| `{name}` | {', '.join(spec.needs)} | {spec.what} | {spec.offline_source} |")
    return "\n".join(rows)
