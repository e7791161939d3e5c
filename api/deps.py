"""Dependencies injected into routes: the caller's identity and the shared services."""

from __future__ import annotations

import hmac
from typing import Annotated

from fastapi import Depends, Header, HTTPException, Request

from core.agents import AgentFactory
from core.settings import Settings
from core.tools import ToolRegistry
from services.sessions import SessionService
from services.streams import TurnEventService


def get_sessions(request: Request) -> SessionService:
    return request.app.state.sessions


def get_turn_events(request: Request) -> TurnEventService:
    return request.app.state.turn_events


def get_agents(request: Request) -> AgentFactory:
    return request.app.state.agents


def get_registry(request: Request) -> ToolRegistry:
    return request.app.state.registry


def current_user(
    request: Request,
    authorization: Annotated[str | None, Header()] = None,
    x_api_key: Annotated[str | None, Header()] = None,
) -> str:
    """The user behind the request. With no API keys configured there is one local user
    (the API then binds to loopback only, see impressox_cli)."""
    settings: Settings = request.app.state.settings
    if not settings.api_keys:
        return settings.local_user
    presented = x_api_key or (authorization or "").removeprefix("Bearer ").strip()
    for key in settings.api_keys:
        if presented and hmac.compare_digest(presented, key.key.get_secret_value()):
            return key.user
    raise HTTPException(
        401, "missing or invalid API key (send 'Authorization: Bearer <key>')", headers={"WWW-Authenticate": "Bearer"}
    )


User = Annotated[str, Depends(current_user)]
Sessions = Annotated[SessionService, Depends(get_sessions)]
TurnEvents = Annotated[TurnEventService, Depends(get_turn_events)]
Agents = Annotated[AgentFactory, Depends(get_agents)]
Registry = Annotated[ToolRegistry, Depends(get_registry)]
