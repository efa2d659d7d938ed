"""CLIP model loading and zero-shot: tiny random open_clip and transformers models built here, real
loaders, real prompt ensembles and the on-disk text cache (the model-free parts: tests/unit)."""

from __future__ import annotations

import json
import math
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from geosleuth.core.config import Settings
from geosleuth.core.countries import all_countries
from geosleuth.core.paths import source_root
from geosleuth.tools import clip_models
from geosleuth.tools.clip_models import SHARED_MODELS, ClipUnavailable, load_clip, parse_spec, resolve_spec
from geosleuth.tools.clip_zero_shot import (
    class_embeddings,
    clip_zero_shot,
    text_embeddings,
)
from geosleuth.tools.prompts_clip import (
    continent_group,
)

EXAMPLES = source_root() / "examples"


@pytest.fixture(scope="module")
def tiny_open_clip(tmp_path_factory) -> Path:
    """A random tiny open_clip model in open_clip's folder format."""
    return clip_models.save_random_open_clip(tmp_path_factory.mktemp("open_clip") / "tiny")


@pytest.fixture(scope="module")
def tiny_hf(tmp_path_factory) -> Path:
    """A random tiny transformers CLIP, its image processor and a byte-level tokenizer, saved to a folder."""
    from geosleuth.tools.torch_compat import ensure_torchvision_ops

    ensure_torchvision_ops()
    from open_clip.tokenizer import bytes_to_unicode
    from transformers import CLIPConfig, CLIPImageProcessor, CLIPModel, CLIPTokenizer

    folder = tmp_path_factory.mktemp("hf") / "tiny"
    letters = list(bytes_to_unicode().values())
    vocab = {tok: i for i, tok in enumerate([*letters, *(c + "</w>" for c in letters)])}
    vocab |= {"<|startoftext|>": len(vocab), "<|endoftext|>": len(vocab) + 1}
    layers = {"hidden_size": 32, "intermediate_size": 64, "num_attention_heads": 2, "num_hidden_layers": 2}
    config = CLIPConfig(
        text_config=layers
        | {
            "vocab_size": len(vocab),
            "max_position_embeddings": 77,
            "bos_token_id": vocab["<|startoftext|>"],
            "eos_token_id": vocab["<|endoftext|>"],
            "pad_token_id": vocab["<|endoftext|>"],
        },
        vision_config=layers | {"image_size": 32, "patch_size": 8},
        projection_dim=48,
    )
    CLIPModel(config).save_pretrained(folder)
    CLIPTokenizer(vocab=vocab, merges=[]).save_pretrained(folder)
    CLIPImageProcessor(size={"shortest_edge": 32}, crop_size={"height": 32, "width": 32}).save_pretrained(
        folder
    )
    return folder


@pytest.fixture
def photo() -> Image.Image:
    return Image.open(EXAMPLES / "jp_tokyo_shibuya.jpg")


def settings_for(model: Path | str, tmp_path: Path) -> Settings:
    return Settings(clip_model=str(model), cache_dir=tmp_path / "cache", device="cpu")


# --- model resolution ---------------------------------------------------------------------------------


def test_specs_cover_open_clip_names_hf_names_folders_and_prefixes(tiny_open_clip, tiny_hf, tmp_path):
    assert parse_spec("ViT-B-32/laion2b_s34b_b79k").name == "open_clip:ViT-B-32/laion2b_s34b_b79k"
    assert parse_spec("openai/clip-vit-large-patch14").name == "hf:openai/clip-vit-large-patch14"
    assert parse_spec("hf:openai/clip-vit-base-patch32").backend == "hf"
    assert parse_spec("open_clip:ViT-L-14/openai").model == "ViT-L-14"
    assert parse_spec(str(tiny_open_clip)).model == f"local-dir:{tiny_open_clip}"
    assert parse_spec(str(tiny_hf)) == clip_models.ModelSpec("hf", str(tiny_hf))
    weights = tmp_path / "ViT-B-16-mine.safetensors"
    weights.write_bytes(b"")
    assert parse_spec(str(weights)) == clip_models.ModelSpec("open_clip", "ViT-B-16", str(weights))
    (tmp_path / "empty").mkdir()
    with pytest.raises(ClipUnavailable, match="holds no CLIP model"):
        parse_spec(str(tmp_path / "empty"))


