"""`impressox chat` streams: the tokens it prints as they arrive add up to the workflow's reply, and a
turn that stops for an approval is shown at once (over real HTTP: an in-process transport would
hold the stream until the turn ends)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from api.app import create_app
from cli.backend import ApiBackend
from core.schemas import TurnResult
from core.settings import Settings
from tests.served import served


@pytest.fixture
async def backend(settings: Settings, worker: None) -> AsyncIterator[ApiBackend]:
    async with served(create_app(settings)) as url:
        client = ApiBackend(url)
        try:
            yield client
        finally:
            await client.close()


async def test_chat_prints_the_streamed_tokens_and_ends_with_the_turn_result(backend: ApiBackend) -> None:
    sid = await backend.create("assistant")
    pieces: list[str] = []
    result = await backend.send_streaming(sid, "what is 17 * 23?", 60, pieces.append)
    assert isinstance(result, TurnResult)
    assert "391" in result.reply
    assert len(pieces) >= 2  # word by word, not one block
    assert "".join(pieces).strip() == result.reply.strip()


async def test_a_streamed_transfer_stops_at_its_approval(backend: ApiBackend) -> None:
    sid = await backend.create("tester")
    result = await backend.send_streaming(sid, '/tool pay {"amount": "5 USD", "to": "bob"}', 60, lambda _: None)
    assert isinstance(result, TurnResult) and result.status == "awaiting_approval"
    assert (await backend.view(sid)).pending_approvals
