"""Sessions: create, chat, read, list, approve."""

from __future__ import annotations

import re
import time
from collections.abc import AsyncIterator
from typing import Annotated, Any

from fastapi import APIRouter, Header, Query
from fastapi.responses import JSONResponse, Response
from sse_starlette import EventSourceResponse, ServerSentEvent
from starlette.background import BackgroundTask

from api.deps import Sessions, TurnEvents, User
from api.ratelimit import RouteRule
from api.schemas import (
    ApprovalIn,
    ApprovalOut,
    ErrorOut,
    MessageIn,
    SessionCreate,
    SessionCreated,
    SessionRename,
    SessionRenamed,
    TurnOut,
    TurnPending,
)
from core.schemas import SessionView, TurnResult
from core.streams import TurnEvent
from core.telemetry import metrics
from services.sessions import PendingTurn, SessionSummary
from services.streams import StreamSlot

STREAM_DOC = (
    "Server-sent events, each with an `id`: `token`, `tool_call`, `tool_result`, `approval_required`, "
    "`reset`, `error`, and last one of `done`, `cancelled` (stopped) or `interrupted` (stopped by a newer "
    "message), whose data is the TurnOut body. Each event is a `TurnStreamEvent` (its `event` is the "
    "SSE event's name, its other fields the JSON data's)."
)
#: the SSE responses' content, typed by the turn events' union (core/turn_events.py; its schemas
#: are added to the OpenAPI components by api.app, so the web client's types are generated from it)
STREAM_CONTENT = {"text/event-stream": {"schema": {"$ref": "#/components/schemas/TurnStreamEvent"}}}

#: routes with a rate-limit bucket of their own (settings rate_limit_sessions / rate_limit_messages),
#: counted by api.ratelimit's middleware with the request's bucket, in one Redis wait
RATE_LIMITED_ROUTES = (
    RouteRule("POST", "/v1/sessions", "session"),
    RouteRule("POST", "/v1/sessions/{session_id}/messages", "message"),
)

router = APIRouter(
    prefix="/v1/sessions",
    tags=["sessions"],
    responses={404: {"model": ErrorOut}, 422: {"model": ErrorOut}, 429: {"model": ErrorOut}},
)


@router.post(
    "",
    status_code=201,
    response_model=SessionCreated,
    responses={409: {"model": ErrorOut, "description": "the caller has too many running sessions"}},
)
async def create_session(body: SessionCreate, user: User, sessions: Sessions) -> SessionCreated:
    sid = await sessions.create(user, body.agent, platform=body.platform)
    return SessionCreated(session_id=sid, agent=body.agent)


@router.get("", response_model=list[SessionSummary])
async def list_sessions(user: User, sessions: Sessions) -> list[SessionSummary]:
    return await sessions.list(user)


@router.get("/{session_id}", response_model=SessionView)
async def get_session(session_id: str, user: User, sessions: Sessions) -> SessionView:
    return await sessions.get(user, session_id)


@router.patch("/{session_id}", response_model=SessionRenamed)
async def rename_session(session_id: str, body: SessionRename, user: User, sessions: Sessions) -> SessionRenamed:
    """Give a session a title (lists show it instead of the first message)."""
    return SessionRenamed(session_id=session_id, title=await sessions.rename(user, session_id, body.title))


@router.delete("/{session_id}", status_code=204)
async def end_session(session_id: str, user: User, sessions: Sessions) -> Response:
    """End a session (it no longer counts against max_running_sessions_per_user); a message sent
    to it later reopens it with its history."""
    await sessions.end(user, session_id)
    return Response(status_code=204)


@router.post(
    "/{session_id}/messages",
    response_model=TurnOut,
    responses={
        202: {"model": TurnPending, "description": "the turn is not done yet"},
        200: {"content": STREAM_CONTENT, "description": f"with `stream=true`: {STREAM_DOC}"},
    },
)
async def send_message(
    session_id: str,
    body: MessageIn,
    user: User,
    sessions: Sessions,
    events: TurnEvents,
    wait: float = Query(30, ge=0, le=300, description="seconds to wait for the reply before answering 202"),
    stream: bool = Query(False, description="answer with the turn's events as they happen (SSE)"),
) -> TurnOut | JSONResponse | EventSourceResponse:
    if body.text is None and body.message_id is not None:  # a re-fetch of a message sent before
        if stream:
            slot = events.take_stream_slot(user)
            try:
                await events.open(user, session_id, body.message_id)
            except BaseException:
                slot.release()
                raise
            return _sse(events.follow(user, session_id, body.message_id), events.keepalive_seconds, slot)
        result = await sessions.result_of(user, session_id, body.message_id, wait)
    elif stream:
        slot = events.take_stream_slot(user)  # before the message is sent: a refusal sends nothing
        try:
            queued = await sessions.send(
                user, session_id, body.text or "", 0, message_id=body.message_id, multitask=body.multitask
            )
        except BaseException:
            slot.release()
            raise
        events.watch(user, session_id, queued.message_id)  # ends the stream even if this client leaves
        return _sse(events.follow(user, session_id, queued.message_id), events.keepalive_seconds, slot)
    else:
        started = time.monotonic()
        result = await sessions.send(
            user, session_id, body.text or "", wait, message_id=body.message_id, multitask=body.multitask
        )
        # a waited turn as its caller saw it: "pending" when the wait ran out first
        outcome = "pending" if isinstance(result, PendingTurn) else result.status
        metrics.API_TURNS.labels(outcome).observe(time.monotonic() - started)
    if isinstance(result, PendingTurn):
        return JSONResponse(result.model_dump(exclude_none=True), status_code=202)
    return _turn_out(result)


