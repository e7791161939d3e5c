"""The API app factory. The lifespan opens the Temporal client; routes only start, signal,
update or query workflows (the agent never runs inside a request handler).

Requests pass three ASGI middlewares before any route (outermost first): ``FrontDoor`` (loopback
Host headers in keyless mode, security headers), ``RateLimitMiddleware`` (per user / client IP,
counted in Redis) and ``BodyGuard`` (size, nesting and JSON checks before anything parses a body).
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI
from starlette.routing import Route

from api import errors, pages
from api.auth import KeyRing
from api.bodies import BodyGuard
from api.mcp import PATH as MCP_PATH
from api.mcp import AgentsMcpServer
from api.ratelimit import RateLimiter, RateLimitMiddleware
from api.routers import alerts, audit, catalog, client, codec, links, notifications, ops, schedules, sessions, vault
from api.security import FrontDoor
from api.tracing import instrument
from core.agents import AgentFactory
from core.runtime import import_web3_with_sane_recursion_limit
from core.settings import Settings
from core.streams import TurnStreams
from core.temporal.client import connect
from core.temporal.search_attributes import ensure_registered
from core.turn_events import stream_event_schemas
from services.alerts import AlertService
from services.chats import ChatService
from services.notifications import NotificationService
from services.schedules import ScheduleService
from services.sessions import SessionService
from services.streams import TurnEventService
from services.tools import load_tools
from services.vaults import VaultRegistryService

log = logging.getLogger(__name__)


def create_app(settings: Settings) -> FastAPI:
    # the chain tools import web3, whose py_ecc raises the recursion limit to 100,000: put it back
    import_web3_with_sane_recursion_limit()
    registry = load_tools(settings.tool_modules)
    agents = AgentFactory.from_yaml(settings.agents_file, registry, settings)
    keys = KeyRing(settings.api_keys)
    limiter = RateLimiter(settings)
    mcp = AgentsMcpServer(settings, agents, keys, limiter, lambda: app.state.sessions)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await limiter.start()
        client = await connect(settings, wait_seconds=60)
        await ensure_registered(client)
        streams = TurnStreams.from_settings(settings)
        app.state.sessions = SessionService(client, settings, agents, streams)
        app.state.notifications = NotificationService(client, settings)
        app.state.vaults = VaultRegistryService(client, settings)
        app.state.chats = ChatService(client, settings, app.state.sessions)
        app.state.schedules = ScheduleService(client, settings, agents)
        app.state.alerts = AlertService(client, settings)
        app.state.turn_events = TurnEventService(
            app.state.sessions, streams, keepalive_seconds=settings.stream_keepalive_seconds, settings=settings
        )
        try:
            async with mcp.running():
                yield
        finally:
            await app.state.turn_events.close()
            await streams.close()
            await app.state.vaults.close()

    app = FastAPI(
        title="Impressox Agent API",
        version="0.1.0",
        lifespan=lifespan,
        description="Durable AI agent sessions: every conversation is a Temporal workflow.",
        # served by api.pages from packaged assets (the defaults load Swagger UI from a CDN)
        docs_url=None,
        redoc_url=None,
        swagger_ui_oauth2_redirect_url=None,
    )
    app.state.settings = settings
    app.state.agents = agents
    app.state.registry = registry
    app.state.keys = keys
    app.state.limiter = limiter
    errors.install(app)
    app.include_router(sessions.router)
    app.include_router(catalog.router)
    app.include_router(notifications.router)
    app.include_router(codec.router)
    pages.install(app)
    app.include_router(vault.router)
    app.include_router(audit.router)
    app.include_router(schedules.router)
    app.include_router(alerts.router)
    app.include_router(links.router)
    app.include_router(client.router)
    app.include_router(ops.router)
    _add_schemas(app, stream_event_schemas())  # what the SSE responses' events are (sessions.STREAM_CONTENT)
    # our agents for MCP clients (Claude Desktop, the MCP Inspector), one tool per agent
    # (an ASGI app as a Route's endpoint is called as such: no request/response wrapping, no redirect)
    app.router.routes.append(Route(MCP_PATH, mcp, methods=["GET", "POST", "DELETE"], include_in_schema=False))

    @app.get("/healthz", tags=["health"])
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    # add_middleware wraps what is there: the last added runs first
    app.add_middleware(
        BodyGuard,
        max_bytes=settings.api_max_body_bytes,
        max_depth=settings.api_max_json_depth,
        larger={"/codec/": codec.MAX_BODY_BYTES},
    )
    app.add_middleware(
        RateLimitMiddleware,
        limiter=limiter,
        keys=keys,
        local_user=settings.local_user,
        routes=sessions.RATE_LIMITED_ROUTES,
    )
    app.add_middleware(FrontDoor, loopback_only=not keys)
    instrument(app)  # outermost: the request span covers every middleware (only when traces are on)
    return app


def _add_schemas(app: FastAPI, schemas: dict[str, dict[str, Any]]) -> None:
    """Publish ``schemas`` as OpenAPI components: FastAPI collects only the models of its routes'
    JSON bodies, not the schema of a ``text/event-stream`` response."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is not None:
            return app.openapi_schema
        schema = build()  # which FastAPI keeps as app.openapi_schema
        components = schema.setdefault("components", {}).setdefault("schemas", {})
        if clash := components.keys() & schemas.keys():
            raise RuntimeError(f"two OpenAPI schemas named {sorted(clash)}")
        components.update(schemas)
        return schema

    app.openapi = openapi  # type: ignore[method-assign]
