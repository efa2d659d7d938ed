"""LLM backends: capability rules from names, settings and listings (endpoints: tests/integration)."""

from __future__ import annotations

from geosleuth.core.config import Settings
from geosleuth.run.llm import (
    capabilities_from_listing,
    is_loopback,
    resolve_backend,
)


def test_capabilities_come_from_the_server_metadata() -> None:
    llama_cpp = {"models": [{"name": "m", "capabilities": ["completion", "multimodal"]}],
                 "data": [{"id": "m", "architecture": {"input_modalities": ["text", "image"]}}]}
    ollama_like = {"models": [{"name": "m", "capabilities": ["completion", "tools"]}], "data": [{"id": "m"}]}
    router = {"data": [{"id": "a", "supported_parameters": ["tools"]},
                       {"id": "m", "architecture": {"input_modalities": ["text"]}}]}
    assert capabilities_from_listing(llama_cpp, "m") == (True, False)
    assert capabilities_from_listing(ollama_like, "m") == (False, True)
    assert capabilities_from_listing(router, "m") == (False, None)
    assert capabilities_from_listing({"data": [{"id": "m"}]}, "m") == (None, None)


def test_capability_rules_and_overrides() -> None:
    auto = Settings()
    openai = resolve_backend(auto, "https://api.openai.com/v1", "gpt-4o-mini", embedded=False)
    assert openai.supports_vision and openai.supports_tools and not openai.json_schema and not openai.is_local
    assert resolve_backend(auto, "https://api.openai.com/v1", "gpt-5", embedded=False).supports_vision
    mini = resolve_backend(auto, "https://api.openai.com/v1", "o3-mini", embedded=False)
    assert not mini.supports_vision and mini.supports_tools
    unknown = resolve_backend(auto, "http://10.0.0.5:8000/v1", "some-local-model", embedded=False)
    assert not unknown.supports_vision and unknown.json_schema and not unknown.is_local
    embedded = resolve_backend(auto, "http://127.0.0.1:1/v1", "qwen", embedded=True)
    assert embedded.is_local and not embedded.supports_vision and embedded.json_schema
    forced = Settings(llm_vision="no", llm_tool_calling="json")
    assert not resolve_backend(forced, "https://api.openai.com/v1", "gpt-4o", embedded=False).supports_tools
    assert resolve_backend(Settings(llm_vision="yes"), "x", "m", embedded=False).supports_vision


def test_loopback_detection() -> None:
    assert is_loopback("http://localhost:8080/v1") and is_loopback("http://127.0.0.1:1/v1")
    assert is_loopback("http://[::1]:11434/v1")
    assert not is_loopback("https://api.openai.com/v1") and not is_loopback("http://192.168.1.4/v1")
