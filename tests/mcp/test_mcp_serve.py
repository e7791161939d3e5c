"""Our agents as an MCP server: the official ``mcp`` client over streamable HTTP at /mcp lists one
tool per agent, calls one, continues its session; with API keys, a wrong key is 401 and another
user's session is refused."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import httpx2
import pytest
from mcp import Client
from mcp.client.streamable_http import streamable_http_client

from api.app import create_app
from core.settings import ApiKey, Settings
from devstack.redis_server import RedisServer
from tests.conftest import TemporalServer, make_settings
from tests.mcp.conftest import AGENTS, everything_stdio, time_server
from tests.served import served

KEYS = {"alice": "alice-key-0123456789abcdef", "bob": "bob-key-0123456789abcdef00"}


@pytest.fixture
def settings(temporal_server: TemporalServer, redis_server: RedisServer, tmp_path: Path) -> Settings:
    keys = [ApiKey.model_validate({"user": u, "key": k}) for u, k in KEYS.items()]
    servers = {"time": time_server(), "everything": everything_stdio()}  # started only if a call needs them
    return make_settings(
        temporal_server, redis_server.url, tmp_path, agents_file=AGENTS, api_keys=keys, mcp_servers=servers
    )


@pytest.fixture
async def url(settings: Settings, worker: None) -> AsyncIterator[str]:
    async with served(create_app(settings)) as base:
        yield base


def mcp_client(base: str, user: str | None) -> Client:
    headers = {"Authorization": f"Bearer {KEYS[user]}"} if user else {}
    http = httpx2.AsyncClient(headers=headers, timeout=httpx2.Timeout(30, read=120))
    return Client(streamable_http_client(f"{base}/mcp", http_client=http), cache=None)


async def test_mcp_clients_list_call_and_continue_agents_as_their_own_user(url: str) -> None:
    async with mcp_client(url, "alice") as alice:
        tools = {t.name: t for t in (await alice.list_tools()).tools}
        assert set(tools) == {"assistant", "calculator", "helper", "manager", "noter", "boss", "rememberer"}
        assert tools["calculator"].input_schema["required"] == ["message"]
        first = await alice.call_tool("calculator", {"message": "what is 6 * 7?"})
        assert not first.is_error and "42" in first.content[0].text  # type: ignore[union-attr]
        sid = (first.structured_content or {})["session_id"]
        second = await alice.call_tool("calculator", {"message": "what is 2 + 3?", "session_id": sid})
        assert (second.structured_content or {})["session_id"] == sid and "5" in second.content[0].text  # type: ignore[union-attr]

    async with httpx.AsyncClient(base_url=url, headers={"Authorization": f"Bearer {KEYS['alice']}"}) as rest:
        view = (await rest.get(f"/v1/sessions/{sid}")).json()
    assert [m["content"] for m in view["messages"] if m["role"] == "user"] == ["what is 6 * 7?", "what is 2 + 3?"]

    async with mcp_client(url, "bob") as bob:
        refused = await bob.call_tool("calculator", {"message": "what is 9 * 9?", "session_id": sid})
        assert refused.is_error and "no session" in refused.content[0].text  # type: ignore[union-attr]
    async with httpx.AsyncClient(base_url=url, headers={"Authorization": f"Bearer {KEYS['alice']}"}) as rest:
        assert (await rest.get(f"/v1/sessions/{sid}")).json()["turn_count"] == 2


async def test_mcp_without_a_valid_key_is_401(url: str) -> None:
    hello = {"jsonrpc": "2.0", "id": 1, "method": "tools/list"}
    async with httpx.AsyncClient(base_url=url) as http:
        for headers in ({}, {"Authorization": "Bearer not-a-key-0123456789"}):
            r = await http.post("/mcp", content=json.dumps(hello), headers=headers)
            assert r.status_code == 401 and r.headers["www-authenticate"] == "Bearer"
