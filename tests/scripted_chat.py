"""A scripted chat model and the LLM backend it poses as, for driving the agent graph on exact paths."""

from __future__ import annotations

import json
from typing import Any

from langchain_core.language_models.fake_chat_models import GenericFakeChatModel
from langchain_core.messages import AIMessage, AIMessageChunk
from langchain_core.outputs import ChatGenerationChunk
from pydantic import Field


class Scripted(GenericFakeChatModel):
    """A chat model that replies from a script and remembers what it was sent."""

    seen: list[Any] = Field(default_factory=list)

    def _generate(self, messages, stop=None, run_manager=None, **kwargs):  # noqa: D102
        self.seen.append((messages, kwargs))
        return super()._generate(messages, stop=stop, run_manager=run_manager, **kwargs)

    def _stream(self, messages, stop=None, run_manager=None, **kwargs):  # noqa: D102
        # One chunk holding the whole reply: the fake's own stream drops tool calls.
        result = self._generate(messages, stop=stop, run_manager=run_manager, **kwargs)
        message = result.generations[0].message
        chunk = AIMessageChunk(
            content=message.content, id=message.id, usage_metadata=message.usage_metadata,
            tool_call_chunks=[
                {"name": c["name"], "args": json.dumps(c["args"]), "id": c["id"], "index": i}
                for i, c in enumerate(message.tool_calls)
            ],
        )
        yield ChatGenerationChunk(message=chunk)

    def bind_tools(self, tools, **kwargs):  # noqa: D102
        return self.bind(tools=tools, **kwargs)


def backend(*, tools: bool = False, vision: bool = False):
    """The LLMBackend a scripted model poses as: local, with the given capabilities."""
    from geosleuth.run.llm import LLMBackend

    return LLMBackend(
        base_url="scripted",
        model="scripted",
        is_local=True,
        supports_vision=vision,
        supports_tools=tools,
        json_schema=not tools,
    )


def scripted(*replies: Any) -> Scripted:
    """A Scripted model replying with `replies` in turn (dicts are sent as JSON text)."""
    return Scripted(
        messages=iter([r if isinstance(r, AIMessage) else AIMessage(json.dumps(r)) for r in replies])
    )
