"""The scene tool on the real EfficientNet-Lite2 weights: known photos, ONNX against torch, the cache file.

The ONNX model is exported once per test session into one module-scoped cache folder.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import sys
import textwrap

import numpy as np
import pytest
from PIL import Image
from skimage import data

from geosleuth.core.config import Settings
from geosleuth.core.photo import load_photo
from geosleuth.core.state import Belief, Evidence
from geosleuth.tools import get_spec, scene
from geosleuth.tools.localizability import localizability
from geosleuth.tools.spec import ToolCall

CATS = {"tabby", "tiger cat", "Persian cat", "Siamese cat", "Egyptian cat"}  # ImageNet classes 281-285


@pytest.fixture(scope="module")
def settings(tmp_path_factory) -> Settings:
    """Settings whose cache holds the ONNX model, exported once for this module."""
    settings = Settings(cache_dir=tmp_path_factory.mktemp("scene-cache"), device="cpu")
    scene.build_model(settings)
    return settings


def chelsea() -> Image.Image:
    return Image.fromarray(data.chelsea())  # a tabby cat


def coffee() -> Image.Image:
    return Image.fromarray(data.coffee())  # a cup of espresso on a saucer


@pytest.mark.parametrize(
    ("photo", "expected", "least"), [(chelsea, "tabby", 0.05), (coffee, "espresso", 0.5)]
)
def test_photos_with_a_known_answer_get_their_imagenet_class(settings, photo, expected, least):
    found = scene.classify(photo(), settings)
    assert found.ok and found.tool == "scene", found.summary
    labels = dict(found.observations["labels"])
    assert len(labels) == 5 and expected in list(labels)[:3], found.summary
    assert least <= labels[expected] <= 1.0
    if expected == "tabby":
        top, p = found.observations["labels"][0]
        assert top in CATS and p > 0.3, found.summary
    assert found.summary.startswith("scene: ") and expected in found.summary
    assert found.strength == 0.0 and found.country_likelihoods == {}  # a cat or a cup says no country
    assert found.observations["indicative"] == []
    assert found.observations["model"] == "efficientnet-lite2"
    assert found.observations["device"] == "CPUExecutionProvider"
    assert found.observations["onnx"] == scene.model_path(settings).name


def test_onnx_matches_torch_on_the_same_input(settings):
    import torch
    from efficientnet_lite_pytorch import EfficientNet

    net = EfficientNet.from_pretrained("efficientnet-lite2", weights_path=str(scene.weights_file())).eval()
    batch = np.concatenate([scene.preprocess(chelsea()), scene.preprocess(coffee())])
    with torch.inference_mode():
        x = torch.from_numpy(batch)
        logits = net(x).numpy()  # the package's own forward
        pooled = torch.flatten(net._avg_pooling(net.extract_features(x)), 1).numpy()
    onnx_logits, onnx_pooled = scene.load_model(settings).forward(batch)  # a batch of two: dynamic axis
    assert onnx_logits.shape == (2, 1000) and onnx_pooled.shape == (2, 1280)
    assert np.abs(onnx_logits - logits).max() < 1e-4
    assert np.abs(onnx_pooled - pooled).max() < 1e-4


def test_the_onnx_file_is_named_by_the_weights_and_checked_by_its_sidecar(settings):
    path = scene.model_path(settings)
    assert path.parent == settings.cache_dir / "models"
    assert path.name == f"efficientnet-lite2-{scene.weights_sha256()[:16]}.onnx"
    assert scene.weights_file().name.startswith(f"efficientnet-lite2-{scene.weights_sha256()[:8]}")
    record = json.loads(path.with_name(path.name + ".json").read_text())
    assert record["sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()
    assert not list(path.parent.glob("*.tmp"))  # written atomically, nothing left behind


def test_a_damaged_or_mismatched_onnx_file_is_rebuilt(settings, tmp_path, monkeypatch):
    good = scene.model_path(settings)
    copy = Settings(cache_dir=tmp_path, device="cpu")
    path = scene.model_path(copy)
    path.parent.mkdir(parents=True)
    sidecar = path.with_name(path.name + ".json")
    shutil.copy(good, path)
    shutil.copy(good.with_name(good.name + ".json"), sidecar)
    original = path.read_bytes()
    path.write_bytes(original[: len(original) // 2])  # damaged: truncated
    rebuilt = scene.build_model(copy)  # rewritten from the export
    assert hashlib.sha256(rebuilt).digest() == hashlib.sha256(path.read_bytes()).digest()
    assert json.loads(sidecar.read_text())["sha256"] == hashlib.sha256(rebuilt).hexdigest()
    assert len(rebuilt) == len(original)
    assert scene.classify(chelsea(), copy).ok  # and it loads (a new session: another path)

    exports = []
    monkeypatch.setattr(scene, "_export", lambda weights: exports.append(weights) or original)
    other = copy.model_copy(update={"cache_dir": tmp_path / "another-cache"})
    assert scene.build_model(other) == rebuilt and exports == []  # a new cache gets this process's export
    assert scene.built_model(other) == scene.model_path(other)
    monkeypatch.setattr(scene, "_exported", {})
    assert scene.build_model(copy) == rebuilt and exports == []  # intact: no export
    sidecar.write_text(json.dumps({"sha256": "0" * 64}))  # mismatched
    assert scene.build_model(copy) == original and len(exports) == 1
    sidecar.unlink()  # no record
    scene._exported.clear()
    scene.build_model(copy)
    assert len(exports) == 2 and sidecar.is_file()


def test_the_embedding_is_a_unit_1280_vector_that_tells_photos_apart(settings):
    cat = scene.embedding(chelsea(), settings)
    assert cat.shape == (1280,) and cat.dtype == np.float32
    assert abs(float(np.linalg.norm(cat)) - 1.0) < 1e-5
    same = scene.embedding(chelsea().transpose(Image.Transpose.FLIP_LEFT_RIGHT).resize((300, 200)), settings)
    other = scene.embedding(coffee(), settings)
    assert float(cat @ same) > float(cat @ other) + 0.2


def test_the_tool_runs_through_the_registry_on_a_loaded_photo(settings, tmp_path):
    path = tmp_path / "cat.png"
    chelsea().save(path)
    spec = get_spec("scene")
    found = spec.run(ToolCall(settings=Settings(cache_dir=settings.cache_dir), photo=load_photo(path)))
    assert found.ok, found.summary
    assert [name for name, _ in found.observations["labels"]][0] in CATS
    assert spec.needs == ("photo",) and spec.cue == "scene"
    json.dumps(found.model_dump(mode="json"))  # traces store it as JSON


def rocket() -> Image.Image:
    return Image.fromarray(data.rocket())  # a Falcon 9 on its pad at Cape Canaveral


def test_a_pet_or_a_cup_reads_as_a_close_up_and_lowers_localizability_an_outdoor_scene_does_not(settings):
    cat, cup, pad = (scene.classify(photo(), settings) for photo in (chelsea, coffee, rocket))
    for close in (cat, cup):
        assert close.observations["closeup"] > 0.7 and close.observations["localizable"] < 0.05, close.summary
        assert close.summary.endswith("; a close-up (pet, food or object)")
    assert pad.observations["closeup"] < 0.1 and pad.observations["localizable"] > 0.1, pad.summary
    assert "close-up" not in pad.summary
    text = Evidence(tool="text_clues", country_likelihoods={"US": 0.9, "CA": 0.1}, strength=0.6)
    belief = Belief.from_prior({"US": 1.0, "CA": 1.0})
    with_cat, alone, with_pad = (localizability(seen, belief) for seen in ([text, cat], [text], [text, pad]))
    assert with_cat < 0.8 * alone and alone < with_pad


def test_running_a_built_model_does_not_import_torch(settings):
    code = textwrap.dedent(f"""
        import sys
        from pathlib import Path
        from skimage import data
        from PIL import Image
        from geosleuth.core.config import Settings
        from geosleuth.tools.scene import classify
        settings = Settings(cache_dir=Path({str(settings.cache_dir)!r}))
        found = classify(Image.fromarray(data.coffee()), settings)
        assert found.ok, found.summary
        print("torch" in sys.modules, found.observations["labels"][0][0])
    """)
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.split() == ["False", "espresso"]


def test_on_cuda_the_labels_match_the_cpu(settings):
    import onnxruntime

    if "CUDAExecutionProvider" not in onnxruntime.get_available_providers():
        pytest.skip("onnxruntime has no CUDA provider here (install onnxruntime-gpu on a GPU machine)")
    gpu = settings.model_copy(update={"device": "cuda"})
    on_gpu, on_cpu = scene.classify(coffee(), gpu), scene.classify(coffee(), settings)
    assert on_gpu.ok and on_gpu.observations["device"] == "CUDAExecutionProvider", on_gpu.summary
    assert on_gpu.observations["labels"][0][0] == on_cpu.observations["labels"][0][0]
    assert abs(on_gpu.observations["labels"][0][1] - on_cpu.observations["labels"][0][1]) < 0.02
    assert float(scene.embedding(coffee(), gpu) @ scene.embedding(coffee(), settings)) > 0.999
