"""The install itself: pinned torch, no CUDA wheels on a CPU machine, the torchvision shim."""

from __future__ import annotations

import subprocess
import sys
from importlib import metadata


def test_install_pulls_no_nvidia_packages():
    nvidia = sorted(
        d.metadata["Name"]
        for d in metadata.distributions()
        if d.metadata["Name"].lower().startswith("nvidia")
    )
    assert nvidia == [], f"the CPU install pulled CUDA wheels: {nvidia}"


def test_torch_is_pinned():
    assert metadata.version("torch").split("+")[0] == "2.13.0"
    assert metadata.version("torchvision").split("+")[0] == "0.28.0"


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
