"""Benchmark: what MCP costs, in one run on one dev server.

- in a turn: a turn whose one tool call is the stdio ``mcp-server-time``'s get_current_time
  (node.llm -> mcp.time.get_current_time -> node.llm) vs a turn calling the built-in current_time
  tool (node.llm -> tool.current_time -> node.llm), and the same server called directly with the
  official ``mcp`` client (one connection, as the worker keeps one);
- served: a calculator turn through ``/mcp`` (the official client, streamable HTTP) vs the same
  turn through ``POST /v1/sessions/{id}/messages``, both over real HTTP to one API process.
Rounds interleaved; prints one JSON object of p50s in milliseconds.
"""

from __future__ import annotations

import asyncio
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import httpx
import httpx2
from mcp import Client, StdioServerParameters
from mcp.client.streamable_http import streamable_http_client

from api.app import create_app
from core.agents import AgentFactory
from core.cache import build_cache
from core.mcp_config import McpServerConfig
from core.settings import load_settings
from core.temporal.client import connect
from core.temporal.search_attributes import ensure_registered
from devstack.processes import free_port
from devstack.redis_server import RedisServer
from devstack.temporal_server import TemporalDevServer
from services.sessions import SessionService
from services.tools import load_tools
from temporal.worker import build_worker
from tests.served import served

ROUNDS = 30
TIME_SERVER = Path(sys.executable).parent / "mcp-server-time"
AGENTS = """\
agents:
  assistant:
    persona: Bench agent.
    tools: [calculator, current_time]
    mcp_servers: [time]
"""
MCP_TURN = '/tool time_get_current_time {"timezone": "Asia/Tokyo"}'
BUILTIN_TURN = '/tool current_time {"timezone": "Asia/Tokyo"}'


def p50(xs: list[float]) -> float:
    return round(statistics.median(xs) * 1000, 2)


async def timed(coro) -> tuple[float, object]:
    start = time.perf_counter()
    out = await coro
    return time.perf_counter() - start, out


async def main() -> dict:
    with tempfile.TemporaryDirectory(prefix="impressox-bench-mcp-") as tmp:
        agents = Path(tmp) / "agents.yaml"
        agents.write_text(AGENTS)
        server = TemporalDevServer(free_port(), Path(tmp) / "temporal.db").start()
        redis = RedisServer()
        try:
            redis.start()
            settings = load_settings(
                temporal_address=server.address,
                redis_url=redis.url,
                task_queue="bench-mcp",
                data_dir=Path(tmp),
                agents_file=agents,
                mcp_servers={"time": McpServerConfig(command=str(TIME_SERVER), args=["--local-timezone", "UTC"])},
                rate_limit="100000/minute",
                rate_limit_messages="100000/minute",
            )
            return await measure(settings)
        finally:
            redis.stop()
            server.stop()


async def measure(settings) -> dict:
    client = await connect(settings)
    await ensure_registered(client)
    registry = load_tools()
    cache = await build_cache(settings.redis_url)
    sessions = SessionService(client, settings, AgentFactory.from_yaml(settings.agents_file, registry, settings))
    mcp_turns, builtin_turns, direct = [], [], []
    rest_turns, mcp_served = [], []
    params = StdioServerParameters(command=str(TIME_SERVER), args=["--local-timezone", "UTC"])
    async with build_worker(client, settings, registry, cache), Client(params, cache=None) as direct_client:
        sid = await sessions.create("local", "assistant")
        for text in (MCP_TURN, BUILTIN_TURN):  # warm: the tool list, the server start, caches
            await sessions.send("local", sid, text, 60)
        await direct_client.call_tool("get_current_time", {"timezone": "Asia/Tokyo"})
        for _ in range(ROUNDS):
            t, r = await timed(sessions.send("local", sid, MCP_TURN, 60))
            assert "Asia/Tokyo" in r.reply, r  # type: ignore[attr-defined]
            mcp_turns.append(t)
            t, _ = await timed(sessions.send("local", sid, BUILTIN_TURN, 60))
            builtin_turns.append(t)
            t, _ = await timed(direct_client.call_tool("get_current_time", {"timezone": "Asia/Tokyo"}))
            direct.append(t)

        async with served(create_app(settings)) as base:
            http = httpx2.AsyncClient(timeout=httpx2.Timeout(30, read=120))
            async with (
                httpx.AsyncClient(base_url=base, timeout=120) as rest,
                Client(streamable_http_client(f"{base}/mcp", http_client=http), cache=None) as mcp,
            ):
                first = await mcp.call_tool("assistant", {"message": "what is 6 * 7?"})
                served_sid = (first.structured_content or {})["session_id"]
                for i in range(ROUNDS):
                    question = f"what is {i} * 7?"
                    args = {"message": question, "session_id": served_sid}
                    t, r = await timed(mcp.call_tool("assistant", args))
                    assert not r.is_error, r  # type: ignore[attr-defined]
                    mcp_served.append(t)
                    body = {"text": question}
                    t, r = await timed(rest.post(f"/v1/sessions/{served_sid}/messages", json=body))
                    assert r.status_code == 200, r.text  # type: ignore[attr-defined]
                    rest_turns.append(t)
    await cache.close()
    return {
        "rounds": ROUNDS,
        "turn_with_mcp_tool_p50_ms": p50(mcp_turns),
        "turn_with_builtin_tool_p50_ms": p50(builtin_turns),
        "direct_mcp_client_call_p50_ms": p50(direct),
        "mcp_tool_in_turn_minus_direct_call_p50_ms": round(p50(mcp_turns) - p50(direct), 2),
        "mcp_tool_turn_vs_builtin_tool_turn_p50_ms": round(p50(mcp_turns) - p50(builtin_turns), 2),
        "mcp_endpoint_turn_p50_ms": p50(mcp_served),
        "rest_turn_p50_ms": p50(rest_turns),
        "mcp_endpoint_vs_rest_ratio": round(statistics.median(mcp_served) / statistics.median(rest_turns), 2),
    }


if __name__ == "__main__":
    print(json.dumps(asyncio.run(main()), indent=2))
