"""Shared pytest fixtures for tests/unit and tests/integration (`shared_data`: the shared photos)."""

from __future__ import annotations

from pathlib import Path

import pytest

from geosleuth.core.paths import shared_dir

SHARED_DATA = shared_dir() / "data"


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """Return ../shared/data (public research photos), skipping when this checkout has none."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"{SHARED_DATA} is absent: the shared research photos are not on this machine")
    return SHARED_DATA
