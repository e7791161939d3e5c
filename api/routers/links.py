"""Links between the caller and their chat identities (Telegram, Discord).

``POST /v1/links`` issues a one-time code; sending ``/link CODE`` to a bot ties that chat user
to the caller (their sessions, vault and notifications). ``GET /v1/links`` lists the ties.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, ConfigDict

from api.deps import User
from api.schemas import ErrorOut
from core.bots import LinkCode, LinkedIdentity
from services.chats import ChatService


async def get_chats(request: Request) -> ChatService:
    return request.app.state.chats


Chats = Annotated[ChatService, Depends(get_chats)]


class LinkRequest(BaseModel):
    """No options yet: send no body or an empty object, {} (anything else is refused, as on every route)."""

    model_config = ConfigDict(extra="forbid")


router = APIRouter(prefix="/v1/links", tags=["links"], responses={503: {"model": ErrorOut}})


@router.post("", response_model=LinkCode, status_code=201)
async def create_link_code(user: User, chats: Chats, body: LinkRequest | None = None) -> LinkCode:
    """A one-time code (8 digits, valid 10 minutes) to send as ``/link CODE`` to a bot."""
    return await chats.new_code(user)


@router.get("", response_model=list[LinkedIdentity])
async def list_links(user: User, chats: Chats) -> list[LinkedIdentity]:
    """The chat identities linked to the caller."""
    return await chats.links(user)
