"""Turn events for clients: replay a turn's event stream from any id and follow it to ``done``.

The worker's activities append what happens inside a turn (tokens, tool calls). The turn's
boundaries are appended here, on the service side, so the workflow does no I/O and pays no
extra step for them: a watcher per turn waits on the ``wait_turn`` update and appends
``approval_required`` when the turn stops for a human, and ``done`` (the same body the
non-streamed call returns) when it ends. ``done`` is appended once per turn, whichever
watcher (of whichever API process) sees the result first; a turn nobody watched gets its
``done`` when its events are first read.

Redis down: the events degrade to a single ``done`` (id ``done``) from the workflow itself.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

from temporalio.client import WorkflowUpdateHandle, WorkflowUpdateRPCTimeoutOrCancelledError

from core.errors import NotFoundError
from core.quotas import int_quota, refusal
from core.schemas import TurnResult
from core.settings import Settings
from core.streams import STREAM_ERRORS, TERMINAL_EVENTS, TurnEvent, TurnStreams, terminal_event
from core.telemetry import metrics
from services.sessions import SessionService

log = logging.getLogger(__name__)

#: the id of a ``done`` served without Redis (nothing follows it)
DEGRADED_DONE_ID = "done"
#: how often a turn waiting for an approval is checked for the decision
APPROVAL_POLL_SECONDS = 1.0


def turn_body(result: TurnResult) -> dict:
    """What the non-streamed ``POST …/messages`` returns (the API's TurnOut)."""
    return result.model_dump(mode="json")


class TurnEventService:
    def __init__(
        self,
        sessions: SessionService,
        streams: TurnStreams,
        keepalive_seconds: float = 15.0,
        settings: Settings | None = None,
    ) -> None:
        self.sessions = sessions
        #: quotas (max_event_streams_per_user); None: streams are not counted
        self.settings = settings
        self._open_streams: dict[str, int] = {}
        self.streams = streams
        #: an idle stream yields None (a keep-alive) this often
        self.keepalive_seconds = keepalive_seconds
        self.block_ms = max(1, round(keepalive_seconds * 1000))
        self._watchers: dict[tuple[str, str], _Watch] = {}

    # ------------------------------------------------------------------ watching
    def watch(self, owner: str, session_id: str, message_id: str) -> _Watch:
        """Start (or join) the watcher that ends the turn's stream. It runs on when clients go away."""
        key = (session_id, message_id)
        watch = self._watchers.get(key)
        if watch is None or watch.failed():
            watch = _Watch(asyncio.get_running_loop().create_future())
            watch.task = asyncio.create_task(self._watch(owner, session_id, message_id, watch.accepted))
            self._watchers[key] = watch
            watch.task.add_done_callback(
                lambda _: self._watchers.pop(key, None) if self._watchers.get(key) is watch else None
            )
            # its error (e.g. an unknown turn, a 404) reaches callers through ``accepted`` or
            # ``failed()``: retrieved here, so asyncio never logs "Task exception was never retrieved"
            watch.task.add_done_callback(lambda t: t.cancelled() or t.exception())
        return watch

    # ------------------------------------------------------------------ open streams per user
    def take_stream_slot(self, owner: str) -> StreamSlot:
        """One of the owner's max_event_streams_per_user open streams (in this API process), or
        QuotaExceededError; release the slot when the stream ends (``StreamSlot.release``)."""
        cap = int_quota(self.settings, owner, "max_event_streams_per_user") if self.settings else None
        held = self._open_streams.get(owner, 0)
        if cap is not None and held >= cap:
            raise refusal(owner, "open event streams", cap, "max_event_streams_per_user", "close one first")
        self._open_streams[owner] = held + 1
        return StreamSlot(self._open_streams, owner)

    async def _watch(self, owner: str, session_id: str, message_id: str, accepted: asyncio.Future[None]) -> TurnResult:
        try:
            update = await self.sessions.watch_turn(owner, session_id, message_id)
        except BaseException as exc:
            accepted.set_exception(exc)
            accepted.exception()  # retrieved: nobody has to await it
            raise
        accepted.set_result(None)
        announced: set[str] = set()
        while True:
            result = await _result(update)
            if result.status != "awaiting_approval":
                await self.end(session_id, message_id, result)
                return result
            pending = (await self.sessions.get(owner, session_id)).pending_approvals
            fresh = [p for p in pending if p.call_id not in announced]
            if fresh:
                await self.streams.publish(
                    session_id,
                    message_id,
                    "approval_required",
                    {**turn_body(result), "approvals": [p.model_dump(mode="json") for p in fresh]},
                )
                announced |= {p.call_id for p in fresh}
            # a human decides (or the approval expires): then the turn goes on
            waiting = {p.call_id for p in pending}
            while waiting & {p.call_id for p in (await self.sessions.get(owner, session_id)).pending_approvals}:
                await asyncio.sleep(APPROVAL_POLL_SECONDS)
            update = await self.sessions.watch_turn(owner, session_id, message_id)

    async def end(self, session_id: str, message_id: str, result: TurnResult) -> None:
        """Append the turn's terminal event (``done``, ``cancelled`` or ``interrupted``) once."""
        await self.streams.finish(session_id, message_id, turn_body(result), terminal_event(result.status))

    # ------------------------------------------------------------------ reading
    async def follow(
        self, owner: str, session_id: str, message_id: str, after: str | None = None
    ) -> AsyncIterator[TurnEvent | None]:
        """The turn's events after ``after`` (None: from the first), up to and including ``done``.
        Yields None while nothing happens (time for a keep-alive). Call ``open`` first."""
        watch = self._watchers.get((session_id, message_id))
        cursor = after or "0"
        if cursor == DEGRADED_DONE_ID:
            return
        if after is not None and (done := await self._done_at_or_before(session_id, message_id, cursor)):
            yield done  # a resume past the end of a finished turn: its done again, and the stream ends
            return
        with metrics.STREAM_CLIENTS.track_inprogress():
            async for event in self._follow(owner, session_id, message_id, after, cursor, watch):
                yield event

    async def _follow(
        self, owner: str, session_id: str, message_id: str, after: str | None, cursor: str, watch: _Watch | None
    ) -> AsyncIterator[TurnEvent | None]:
        while True:
            try:
                events = await self.streams.read(session_id, message_id, cursor, block_ms=self.block_ms)
            except STREAM_ERRORS as exc:
                log.warning("turn events of %s/%s unreadable, serving the result only: %s", session_id, message_id, exc)
                yield await self._degraded_done(owner, session_id, message_id, watch)
                return
            for event in events:
                yield event
                if event.event in TERMINAL_EVENTS:
                    return
            cursor = events[-1].id if events else cursor
            if not events:
                if watch is not None and watch.failed():
                    yield _error(watch.task.exception())
                    return
                if after is not None and (done := await self._done_at_or_before(session_id, message_id, cursor)):
                    yield done  # the turn ended before the id resumed from (a made-up id)
                    return
                yield None

    async def _done_at_or_before(self, session_id: str, message_id: str, cursor: str) -> TurnEvent | None:
        """The turn's last event (``done``, ``cancelled``, ``interrupted``) when it has one at or before
        ``cursor`` (nothing would follow it)."""
        try:
            last = await self.streams.last(session_id, message_id)
        except STREAM_ERRORS:
            return None
        if last is None or last.event not in TERMINAL_EVENTS or _stream_id(last.id) > _stream_id(cursor):
            return None
        return last

    async def open(self, owner: str, session_id: str, message_id: str) -> None:
        """Check the caller may read this turn (NotFoundError otherwise) and make sure someone
        will end its stream."""
        self.sessions.check_owner(owner, session_id)
        try:
            await asyncio.shield(self.watch(owner, session_id, message_id).accepted)
        except NotFoundError:
            # a kept stream outlives the session's memory of old messages
            try:
                if await self.streams.exists(session_id, message_id):
                    return
            except STREAM_ERRORS:
                pass
            raise

    async def _degraded_done(self, owner: str, session_id: str, message_id: str, watch: _Watch | None) -> TurnEvent:
        try:
            result = await asyncio.shield((watch or self.watch(owner, session_id, message_id)).task)
        except Exception as exc:  # noqa: BLE001 - reported to the client as the stream's last event
            return _error(exc)
        return TurnEvent(id=DEGRADED_DONE_ID, event=terminal_event(result.status), data=json.dumps(turn_body(result)))

    async def close(self) -> None:
        tasks = [w.task for w in self._watchers.values()]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


@dataclass
class StreamSlot:
    """An open stream counted against its owner; ``release`` (idempotent) gives the slot back."""

    counts: dict[str, int]
    owner: str
    released: bool = False

    def release(self) -> None:
        if self.released:
            return
        self.released = True
        left = self.counts.get(self.owner, 1) - 1
        if left > 0:
            self.counts[self.owner] = left
        else:
            self.counts.pop(self.owner, None)


def _stream_id(event_id: str) -> tuple[int, int]:
    """A Redis stream id ("ms-seq") as a comparable pair."""
    ms, _, seq = event_id.partition("-")
    return (int(ms), int(seq or 0)) if ms.isdigit() and (seq or "0").isdigit() else (0, 0)


@dataclass
class _Watch:
    """A turn's watcher: ``accepted`` resolves once the session knows the message."""

    accepted: asyncio.Future[None]
    task: asyncio.Task[TurnResult] = field(init=False)

    def failed(self) -> bool:
        return self.task.done() and not self.task.cancelled() and self.task.exception() is not None


async def _result(update: WorkflowUpdateHandle[TurnResult]) -> TurnResult:
    while True:  # a turn may outlast one long poll
        try:
            return await update.result()
        except WorkflowUpdateRPCTimeoutOrCancelledError:
            await asyncio.sleep(0.1)


def _error(exc: BaseException | None) -> TurnEvent:
    return TurnEvent(id=DEGRADED_DONE_ID, event="error", data=json.dumps({"message": str(exc), "final": True}))
