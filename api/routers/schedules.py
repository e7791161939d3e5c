"""Schedules: the caller's scheduled agent turns (Temporal Schedules)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response

from api.deps import User
from api.schemas import ErrorOut
from services.schedules import ScheduleCreate, ScheduleCreated, ScheduleOut, ScheduleService


async def get_schedules(request: Request) -> ScheduleService:
    return request.app.state.schedules


Schedules = Annotated[ScheduleService, Depends(get_schedules)]

router = APIRouter(
    prefix="/v1/schedules", tags=["schedules"], responses={404: {"model": ErrorOut}, 422: {"model": ErrorOut}}
)


@router.post("", status_code=201, response_model=ScheduleCreated)
async def create_schedule(body: ScheduleCreate, user: User, schedules: Schedules) -> ScheduleCreated:
    """Run ``prompt`` as your agent's turn on a cron (in ``timezone``) or every N seconds."""
    return await schedules.create(user, body)


@router.get("", response_model=list[ScheduleOut])
async def list_schedules(user: User, schedules: Schedules) -> list[ScheduleOut]:
    return await schedules.list(user)


@router.get("/{schedule_id}", response_model=ScheduleOut)
async def get_schedule(schedule_id: str, user: User, schedules: Schedules) -> ScheduleOut:
    """The spec, the state and the recent runs with their answers."""
    return await schedules.get(user, schedule_id)


@router.post("/{schedule_id}/pause", response_model=ScheduleOut)
async def pause_schedule(schedule_id: str, user: User, schedules: Schedules) -> ScheduleOut:
    return await schedules.pause(user, schedule_id)


@router.post("/{schedule_id}/resume", response_model=ScheduleOut)
async def resume_schedule(schedule_id: str, user: User, schedules: Schedules) -> ScheduleOut:
    return await schedules.resume(user, schedule_id)


@router.post("/{schedule_id}/trigger", response_model=ScheduleOut)
async def trigger_schedule(schedule_id: str, user: User, schedules: Schedules) -> ScheduleOut:
    """Run it once now (also while paused)."""
    return await schedules.trigger(user, schedule_id)


@router.delete("/{schedule_id}", status_code=204)
async def delete_schedule(schedule_id: str, user: User, schedules: Schedules) -> Response:
    await schedules.delete(user, schedule_id)
    return Response(status_code=204)
