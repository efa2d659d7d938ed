"""examples/make_examples.py rerun with this machine's fonts: the files must match the shipped examples."""

import csv
import importlib.util

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
            assert shipped.read_bytes() == path.read_bytes(), f"{shipped} is stale: rerun make_examples.py"
