"""The install itself, from its metadata: pinned torch, no CUDA wheels on a CPU machine."""

from __future__ import annotations

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
