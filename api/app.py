"""The API app factory. The lifespan opens the Temporal client; routes only start, signal,
update or query workflows (the agent never runs inside a request handler)."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.responses import HTMLResponse

from api import errors
from api.routers import catalog, notifications, sessions
from core.agents import AgentFactory
from core.settings import PROJECT_ROOT, Settings
from core.streams import TurnStreams
from services.notifications import NotificationService
from services.sessions import SessionService
from services.streams import TurnEventService
from services.tools import load_tools
from temporal.client import connect
from temporal.search_attributes import ensure_registered

log = logging.getLogger(__name__)
WEB_PAGE = PROJECT_ROOT / "web" / "index.html"


def create_app(settings: Settings) -> FastAPI:
    registry = load_tools(settings.tool_modules)
    agents = AgentFactory.from_yaml(settings.agents_file, registry, settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        client = await connect(settings, wait_seconds=60)
        await ensure_registered(client)
        app.state.sessions = SessionService(client, settings, agents)
        app.state.notifications = NotificationService(client, settings)
        streams = TurnStreams.from_settings(settings)
        app.state.turn_events = TurnEventService(app.state.sessions, streams)
        try:
            yield
        finally:
            await app.state.turn_events.close()
            await streams.close()

    app = FastAPI(
        title="Impressox Agent API",
        version="0.1.0",
        lifespan=lifespan,
        description="Durable AI agent sessions: every conversation is a Temporal workflow.",
    )
    app.state.settings = settings
    app.state.agents = agents
    app.state.registry = registry
    errors.install(app)
    app.include_router(sessions.router)
    app.include_router(catalog.router)
    app.include_router(notifications.router)

    @app.get("/healthz", tags=["health"])
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/", include_in_schema=False, response_class=HTMLResponse)
    async def chat_page() -> HTMLResponse:
        if WEB_PAGE.exists():
            return HTMLResponse(WEB_PAGE.read_text())
        return HTMLResponse("<p>Impressox Agent API: see <a href='/docs'>/docs</a></p>")

    return app
