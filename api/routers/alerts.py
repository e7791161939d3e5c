"""Alerts: the caller's price and wallet watch rules."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response

from api.deps import User
from api.schemas import ErrorOut
from core.automations import AlertView
from services.alerts import AlertCreate, AlertCreated, AlertService


async def get_alerts(request: Request) -> AlertService:
    return request.app.state.alerts


Alerts = Annotated[AlertService, Depends(get_alerts)]

router = APIRouter(prefix="/v1/alerts", tags=["alerts"], responses={404: {"model": ErrorOut}, 422: {"model": ErrorOut}})


@router.post("", status_code=201, response_model=AlertCreated)
async def create_alert(body: AlertCreate, user: User, alerts: Alerts) -> AlertCreated:
    """A price rule (above / below / move_pct within window_seconds) or a wallet rule (in / out / both)."""
    return await alerts.create(user, body)


@router.get("", response_model=list[AlertView])
async def list_alerts(user: User, alerts: Alerts) -> list[AlertView]:
    return await alerts.list(user)


@router.get("/{alert_id}", response_model=AlertView)
async def get_alert(alert_id: str, user: User, alerts: Alerts) -> AlertView:
    return await alerts.get(user, alert_id)


@router.delete("/{alert_id}", status_code=204)
async def delete_alert(alert_id: str, user: User, alerts: Alerts) -> Response:
    await alerts.delete(user, alert_id)
    return Response(status_code=204)
