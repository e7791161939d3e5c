"""Streamed LLM calls: the chunks handed over join to the same reply a plain call returns."""

from __future__ import annotations

import time
from typing import Any

import litellm
import pytest

from core.cache import MemoryCache
from core.llm import offline
from core.llm.gateway import LLMGateway, split_words
from core.settings import OFFLINE_MODEL

TOOLS = [
    {
        "type": "function",
        "function": {"name": "calculator", "description": "math", "parameters": {"type": "object", "properties": {}}},
    }
]


def conversation(tag: str) -> list[dict]:
    call = {"id": "c1", "type": "function", "function": {"name": "calculator", "arguments": "{}"}}
    return [
        {"role": "user", "content": f"what is 6 * 7? ({tag})"},
        {"role": "assistant", "content": None, "tool_calls": [call]},
        {"role": "tool", "tool_call_id": "c1", "content": "6 * 7 = 42, as the calculator says"},
    ]


async def test_a_streamed_answer_equals_the_plain_one_and_arrives_word_by_word(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    answered: list[object] = []
    respond = offline.respond

    def counting(*args: Any, **kwargs: Any) -> Any:
        answered.append(args)
        return respond(*args, **kwargs)

    monkeypatch.setattr(offline, "respond", counting)
    gateway = LLMGateway(MemoryCache())
    chunks: list[str] = []

    async def on_chunk(text: str) -> None:
        chunks.append(text)

    streamed = await gateway.complete(OFFLINE_MODEL, conversation("a"), TOOLS, 5, on_chunk=on_chunk)
    plain = await gateway.complete(OFFLINE_MODEL, conversation("b"), TOOLS, 5)
    assert streamed.content == plain.content == "6 * 7 = 42, as the calculator says"
    assert streamed.usage == plain.usage and streamed.usage.total_tokens > 0
    assert streamed.model == OFFLINE_MODEL
    words = [c for c in chunks if c]
    assert len(words) == 9 and "".join(words) == streamed.content
    # a cached reply still reaches a streaming caller as tokens
    again: list[str] = []

    async def collect(text: str) -> None:
        again.append(text)

    calls = len(answered)
    cached = await gateway.complete(OFFLINE_MODEL, conversation("a"), TOOLS, 5, on_chunk=collect)
    assert len(answered) == calls  # served from the cache, not by the model
    assert cached.content == streamed.content and "".join(again) == streamed.content


async def test_a_streamed_tool_call_is_assembled() -> None:
    gateway = LLMGateway(MemoryCache())

    async def ignore(text: str) -> None:
        pass

    messages = [{"role": "user", "content": "what is 17 * 23?"}]
    streamed = await gateway.complete(OFFLINE_MODEL, messages, TOOLS, 5, on_chunk=ignore)
    plain = await LLMGateway(MemoryCache()).complete(OFFLINE_MODEL, messages, TOOLS, 5)
    assert streamed.content is None and streamed.tool_calls == plain.tool_calls
    assert streamed.tool_calls[0].name == "calculator" and streamed.tool_calls[0].args == {"expression": "17 * 23"}


async def test_the_offline_model_streams_through_litellm_too_and_honours_its_pacing() -> None:
    t0 = time.perf_counter()
    stream = await litellm.acompletion(
        model=OFFLINE_MODEL,
        messages=conversation("c"),
        stream=True,
        stream_options={"include_usage": True},
        offline_first_token_delay_ms=100,
        offline_token_delay_ms=10,
    )
    texts = [c.choices[0].delta.content async for c in stream if c.choices and c.choices[0].delta.content]
    assert "".join(texts) == "6 * 7 = 42, as the calculator says"
    assert time.perf_counter() - t0 >= 0.1 + 8 * 0.01  # a lower bound: the pacing happened


def test_words_join_back_to_the_text() -> None:
    for text in ("a b  c", " lead", "trail ", "one", "", "line\nbreak"):
        assert "".join(split_words(text)) == text
