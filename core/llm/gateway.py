"""LLM gateway: litellm ``acompletion`` with its own retries off (Temporal retries).

Errors are mapped once, here: a misconfiguration (missing or refused key, unknown model,
nothing at the base URL, see ``misconfig.py``) and other bad requests are permanent,
timeouts, rate limits and outages transient. Deterministic calls are cached.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from pydantic import SecretStr

from core.cache import Cache, cache_key
from core.errors import LLMError, LLMPermanentError, LLMTransientError
from core.llm import OFFLINE_PROVIDER, setup_litellm
from core.llm.misconfig import misconfiguration
from core.schemas import TokenUsage, ToolCallRequest

log = logging.getLogger(__name__)

#: called with each streamed chunk's text ("" for chunks that carry no text, e.g. tool-call
#: fragments), so the caller can publish tokens and heartbeat while the model streams
OnChunk = Callable[[str], Awaitable[None]]


@dataclass
class LLMReply:
    content: str | None
    tool_calls: list[ToolCallRequest] = field(default_factory=list)
    usage: TokenUsage = field(default_factory=TokenUsage)
    model: str | None = None
    #: served from the LLM cache (not part of the cached JSON)
    cache_hit: bool = False

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


def _map_error(exc: Exception, model: str = "", api_base: str | None = None) -> LLMError:
    if (config := misconfiguration(exc, model, api_base)) is not None:
        # a key, model or base URL to fix: permanent, named as its setting. It says nothing about
        # an agent's next model (another provider, key or server): that one is tried first
        config.falls_back = True
        config.reason = "auth" if "key" in str(config) else "config"
        return config
    litellm = setup_litellm()
    permanent = (
        litellm.AuthenticationError,
        litellm.BadRequestError,
        litellm.NotFoundError,
        litellm.PermissionDeniedError,
        litellm.UnprocessableEntityError,
    )
    text = f"{type(exc).__name__}: {getattr(exc, 'message', exc)}"
    if isinstance(exc, permanent):
        err: LLMError = LLMPermanentError(text)
        # a bad key on one provider says nothing about the next: an agent's fallback may answer
        err.falls_back = isinstance(exc, litellm.AuthenticationError | litellm.PermissionDeniedError)
        err.reason = "auth" if err.falls_back else "bad_request"
        return err
    err = LLMTransientError(text)
    err.falls_back = True  # outages, timeouts, rate limits: the next model, before Temporal retries
    err.reason = (
        "rate_limit"
        if isinstance(exc, litellm.RateLimitError)
        else "timeout"
        if isinstance(exc, litellm.Timeout | TimeoutError)
        else "server"
    )
    return err


def retry_after_seconds(exc: Exception) -> float | None:
    """A 429's Retry-After in seconds, when the provider sent one."""
    response = getattr(exc, "response", None)
    value = getattr(response, "headers", {}).get("retry-after") if response is not None else None
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None


#: a 429 whose Retry-After is at most this is waited out once before the next model is tried
RETRY_AFTER_MAX_SECONDS = 5.0
#: called before the next model is tried: (the model that failed, why, whether it had shown text)
OnFallback = Callable[[str, str, bool], Awaitable[None]]


class _RateLimited(Exception):
    def __init__(self, error: LLMError, wait: float | None) -> None:
        self.error, self.wait = error, wait


