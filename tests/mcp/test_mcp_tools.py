"""MCP servers' tools in a session, against real servers nobody here wrote: a listing frozen into the
plan, calls as activities of their own, a tool error told to the model, a server killed mid-call, a
tool configured to need approval, the same server over streamable HTTP."""

from __future__ import annotations

import asyncio
import os
import signal
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from temporalio.client import Client

from core.agents import AgentFactory
from core.cache import Cache
from core.mcp_config import McpServerConfig
from core.settings import Settings
from devstack.redis_server import RedisServer
from services.mcp import McpPool
from services.sessions import SessionService
from services.tools import load_tools
from services.tools.deps import WorkerDeps
from temporal.worker import build_worker
from tests.conftest import TemporalServer, make_settings
from tests.mcp.conftest import AGENTS, everything_stdio, time_server
from tests.turns import decided, done


def mcp_settings(temporal: TemporalServer, redis: RedisServer, tmp: Path, **servers: McpServerConfig) -> Settings:
    return make_settings(temporal, redis.url, tmp, agents_file=AGENTS, mcp_servers=servers)


@pytest.fixture
def servers() -> dict[str, McpServerConfig]:
    return {"time": time_server(), "everything": everything_stdio(require_approval=["echo"])}


@pytest.fixture
def settings(
    temporal_server: TemporalServer, redis_server: RedisServer, tmp_path: Path, servers: dict[str, McpServerConfig]
) -> Settings:
    return mcp_settings(temporal_server, redis_server, tmp_path, **servers)


@pytest.fixture
async def pool(settings: Settings) -> AsyncIterator[McpPool]:
    p = McpPool(settings.mcp_servers)
    yield p
    await p.close()


@pytest.fixture
async def worker(client: Client, settings: Settings, cache: Cache, pool: McpPool) -> AsyncIterator[None]:
    deps = WorkerDeps(settings=settings, cache=cache, mcp=pool)
    async with build_worker(client, settings, load_tools(settings.tool_modules), cache, deps):
        yield


@pytest.fixture
def sessions(client: Client, settings: Settings) -> SessionService:
    agents = AgentFactory.from_yaml(settings.agents_file, load_tools(settings.tool_modules), settings)
    return SessionService(client, settings, agents)


async def activity_types(client: Client, sid: str) -> list[str]:
    history = await client.get_workflow_handle(sid).fetch_history()
    return [
        e.activity_task_scheduled_event_attributes.activity_type.name
        for e in history.events
        if e.HasField("activity_task_scheduled_event_attributes")
    ]


async def test_a_stdio_servers_tools_are_listed_once_called_as_activities_and_errors_reach_the_model(
    worker: None, sessions: SessionService, client: Client
) -> None:
    sid = await sessions.create("local", "assistant")
    tokyo = done(await sessions.send("local", sid, '/tool time_get_current_time {"timezone": "Asia/Tokyo"}', 60))
    assert tokyo.status == "done" and '"timezone": "Asia/Tokyo"' in tokyo.reply and "+09:00" in tokyo.reply
    assert [c.name for c in tokyo.tool_calls] == ["time_get_current_time"]

    bad = done(await sessions.send("local", sid, '/tool time_get_current_time {"timezone": "Mars/Olympus"}', 60))
    assert bad.status == "done", "a tool error must not fail the turn"
    assert bad.tool_calls[0].status == "error" and "Invalid timezone" in bad.reply

    summed = done(await sessions.send("local", sid, '/tool everything_get-sum {"a": 2, "b": 40}', 60))
    assert "The sum of 2 and 40 is 42" in summed.reply

    types = await activity_types(client, sid)
    assert types.count("mcp.list_tools") == 1, "the tool list is fetched once and frozen into the plan"
    assert types.count("mcp.time.get_current_time") == 2 and "mcp.everything.get-sum" in types


