"""The install itself: the torchvision shim in fresh interpreters, and the wheel (metadata: tests/unit)."""

from __future__ import annotations

import os
import subprocess
import sys


def test_shim_lets_torchvision_easyocr_and_open_clip_import():
    code = (
        "from geosleuth.tools.torch_compat import ensure_torchvision_ops; ensure_torchvision_ops();"
        "import torchvision, easyocr, open_clip; print('imported', torchvision.__version__)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "imported 0.28.0" in done.stdout


def test_shim_is_needed_on_cpu_torch():
    """Guards the shim against rot: without it the pinned CUDA torchvision must still fail on CPU torch."""
    import torch

    if torch.version.cuda is not None:
        return  # on a CUDA torch the shim does nothing and torchvision imports on its own
    done = subprocess.run(
        [sys.executable, "-c", "import torchvision"], capture_output=True, text=True, timeout=300
    )
    assert done.returncode != 0 and "torchvision::nms does not exist" in done.stderr


def test_the_wheel_adds_exactly_one_import_name(tmp_path):
    """Installing geosleuth puts one top-level name, `geosleuth`, into site-packages (and its data)."""
    import zipfile

    from geosleuth.core.paths import source_root
    from geosleuth.tools import registry

    root = source_root()
    done = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
         "-w", str(tmp_path), str(root)], capture_output=True, text=True, timeout=600,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    (wheel,) = tmp_path.glob("geosleuth-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    assert {n.split("/")[0] for n in names if ".dist-info/" not in n} == {"geosleuth"}
    for expected in ("geosleuth/tools/ocr.py", "geosleuth/evals/job.py", "geosleuth/core/data/README.md",
                     "geosleuth/app/static/trace.html", "geosleuth/evals/datasets/im2gps3k-dev.yaml"):
        assert expected in names
    target = tmp_path / "site"
    installed = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--no-deps", "-q", "--target", str(target), str(wheel)],
        capture_output=True, text=True, timeout=600,
    )
    assert installed.returncode == 0, installed.stderr[-2000:]
    code = "import geosleuth.tools as t, geosleuth.app.cli; print(t.__file__, len(t.registry()))"
    probe = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=300, cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(target)},
    )
    assert probe.returncode == 0, probe.stderr[-2000:]
    assert probe.stdout.startswith(str(target)) and probe.stdout.split()[-1] == str(len(registry()))
