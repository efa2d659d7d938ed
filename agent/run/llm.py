"""The one place that turns settings into a chat model: an OpenAI-compatible endpoint or the embedded LLM.

`settings.llm_base_url` set: that endpoint (OpenAI, vLLM, llama.cpp server, Ollama, ...), model
`settings.llm_model` (else the server's first model), key from the environment variable named by
`settings.llm_api_key_env` (a placeholder when unset, for local servers). Unset: the embedded
Qwen2.5-Coder-1.5B served on loopback (geosleuth.run.local_llm). `LLMBackend` says what the model can do, so
the planner sends the photo only to models that see and uses native tool calls only where they work,
JSON-schema constrained decisions otherwise. The key is never logged, stored or shown in a repr.
"""

from __future__ import annotations

import ipaddress
import json
import logging
import os
import re
import urllib.error
import urllib.request
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from geosleuth.core.config import Settings

log = logging.getLogger(__name__)

NO_KEY = "not-needed"
"""Placeholder key sent to servers that need none (llama.cpp, vLLM, Ollama); not a secret."""

_OPENAI_VISION_TOOLS = re.compile(r"^(?:openai/)?(?:gpt-4o|gpt-4\.1|gpt-5|o[1-9])")
_TEXT_ONLY = re.compile(r"^(?:openai/)?o[13]-mini")


class LLMError(RuntimeError):
    """No chat model can be made from the settings; the message says why and what to change."""


@dataclass(frozen=True)
class LLMBackend:
    """What the chat model is and can do.

    Attributes:
        base_url: The OpenAI-compatible endpoint, ending in /v1 for the embedded model.
        model: The model name sent with each request.
        is_local: The endpoint is on this machine (the embedded model or a loopback server).
        supports_vision: The photo may be sent as an image part.
        supports_tools: Decisions use native tool calls.
        json_schema: Decisions use `response_format` JSON-schema constrained replies (when no native tools).
    """

    base_url: str
    model: str
    is_local: bool
    supports_vision: bool
    supports_tools: bool
    json_schema: bool


def api_key(settings: Settings) -> str:
    """Return the key from the environment variable settings.llm_api_key_env, or the placeholder NO_KEY."""
    return os.environ.get(settings.llm_api_key_env) or NO_KEY


def is_loopback(url: str) -> bool:
    """Tell whether `url` points at this machine (localhost or a loopback address)."""
    host = urlsplit(url).hostname or ""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def fetch_models(base_url: str, key: str, *, key_env: str, timeout_s: float = 3.0) -> dict[str, Any]:
    """GET `<base_url>/models` with the key and return the JSON reply.

    Args:
        base_url: The OpenAI-compatible endpoint.
        key: The API key (or NO_KEY).
        key_env: The variable the key came from, named in the error when the key is refused.
        timeout_s: Seconds to wait for the answer.

    Raises:
        LLMError: The endpoint is unreachable, refuses the key, or does not answer JSON.
    """
    url = base_url.rstrip("/") + "/models"
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {key}"})
    try:
        with urllib.request.urlopen(request, timeout=timeout_s) as reply:  # noqa: S310 - configured endpoint
            return dict(json.loads(reply.read()))
    except urllib.error.HTTPError as exc:
        hint = f" (check the key in ${key_env})" if exc.code in (401, 403) else ""
        raise LLMError(f"{url} answered HTTP {exc.code}{hint}") from exc
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise LLMError(f"{url} is unreachable: {reason}") from exc
    except (ValueError, TypeError) as exc:
        raise LLMError(f"{url} did not answer a JSON object") from exc


def _model_entries(listing: dict[str, Any], model: str) -> list[dict[str, Any]]:
    """Return the entries of a /models reply that describe `model` (all of them when only one is served)."""
    entries = [e for key in ("data", "models") for e in listing.get(key) or [] if isinstance(e, dict)]
    named = [
        e for e in entries
        if model in (e.get("id"), e.get("name"), e.get("model")) or model in (e.get("aliases") or [])
    ]
    return named or (entries if len({e.get("id") or e.get("name") for e in entries}) <= 1 else [])


def capabilities_from_listing(listing: dict[str, Any], model: str) -> tuple[bool | None, bool | None]:
    """Read (vision, tools) from a /models reply; None where the server says nothing.

    Understands OpenRouter/llama.cpp `architecture.input_modalities` and `supported_parameters`, and
    Ollama/llama.cpp `capabilities` lists ("vision", "multimodal", "tools").
    """
    vision: bool | None = None
    tools: bool | None = None
    for entry in _model_entries(listing, model):
        modalities = (entry.get("architecture") or {}).get("input_modalities")
        if isinstance(modalities, list):
            vision = bool(vision) or "image" in modalities
        capabilities = entry.get("capabilities")
        if isinstance(capabilities, list):
            vision = bool(vision) or bool({"vision", "multimodal"} & set(capabilities))
            tools = bool(tools) or "tools" in capabilities
        parameters = entry.get("supported_parameters")
        if isinstance(parameters, list):
            tools = bool(tools) or "tools" in parameters
    return vision, tools


