"""Turn event streams: one Redis Stream per turn, so tokens never go through workflow history.

Activities append events while a turn runs (``token``, ``tool_call``, ``tool_result``,
``reset``, ``error``); the service side appends ``approval_required`` and, exactly once,
``done`` with the turn's final result. Readers replay from any event id and follow with
``XREAD BLOCK``. Each stream is trimmed (``MAXLEN ~``) and expires: ``active_ttl`` while the
turn runs (a safety net when nobody ever ends it), ``keep_seconds`` after ``done``.

Writing never fails a turn: a Redis error is logged and the event dropped, and Redis is
skipped for a few seconds so a dead server does not slow every token down.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from core.redis_client import async_redis
from core.redis_keys import redis_prefix
from core.turn_events import StreamEvent

if TYPE_CHECKING:
    from core.settings import Settings

log = logging.getLogger(__name__)

EventKind = Literal[
    "token", "tool_call", "tool_result", "approval_required", "reset", "done", "error", "cancelled", "interrupted"
]
#: the events that end a turn's stream, exactly one per turn: ``done``, or for a stopped turn
#: ``cancelled`` / ``interrupted`` (each with the same body as the non-streamed answer)
TERMINAL_EVENTS = ("done", "cancelled", "interrupted")

#: appends the terminal event only if none was appended before (one atomic step, so two API
#: processes watching the same turn cannot both end it)
_FINISH = """
if redis.call('SET', KEYS[2], '1', 'NX', 'EX', ARGV[3]) then
  local id = redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[2], '*', 'event', ARGV[4], 'data', ARGV[1])
  redis.call('EXPIRE', KEYS[1], ARGV[3])
  return id
end
return false
"""

STREAM_ERRORS = (RedisError, OSError, TimeoutError)


@dataclass(frozen=True)
class TurnEvent:
    id: str
    event: str
    #: JSON text
    data: str


def stream_key(session_id: str, message_id: str, prefix: str = "impressox") -> str:
    """A turn's stream (``prefix``: the deployment's, core/redis_keys.py)."""
    return f"{prefix}:turn:{session_id}:{message_id}"


def stop_key(session_id: str, message_id: str) -> str:
    """The turn's stop flag: set by the session service when the turn is cancelled or interrupted,
    polled by the streaming node activity, which stops the model within a poll (a Temporal cancel
    reaches it only at its next heartbeat, which the SDK throttles to seconds)."""
    return stream_key(session_id, message_id) + ":stop"


def terminal_event(status: str) -> str:
    """The stream's last event for a turn that ended with ``status``."""
    return status if status in ("cancelled", "interrupted") else "done"


