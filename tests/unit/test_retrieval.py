"""Retrieval without a model: neighbour weights and label-file checks (the index: tests/integration)."""

from __future__ import annotations

import numpy as np
import pytest

from geosleuth.core.paths import source_root
from geosleuth.tools.retrieval import (
    RetrievalError,
    neighbour_weights,
    read_labels,
)

EXAMPLES = source_root() / "examples"


def test_neighbour_weights_are_a_softmax_of_similarities():
    from geosleuth.tools.retrieval import Neighbour

    near = [Neighbour("a", 0, 0, None, 0.9), Neighbour("b", 0, 0, None, 0.8)]
    weights = neighbour_weights(near, temperature=0.1)
    assert weights[0] / weights[1] == pytest.approx(np.exp(1.0))
    assert sum(weights) == pytest.approx(1.0)


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
