"""Our agents as an MCP server: ``/mcp`` (streamable HTTP, the ``mcp`` package's server).

One tool per agent of the agents file, named after it, taking ``{message, session_id?}``: without
a session id the call starts a session with that agent, with one it goes on in that session. The
answer is the agent's reply as text, and ``{session_id, reply}`` as structured content so a
client can continue. It is the REST API's session service: the same API keys (``Authorization:
Bearer <key>``; 401 without a valid one when keys are configured), the same owner checks (another
user's session is unknown), the same rate limits (each call counts as a message, a new session
as a session too) and approvals (a turn that waits for one says so, and how to approve it).

Stateless and JSON-answered: every request stands alone, so any API process of a deployment
serves any call (``--api-workers``), and nothing is kept per MCP connection.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator, Callable, Coroutine
from typing import Any

from mcp.server.mcpserver import Context, MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from mcp.server.streamable_http_manager import StreamableHTTPSessionManager
from mcp_types import CallToolResult, TextContent
from starlette.types import Receive, Scope, Send

from api.auth import KeyRing, presented_key
from api.ratelimit import RateLimiter
from core.agents import AgentFactory
from core.errors import NotFoundError
from core.settings import Settings
from services.sessions import PendingTurn, SessionService

PATH = "/mcp"
#: how long one call waits for the agent's reply before answering that it is still working
TURN_WAIT_SECONDS = 120.0
_USER = "impressox_user"


class AgentsMcpServer:
    """The ASGI app served at ``/mcp``: authenticates, then hands the request to the MCP server."""

    def __init__(
        self,
        settings: Settings,
        agents: AgentFactory,
        keys: KeyRing,
        limiter: RateLimiter,
        sessions: Callable[[], SessionService],
    ) -> None:
        self.settings = settings
        self.keys = keys
        self.limiter = limiter
        self._sessions = sessions
        self.server: MCPServer = MCPServer(
            name="impressox",
            instructions=(
                "Each tool is an Impressox agent. Send it a message; pass the session_id of its answer to go on "
                "in the same conversation."
            ),
        )
        for name in agents.names():
            about = agents.definitions[name].description or f"the {name} agent"
            self.server.add_tool(
                self._tool(name),
                name=name,
                description=(
                    f"{about} (an Impressox agent). Give a message; give the session_id of an earlier answer "
                    "to continue that conversation. Answers the agent's reply and the session_id."
                ),
            )
        self.manager = StreamableHTTPSessionManager(
            app=self.server._lowlevel_server, json_response=True, stateless=True
        )

    @contextlib.asynccontextmanager
    async def running(self) -> AsyncIterator[None]:
        """Run the MCP session manager for the app's lifetime (the API's lifespan enters it).

        The manager's task group lives in a task of its own: a lifespan may be left by another task
        than the one that entered it (test fixtures are), which an anyio scope does not allow."""
        ready, stop = asyncio.Event(), asyncio.Event()

        async def serve() -> None:
            async with self.manager.run():
                ready.set()
                await stop.wait()

        task = asyncio.create_task(serve(), name="mcp-session-manager")
        await asyncio.wait({task, asyncio.ensure_future(ready.wait())}, return_when=asyncio.FIRST_COMPLETED)
        if task.done():
            task.result()  # the manager failed to start: say why
        try:
            yield
        finally:
            stop.set()
            await task

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        user = self._user(scope)
        if user is None:
            await _unauthorized(send)
            return
        scope.setdefault("state", {})[_USER] = user
        await self.manager.handle_request(scope, receive, send)

    def _user(self, scope: Scope) -> str | None:
        if not self.keys:
            return self.settings.local_user
        headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope.get("headers", [])}
        presented = presented_key(headers)
        return self.keys.user_for(presented) if presented else None

    def _tool(self, agent: str) -> Callable[..., Coroutine[Any, Any, CallToolResult]]:
        async def ask(message: str, ctx: Context, session_id: str | None = None) -> CallToolResult:
            request = ctx.request_context.request
            user = getattr(getattr(request, "state", None), _USER, None)
            if not isinstance(user, str):
                raise ToolError("not authenticated")
            return await self._ask(user, agent, message, session_id)

        ask.__name__ = agent
        return ask

    async def _ask(self, user: str, agent: str, message: str, session_id: str | None) -> CallToolResult:
        sessions = self._sessions()
        hits = [("message", user)] + ([] if session_id else [("session", user)])
        if refusal := await self.limiter.hit_all(hits):
            raise ToolError(refusal.message)
        try:
            if not session_id:
                session_id = await sessions.create(user, agent, platform="mcp")
            elif (await sessions.get(user, session_id)).agent != agent:
                raise ToolError(f"session {session_id} is not a session of the {agent} agent")
            result = await sessions.send(user, session_id, message, TURN_WAIT_SECONDS)
        except NotFoundError:
            raise ToolError(f"no session {session_id!r}") from None
        except ToolError:
            raise
        except Exception as exc:  # noqa: BLE001 - the client gets the platform's own words (bad input, limits)
            raise ToolError(str(exc)) from None
        status: str
        if isinstance(result, PendingTurn):
            reply = result.detail or "The agent is still working on it; call again with this session_id later."
            status = result.status
        else:
            reply, status = result.reply, result.status
            if status == "awaiting_approval":
                pending = (await sessions.get(user, session_id)).pending_approvals
                how = "; ".join(f"POST /v1/sessions/{session_id}/approvals/{p.call_id}" for p in pending)
                reply = f"{reply} Approve or reject it with {how} {{'approve': true|false}} (REST API or web chat)."
        structured = {"session_id": session_id, "reply": reply, "status": status}
        return CallToolResult(content=[TextContent(type="text", text=reply)], structured_content=structured)


async def _unauthorized(send: Send) -> None:
    body = json.dumps({"detail": "missing or invalid API key (send 'Authorization: Bearer <key>')"}).encode()
    await send(
        {
            "type": "http.response.start",
            "status": 401,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                (b"www-authenticate", b"Bearer"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
