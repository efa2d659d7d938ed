"""The embedded LLM's settings, with no model (assembling and serving it: tests/integration)."""

from __future__ import annotations

from geosleuth.core.config import Settings
from geosleuth.run import local_llm


def test_threads_follow_the_setting() -> None:
    assert local_llm.cpu_threads(Settings(llm_threads=3)) == 3
    assert local_llm.cpu_threads(Settings(llm_threads=0)) >= 1
