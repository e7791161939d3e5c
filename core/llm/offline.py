"""The deterministic offline model, registered as the litellm custom provider ``offline``.

It needs no network and no key, so the platform runs end to end on a fresh machine.
It understands plain-English requests for the tools it is offered (see offline_intents)
and otherwise says what it can do. It is clearly named as offline in every reply's model.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import re
from collections.abc import AsyncIterator
from typing import Any

from litellm import CustomLLM, ModelResponse
from litellm.types.utils import (
    ChatCompletionMessageToolCall,
    Choices,
    Function,
    GenericStreamingChunk,
    Message,
    Usage,
)

from core.llm.offline_intents import parse_intent

PROVIDER = "offline"

_CAPABILITIES = {
    "calculator": 'arithmetic ("what is 17 * 23?")',
    "current_time": 'the time anywhere ("what time is it in Tokyo?")',
    "get_token_price": 'token prices ("what is the price of ETH?")',
    "get_balance": 'balances ("what\'s my balance?")',
    "vault_status": 'your vault\'s limits ("vault status")',
    "transfer": 'transfers from your vault, after your approval ("send 0.05 ETH to 0x...")',
}


def _text(content: Any) -> str:
    if isinstance(content, list):  # OpenAI content parts
        return " ".join(p.get("text", "") for p in content if isinstance(p, dict))
    return content or ""


def _tokens(messages: list[dict[str, Any]]) -> int:
    return sum(len(_text(m.get("content")).split()) + 1 for m in messages)


def _tool_names(tools: list[dict[str, Any]] | None) -> set[str]:
    return {t["function"]["name"] for t in tools or [] if t.get("type") == "function"}


def respond(messages: list[dict[str, Any]], tools: list[dict[str, Any]] | None) -> Message:
    """The offline model's next assistant message for a conversation."""
    last = messages[-1] if messages else {"role": "user", "content": ""}
    if last.get("role") == "tool":
        # answer from the tool results of the latest assistant step, in call order
        results = []
        for m in reversed(messages):
            if m.get("role") != "tool":
                break
            results.append(_text(m.get("content")))
        return Message(role="assistant", content=" ".join(reversed(results)))

    text = _text(last.get("content"))
    available = _tool_names(tools)
    intent = parse_intent(text, available)
    if intent is None:
        can = [desc for name, desc in _CAPABILITIES.items() if name in available]
        offer = "; ".join(can) if can else "chat, with no tools attached to this agent"
        return Message(
            role="assistant",
            content=f"I am the offline model (no network LLM is configured). I can help with: {offer}.",
        )
    # a deterministic call id: same conversation, same id (replays and caches agree)
    digest = hashlib.sha256(json.dumps([len(messages), text, intent.tool]).encode()).hexdigest()[:12]
    call = ChatCompletionMessageToolCall(
        id=f"call_{digest}",
        type="function",
        function=Function(name=intent.tool, arguments=json.dumps(intent.args)),
    )
    return Message(role="assistant", content=None, tool_calls=[call])


class OfflineLLM(CustomLLM):
    """litellm handler for ``offline/<name>`` models."""

    def completion(self, model: str, messages: list, *args: Any, **kwargs: Any) -> ModelResponse:
        return self._response(model, messages, kwargs.get("optional_params") or {})

    async def acompletion(self, model: str, messages: list, *args: Any, **kwargs: Any) -> ModelResponse:
        return self._response(model, messages, kwargs.get("optional_params") or {})

    async def astreaming(self, model: str, messages: list, *args: Any, **kwargs: Any) -> AsyncIterator[Any]:
        """The same answer, word by word. ``offline_first_token_delay_ms`` / ``offline_token_delay_ms``
        (passed by the gateway from the settings) pace it like a network model, for demos and benchmarks."""
        params = kwargs.get("optional_params") or {}
        message = respond(messages, params.get("tools"))
        first_delay = float(params.get("offline_first_token_delay_ms") or 0) / 1000
        delay = float(params.get("offline_token_delay_ms") or 0) / 1000
        if first_delay:
            await asyncio.sleep(first_delay)
        for i, word in enumerate(re.findall(r"\s*\S+\s*", message.content or "")):
            if i and delay:
                await asyncio.sleep(delay)
            yield _chunk(text=word)
        for i, call in enumerate(message.tool_calls or []):
            tool_use = {"id": call.id, "type": "function", "index": i, "function": call.function.model_dump()}
            yield _chunk(tool_use=tool_use)
        usage = _usage(messages, message)
        yield _chunk(
            finish_reason="tool_calls" if message.tool_calls else "stop",
            usage={k: getattr(usage, k) for k in ("prompt_tokens", "completion_tokens", "total_tokens")},
        )

    def _response(self, model: str, messages: list, params: dict[str, Any]) -> ModelResponse:
        message = respond(messages, params.get("tools"))
        return ModelResponse(
            model=f"{PROVIDER}/{model}",
            choices=[Choices(index=0, message=message, finish_reason="tool_calls" if message.tool_calls else "stop")],
            usage=_usage(messages, message),
        )


def _usage(messages: list, message: Message) -> Usage:
    prompt = _tokens(messages)
    completion = len((message.content or "").split()) + (8 if message.tool_calls else 0)
    return Usage(prompt_tokens=prompt, completion_tokens=completion, total_tokens=prompt + completion)


def _chunk(
    text: str = "", tool_use: dict[str, Any] | None = None, finish_reason: str = "", usage: dict | None = None
) -> GenericStreamingChunk:
    return {
        "text": text,
        "tool_use": tool_use,  # type: ignore[typeddict-item]
        "is_finished": bool(finish_reason),
        "finish_reason": finish_reason,
        "usage": usage,  # type: ignore[typeddict-item]
        "index": 0,
    }


MODEL_INFO = {
    "input_cost_per_token": 0.0,
    "output_cost_per_token": 0.0,
    "litellm_provider": PROVIDER,
    "mode": "chat",
    "max_tokens": 8192,
    "max_input_tokens": 131072,
    "max_output_tokens": 8192,
    "supports_function_calling": True,
    "cache_creation_input_token_cost": 0.0,
    "cache_read_input_token_cost": 0.0,
}


def register(model: str = "offline/impressox-offline-v1") -> None:
    """Make ``offline/...`` models reachable through litellm (idempotent).

    Registering the model's (zero) price spares litellm a slow cost-map search on every call.
    """
    import litellm

    if not any(p.get("provider") == PROVIDER for p in litellm.custom_provider_map):
        litellm.custom_provider_map = [
            *litellm.custom_provider_map,
            {"provider": PROVIDER, "custom_handler": OfflineLLM()},
        ]
    if model not in litellm.model_cost:
        litellm.register_model({model: MODEL_INFO})