def test_without_a_setting_the_first_model_in_shared_models_is_used(tiny_open_clip, tmp_path):
    shared = tmp_path / "models"
    shared.mkdir()
    (shared / "README.txt").write_text("not a model")
    assert resolve_spec(Settings(), shared) is None
    (shared / "b").symlink_to(tiny_open_clip)
    assert resolve_spec(Settings(), shared).model == f"local-dir:{tiny_open_clip}"
    assert resolve_spec(Settings(clip_model="hf:x/y"), shared).name == "hf:x/y"


def test_the_unavailable_answer_imports_no_torch(tmp_path):
    if resolve_spec(Settings()) is not None:
        pytest.skip(f"{SHARED_MODELS} holds a model, so one is configured")
    code = (
        "import sys; from PIL import Image; from geosleuth.core.config import Settings;"
        "from geosleuth.tools.clip_zero_shot import clip_zero_shot;"
        "from geosleuth.tools.retrieval import retrieve;"
        "from geosleuth.tools.geoclip_tool import geoclip_locate;"
        f"s = Settings(cache_dir={str(tmp_path)!r}, retrieval_index={str(tmp_path)!r});"
        "im = Image.new('RGB', (8, 8));"
        "kinds = [f(im, s).error.type for f in (clip_zero_shot, retrieve, geoclip_locate)];"
        "assert kinds == ['unavailable'] * 3, kinds; assert 'torch' not in sys.modules, 'torch imported'"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=EXAMPLES.parent)


def test_a_broken_model_folder_is_unavailable_with_the_reason(photo, tmp_path):
    folder = tmp_path / "broken"
    folder.mkdir()
    (folder / "open_clip_config.json").write_text("{not json")
    evidence = clip_zero_shot(photo, settings_for(folder, tmp_path))
    assert evidence.error.type == "unavailable" and "cannot load CLIP model" in evidence.error.message


@pytest.mark.parametrize("kind", ["tiny_open_clip", "tiny_hf"])
def test_both_backends_embed_images_and_texts_into_unit_vectors(kind, photo, tmp_path, request):
    model = load_clip(settings_for(request.getfixturevalue(kind), tmp_path))
    images = model.encode_images([photo, photo.convert("L"), photo.rotate(90)], batch_size=2)
    texts = model.encode_texts(["a street in Japan", "a street in France"])
    assert images.shape == (3, model.dim) and texts.shape == (2, model.dim)
    assert images.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(images, axis=1), 1.0, rtol=1e-5)
    assert not np.allclose(texts[0], texts[1])  # different prompts, different embeddings
    np.testing.assert_allclose(
        images[0], model.encode_images([photo])[0], atol=1e-5
    )  # batching changes nothing
    assert model.logit_scale > 1 and not model.is_vit_l14


def test_a_model_is_loaded_once_per_process(tiny_open_clip, tmp_path):
    settings = settings_for(tiny_open_clip, tmp_path)
    assert load_clip(settings) is load_clip(settings)


@pytest.mark.parametrize("offline", [False, True])
def test_hf_offline_loads_from_the_local_cache_only(offline, tmp_path, monkeypatch):
    from transformers import CLIPModel

    asked = []

    def refuse(name, **kwargs):
        asked.append(kwargs.get("local_files_only"))
        raise OSError(f"{name} is not in the local cache")

    monkeypatch.setattr(CLIPModel, "from_pretrained", refuse)
    settings = Settings(clip_model=f"hf:org/not-cached-{offline}", hf_offline=offline, cache_dir=tmp_path)
    with pytest.raises(ClipUnavailable, match="not in the local cache"):
        load_clip(settings)
    assert asked == [offline]


