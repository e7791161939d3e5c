"""MCP servers as tool sources: one long-lived client connection per configured server and worker.

A stdio server is started by the worker on first use and kept running: every call of every
session on this worker goes through the one process (the SDK multiplexes requests). A server
that dies (or a connection that breaks) is dropped; the call fails as retryable, and the retry
(Temporal's) starts it again. A streamable HTTP server gets one HTTP client, with its configured
headers, kept the same way.

What a server sees: the tool calls' arguments as the model wrote them, nothing else. No user
name, session id or key of ours is sent; a stdio server's environment is the SDK's safe minimum
(PATH, HOME, ...) plus its configured ``env``, so the worker's own secrets never reach it. One
server process serves every user of the worker: a server that keeps state between calls shares
it between users, so such a server is configured per deployment, not trusted with secrets.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from dataclasses import dataclass
from typing import Any

import httpx2
from mcp import Client, StdioServerParameters
from mcp.client.streamable_http import streamable_http_client
from mcp_types import CallToolResult, Tool

from core.errors import PermanentError
from core.mcp_config import McpServerConfig, mcp_tool_name
from core.schemas import ToolSpec

log = logging.getLogger(__name__)
#: how long connecting (starting a stdio server, the protocol handshake) may take
CONNECT_TIMEOUT_SECONDS = 30.0


class McpUnavailable(Exception):
    """The server cannot be reached now (not started, crashed, refused): worth a retry."""


class McpToolFailed(PermanentError):
    """The server answered the call with an error (``isError``): retrying would not help."""


@dataclass
class McpCallResult:
    text: str
    structured: dict[str, Any] | None = None


class McpConnection:
    """One server's client, opened in a task of its own (the SDK's context must be entered and
    left by one task) and shared by the calls of every activity on this worker."""

    def __init__(self, name: str, config: McpServerConfig) -> None:
        self.name = name
        self.config = config
        self._client: Client | None = None
        self._task: asyncio.Task[None] | None = None
        self._ready: asyncio.Future[Client] | None = None
        self._closing = asyncio.Event()
        self._lock = asyncio.Lock()
        #: how many times the server was (re)started: a test sees a crashed server come back
        self.starts = 0

    def _target(self) -> Any:
        c = self.config
        if c.command:
            env = {k: v.get_secret_value() for k, v in c.env.items()}
            return StdioServerParameters(command=c.command, args=c.args, env=env or None)
        assert c.url is not None
        headers = {k: v.get_secret_value() for k, v in c.headers.items()}
        http = httpx2.AsyncClient(headers=headers, timeout=httpx2.Timeout(30.0, read=c.timeout_seconds + 30))
        return streamable_http_client(c.url, http_client=http), http

    async def client(self) -> Client:
        async with self._lock:
            if self._client is not None and self._task is not None and not self._task.done():
                return self._client
            self._closing = asyncio.Event()
            self._ready = asyncio.get_running_loop().create_future()
            self._task = asyncio.create_task(self._run(self._ready, self._closing), name=f"mcp-{self.name}")
            self.starts += 1
            try:
                self._client = await asyncio.wait_for(asyncio.shield(self._ready), CONNECT_TIMEOUT_SECONDS)
            except Exception as exc:  # noqa: BLE001 - whatever stopped the start, the call is retried
                self._closing.set()
                self._client = None
                raise McpUnavailable(f"the {self.name} MCP server cannot be reached: {_describe(exc)}") from None
            return self._client

    async def _run(self, ready: asyncio.Future[Client], closing: asyncio.Event) -> None:
        target = self._target()
        http = None
        if isinstance(target, tuple):
            target, http = target
        try:
            async with Client(target, cache=None, read_timeout_seconds=self.config.timeout_seconds) as client:
                ready.set_result(client)
                await closing.wait()
        except BaseException as exc:
            if not ready.done():
                ready.set_exception(McpUnavailable(_describe(exc)))
            elif not closing.is_set():
                log.warning("MCP server %s connection ended: %s", self.name, _describe(exc))
            if isinstance(exc, asyncio.CancelledError):
                raise
        finally:
            if self._client is not None and self._ready is ready:
                self._client = None
            if http is not None:
                await http.aclose()

    async def broken(self) -> None:
        """Drop the connection (the next call reconnects; a stdio server is started again)."""
        async with self._lock:
            self._client = None
            self._closing.set()

    async def close(self) -> None:
        self._closing.set()
        if self._task is not None:
            with contextlib.suppress(BaseException):
                await asyncio.wait_for(self._task, 10)


class McpPool:
    """The worker's connections to its configured MCP servers (``settings.mcp_servers``)."""

    def __init__(self, servers: dict[str, McpServerConfig]) -> None:
        self.servers = servers
        self._connections = {name: McpConnection(name, config) for name, config in servers.items()}

    def connection(self, server: str) -> McpConnection:
        if server not in self._connections:
            raise PermanentError(f"no MCP server named {server!r} is configured on this worker")
        return self._connections[server]

    async def list_tools(self, server: str) -> list[ToolSpec]:
        """The server's tools as the model will see them (include/exclude and approvals applied)."""
        conn = self.connection(server)
        tools: list[Tool] = []
        try:
            client = await conn.client()
            cursor = None
            while True:
                page = await client.list_tools(cursor=cursor)
                tools += page.tools
                cursor = page.next_cursor
                if not cursor:
                    break
        except McpUnavailable:
            raise
        except Exception as exc:  # noqa: BLE001 - a broken connection is retried with a new one
            await conn.broken()
            raise McpUnavailable(f"the {server} MCP server failed to list its tools: {_describe(exc)}") from None
        return [self._spec(server, conn.config, t) for t in tools if conn.config.wants(t.name)]

    def _spec(self, server: str, config: McpServerConfig, tool: Tool) -> ToolSpec:
        annotations = tool.annotations.model_dump(by_alias=True, exclude_none=True) if tool.annotations else None
        approval = config.needs_approval(tool.name, annotations)
        return ToolSpec(
            name=mcp_tool_name(server, tool.name),
            description=(tool.description or tool.title or tool.name)[:1024],
            parameters=tool.input_schema or {"type": "object", "properties": {}},
            requires_approval=approval,
            side_effects=approval or not bool((annotations or {}).get("readOnlyHint")),
            timeout_seconds=config.timeout_seconds,
            max_attempts=config.max_attempts,
            mcp_server=server,
            mcp_tool=tool.name,
        )

    async def call(self, server: str, tool: str, args: dict[str, Any]) -> McpCallResult:
        conn = self.connection(server)
        client = await conn.client()
        try:
            result = await client.call_tool(tool, args, read_timeout_seconds=conn.config.timeout_seconds)
        except Exception as exc:  # noqa: BLE001 - a dead server or broken stream: reconnect on the retry
            await conn.broken()
            raise McpUnavailable(f"the {server} MCP server did not answer {tool}: {_describe(exc)}") from None
        text = result_text(result)
        if result.is_error:
            raise McpToolFailed(f"the {server} MCP server's {tool} failed: {text or 'no detail given'}")
        return McpCallResult(text=text, structured=result.structured_content)

    async def close(self) -> None:
        await asyncio.gather(*(c.close() for c in self._connections.values()))


def result_text(result: CallToolResult) -> str:
    """A call's content as text for the model: text blocks as they are, other blocks named."""
    parts: list[str] = []
    for block in result.content:
        kind = getattr(block, "type", "")
        if kind == "text":
            parts.append(block.text)  # type: ignore[union-attr]
        elif kind in ("image", "audio"):
            parts.append(f"[{kind} {getattr(block, 'mime_type', '')}]")
        elif kind == "resource_link":
            parts.append(f"[resource {getattr(block, 'uri', '')}]")
        else:
            parts.append(f"[{kind or 'content'}]")
    if not parts and result.structured_content is not None:
        parts.append(json.dumps(result.structured_content, default=str))
    return "\n".join(parts)


def _describe(exc: BaseException) -> str:
    while isinstance(exc, BaseExceptionGroup) and exc.exceptions:
        exc = exc.exceptions[0]
    return " ".join(str(exc).split())[:300] or type(exc).__name__
