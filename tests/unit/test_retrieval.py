"""Retrieval without a model: neighbour weights, label files, photo folders, the vector index (flat and
IVF-PQ on synthetic clustered vectors), the embedder choice (indexes of real photos: tests/integration)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from geosleuth.app.bench_index import Mixture
from geosleuth.core.paths import source_root
from geosleuth.tools.embedders import resolve_name
from geosleuth.tools.retrieval import (
    FORMAT_VERSION,
    SMOOTHING,
    Neighbour,
    RetrievalError,
    RetrievalIndex,
    agreed_points,
    country_likelihoods,
    folder_entries,
    neighbour_weights,
    photo_suffixes,
    read_labels,
    write_index,
)
from geosleuth.tools.vector_index import VectorIndex, build, ivf_pq_params

EXAMPLES = source_root() / "examples"


def test_neighbour_weights_are_a_softmax_of_similarities():
    near = [Neighbour("a", 0, 0, None, 0.9), Neighbour("b", 0, 0, None, 0.8)]
    weights = neighbour_weights(near, temperature=0.1)
    assert weights[0] / weights[1] == pytest.approx(np.exp(1.0))
    assert sum(weights) == pytest.approx(1.0)


def test_a_vote_counts_only_above_the_countrys_share_of_the_gallery():
    shares = {"US": 0.4, "JP": 0.1, "FR": 0.5}
    likes = country_likelihoods({"US": 0.4, "JP": 0.6}, shares)
    assert likes["US"] == pytest.approx(1.0)  # voted as often as the gallery holds it: no news
    assert likes["JP"] == pytest.approx((0.6 + SMOOTHING) / (0.1 + SMOOTHING))  # 3.5x
    assert likes["FR"] == pytest.approx(SMOOTHING / (0.5 + SMOOTHING))  # common, yet no vote
    assert likes["NZ"] == 1.0  # not in the gallery: it can say nothing
    assert max(country_likelihoods({"JP": 1.0}, {"JP": 0.0}).values()) == pytest.approx(1 + 1 / SMOOTHING)


def test_only_points_most_of_the_neighbours_agree_on_are_proposed():
    paris, near_paris, tokyo = (48.85, 2.35), (48.9, 2.3), (35.68, 139.69)
    near = [Neighbour("a", *paris, "FR", 0.9), Neighbour("b", *near_paris, "FR", 0.9),
            Neighbour("c", *tokyo, "JP", 0.9)]
    points = agreed_points(near, [0.4, 0.3, 0.3])
    assert [p.label.split()[2] for p in points] == ["a", "b"]  # 0.7 of the weight within 50 km
    assert agreed_points(near, [0.2, 0.2, 0.6])[0].country_code == "JP"
    assert agreed_points(near, [0.3, 0.15, 0.45]) == []  # scattered: no place named


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("file,lat\nx.jpg,1\n", "missing column"),
        ("file,lat,lon\nfr_paris_cafe_de_flore.jpg,north,2\n", "are not numbers"),
        ("file,lat,lon\nfr_paris_cafe_de_flore.jpg,95,2\n", "out of range"),
        ("file,lat,lon\nnope.jpg,1,2\n", "does not exist"),
        ("file,lat,lon\n", "no rows"),
    ],
)
def test_bad_labels_are_refused_with_the_line(content, message, tmp_path):
    path = tmp_path / "labels.csv"
    path.write_text(content)
    with pytest.raises(RetrievalError, match=message):
        read_labels(path, EXAMPLES)


def mixture(count: int, dim: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """`count` clustered unit vectors and 50 queries from the same mixture (the index bench's sets)."""
    sets = Mixture(count, dim, seed=seed)
    return sets.draw(count), sets.draw(50)


@pytest.fixture(scope="module")
def ivf(tmp_path_factory) -> tuple[Path, dict, np.ndarray, np.ndarray]:
    """An IVF-PQ index (the flat limit lowered to 1,000) of 10,000 clustered 256-d vectors."""
    vectors, queries = mixture(10_000, 256)
    folder = tmp_path_factory.mktemp("ivf")
    params = build(vectors, folder, flat_limit=1_000)
    return folder, params, vectors, queries


def exact_top(vectors: np.ndarray, queries: np.ndarray, k: int) -> np.ndarray:
    return np.argsort(-(queries @ vectors.T), axis=1, kind="stable")[:, :k]


def test_past_the_flat_limit_the_index_is_ivf_pq_with_recorded_parameters(ivf):
    folder, params, vectors, _ = ivf
    assert params == ivf_pq_params(10_000, 256)
    assert params["kind"] == "ivf_pq" and params["nbits"] == 8 and params["m"] == 256 // 8
    assert params["nlist"] == 10_000 // 40  # 4 * sqrt(n) = 400 lists would leave some without training points
    assert params["nprobe"] == 16 and params["train_size"] == 10_000
    assert {p.name for p in folder.iterdir()} == {"index.faiss", "vectors.npy"}
    assert ivf_pq_params(1_000_000, 1280) | {"count": 0} == ivf_pq_params(0, 1280) | {
        "count": 0, "nlist": 4000, "nprobe": 125, "train_size": 100_000, "m": 160,
    }


def test_ivf_pq_with_exact_re_ranking_finds_the_flat_top_10(ivf):
    folder, params, vectors, queries = ivf
    index = VectorIndex(folder, params)
    scores, ids = index.search(queries, 10)
    exact = exact_top(vectors, queries, 10)
    recall = np.mean([len(set(found) & set(true)) / 10 for found, true in zip(ids, exact, strict=True)])
    assert recall >= 0.9
    assert np.all(np.diff(scores, axis=1) <= 0)  # best first
    true_scores = np.einsum("qd,qkd->qk", queries, vectors[ids])
    assert np.abs(scores - true_scores).max() < 2e-3  # exact (float16) scores, not PQ estimates


def test_ivf_pq_negatives_are_among_the_least_similar_entries(ivf):
    folder, params, vectors, queries = ivf
    scores, far = VectorIndex(folder, params).search(-queries, 4)
    similarity = queries @ vectors.T
    rank = np.argsort(np.argsort(similarity, axis=1), axis=1)  # 0: the least similar entry
    found = np.take_along_axis(rank, far, axis=1)
    assert found.max() < 0.01 * len(vectors)  # approximate, but always in the least similar 1 %
    assert np.allclose(-scores, np.take_along_axis(similarity, far, axis=1), atol=2e-3)


def test_both_layouts_are_memory_mapped(ivf, tmp_path):
    folder, params, vectors, _ = ivf
    flat = build(vectors[:500], tmp_path / "flat")
    assert flat == {"kind": "flat", "metric": "inner_product", "count": 500, "dim": 256}
    opened = [VectorIndex(folder, params), VectorIndex(tmp_path / "flat", flat)]
    assert [index.ntotal for index in opened] == [10_000, 500]
    maps = Path("/proc/self/maps").read_text()
    for path in (folder / "index.faiss", folder / "vectors.npy", tmp_path / "flat" / "index.faiss"):
        assert str(path) in maps, path


def test_an_ivf_pq_retrieval_index_finds_an_entry_first(tmp_path):
    vectors, _ = mixture(3_000, 32)
    points = [(f"p{i}.jpg", i % 90, i % 180, None) for i in range(len(vectors))]
    meta = {"format_version": FORMAT_VERSION, "embedder": "t", "fingerprint": "f", "dim": 32, "count": 3_000}
    write_index(tmp_path / "index", vectors, points, meta, flat_limit=1_000)
    index = RetrievalIndex(tmp_path / "index")
    assert index.meta["vectors"]["kind"] == "ivf_pq" and index.meta["count"] == 3_000
    for i in (0, 1234, 2_999):
        first = index.search(vectors[i], k=3)[0]
        assert first.file == f"p{i}.jpg" and first.similarity == pytest.approx(1.0, abs=2e-3)
    assert len(index.farthest(vectors[0], k=4)) == 4


def test_a_folder_lists_its_photos_recursively_without_hidden_files(tmp_path):
    for name in ("a.jpg", "b/c.PNG", "b/d/e.heic", "f.txt", ".hidden/g.jpg", "b/.h.jpg"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_bytes(b"x")
    entries = folder_entries(tmp_path)
    assert [e.name for e in entries] == ["a.jpg", "b/c.PNG", "b/d/e.heic"]
    assert all(e.point is None and e.country_code is None for e in entries)  # located by their EXIF
    assert {".jpg", ".jpeg", ".png", ".tif", ".tiff", ".webp", ".heic"} <= photo_suffixes()
    (tmp_path / "text").mkdir()
    (tmp_path / "text" / "notes.txt").write_text("no photo here")
    with pytest.raises(RetrievalError, match="holds no photos"):
        folder_entries(tmp_path / "text")
    with pytest.raises(RetrievalError, match="is not a folder"):
        folder_entries(tmp_path / "a.jpg")


def test_labels_become_entries_at_their_coordinates():
    (first, *_) = read_labels(EXAMPLES / "labels.csv", EXAMPLES)
    assert first.path == EXAMPLES / first.name and first.point is not None and first.country_code


def test_the_embedder_setting_resolves_auto_by_the_clip_setting():
    from geosleuth.core.config import Settings

    assert resolve_name(Settings()) == "efficientnet-lite2"
    assert resolve_name(Settings(clip_model="hf:x/y")) == "clip"
    assert resolve_name(Settings(clip_model="hf:x/y", retrieval_embedder="efficientnet-lite2")) == (
        "efficientnet-lite2"
    )
    assert resolve_name(Settings(), "clip") == "clip"
    with pytest.raises(ValueError, match="unknown embedder 'resnet'"):
        resolve_name(Settings(), "resnet")
