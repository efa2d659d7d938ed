"""The scene tool without its model: preprocessing, class names, providers, failures as Evidence."""

from __future__ import annotations

import sys

import numpy as np
import pytest
from PIL import Image

from geosleuth.core.config import Settings
from geosleuth.tools import scene


def test_preprocessing_resizes_the_short_side_centre_crops_and_normalises():
    image = Image.new("RGB", (520, 300), (255, 0, 0))
    image.paste((0, 0, 255), (0, 0, 60, 300))  # a blue strip on the left, cropped away
    x = scene.preprocess(image)
    assert x.shape == (1, 3, 260, 260) and x.dtype == np.float32 and x.flags["C_CONTIGUOUS"]
    red = [(1.0 - scene.MEAN[0]) / scene.STD[0], -scene.MEAN[1] / scene.STD[1], -scene.MEAN[2] / scene.STD[2]]
    assert np.allclose(x[0, :, :, 0], np.array(red, dtype=np.float32)[:, None], atol=1e-5)
    tall = scene.preprocess(Image.new("L", (100, 400), 128))  # grey, upscaled
    assert tall.shape == (1, 3, 260, 260)
    assert np.allclose(tall[0, 1], (128 / 255 - scene.MEAN[1]) / scene.STD[1], atol=1e-5)


def test_the_class_names_are_imagenets_thousand_in_index_order():
    names = scene.class_names()
    assert len(names) == 1000 == len(set(names))
    assert (names[0], names[281], names[967], names[999]) == ("tench", "tabby", "espresso", "toilet tissue")


class FakeOnnxruntime:
    def __init__(self, providers):
        self.providers = providers

    def get_available_providers(self):
        return self.providers


@pytest.mark.parametrize(
    ("device", "available", "expected"),
    [
        ("cpu", ["CUDAExecutionProvider", "CPUExecutionProvider"], ["CPUExecutionProvider"]),
        ("auto", ["CUDAExecutionProvider", "CPUExecutionProvider"],
         ["CUDAExecutionProvider", "CPUExecutionProvider"]),
        ("auto", ["CPUExecutionProvider"], ["CPUExecutionProvider"]),
        ("cuda", ["CUDAExecutionProvider", "CPUExecutionProvider"],
         ["CUDAExecutionProvider", "CPUExecutionProvider"]),
    ],
)
def test_the_device_setting_picks_the_onnxruntime_providers(monkeypatch, device, available, expected):
    monkeypatch.setitem(sys.modules, "onnxruntime", FakeOnnxruntime(available))
    assert scene.execution_providers(device) == expected


def test_cuda_without_a_cuda_provider_is_unavailable_evidence(monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "onnxruntime", FakeOnnxruntime(["CPUExecutionProvider"]))
    found = scene.classify(Image.new("RGB", (64, 64)), Settings(cache_dir=tmp_path, device="cuda"))
    assert not found.ok and found.error.type == "unavailable" and "CUDA provider" in found.error.message


def test_a_failed_build_or_a_missing_package_is_unavailable_evidence_not_an_exception(monkeypatch, tmp_path):
    def broken(weights):
        raise RuntimeError("exporter exploded\nwith a traceback")

    monkeypatch.setattr(scene, "_export", broken)
    monkeypatch.setattr(scene, "_exported", {})  # nothing exported earlier in this process
    settings = Settings(cache_dir=tmp_path, device="cpu")
    found = scene.classify(Image.new("RGB", (64, 64)), settings)
    assert not found.ok and found.error.type == "unavailable" and found.strength == 0.0
    assert found.error.message == "building the ONNX model failed: exporter exploded"
    assert not (tmp_path / "models").exists() or not list((tmp_path / "models").iterdir())

    def missing(weights):
        raise ModuleNotFoundError("No module named 'onnx'")

    monkeypatch.setattr(scene, "_export", missing)
    found = scene.classify(Image.new("RGB", (64, 64)), settings)
    assert found.error.type == "unavailable" and "a package is missing" in found.error.message
    with pytest.raises(scene.SceneUnavailable):
        scene.embedding(Image.new("RGB", (64, 64)), settings)


def test_k_out_of_range_is_bad_input(tmp_path):
    found = scene.classify(Image.new("RGB", (8, 8)), Settings(cache_dir=tmp_path), k=0)
    assert found.error is not None and found.error.type == "bad_input"
