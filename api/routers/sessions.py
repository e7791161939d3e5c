"""Sessions: create, chat, read, list, approve."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Query
from fastapi.responses import JSONResponse, Response

from api.deps import Sessions, User, rate_limited
from api.schemas import (
    ApprovalIn,
    ApprovalOut,
    ErrorOut,
    MessageIn,
    SessionCreate,
    SessionCreated,
    TurnOut,
    TurnPending,
)
from core.schemas import SessionView
from services.sessions import PendingTurn, SessionSummary

router = APIRouter(
    prefix="/v1/sessions",
    tags=["sessions"],
    responses={404: {"model": ErrorOut}, 422: {"model": ErrorOut}, 429: {"model": ErrorOut}},
)


@router.post(
    "",
    status_code=201,
    response_model=SessionCreated,
    dependencies=[Depends(rate_limited("session"))],
    responses={409: {"model": ErrorOut, "description": "the caller has too many running sessions"}},
)
async def create_session(body: SessionCreate, user: User, sessions: Sessions) -> SessionCreated:
    sid = await sessions.create(user, body.agent)
    return SessionCreated(session_id=sid, agent=body.agent)


@router.get("", response_model=list[SessionSummary])
async def list_sessions(user: User, sessions: Sessions) -> list[SessionSummary]:
    return await sessions.list(user)


@router.get("/{session_id}", response_model=SessionView)
async def get_session(session_id: str, user: User, sessions: Sessions) -> SessionView:
    return await sessions.get(user, session_id)


@router.delete("/{session_id}", status_code=204)
async def end_session(session_id: str, user: User, sessions: Sessions) -> Response:
    """End a session for good (it no longer counts against max_running_sessions_per_user)."""
    await sessions.end(user, session_id)
    return Response(status_code=204)


@router.post(
    "/{session_id}/messages",
    response_model=TurnOut,
    responses={202: {"model": TurnPending, "description": "the turn is not done yet"}},
    dependencies=[Depends(rate_limited("message"))],
)
async def send_message(
    session_id: str,
    body: MessageIn,
    user: User,
    sessions: Sessions,
    wait: float = Query(30, ge=0, le=300, description="seconds to wait for the reply before answering 202"),
) -> TurnOut | JSONResponse:
    result = await sessions.send(user, session_id, body.text, wait, message_id=body.message_id)
    if isinstance(result, PendingTurn):
        return JSONResponse(result.model_dump(exclude_none=True), status_code=202)
    return TurnOut(
        reply=result.reply,
        tool_calls=result.tool_calls,
        turn=result.turn,
        status=result.status,
        message_id=result.message_id,
        usage=result.usage,
    )


@router.post("/{session_id}/approvals/{call_id}", response_model=ApprovalOut)
async def decide_approval(
    session_id: str, call_id: str, body: ApprovalIn, user: User, sessions: Sessions
) -> ApprovalOut:
    record = await sessions.decide(user, session_id, call_id, body.approve)
    if record is None:
        return ApprovalOut(call_id=call_id, approved=body.approve, status="running")
    return ApprovalOut(call_id=call_id, approved=body.approve, status=record.status, result=record.result)