# --- the text-embedding cache and the tool -------------------------------------------------------------


def test_text_embeddings_are_cached_on_disk(tiny_open_clip, tmp_path):
    model = load_clip(settings_for(tiny_open_clip, tmp_path))
    prompts = ["a photo taken in Peru.", "a photo taken in Chile."]
    before = model.text_batches_encoded
    first = text_embeddings(model, prompts, tmp_path)
    assert model.text_batches_encoded == before + 1
    files = list((tmp_path / "clip-text").glob("*.npy"))
    assert len(files) == 1
    stamp = files[0].stat().st_mtime_ns
    time.sleep(0.01)
    second = text_embeddings(model, prompts, tmp_path)
    assert model.text_batches_encoded == before + 1  # read from disk, the encoder did not run
    assert files[0].stat().st_mtime_ns == stamp
    np.testing.assert_array_equal(first, second)
    text_embeddings(model, [*prompts, "a photo taken in Bolivia."], tmp_path)  # other prompts, other file
    assert len(list((tmp_path / "clip-text").glob("*.npy"))) == 2


def test_class_embeddings_are_ensembles_of_the_cached_prompts(tiny_open_clip, tmp_path):
    model = load_clip(settings_for(tiny_open_clip, tmp_path))
    classes, matrix = class_embeddings(model, continent_group(), tmp_path)
    assert classes == list(continent_group().prompts)
    prompts = continent_group().prompts["EU"]
    direct = model.encode_texts(list(prompts)).mean(axis=0)
    np.testing.assert_allclose(matrix[classes.index("EU")], direct / np.linalg.norm(direct), atol=1e-5)


@pytest.mark.parametrize("kind", ["tiny_open_clip", "tiny_hf"])
def test_zero_shot_returns_a_distribution_over_iso2_codes(kind, photo, tmp_path, request):
    settings = settings_for(request.getfixturevalue(kind), tmp_path)
    evidence = clip_zero_shot(photo, settings)
    assert evidence.ok, evidence.error
    dist = evidence.country_likelihoods
    assert set(dist) == set(all_countries())
    assert math.isclose(sum(dist.values()), 1.0, rel_tol=1e-9)
    assert 0 < evidence.strength < 1
    obs = evidence.observations
    assert obs["top_countries"][0][0] == max(dist, key=dist.get)
    assert set(obs["scene"]) == {"setting", "biome", "architecture", "road markings", "localizable"}
    assert 0 <= obs["localizable"] <= 1
    json.dumps(evidence.model_dump(mode="json"))  # traces store it
    model = load_clip(settings)
    encoded = model.text_batches_encoded
    again = clip_zero_shot(photo, settings)
    assert model.text_batches_encoded == encoded  # all prompts came from the disk cache
    assert again.country_likelihoods == pytest.approx(dist)


@pytest.mark.slow
def test_zero_shot_with_real_weights_from_shared_models(photo, tmp_path):
    spec = resolve_spec(Settings())
    if spec is None:
        pytest.skip(f"no CLIP weights in {SHARED_MODELS}")
    evidence = clip_zero_shot(photo, Settings(cache_dir=tmp_path))
    assert evidence.ok and math.isclose(sum(evidence.country_likelihoods.values()), 1.0)


def test_the_fingerprint_follows_the_weights_files(tiny_open_clip, tmp_path):
    spec = parse_spec(str(tiny_open_clip))
    assert [p.name for p in spec.local_files()] == ["open_clip_config.json", "open_clip_pytorch_model.bin"]
    assert parse_spec("hf:org/name").local_files() == []  # a name, not files (and never the working folder)
    copy = tmp_path / "copy"
    copy.mkdir()
    for path in spec.local_files():
        (copy / path.name).write_bytes(path.read_bytes())
    before = parse_spec(str(copy)).fingerprint()
    (copy / "open_clip_pytorch_model.bin").write_bytes(b"other weights")
    assert parse_spec(str(copy)).fingerprint() != before
