"""geosleuth: work out where a photo was taken by reading, looking and checking, then committing.

The package is layered, each layer importing only those below it (docs/architecture.md):
`geosleuth.core` (the Evidence/Belief/Guess vocabulary, settings, geography, photo loading),
`geosleuth.tools` (one module per tool, each with its ToolSpec), `geosleuth.run` (fusion, the agent
graph, planners, LLM backends, traces), `geosleuth.evals` (datasets, runner, metrics, reports) and
`geosleuth.app` (the command line, bench suites, doctor and viewers).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from geosleuth.evals.batch import PhotoRecord, locate, locate_many
    from geosleuth.run.locate import LocateResult

__all__ = ["LocateResult", "PhotoRecord", "locate", "locate_many"]

_LAZY = {
    "locate": "geosleuth.evals.batch",
    "locate_many": "geosleuth.evals.batch",
    "PhotoRecord": "geosleuth.evals.batch",
    "LocateResult": "geosleuth.run.locate",
}
"""The public API, by the module that defines each name; imported on first use, so `import geosleuth`
stays light (`locate(photo)` returns a LocateResult, `locate_many(paths)` a batch of PhotoRecords)."""


def __getattr__(name: str) -> Any:
    """Import a public API name on first use."""
    if name not in _LAZY:
        raise AttributeError(f"module 'geosleuth' has no attribute {name!r}")
    return getattr(importlib.import_module(_LAZY[name]), name)