def _decode(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _event(entry_id: Any, fields: Mapping[Any, Any]) -> TurnEvent:
    f = {_decode(k): _decode(v) for k, v in fields.items()}
    return TurnEvent(id=_decode(entry_id), event=f.get("event", "message"), data=f.get("data", "{}"))


class TurnStreams:
    """Append to and read the per-turn event streams."""

    def __init__(
        self,
        writer: aioredis.Redis,
        reader: aioredis.Redis | None = None,
        *,
        maxlen: int = 10_000,
        active_ttl_seconds: int = 24 * 3600,
        keep_seconds: int = 3600,
        cooldown: float = 5.0,
        prefix: str = "impressox",
    ) -> None:
        self.prefix = prefix
        self.writer = writer
        self.reader = reader or writer
        self.maxlen = maxlen
        self.active_ttl = active_ttl_seconds
        self.keep_seconds = keep_seconds
        self.cooldown = cooldown
        self._down_until = 0.0

    @classmethod
    def from_url(cls, url: str, **kwargs: Any) -> TurnStreams:
        # writes must never hold a turn up (short timeouts); blocking reads wait up to their
        # BLOCK time, so the reader's socket timeout is longer than any block, and a reader may
        # wait longer to connect: with 0.5 s, 200 clients opening streams at once on a loaded
        # machine got connect timeouts and each saw the degraded single `done` (bench/sse_clients.py)
        writer = async_redis(url, socket_timeout=0.5, socket_connect_timeout=0.5)
        reader = async_redis(url, socket_timeout=60, socket_connect_timeout=2)
        return cls(writer, reader, **kwargs)

    @classmethod
    def from_settings(cls, settings: Settings) -> TurnStreams:
        return cls.from_url(
            settings.redis_url,
            maxlen=settings.stream_max_events,
            keep_seconds=settings.stream_keep_seconds,
            prefix=redis_prefix(settings),
        )

    def key(self, session_id: str, message_id: str) -> str:
        return stream_key(session_id, message_id, self.prefix)

    async def close(self) -> None:
        for client in {id(self.writer): self.writer, id(self.reader): self.reader}.values():
            try:
                await client.aclose()
            except STREAM_ERRORS:
                pass

    # ------------------------------------------------------------------ writing
    def _available(self) -> bool:
        return time.monotonic() >= self._down_until

    def _failed(self, what: str, exc: BaseException) -> None:
        if self._available():
            log.warning("turn stream %s failed, events dropped for %.0fs: %s", what, self.cooldown, exc)
        self._down_until = time.monotonic() + self.cooldown

    async def publish(self, session_id: str, message_id: str, event: EventKind, data: Mapping[str, Any]) -> str | None:
        """Append one event; its id, or None when Redis is unavailable (the event is dropped)."""
        ids = await self.publish_many(session_id, message_id, [(event, data)])
        return ids[0] if ids else None

    async def publish_many(
        self, session_id: str, message_id: str, events: list[tuple[EventKind, Mapping[str, Any]]]
    ) -> list[str]:
        """Append events in order, in one round trip; their ids ([] when Redis is unavailable)."""
        if not self._available() or not events:
            return []
        key = self.key(session_id, message_id)
        try:
            async with self.writer.pipeline(transaction=False) as pipe:
                for event, data in events:
                    pipe.xadd(key, {"event": event, "data": json.dumps(data)}, maxlen=self.maxlen, approximate=True)
                pipe.expire(key, self.active_ttl)
                replies = await pipe.execute()
        except STREAM_ERRORS as exc:
            self._failed("append", exc)
            return []
        return [_decode(i) for i in replies[:-1]]

    async def finish(
        self, session_id: str, message_id: str, result: Mapping[str, Any], event: str = "done"
    ) -> str | None:
        """Append the terminal ``event`` (``done``, ``cancelled`` or ``interrupted``) unless the turn
        already has one; the stream then expires after ``keep_seconds``.

        Returns the new event's id, or None when it was already ended (or Redis is unavailable).
        """
        key = self.key(session_id, message_id)
        try:
            entry = await self.writer.eval(
                _FINISH, 2, key, f"{key}:done", json.dumps(result), self.maxlen, self.keep_seconds, event
            )
        except STREAM_ERRORS as exc:
            self._failed("finish", exc)
            return None
        return _decode(entry) if entry else None

    async def request_stop(self, session_id: str, message_id: str, reason: str, ttl_seconds: int = 600) -> None:
        """Raise the turn's stop flag (``reason``: cancelled, interrupted, rollback, ended)."""
        try:
            await self.writer.set(stop_key(session_id, message_id), reason, ex=ttl_seconds)
        except STREAM_ERRORS as exc:  # the Temporal cancel still reaches the node at its next heartbeat
            self._failed("stop", exc)

    async def stop_requested(self, session_id: str, message_id: str) -> str | None:
        """The reason the turn's stop flag was raised with, or None. Raises on Redis errors."""
        value = await self.writer.get(stop_key(session_id, message_id))
        return _decode(value) if value is not None else None

    async def keep_for_replay(self, session_id: str, message_id: str) -> None:
        """The turn is over (e.g. its reply was delivered to a chat): expire after ``keep_seconds``."""
        try:
            await self.writer.expire(self.key(session_id, message_id), self.keep_seconds)
        except STREAM_ERRORS as exc:
            self._failed("expire", exc)

    # ------------------------------------------------------------------ reading
    async def read(self, session_id: str, message_id: str, after: str = "0", block_ms: int = 0) -> list[TurnEvent]:
        """Events after ``after`` (an event id; "0" = from the start), waiting up to ``block_ms`` for
        the first one when there is none yet. Raises on Redis errors (callers degrade)."""
        key = self.key(session_id, message_id)
        if block_ms <= 0:
            entries: Any = await self.reader.xrange(key, min=f"({after}" if after != "0" else "-", count=1000)
            return [_event(i, f) for i, f in entries]
        reply: Any = await self.reader.xread({key: after}, count=1000, block=block_ms)
        return [_event(i, f) for _, entries in reply or [] for i, f in entries]

    async def last(self, session_id: str, message_id: str) -> TurnEvent | None:
        """The turn's last event (None: no events kept). Raises on Redis errors."""
        entries: Any = await self.reader.xrevrange(self.key(session_id, message_id), count=1)
        return _event(*entries[0]) if entries else None

    async def exists(self, session_id: str, message_id: str) -> bool:
        return bool(await self.reader.exists(self.key(session_id, message_id)))


class TurnPublisher:
    """An activity's events for one turn. ``emit`` never waits: events queue up and one
    background flusher appends them in order, many per round trip, while the model goes on
    streaming. ``flush`` waits until all are appended (before the activity returns, so a
    turn's events always precede its ``done``)."""

    def __init__(self, streams: TurnStreams, session_id: str, message_id: str) -> None:
        self.streams = streams
        self.session_id = session_id
        self.message_id = message_id
        self._pending: list[tuple[EventKind, Mapping[str, Any]]] = []
        self._flusher: asyncio.Task[None] | None = None

    def emit(self, event: StreamEvent) -> None:
        # on the wire: the fields the writer set (as before the events were typed), the kind apart
        self._pending.append((event.event, event.model_dump(mode="json", exclude={"event"}, exclude_unset=True)))
        if self._flusher is None or self._flusher.done():
            self._flusher = asyncio.create_task(self._drain())

    async def _drain(self) -> None:
        while self._pending:
            batch, self._pending = self._pending, []
            await self.streams.publish_many(self.session_id, self.message_id, batch)

    async def flush(self) -> None:
        if self._flusher is not None:
            await self._flusher
