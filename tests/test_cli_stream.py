"""`impressox chat` streams: the tokens it prints as they arrive add up to the workflow's reply."""

from __future__ import annotations

import httpx

from cli.backend import ApiBackend
from core.schemas import TurnResult


async def test_chat_prints_the_streamed_tokens_and_ends_with_the_turn_result(api: httpx.AsyncClient) -> None:
    backend = ApiBackend("http://127.0.0.1")
    await backend.http.aclose()
    backend.http = api  # the real API app in process (its lifespan, worker and Redis are real)
    sid = await backend.create("assistant")
    pieces: list[str] = []
    result = await backend.send_streaming(sid, "what is 17 * 23?", 60, pieces.append)
    assert isinstance(result, TurnResult)
    assert "391" in result.reply
    assert len(pieces) >= 2  # word by word, not one block
    assert "".join(pieces).strip() == result.reply.strip()
