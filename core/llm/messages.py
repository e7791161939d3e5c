"""Typed conversation -> the OpenAI chat format litellm takes (the only place that builds it).

The workflow carries provider-neutral messages (``core.schemas.ModelMessage``); a provider
format is a concern of the LLM node, so a change of provider never changes workflow code.
"""

from __future__ import annotations

import json
from typing import Any

from core.schemas import AssistantReply, ModelMessage, ToolReturn, ToolSpec, UserPrompt


def to_openai_messages(persona: str, conversation: list[ModelMessage]) -> list[dict[str, Any]]:
    """The system prompt followed by the conversation, as OpenAI chat messages."""
    return [{"role": "system", "content": persona}, *(_message(m) for m in conversation)]


def _message(message: ModelMessage) -> dict[str, Any]:
    if isinstance(message, UserPrompt):
        return {"role": "user", "content": message.content}
    if isinstance(message, ToolReturn):
        return {"role": "tool", "tool_call_id": message.call_id, "content": message.content}
    assert isinstance(message, AssistantReply)
    if not message.tool_calls:
        return {"role": "assistant", "content": message.content}
    return {
        "role": "assistant",
        "content": message.content,
        "tool_calls": [
            {"id": c.call_id, "type": "function", "function": {"name": c.name, "arguments": json.dumps(c.args)}}
            for c in message.tool_calls
        ],
    }


def to_openai_tools(specs: list[ToolSpec]) -> list[dict[str, Any]]:
    return [
        {"type": "function", "function": {"name": t.name, "description": t.description, "parameters": t.parameters}}
        for t in specs
    ]
