"""LLM gateway: litellm ``acompletion`` with its own retries off (Temporal retries).

Errors are mapped once, here: auth / bad request / unknown model are permanent,
timeouts, rate limits and outages transient. Deterministic calls are cached.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from typing import Any

from pydantic import SecretStr

from core.cache import Cache, cache_key
from core.errors import LLMPermanentError, LLMTransientError
from core.llm import OFFLINE_PROVIDER, setup_litellm
from core.schemas import TokenUsage, ToolCallRequest

log = logging.getLogger(__name__)


@dataclass
class LLMReply:
    content: str | None
    tool_calls: list[ToolCallRequest] = field(default_factory=list)
    usage: TokenUsage = field(default_factory=TokenUsage)
    model: str | None = None

    def to_json(self) -> str:
        return json.dumps(
            {
                "content": self.content,
                "model": self.model,
                "usage": self.usage.model_dump(),
                "tool_calls": [c.model_dump() for c in self.tool_calls],
            }
        )

    @classmethod
    def from_json(cls, raw: str) -> LLMReply:
        d = json.loads(raw)
        return cls(
            content=d["content"],
            model=d["model"],
            usage=TokenUsage(**d["usage"]),
            tool_calls=[ToolCallRequest(**c) for c in d["tool_calls"]],
        )


def _map_error(exc: Exception) -> Exception:
    litellm = setup_litellm()
    permanent = (
        litellm.AuthenticationError,
        litellm.BadRequestError,
        litellm.NotFoundError,
        litellm.PermissionDeniedError,
        litellm.UnprocessableEntityError,
    )
    if isinstance(exc, permanent):
        return LLMPermanentError(f"{type(exc).__name__}: {getattr(exc, 'message', exc)}")
    return LLMTransientError(f"{type(exc).__name__}: {getattr(exc, 'message', exc)}")


class LLMGateway:
    def __init__(
        self,
        cache: Cache,
        *,
        api_key: SecretStr | None = None,
        api_base: str | None = None,
        cache_ttl_seconds: int = 24 * 3600,
    ) -> None:
        self.cache = cache
        self._api_key = api_key
        self.api_base = api_base
        self.cache_ttl_seconds = cache_ttl_seconds
        setup_litellm()  # litellm is configured once per process, before its first call

    @staticmethod
    def deterministic(model: str) -> bool:
        return model.startswith(f"{OFFLINE_PROVIDER}/")

    async def complete(
        self, model: str, messages: list[dict[str, Any]], tools: list[dict[str, Any]], timeout: float
    ) -> LLMReply:
        litellm = setup_litellm()
        key = cache_key("llm", [model, messages, tools]) if self.deterministic(model) else None
        if key and (hit := await self.cache.get(key)):
            return LLMReply.from_json(hit)
        kwargs: dict[str, Any] = {"num_retries": 0, "timeout": timeout}
        if tools:
            kwargs["tools"] = tools
        if self._api_key is not None:
            kwargs["api_key"] = self._api_key.get_secret_value()
        if self.api_base:
            kwargs["api_base"] = self.api_base
        try:
            response = await litellm.acompletion(model=model, messages=messages, **kwargs)
        except Exception as exc:  # noqa: BLE001 - litellm raises many types; classify them in one place
            raise _map_error(exc) from None
        reply = _reply(response)
        if key:
            await self.cache.set(key, reply.to_json(), self.cache_ttl_seconds)
        return reply


def _reply(response: Any) -> LLMReply:
    message = response.choices[0].message
    calls = []
    for tc in message.tool_calls or []:
        try:
            args = json.loads(tc.function.arguments or "{}")
        except ValueError:
            args = {"_raw": tc.function.arguments}
        calls.append(
            ToolCallRequest(
                call_id=tc.id, name=tc.function.name, args=args if isinstance(args, dict) else {"value": args}
            )
        )
    usage = getattr(response, "usage", None)
    return LLMReply(
        content=message.content,
        tool_calls=calls,
        model=getattr(response, "model", None),
        usage=TokenUsage(
            prompt_tokens=getattr(usage, "prompt_tokens", 0) or 0,
            completion_tokens=getattr(usage, "completion_tokens", 0) or 0,
            total_tokens=getattr(usage, "total_tokens", 0) or 0,
        ),
    )
