"""The country table's on-disk cache, across fresh interpreters (the table itself: tests/unit)."""

from __future__ import annotations

import os
import subprocess
import sys

from geosleuth.core.countries import all_countries
from geosleuth.core.paths import source_root

ROOT = source_root()


def test_table_is_cached_on_disk_and_reloads_the_same(tmp_path):
    code = (
        "import time; t = time.perf_counter(); from geosleuth.core.countries import all_countries; "
        "table = all_countries(); print(time.perf_counter() - t, len(table), table['JP'].drives_on)"
    )
    env = {**os.environ, "XDG_CACHE_HOME": str(tmp_path)}
    command = [sys.executable, "-c", code]  # run twice: the first builds the pickle, the second loads it
    runs = [
        subprocess.run(command, env=env, cwd=ROOT, capture_output=True, text=True, check=True) for _ in "12"
    ]
    assert len(list((tmp_path / "geosleuth").glob("countries-*.pickle"))) == 1
    (first, n1, side1), (second, n2, side2) = (run.stdout.split() for run in runs)
    assert n1 == n2 == str(len(all_countries())) and side1 == side2 == "left"
    assert float(second) < 1.0
