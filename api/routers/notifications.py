"""Notifications: what the platform told the caller (e.g. deposits to their vault)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request

from api.deps import User
from api.schemas import ErrorOut
from core.notifications import Notification
from services.notifications import NotificationService


async def get_notifications(request: Request) -> NotificationService:
    return request.app.state.notifications


Notifications = Annotated[NotificationService, Depends(get_notifications)]

router = APIRouter(prefix="/v1/notifications", tags=["notifications"], responses={503: {"model": ErrorOut}})


@router.get("", response_model=list[Notification])
async def list_notifications(user: User, notifications: Notifications) -> list[Notification]:
    """The caller's notifications, newest last (the last 200)."""
    return await notifications.list(user)
