"""examples/make_examples.py rerun with this machine's fonts: deterministic, and the shipped examples match.

Two renders on one machine give the same bytes. Across machines a font or JPEG library release may
move a few anti-aliased pixels by a level or two, so the shipped files are compared by their pixels.
"""

import csv
import importlib.util

import numpy as np
import pytest
from PIL import Image

from geosleuth.core.paths import source_root
from geosleuth.evals.scenes import FontMissingError

ROOT = source_root()


def test_make_examples_is_deterministic_and_labelled(tmp_path):
    spec = importlib.util.spec_from_file_location("make_examples", ROOT / "examples" / "make_examples.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    try:
        paths = module.main(tmp_path)
    except FontMissingError as exc:
        pytest.skip(str(exc))
    assert 4 <= len(paths) <= 6
    rows = list(csv.DictReader(open(tmp_path / "labels.csv", encoding="utf-8")))
    assert [r["file"] for r in rows] == [p.name for p in paths]
    for path, row in zip(paths, rows):
        with Image.open(path) as img:
            assert img.format == "JPEG" and 0.8e6 <= img.width * img.height <= 1.3e6
        assert 50_000 <= path.stat().st_size <= 300_000
        assert -90 <= float(row["lat"]) <= 90 and -180 <= float(row["lon"]) <= 180
        assert len(row["country_code"]) == 2 and row["base_licence"]
        shipped = ROOT / "examples" / path.name
        if shipped.exists():
            with Image.open(shipped) as old, Image.open(path) as new:
                diff = np.abs(np.asarray(old.convert("RGB"), float) - np.asarray(new.convert("RGB"), float))
            assert diff.mean() < 0.05 and diff.max() <= 16, f"{shipped} is stale: rerun make_examples.py"
    (tmp_path / "again").mkdir()
    again = module.main(tmp_path / "again")
    assert [p.read_bytes() for p in again] == [p.read_bytes() for p in paths], "not deterministic"