class LLMGateway:
    def __init__(
        self,
        cache: Cache,
        *,
        api_key: SecretStr | None = None,
        api_base: str | None = None,
        api_bases: Mapping[str, str] | None = None,
        cache_ttl_seconds: int = 24 * 3600,
        offline_token_delay_ms: float = 0.0,
        offline_first_token_delay_ms: float = 0.0,
    ) -> None:
        self.cache = cache
        self._api_key = api_key
        self.api_base = api_base
        #: per-model API bases (a fallback on another provider), over ``api_base``
        self.api_bases = dict(api_bases or {})
        self.cache_ttl_seconds = cache_ttl_seconds
        setup_litellm()  # litellm is configured once per process, before its first call
        from core.llm.offline import OfflineLLM  # imports litellm: only once it is set up

        self._offline = OfflineLLM()
        #: pacing of the offline model's streamed answers (demos and benchmarks)
        self.offline_delays = {
            "offline_token_delay_ms": offline_token_delay_ms,
            "offline_first_token_delay_ms": offline_first_token_delay_ms,
        }

    @staticmethod
    def deterministic(model: str) -> bool:
        return model.startswith(f"{OFFLINE_PROVIDER}/")

    async def complete(
        self,
        model: str,
        messages: list[dict[str, Any]],
        tools: list[dict[str, Any]],
        timeout: float,
        on_chunk: OnChunk | None = None,
        fallbacks: Sequence[str] = (),
        on_fallback: OnFallback | None = None,
    ) -> LLMReply:
        """The model's next message; with ``on_chunk`` the call streams and each chunk's text is
        handed over as it arrives (the full reply is still returned, assembled here).

        When ``model`` fails in a way retrying it does not fix soon (an outage, a timeout, a rate
        limit after its Retry-After, a refused key), each of ``fallbacks`` is tried in turn, in
        this call; ``on_fallback`` hears of each switch first (so a stream can be reset). The
        reply names the model that answered. The last model's error is raised."""
        models = [model, *fallbacks]
        for i, current in enumerate(models):
            shown = False

            async def chunk(text: str) -> None:
                nonlocal shown
                shown = shown or bool(text)
                assert on_chunk is not None
                await on_chunk(text)

            try:
                return await self._complete_retrying_429(current, messages, tools, timeout, chunk if on_chunk else None)
            except LLMError as exc:
                if i == len(models) - 1 or not exc.falls_back:
                    raise
                log.warning("model %s failed (%s): trying %s", current, exc.reason, models[i + 1])
                if on_fallback is not None:
                    await on_fallback(current, exc.reason, shown)
        raise AssertionError("unreachable")  # pragma: no cover

    async def _complete_retrying_429(
        self, model: str, messages: list[dict[str, Any]], tools: list[dict[str, Any]], timeout: float,
        on_chunk: OnChunk | None,
    ) -> LLMReply:  # fmt: skip
        try:
            return await self._complete_one(model, messages, tools, timeout, on_chunk)
        except _RateLimited as limited:
            if limited.wait is None or limited.wait > RETRY_AFTER_MAX_SECONDS:
                raise limited.error from None
            await asyncio.sleep(limited.wait)
        try:
            return await self._complete_one(model, messages, tools, timeout, on_chunk)
        except _RateLimited as limited:
            raise limited.error from None

    async def _complete_one(
        self, model: str, messages: list[dict[str, Any]], tools: list[dict[str, Any]], timeout: float,
        on_chunk: OnChunk | None,
    ) -> LLMReply:  # fmt: skip
        litellm = setup_litellm()
        key = cache_key("llm", [model, messages, tools]) if self.deterministic(model) else None
        if key and (hit := await self.cache.get(key)):
            reply = LLMReply.from_json(hit)
            reply.cache_hit = True
            if on_chunk and reply.content:  # a streaming caller still sees the answer as tokens
                for word in split_words(reply.content):
                    await on_chunk(word)
            return reply
        kwargs: dict[str, Any] = {"num_retries": 0, "timeout": timeout}
        if tools:
            kwargs["tools"] = tools
        if self._api_key is not None:
            kwargs["api_key"] = self._api_key.get_secret_value()
        if base := self.api_bases.get(model, self.api_base):
            kwargs["api_base"] = base
        try:
            if on_chunk is None:
                reply = _reply(await litellm.acompletion(model=model, messages=messages, **kwargs))
            elif self.deterministic(model):
                # the offline model runs in this process: its chunks are read straight from it, not
                # through litellm's stream wrapper, which rebuilds the whole response in a thread and
                # logs its cost after every call (tens of ms on a busy machine, see bench/README.md)
                params = {"tools": tools, **self.offline_delays}
                chunks = self._offline.astreaming(model.split("/", 1)[1], messages, optional_params=params)
                reply = await _assemble_offline(chunks, on_chunk)
                reply.model = model
            else:
                stream = await litellm.acompletion(
                    model=model, messages=messages, stream=True, stream_options={"include_usage": True}, **kwargs
                )
                reply = await _assemble(stream, on_chunk)
        except Exception as exc:  # noqa: BLE001 - litellm raises many types; classify them in one place
            mapped = _map_error(exc, model, self.api_base)
            if isinstance(exc, litellm.RateLimitError):
                raise _RateLimited(mapped, retry_after_seconds(exc)) from None
            raise mapped from None
        reply.model = model  # as configured (the provider may name it otherwise)
        if key:
            await self.cache.set(key, reply.to_json(), self.cache_ttl_seconds)
        return reply