def resolve_backend(
    settings: Settings, base_url: str, model: str, *, embedded: bool, listing: dict[str, Any] | None = None
) -> LLMBackend:
    """Decide what the model can do: explicit settings first, then known models, then server metadata.

    Args:
        settings: llm_vision ("auto"|"yes"|"no") and llm_tool_calling ("auto"|"native"|"json") apply.
        base_url: The endpoint.
        model: The model name.
        embedded: The embedded Qwen model (text only, JSON decisions).
        listing: The endpoint's /models reply, when it could be read.
    """
    if embedded:
        known: tuple[bool | None, bool | None] = (False, False)
    elif _TEXT_ONLY.match(model):
        known = (False, True)
    elif _OPENAI_VISION_TOOLS.match(model):
        known = (True, True)
    else:
        known = capabilities_from_listing(listing or {}, model)
    vision = settings.llm_vision == "yes" or (settings.llm_vision == "auto" and bool(known[0]))
    tools = settings.llm_tool_calling == "native" or (settings.llm_tool_calling == "auto" and bool(known[1]))
    return LLMBackend(
        base_url=base_url,
        model=model,
        is_local=embedded or is_loopback(base_url),
        supports_vision=vision,
        supports_tools=tools,
        json_schema=not tools,
    )


def describe_backend(settings: Settings) -> LLMBackend:
    """Return the backend the settings select, asking the endpoint's /models but starting nothing.

    Raises:
        LLMError: A configured endpoint is unreachable and no model name is set.
    """
    if not settings.llm_base_url:
        from geosleuth.run.local_llm import MODEL_NAME

        return resolve_backend(settings, "embedded", MODEL_NAME, embedded=True)
    listing: dict[str, Any] | None = None
    auto = settings.llm_vision == "auto" or settings.llm_tool_calling == "auto"
    if not settings.llm_model or auto:
        try:
            listing = fetch_models(settings.llm_base_url, api_key(settings), key_env=settings.llm_api_key_env)
        except LLMError:
            if not settings.llm_model:
                raise
    model = settings.llm_model or _first_model(listing or {}, settings.llm_base_url)
    return resolve_backend(settings, settings.llm_base_url, model, embedded=False, listing=listing)


def _first_model(listing: dict[str, Any], base_url: str) -> str:
    for entry in listing.get("data") or []:
        if isinstance(entry, dict) and entry.get("id"):
            return str(entry["id"])
    raise LLMError(f"{base_url} lists no models: set llm_model (GEOSLEUTH_LLM_MODEL or --llm-model)")


def make_chat_model(settings: Settings) -> tuple[Any, LLMBackend]:
    """Build the LangChain `ChatOpenAI` for the settings and describe its backend.

    With no llm_base_url the embedded model is assembled (once) and its loopback server started (once
    per process). Replies are deterministic (temperature 0); each request may take up to
    settings.max_seconds.

    Returns:
        The chat model and its `LLMBackend`.

    Raises:
        LLMError: The endpoint cannot be used or the embedded model cannot be assembled or started.
    """
    from pydantic import SecretStr

    if settings.llm_base_url:
        backend = describe_backend(settings)
        key = api_key(settings)
    else:
        from geosleuth.run.local_llm import MODEL_NAME, LocalModelError, shared_server

        try:
            server = shared_server(settings)
        except LocalModelError as exc:
            raise LLMError(str(exc)) from exc
        backend = resolve_backend(settings, server.base_url, MODEL_NAME, embedded=True)
        key = NO_KEY
    from langchain_openai import ChatOpenAI

    chat = ChatOpenAI(
        base_url=backend.base_url,
        model=backend.model,
        api_key=SecretStr(key),
        temperature=0,
        timeout=settings.max_seconds,
        max_retries=0 if backend.is_local else 2,
        stream_usage=True,  # the planner streams its replies (`llm_planner.streamed_reply`)
    )
    log.info(
        "LLM %s at %s (vision %s, %s decisions)", backend.model, backend.base_url,
        "yes" if backend.supports_vision else "no", "tool-call" if backend.supports_tools else "JSON-schema",
    )
    return chat, backend


def start_chat_model(settings: Settings) -> Future[tuple[Any, LLMBackend]]:
    """Run `make_chat_model` in a daemon thread; return the future of its (chat model, backend) pair.

    The embedded model then loads in its server process while the caller goes on working; the future
    raises `LLMError` when the model cannot be assembled or started.
    """
    import threading

    future: Future[tuple[Any, LLMBackend]] = Future()

    def start() -> None:
        try:
            future.set_result(make_chat_model(settings))
        except BaseException as exc:  # noqa: BLE001 - handed to whoever waits on the future
            future.set_exception(exc)

    threading.Thread(target=start, name="geosleuth-llm-start", daemon=True).start()
    return future


def embedded_backend(settings: Settings) -> LLMBackend:
    """Return the embedded model's backend, known before it starts, with an empty URL."""
    from geosleuth.run.local_llm import MODEL_NAME

    return resolve_backend(settings, "", MODEL_NAME, embedded=True)


def llm_available(settings: Settings) -> bool | str:
    """Tell whether an LLM can be used, without starting the embedded server.

    Returns:
        True when it can; otherwise a one-line reason (a non-empty string, so test the result with
        `is True`). Embedded: the weight packages are installed and xllamacpp imports. Endpoint: its
        /models answers within 2 s and accepts the key.
    """
    if settings.llm_base_url:
        try:
            fetch_models(
                settings.llm_base_url, api_key(settings), key_env=settings.llm_api_key_env, timeout_s=2.0
            )
        except LLMError as exc:
            return str(exc)
        return True
    import importlib.util

    from geosleuth.run.local_llm import INSTALL_HINT, LocalModelError, part_paths

    try:
        part_paths()
    except LocalModelError as exc:
        return str(exc)
    if importlib.util.find_spec("xllamacpp") is None:
        return f"xllamacpp is not installed: {INSTALL_HINT}"
    return True
