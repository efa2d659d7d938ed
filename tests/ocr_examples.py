"""The shipped example photos with the sign lines examples/make_examples.py drew on them, by script."""

from __future__ import annotations

import csv
import importlib.util
from typing import Any

from geosleuth.core.paths import source_root
from geosleuth.evals.scenes import script_of

EXAMPLES = source_root() / "examples"
LATIN_CJK = ("Latin", "Han", "Japanese")  # scripts rapidocr reads by itself


def _examples() -> list[dict[str, Any]]:
    """The shipped example photos: labels.csv rows with the sign lines make_examples.py drew."""
    spec = importlib.util.spec_from_file_location("make_examples", EXAMPLES / "make_examples.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    lines = {ex["file"]: ex["lines"] for ex in module.EXAMPLES}
    with open(EXAMPLES / "labels.csv", encoding="utf-8") as fh:
        return [{**row, "lines": lines[row["file"]]} for row in csv.DictReader(fh)]


def _scripts(lines: list[str]) -> set[str]:
    return {script_of(line) for line in lines if any(ch.isalpha() for ch in line)}


ALL_EXAMPLES = _examples()
PLAIN_EXAMPLES = [ex for ex in ALL_EXAMPLES if _scripts(ex["lines"]) <= set(LATIN_CJK)]
OTHER_EXAMPLES = [ex for ex in ALL_EXAMPLES if ex not in PLAIN_EXAMPLES]