def split_words(text: str) -> list[str]:
    """Text as word tokens that join back to exactly the text (whitespace kept)."""
    return re.findall(r"\s*\S+\s*", text) or ([text] if text else [])


async def _assemble(stream: Any, on_chunk: OnChunk) -> LLMReply:
    """Collect a litellm chunk stream into one reply: text deltas joined, tool-call fragments
    merged by index, usage from the last chunk (``include_usage``)."""
    text: list[str] = []
    calls: dict[int, dict[str, Any]] = {}
    usage: Any = None
    model: str | None = None
    async for chunk in stream:
        model = model or getattr(chunk, "model", None)
        usage = getattr(chunk, "usage", None) or usage
        piece = ""
        for choice in getattr(chunk, "choices", None) or []:
            delta = choice.delta
            if delta.content:
                piece += delta.content
            for tc in delta.tool_calls or []:
                call = calls.setdefault(tc.index or 0, {"id": None, "name": "", "arguments": ""})
                call["id"] = tc.id or call["id"]
                if tc.function is not None:
                    call["name"] += tc.function.name or ""
                    call["arguments"] += tc.function.arguments or ""
        text.append(piece)
        await on_chunk(piece)
    content = "".join(text) or None
    tool_calls = [_tool_call(c["id"] or f"call_{i}", c["name"], c["arguments"]) for i, c in sorted(calls.items())]
    return LLMReply(content=content, tool_calls=tool_calls, model=model, usage=_usage(usage))


async def _assemble_offline(chunks: Any, on_chunk: OnChunk) -> LLMReply:
    """The same for the offline model's own chunks (litellm ``GenericStreamingChunk`` dicts)."""
    text: list[str] = []
    calls: list[ToolCallRequest] = []
    usage = TokenUsage()
    async for chunk in chunks:
        if tool := chunk.get("tool_use"):
            calls.append(_tool_call(tool["id"], tool["function"]["name"], tool["function"]["arguments"]))
        if chunk.get("usage"):
            usage = TokenUsage(**{k: chunk["usage"][k] for k in ("prompt_tokens", "completion_tokens", "total_tokens")})
        text.append(chunk.get("text") or "")
        await on_chunk(text[-1])
    return LLMReply(content="".join(text) or None, tool_calls=calls, usage=usage)


def _tool_call(call_id: str, name: str, arguments: str | None) -> ToolCallRequest:
    try:
        args = json.loads(arguments or "{}")
    except ValueError:
        args = {"_raw": arguments}
    return ToolCallRequest(call_id=call_id, name=name, args=args if isinstance(args, dict) else {"value": args})


def _usage(usage: Any) -> TokenUsage:
    return TokenUsage(
        prompt_tokens=getattr(usage, "prompt_tokens", 0) or 0,
        completion_tokens=getattr(usage, "completion_tokens", 0) or 0,
        total_tokens=getattr(usage, "total_tokens", 0) or 0,
    )


def _reply(response: Any) -> LLMReply:
    message = response.choices[0].message
    calls = [_tool_call(tc.id, tc.function.name, tc.function.arguments) for tc in message.tool_calls or []]
    usage = _usage(getattr(response, "usage", None))
    return LLMReply(content=message.content, tool_calls=calls, model=getattr(response, "model", None), usage=usage)