async def test_a_tool_configured_to_need_approval_waits_for_a_signed_decision(
    worker: None, sessions: SessionService
) -> None:
    sid = await sessions.create("local", "assistant")
    waiting = done(await sessions.send("local", sid, '/tool everything_echo {"message": "ship it"}', 60))
    assert waiting.status == "awaiting_approval", waiting
    pending = (await sessions.get("local", sid)).pending_approvals
    assert [p.tool for p in pending] == ["everything_echo"] and "MCP server" in pending[0].reason
    record = decided(await sessions.decide("local", sid, pending[0].call_id, True))
    assert record.status == "ok" and record.result == "Echo: ship it"


def server_pids(marker: str) -> list[int]:
    """Processes started by this test process (the in-process worker's stdio servers) running ``marker``."""
    out = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        if ppid == os.getpid() and marker in cmdline:
            out.append(int(entry.name))
    return out


async def test_a_server_killed_mid_call_is_started_again_and_the_turn_completes(
    worker: None, sessions: SessionService, pool: McpPool
) -> None:
    sid = await sessions.create("local", "assistant")
    # connect first, so the server under the call is the one killed
    done(await sessions.send("local", sid, '/tool everything_get-sum {"a": 1, "b": 1}', 60))
    pids = server_pids("server-everything")
    assert len(pids) == 1
    call = '/tool everything_trigger-long-running-operation {"duration": 3, "steps": 3}'
    turn = asyncio.create_task(sessions.send("local", sid, call, 120))
    await asyncio.sleep(1.5)  # the call is under way
    os.kill(pids[0], signal.SIGKILL)
    result = done(await turn)
    assert result.status == "done" and "Long running operation completed" in result.reply, result
    assert pool.connection("everything").starts == 2, "the killed server was started again for the retry"
    assert server_pids("server-everything") not in ([], pids)


async def test_a_streamable_http_server_serves_the_same_tools(
    temporal_server: TemporalServer,
    redis_server: RedisServer,
    tmp_path: Path,
    client: Client,
    cache: Cache,
    everything_http: str,
) -> None:
    settings = mcp_settings(
        temporal_server, redis_server, tmp_path, time=time_server(), everything=McpServerConfig(url=everything_http)
    )
    pool = McpPool(settings.mcp_servers)
    agents = AgentFactory.from_yaml(settings.agents_file, load_tools(settings.tool_modules), settings)
    sessions = SessionService(client, settings, agents)
    deps = WorkerDeps(settings=settings, cache=cache, mcp=pool)
    try:
        async with build_worker(client, settings, load_tools(settings.tool_modules), cache, deps):
            sid = await sessions.create("local", "assistant")
            summed = done(await sessions.send("local", sid, '/tool everything_get-sum {"a": 20, "b": 22}', 60))
            assert "The sum of 20 and 22 is 42" in summed.reply
    finally:
        await pool.close()


async def test_a_server_that_is_down_gives_the_model_a_tool_error_and_the_session_goes_on(
    temporal_server: TemporalServer, redis_server: RedisServer, tmp_path: Path, client: Client, cache: Cache
) -> None:
    down = McpServerConfig(url="http://127.0.0.1:9/mcp", timeout_seconds=5)  # nothing listens on port 9
    settings = mcp_settings(temporal_server, redis_server, tmp_path, time=time_server(), everything=down)
    pool = McpPool(settings.mcp_servers)
    agents = AgentFactory.from_yaml(settings.agents_file, load_tools(settings.tool_modules), settings)
    sessions = SessionService(client, settings, agents)
    try:
        deps = WorkerDeps(settings=settings, cache=cache, mcp=pool)
        async with build_worker(client, settings, load_tools(settings.tool_modules), cache, deps):
            sid = await sessions.create("local", "assistant")
            # the time server's tools are there; the unreachable server's are not (listed again next turn)
            tokyo = done(await sessions.send("local", sid, '/tool time_get_current_time {"timezone": "UTC"}', 90))
            assert tokyo.status == "done" and '"timezone": "UTC"' in tokyo.reply
            again = done(await sessions.send("local", sid, "what is 6 * 7?", 90))
            assert "42" in again.reply
    finally:
        await pool.close()
