"""Messages arriving while a session rolls over into a new run are all answered, none lost."""

from __future__ import annotations

import asyncio

from temporalio.client import Client

from core.agents import AgentFactory
from core.cache import Cache
from core.schemas import TurnResult
from core.settings import Settings
from services.sessions import SessionService
from services.tools import load_tools
from temporal.worker import build_worker


async def test_concurrent_messages_across_continue_as_new(client: Client, settings: Settings, cache: Cache):
    rolling = settings.model_copy(update={"continue_as_new_after_turns": 2})
    registry = load_tools(rolling.tool_modules)
    sessions = SessionService(client, rolling, AgentFactory.from_yaml(rolling.agents_file, registry, rolling))
    async with build_worker(client, rolling, registry, cache):
        sid = await sessions.create("local", "assistant")
        for wave in range(3):
            texts = [f"what is {wave * 100 + i} + 7?" for i in range(6)]
            results = await asyncio.gather(*(send_later(sessions, sid, t, delay=i * 0.03) for i, t in enumerate(texts)))
            for i, r in enumerate(results):
                assert isinstance(r, TurnResult), r
                assert str(wave * 100 + i + 7) in r.reply
        view = await sessions.get("local", sid)
    assert view.turn_count == 18
    assert sorted(m.turn for m in view.messages if m.role == "user") == list(range(1, 19))
    runs = [w async for w in client.list_workflows(f"WorkflowId='{sid}'")]
    assert len(runs) >= 3


async def send_later(sessions: SessionService, sid: str, text: str, delay: float):
    """Staggered arrivals: some land while the session is rolling over to a new run."""
    await asyncio.sleep(delay)
    return await sessions.send("local", sid, text, wait=60)
