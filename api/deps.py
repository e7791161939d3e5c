"""Dependencies injected into routes: the caller's identity and the shared services.

Every dependency is ``async def``, even those that never await: FastAPI runs a plain ``def``
dependency in a worker thread, a thread hop per dependency per request (three on a chat turn),
which a loaded machine makes cost more than the work itself. None of them blocks.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, HTTPException, Request

from api.auth import KeyRing, presented_key
from core.agents import AgentFactory
from core.tools import ToolRegistry
from services.sessions import SessionService
from services.streams import TurnEventService


async def get_sessions(request: Request) -> SessionService:
    return request.app.state.sessions


async def get_turn_events(request: Request) -> TurnEventService:
    return request.app.state.turn_events


async def get_agents(request: Request) -> AgentFactory:
    return request.app.state.agents


async def get_registry(request: Request) -> ToolRegistry:
    return request.app.state.registry


def key_ring(request: Request) -> KeyRing:
    """The app's key ring (create_app builds it; an app assembled from routers alone gets it here)."""
    state = request.app.state
    if getattr(state, "keys", None) is None:
        state.keys = KeyRing(state.settings.api_keys)
    return state.keys


async def current_user(request: Request) -> str:
    """The user behind the request. With no API keys configured there is one local user
    (the API then binds to loopback and serves loopback Host headers only)."""
    keys = key_ring(request)
    if not keys:
        return request.app.state.settings.local_user
    presented = presented_key(request.headers)
    user = keys.user_for(presented) if presented else None
    if user is None:
        raise HTTPException(
            401,
            "missing or invalid API key (send 'Authorization: Bearer <key>')",
            headers={"WWW-Authenticate": "Bearer"},
        )
    return user


User = Annotated[str, Depends(current_user)]
Sessions = Annotated[SessionService, Depends(get_sessions)]
TurnEvents = Annotated[TurnEventService, Depends(get_turn_events)]
Agents = Annotated[AgentFactory, Depends(get_agents)]
Registry = Annotated[ToolRegistry, Depends(get_registry)]
