"""GeoCLIP: the shipped GPS gallery, location encoder and image head, for real and offline; the
"needs CLIP ViT-L/14" answer without such a model."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from geosleuth.core.config import Settings
from geosleuth.core.geo import distance_km
from geosleuth.core.paths import source_root
from geosleuth.tools.clip_models import SHARED_MODELS, load_clip, resolve_spec, save_random_open_clip
from geosleuth.tools.geoclip_tool import (
    NEEDS,
    gallery_coordinates,
    gallery_embeddings,
    geoclip_locate,
    image_embedding,
    location_embeddings,
    rank_gallery,
)

EXAMPLES = source_root() / "examples"
PLACES = {
    "Paris": (48.8566, 2.3522),
    "Tokyo": (35.6762, 139.6503),
    "Nairobi": (-1.2921, 36.8219),
    "Lima": (-12.0464, -77.0428),
    "Sydney": (-33.8688, 151.2093),
}


@pytest.fixture(scope="module")
def gallery(tmp_path_factory) -> tuple[np.ndarray, np.ndarray]:
    """Every 25th point of GeoCLIP's gallery (4,000 points) and their location embeddings."""
    coords = gallery_coordinates()[::25]
    return coords, gallery_embeddings(tmp_path_factory.mktemp("cache"), coords)


def test_the_wheel_ships_a_100k_gps_gallery():
    coords = gallery_coordinates()
    assert coords.shape == (100_000, 2)
    assert np.all(np.abs(coords[:, 0]) <= 90) and np.all(np.abs(coords[:, 1]) <= 180)


@pytest.mark.parametrize("place", sorted(PLACES))
def test_a_location_embedding_ranks_gallery_points_near_that_place_first(place, gallery):
    coords, vectors = gallery
    lat, lon = PLACES[place]
    query = location_embeddings(np.array([[lat, lon]], dtype=np.float32))[0]
    ranked = rank_gallery(query, vectors, coords, k=5)
    nearest = min(distance_km(lat, lon, float(a), float(b)) for a, b in coords)
    assert distance_km(lat, lon, ranked[0][0], ranked[0][1]) < nearest + 300  # the trained encoder is local
    probs = [p for _a, _b, p in ranked]
    assert probs == sorted(probs, reverse=True) and 0 < sum(probs) <= 1


def test_gallery_embeddings_are_unit_vectors_cached_on_disk(tmp_path):
    coords = gallery_coordinates()[:300]
    first = gallery_embeddings(tmp_path, coords)
    assert first.shape == (300, 512)
    np.testing.assert_allclose(np.linalg.norm(first, axis=1), 1.0, rtol=1e-5)
    (cached,) = (tmp_path / "geoclip").glob("gallery-*.npy")
    stamp = cached.stat().st_mtime_ns
    again = gallery_embeddings(tmp_path, coords)
    assert cached.stat().st_mtime_ns == stamp
    np.testing.assert_allclose(again, first, atol=2e-3)  # float16 on disk


def test_the_image_head_maps_vit_l14_features_to_unit_512d_vectors():
    features = np.random.default_rng(0).normal(size=(2, 768)).astype(np.float32)
    out = image_embedding(features)
    assert out.shape == (2, 512)
    np.testing.assert_allclose(np.linalg.norm(out, axis=1), 1.0, rtol=1e-5)


def test_without_a_vit_l14_geoclip_is_unavailable(tmp_path):
    photo = Image.open(EXAMPLES / "fr_paris_cafe_de_flore.jpg")
    if resolve_spec(Settings()) is None:
        evidence = geoclip_locate(photo, Settings(cache_dir=tmp_path))
        assert evidence.error.type == "unavailable" and evidence.summary.startswith(NEEDS)
        assert evidence.strength == 0
    tiny = save_random_open_clip(tmp_path / "tiny")
    evidence = geoclip_locate(photo, Settings(clip_model=str(tiny), cache_dir=tmp_path, device="cpu"))
    assert evidence.error.type == "unavailable" and evidence.summary.startswith(NEEDS)
    assert "is another model" in evidence.summary


@pytest.mark.slow
def test_geoclip_with_real_vit_l14_weights(tmp_path):
    spec = resolve_spec(Settings())
    if spec is None:
        pytest.skip(f"no CLIP weights in {SHARED_MODELS}")
    settings = Settings(cache_dir=tmp_path)
    if not load_clip(settings).is_vit_l14:
        pytest.skip(f"the model in {SHARED_MODELS} is not a ViT-L/14")
    evidence = geoclip_locate(Image.open(EXAMPLES / "fr_paris_cafe_de_flore.jpg"), settings)
    assert evidence.ok and len(evidence.candidates) == 10