def _turn_out(result: TurnResult) -> TurnOut:
    return TurnOut(
        reply=result.reply,
        tool_calls=result.tool_calls,
        turn=result.turn,
        status=result.status,
        message_id=result.message_id,
        usage=result.usage,
        note=result.note,
        model=result.model,
        trace_id=result.trace_id,
    )


_CANCEL_RESPONSES: dict[int | str, dict[str, Any]] = {
    409: {"model": ErrorOut, "description": "the turn already ended (`status` says how) or none is running"}
}


@router.post("/{session_id}/turns/current/cancel", response_model=TurnOut, responses=_CANCEL_RESPONSES)
async def cancel_current_turn(session_id: str, user: User, sessions: Sessions, events: TurnEvents) -> TurnOut:
    """Stop the running turn (the Stop button): it ends `cancelled`, keeping the text streamed so far;
    its stream ends with a `cancelled` event carrying this body. A transfer being signed or sent is
    never cut: the stop waits for it and the reply reports it."""
    result = await sessions.turns.cancel(user, session_id)
    await events.end(session_id, result.message_id, result)
    return _turn_out(result)


@router.post("/{session_id}/messages/{message_id}/cancel", response_model=TurnOut, responses=_CANCEL_RESPONSES)
async def cancel_turn(session_id: str, message_id: str, user: User, sessions: Sessions, events: TurnEvents) -> TurnOut:
    """Stop the turn answering `message_id` (running, or still queued: then it is never answered)."""
    result = await sessions.turns.cancel(user, session_id, message_id)
    await events.end(session_id, result.message_id, result)
    return _turn_out(result)


@router.post(
    "/{session_id}/approvals/{call_id}",
    response_model=ApprovalOut,
    responses={409: {"model": ErrorOut, "description": "the chain no longer matches the simulation shown"}},
)
async def decide_approval(
    session_id: str, call_id: str, body: ApprovalIn, user: User, sessions: Sessions
) -> ApprovalOut:
    record = await sessions.decide(user, session_id, call_id, body.approve)
    if record is None:
        return ApprovalOut(call_id=call_id, approved=body.approve, status="running")
    return ApprovalOut(
        call_id=call_id,
        approved=body.approve,
        status=record.status,
        result=record.result,
        executes_at=record.executes_at,
    )


@router.post(
    "/{session_id}/approvals/{call_id}/cancel",
    response_model=ApprovalOut,
    responses={409: {"model": ErrorOut}},
)
async def cancel_transfer(session_id: str, call_id: str, user: User, sessions: Sessions) -> ApprovalOut:
    """Cancel a transfer in its undo window (status ``scheduled``) or still awaiting approval:
    nothing is sent, and the session's reply says so."""
    record = await sessions.cancel_transfer(user, session_id, call_id)
    return ApprovalOut(call_id=call_id, approved=False, status=record.status, result=record.result)


@router.get(
    "/{session_id}/messages/{message_id}/events",
    response_class=EventSourceResponse,
    responses={200: {"content": STREAM_CONTENT, "description": STREAM_DOC}},
)
async def turn_events(
    session_id: str,
    message_id: str,
    user: User,
    events: TurnEvents,
    last_event_id: Annotated[str | None, Header(description="resume after this event id")] = None,
    after: str | None = Query(None, pattern=r"^(\d+-\d+|done)$", description="resume after this event id"),
) -> EventSourceResponse:
    """A turn's events from the first (or after `Last-Event-ID` / `after`) until `done`; replays a
    finished turn while its events are kept."""
    await events.open(user, session_id, message_id)
    resume = last_event_id if last_event_id and _EVENT_ID.match(last_event_id) else after
    slot = events.take_stream_slot(user)
    return _sse(events.follow(user, session_id, message_id, resume), events.keepalive_seconds, slot)


_EVENT_ID = re.compile(r"^(\d+-\d+|done)$")


def _sse(events: AsyncIterator[TurnEvent | None], keepalive_seconds: float, slot: StreamSlot) -> EventSourceResponse:
    """The events as SSE, with a keep-alive comment every ``keepalive_seconds`` (settings
    stream_keepalive_seconds) so proxies do not drop an idle connection. The caller's open-stream
    ``slot`` is released when the stream ends, however it ends."""

    async def frames() -> AsyncIterator[ServerSentEvent]:
        try:
            async for event in events:
                if event is None:
                    yield ServerSentEvent(comment="keep-alive")
                else:
                    yield ServerSentEvent(data=event.data, event=event.event, id=event.id)
        finally:
            slot.release()

    # no buffering proxies: nginx honours X-Accel-Buffering
    return EventSourceResponse(
        frames(),
        ping=keepalive_seconds,
        headers={"X-Accel-Buffering": "no"},
        background=BackgroundTask(slot.release),  # also when the stream never started
    )
