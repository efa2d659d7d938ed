"""CLIP zero-shot without a model: prompt groups, ensembles, calibration, and the "unavailable" answer.

Tiny random open_clip and transformers models, the real loaders and the text cache: tests/integration.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from PIL import Image

from geosleuth.core.config import Settings
from geosleuth.core.countries import all_countries
from geosleuth.core.paths import source_root
from geosleuth.tools.clip_models import SHARED_MODELS, resolve_spec
from geosleuth.tools.clip_zero_shot import (
    calibrated,
    clip_zero_shot,
    country_distribution,
    ensemble,
)
from geosleuth.tools.prompts_clip import (
    NO_TEXT,
    Group,
    continent_group,
    country_group,
    driving_group,
    script_group,
)

EXAMPLES = source_root() / "examples"


@pytest.fixture
def photo() -> Image.Image:
    return Image.open(EXAMPLES / "jp_tokyo_shibuya.jpg")


def test_no_model_gives_unavailable_evidence_not_an_exception(photo, tmp_path):
    if resolve_spec(Settings()) is not None:
        pytest.skip(f"{SHARED_MODELS} holds a model, so one is configured")
    evidence = clip_zero_shot(photo, Settings(cache_dir=tmp_path))
    assert evidence.error is not None and evidence.error.type == "unavailable"
    assert evidence.strength == 0 and not evidence.country_likelihoods
    assert evidence.summary.startswith("unavailable: no CLIP model configured")


# --- prompts, ensembles, calibration ---------------------------------------------------------------------


def test_prompt_groups_map_to_iso2_countries():
    codes = set(all_countries())
    assert set(country_group().prompts) == codes
    assert "a street view photo in Japan." in country_group().prompts["JP"]
    assert set(continent_group().countries["EU"]) >= {"FR", "DE", "GR"}
    assert script_group().countries["Grek"].keys() >= {"GR", "CY"}
    assert "CN" not in script_group().countries["Jpan"] and "JP" in script_group().countries["Jpan"]
    assert set(script_group().countries[NO_TEXT]) == codes
    left = driving_group().countries["left"]
    assert "GB" in left and "JP" in left and "FR" not in left


def test_ensemble_is_the_renormalised_mean_of_prompt_embeddings():
    rng = np.random.default_rng(0)
    vectors = rng.normal(size=(5, 8)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    classes = ensemble(vectors, [3, 2])
    first = vectors[:3].mean(axis=0)
    np.testing.assert_allclose(classes[0], first / np.linalg.norm(first), rtol=1e-6)
    np.testing.assert_allclose(
        classes[1], (vectors[3] + vectors[4]) / np.linalg.norm(vectors[3] + vectors[4]), rtol=1e-6
    )


def test_temperature_calibration_is_a_softmax_of_scaled_logits():
    sims = np.array([0.30, 0.25, 0.10])
    probs = calibrated(sims, logit_scale=100.0, temperature=2.0)
    expected = np.exp(50 * sims) / np.exp(50 * sims).sum()
    np.testing.assert_allclose(probs, expected)
    sharper = calibrated(sims, logit_scale=100.0, temperature=1.0)
    assert sharper[0] > probs[0]  # a higher temperature flattens
    assert math.isclose(calibrated(sims, 100.0, 1e6)[0], 1 / 3, rel_tol=1e-3)
    with pytest.raises(ValueError):
        calibrated(sims, 100.0, 0.0)


def test_country_distribution_multiplies_group_mixtures():
    countries = Group(
        "country",
        {"FR": ("f",), "GB": ("g",), "JP": ("j",)},
        {"FR": {"FR": 1.0}, "GB": {"GB": 1.0}, "JP": {"JP": 1.0}},
    )
    driving = Group(
        "driving side",
        {"left": ("l",), "right": ("r",)},
        {"left": {"GB": 1.0, "JP": 1.0}, "right": {"FR": 1.0}},
    )
    dist = country_distribution(
        [(countries, {"FR": 0.5, "GB": 0.3, "JP": 0.2}), (driving, {"left": 0.8, "right": 0.2})]
    )
    raw = {"FR": 0.5 * 0.2, "GB": 0.3 * 0.8, "JP": 0.2 * 0.8}
    for code, value in raw.items():
        assert math.isclose(dist[code], value / sum(raw.values()))
