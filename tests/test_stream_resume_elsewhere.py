"""Any API process serves any session: a client whose stream from one API process drops resumes
it on another with `Last-Event-ID` and misses nothing (the events live in Redis, not in a process)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import httpx
import uvicorn
from temporalio.client import Client

from api.app import create_app
from core.cache import build_cache
from core.redis_keys import redis_prefix
from core.settings import Settings
from core.streams import TurnStreams
from devstack.processes import free_port
from services.tools import load_tools
from temporal.worker import build_worker
from tests.test_streaming import new_session, shown_text, stream_message, turn_events


@contextlib.asynccontextmanager
async def two_api_processes(client: Client, settings: Settings) -> AsyncIterator[list[httpx.AsyncClient]]:
    """A worker and two API servers on their own ports, as two processes of one deployment run them."""
    cache = await build_cache(settings.redis_url, redis_prefix(settings))
    streams = TurnStreams.from_settings(settings)
    servers = []
    for _ in range(2):
        port = free_port()
        config = uvicorn.Config(create_app(settings), host="127.0.0.1", port=port, log_level="warning", lifespan="on")
        servers.append((uvicorn.Server(config), port))
    try:
        async with build_worker(client, settings, load_tools(settings.tool_modules), cache, streams=streams):
            serving = [asyncio.create_task(server.serve()) for server, _ in servers]
            while not all(server.started for server, _ in servers):
                await asyncio.sleep(0.05)
            async with contextlib.AsyncExitStack() as stack:
                https = [
                    await stack.enter_async_context(httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=60))
                    for _, port in servers
                ]
                yield https
            for server, _ in servers:
                server.should_exit = True
            await asyncio.gather(*serving)
    finally:
        await streams.close()
        await cache.close()


async def test_a_stream_dropped_on_one_api_process_resumes_on_another_with_nothing_missing(
    client: Client, settings: Settings
) -> None:
    slow = settings.model_copy(update={"offline_token_delay_ms": 30.0})
    async with two_api_processes(client, slow) as (a, b):
        sid = await new_session(a)
        first = await stream_message(a, sid, "hello there", "m1", limit=3)  # then a's connection drops
        assert [k for _, k, _ in first] == ["token"] * 3
        rest = await turn_events(b, sid, "m1", after=first[-1][0])  # resumed on the other process
        whole = await turn_events(a, sid, "m1")
        assert first + rest == whole and whole[-1][1] == "done"
        assert shown_text(whole) == whole[-1][2]["reply"]
