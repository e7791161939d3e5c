"""The deterministic offline model, registered as the litellm custom provider ``offline``.

It needs no network and no key, so the platform runs end to end on a fresh machine.
It understands ``/tool NAME {JSON}`` for every tool it is offered, the plain English that each
tool module teaches it (core/llm/phrasebook.py), and otherwise says what it can do. It is
clearly named as offline in every reply's model.
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

from core.llm.offline_intents import parse_intent, small_talk
from core.llm.offline_summary import SUMMARY_HEADING, SUMMARY_MARKER, recall, summarise
from core.llm.phrasebook import PHRASEBOOK, Intent
from core.llm.provider import OFFLINE_PROVIDER

PROVIDER = OFFLINE_PROVIDER

_SMALL_TALK = {
    "greeting": 'Hello! I am the offline model. Ask me for a price, your balance or a sum, or say "help".',
    "thanks": "You're welcome!",
}


def _text(content: Any) -> str:
    if isinstance(content, list):  # OpenAI content parts
        return " ".join(p.get("text", "") for p in content if isinstance(p, dict))
    return content or ""


def _tokens(messages: list[dict[str, Any]]) -> int:
    return sum(len(_text(m.get("content")).split()) + 1 for m in messages)


def _tool_names(tools: list[dict[str, Any]] | None) -> set[str]:
    return {t["function"]["name"] for t in tools or [] if t.get("type") == "function"}


def _field(obj: Any, name: str) -> Any:
    return obj.get(name) if isinstance(obj, dict) else getattr(obj, name, None)


def _turn(messages: list[dict[str, Any]]) -> tuple[str, list[tuple[str, str]]]:
    """The latest user text and the (tool name, result) pairs answered since, in call order."""
    start = max((i for i, m in enumerate(messages) if m.get("role") == "user"), default=-1)
    user = _text(messages[start].get("content")) if start >= 0 else ""
    names: dict[str, str] = {}
    results: list[tuple[str, str]] = []
    for m in messages[start + 1 :]:
        for call in m.get("tool_calls") or []:
            names[str(_field(call, "id"))] = str(_field(_field(call, "function"), "name"))
        if m.get("role") == "tool":
            results.append((names.get(str(m.get("tool_call_id")), ""), _text(m.get("content"))))
    return user, results


def _capabilities(available: set[str]) -> str:
    can = PHRASEBOOK.help_lines(available)
    return "; ".join(can) if can else "chat, with no tools attached to this agent"


def _call(messages: list[dict[str, Any]], text: str, intent: Intent) -> Message:
    # a deterministic call id: same conversation, same id (replays and caches agree)
    digest = hashlib.sha256(json.dumps([len(messages), text, intent.tool]).encode()).hexdigest()[:12]
    call = ChatCompletionMessageToolCall(
        id=f"call_{digest}",
        type="function",
        function=Function(name=intent.tool, arguments=json.dumps(intent.args)),
    )
    return Message(role="assistant", content=None, tool_calls=[call])


def respond(messages: list[dict[str, Any]], tools: list[dict[str, Any]] | None) -> Message:
    """The offline model's next assistant message for a conversation."""
    available = _tool_names(tools)
    last = messages[-1] if messages else {"role": "user", "content": ""}
    system = _text(messages[0].get("content")) if messages and messages[0].get("role") == "system" else ""
    if system.startswith(SUMMARY_MARKER):  # the summarise node's request
        return Message(role="assistant", content=summarise(_text(last.get("content"))))
    if last.get("role") == "tool":
        user, results = _turn(messages)
        step = PHRASEBOOK.next_step(user, results, available)
        if isinstance(step, Intent):
            return _call(messages, user, step)
        if step is not None:
            return Message(role="assistant", content=step)
        # answer from the tool results of the latest assistant step, in call order
        latest = []
        for m in reversed(messages):
            if m.get("role") != "tool":
                break
            latest.append(_text(m.get("content")))
        return Message(role="assistant", content=" ".join(reversed(latest)))

    text = _text(last.get("content"))
    intent = parse_intent(text, available)
    if intent is not None:
        return _call(messages, text, intent)
    if SUMMARY_HEADING in system and (answer := recall(text, system.split(SUMMARY_HEADING, 1)[1])):
        return Message(role="assistant", content=answer)
    kind = small_talk(text)
    if kind is not None and kind in _SMALL_TALK:
        return Message(role="assistant", content=_SMALL_TALK[kind])
    offer = _capabilities(available)
    if kind == "help":
        return Message(
            role="assistant",
            content=f"I am the offline model (no network LLM is configured). I can help with: {offer}.",
        )
    return Message(
        role="assistant",
        content=(
            "Sorry, I did not understand that: I am the offline model (no network LLM is configured) and "
            f'follow only simple requests. I can help with: {offer}. Say "help" to see this again.'
        ),
    )


class OfflineLLM(CustomLLM):
    """litellm handler for ``offline/<name>`` models."""

    def completion(self, model: str, messages: list, *args: Any, **kwargs: Any) -> ModelResponse:
        return self._response(model, messages, kwargs.get("optional_params") or {})

    async def acompletion(self, model: str, messages: list, *args: Any, **kwargs: Any) -> ModelResponse:
        return self._response(model, messages, kwargs.get("optional_params") or {})

    # litellm declares it as a coroutine returning an iterator, but awaits ``async for`` over it: a generator
    async def astreaming(  # type: ignore[override]
        self, model: str, messages: list, *args: Any, **kwargs: Any
    ) -> AsyncIterator[Any]:
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
            function = call.function  # type: ignore[union-attr]  # respond() makes function calls only
            tool_use = {"id": call.id, "type": "function", "index": i, "function": function.model_dump()}
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
