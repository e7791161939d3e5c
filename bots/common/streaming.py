"""A turn's answer growing in place in a chat, and its exact final text delivered.

While a turn runs, a ``TurnRenderer`` reads the turn's event stream (``core.streams``: the same
Redis Stream the API serves as SSE) and shows the answer so far in a draft message, edited no
more often than the platform accepts (``Throttle``: per chat on Telegram, per message on
Discord) and never before a 429's ``retry_after`` has passed. A ``reset`` (a retried model
call) drops what its step showed; a draft longer than the platform's limit continues in a new
message. Nothing is shown during the first ``grace`` seconds, so a quick turn is one plain
message, as without streaming.

The workflow's ``deliver`` activity stays the authority: ``StreamingReplies.deliver`` stops the
renderer and edits the drafts into exactly the final text (sending parts that have no draft,
deleting drafts left over). An approval prompt ends the drafts the same way (the prompt takes
their place, buttons included) and later tokens start new drafts below it. The drafts' message
ids are kept in Redis as well, so a bot restarted in the middle of a turn still edits them
into the final answer instead of leaving a half-written message behind.

Best effort by design: with Redis down, or an edit refused, the reply simply arrives whole.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Protocol

from temporalio import activity
from temporalio.exceptions import ApplicationError

from bots.common.text import split_text
from core.bots import ApprovalButton, Delivery
from core.platforms import ChatPlatform
from core.schemas import ReplyAddress
from core.streams import STREAM_ERRORS, TERMINAL_EVENTS, TurnEvent, TurnStreams
from core.turn_events import TurnFold, parse_event

log = logging.getLogger("impressox.bots.streaming")

#: how long a renderer follows one turn at most (a turn waiting for a human goes on without it)
RENDER_SECONDS = 300.0
#: how long the drafts' message ids are kept for a restarted bot
DRAFTS_KEEP_SECONDS = 24 * 3600
#: shown while the model has written nothing yet but a tool runs
WORKING = "⏳"


class RateLimited(Exception):
    """The platform asked to wait ``retry_after`` seconds (HTTP 429)."""

    def __init__(self, retry_after: float) -> None:
        super().__init__(f"rate limited for {retry_after} s")
        self.retry_after = retry_after


class Refused(Exception):
    """The platform will not take this message (blocked, deleted chat, bad request): no retry helps."""


class ChatSurface(Protocol):
    """How one platform sends, edits and deletes the bot's messages. Raises ``RateLimited`` or
    ``Refused`` for the platform's answers; an edit to the text already shown is a success.
    What the platform is (its name, its message limit) is its registry entry's (core/platforms.py)."""

    def throttle_key(self, address: ReplyAddress, ref: str | None) -> str | None:
        """What the edit cadence is counted per (None: not throttled)."""

    async def send(self, address: ReplyAddress, text: str, *, first: bool, buttons: ApprovalButton | None) -> str:
        """A new message (``first``: the reply to the user's message); its ref for edits."""

    async def edit(self, address: ReplyAddress, ref: str, text: str, *, buttons: ApprovalButton | None) -> None: ...

    async def delete(self, address: ReplyAddress, ref: str) -> None: ...


class Throttle:
    """At most one call per ``interval`` per key; a 429 pushes the key's next slot back."""

    def __init__(self, interval: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.interval = interval
        self.clock = clock
        self._next: dict[str, float] = {}

    def ready_in(self, key: str | None) -> float:
        return 0.0 if key is None else max(0.0, self._next.get(key, 0.0) - self.clock())

    async def wait(self, key: str | None) -> None:
        """Take the key's next slot (reserved at once, so concurrent callers queue up)."""
        if key is None:
            return
        now = self.clock()
        at = max(now, self._next.get(key, 0.0))
        self._next[key] = at + self.interval
        self._prune(now)
        if at > now:
            await asyncio.sleep(at - now)

    def mark(self, key: str | None) -> None:
        """A call just went out under ``key`` (e.g. a new message, whose first edit must wait too)."""
        self.penalize(key, self.interval)

    def penalize(self, key: str | None, seconds: float) -> None:
        if key is not None:
            self._next[key] = max(self._next.get(key, 0.0), self.clock() + seconds)

    def _prune(self, now: float) -> None:
        if len(self._next) > 1000:
            for k in [k for k, t in self._next.items() if t < now]:
                del self._next[k]


class DraftStore:
    """A turn's drafts in Redis: their message refs while it runs, and once its reply went out
    that it was delivered (a bot restarted mid-turn, or a redelivered chat update, finds them)."""

    def __init__(self, streams: TurnStreams) -> None:
        self.redis = streams.writer
        self.prefix = streams.prefix  # the deployment's (core/redis_keys.py)

    def key(self, session_id: str, message_id: str) -> str:
        return f"{self.prefix}:drafts:{session_id}:{message_id}"

    async def save(self, session_id: str, message_id: str, refs: list[str], delivered: bool = False) -> None:
        value = json.dumps({"refs": refs, "delivered": delivered})
        try:
            await self.redis.set(self.key(session_id, message_id), value, ex=DRAFTS_KEEP_SECONDS)
        except STREAM_ERRORS as exc:
            log.warning("could not keep the drafts of %s/%s: %s", session_id, message_id, exc)

    async def load(self, session_id: str, message_id: str) -> tuple[list[str], bool]:
        """(the drafts' refs, whether the turn's reply was delivered)."""
        try:
            raw = await self.redis.get(self.key(session_id, message_id))
        except STREAM_ERRORS as exc:
            log.warning("could not read the drafts of %s/%s: %s", session_id, message_id, exc)
            return [], False
        value = json.loads(raw) if raw else {}
        return [str(r) for r in value.get("refs", [])], bool(value.get("delivered"))


@dataclass
class _Answer(TurnFold):
    """The answer so far, rebuilt from a turn's events by the one fold (core/turn_events.py) the web
    client's fold mirrors."""

    def take(self, event: TurnEvent) -> bool:
        """Take one stream entry; True when the visible text may have changed."""
        return self.apply(parse_event(event.event, event.data))

    def visible(self) -> str:
        text = self.text.strip()
        if self.tool:
            text = f"{text}\n\n{WORKING} {self.tool}…" if text else f"{WORKING} {self.tool}…"
        return text


class TurnRenderer:
    """One turn's drafts. ``lock`` is held while the drafts change, so a delivery never races an edit."""

    def __init__(
        self,
        replies: StreamingReplies,
        streams: TurnStreams,
        drafts: DraftStore,
        session_id: str,
        message_id: str,
        address: ReplyAddress,
    ) -> None:
        self.replies = replies
        self.streams = streams
        self.drafts = drafts
        self.session_id = session_id
        self.message_id = message_id
        self.address = address
        self.lock = asyncio.Lock()
        self.refs: list[str] = []
        self.shown: list[str] = []
        self.answer = _Answer()
        #: the workflow delivered the final text: no more drafts
        self.closed = False
        #: an approval prompt is being put in the drafts' place: wait
        self.paused = False

    async def run(self, grace: float, timeout: float = RENDER_SECONDS) -> None:
        streams, throttle = self.streams, self.replies.throttle
        start = time.monotonic()
        cursor, dirty = "0", False
        while not self.closed and time.monotonic() - start < timeout:
            wait = 1.0
            if dirty and not self.paused:
                wait = max(grace - (time.monotonic() - start), throttle.ready_in(self._key()), 0.02)
            try:
                events = await streams.read(self.session_id, self.message_id, cursor, block_ms=int(wait * 1000))
            except STREAM_ERRORS as exc:  # no stream: the reply arrives whole
                log.info("no live reply for %s/%s: %s", self.session_id, self.message_id, exc)
                return
            for event in events:
                cursor = event.id
                dirty = self.answer.take(event) or dirty
                if event.event in TERMINAL_EVENTS or (event.event == "error" and json.loads(event.data).get("final")):
                    return
            if dirty and not self.paused and time.monotonic() - start >= grace and throttle.ready_in(self._key()) <= 0:
                dirty = not await self._show()

    def _key(self) -> str | None:
        return self.replies.surface.throttle_key(self.address, self.refs[-1] if self.refs else None)

    async def _show(self) -> bool:
        """Bring the drafts up to the answer so far; False when the platform said to wait."""
        text = self.answer.visible()
        if not text:
            return True
        surface, throttle = self.replies.surface, self.replies.throttle
        async with self.lock:
            if self.closed or self.paused:
                return True
            for i, part in enumerate(split_text(text, self.replies.platform.text_limit)):
                if i < len(self.shown) and self.shown[i] == part:
                    continue
                ref = self.refs[i] if i < len(self.refs) else None
                key = surface.throttle_key(self.address, ref)
                await throttle.wait(key)
                if self.closed or self.paused:  # the final text came meanwhile: this edit is moot
                    return True
                try:
                    if ref is None:
                        ref = await surface.send(self.address, part, first=i == 0, buttons=None)
                        throttle.mark(surface.throttle_key(self.address, ref))
                        self.refs.append(ref)
                        self.shown.append(part)
                        await self.drafts.save(self.session_id, self.message_id, self.refs)
                    else:
                        await surface.edit(self.address, ref, part, buttons=None)
                        self.shown[i] = part
                except RateLimited as exc:
                    throttle.penalize(key, exc.retry_after)
                    return False
                except Exception as exc:  # noqa: BLE001 - a draft is best effort; the final text still comes
                    log.warning("draft of %s/%s not shown: %r", self.session_id, self.message_id, exc)
                    self.closed = True
                    return True
        return True

    def new_segment(self) -> None:
        """After an approval prompt took the drafts' place: later tokens start fresh drafts below it."""
        self.refs, self.shown, self.answer = [], [], _Answer()
        self.paused = False


class StreamingReplies:
    """A bot's live replies: a renderer per running turn, and the ``deliver`` activity's body."""

    def __init__(
        self,
        surface: ChatSurface,
        platform: ChatPlatform[Any],
        streams: TurnStreams | None,
        *,
        interval: float,
        grace: float = 1.0,
    ) -> None:
        self.surface = surface
        #: the platform's registry entry: its name, and its message limit (longer texts are split)
        self.platform = platform
        self.streams = streams  # None: streaming off, replies arrive whole
        self.drafts = DraftStore(streams) if streams else None
        self.throttle = Throttle(interval)
        self.grace = grace
        self.renderers: dict[tuple[str, str], TurnRenderer] = {}

    async def follow(self, session_id: str, message_id: str, address: ReplyAddress) -> None:
        """Render the turn's answer as it is written, until the workflow delivers it."""
        if self.streams is None or self.drafts is None or (session_id, message_id) in self.renderers:
            return
        renderer = TurnRenderer(self, self.streams, self.drafts, session_id, message_id, address)
        self.renderers[(session_id, message_id)] = renderer
        try:
            # a redelivered chat update, or a bot restarted mid-turn: take up what is there
            refs, delivered = await self.drafts.load(session_id, message_id)
            if delivered:
                return
            renderer.refs, renderer.shown = refs, [""] * len(refs)
            await renderer.run(self.grace)
        finally:
            if self.renderers.get((session_id, message_id)) is renderer:
                self.renderers.pop((session_id, message_id), None)

    async def deliver(self, delivery: Delivery, session_id: str) -> None:
        """Put ``delivery.text`` in the chat: in the turn's drafts when it has some, else as new messages.

        Parts already delivered (heartbeat progress) are skipped on a retry; an edit repeating
        what is shown is harmless, so a retried delivery never duplicates a message.
        """
        message_id = delivery.key.split("/", 1)[0]
        renderer: TurnRenderer | None = None
        refs: list[str] = []
        shown: list[str] = []
        if delivery.kind != "notification" and self.drafts is not None:
            renderer = self.renderers.get((session_id, message_id))
            if renderer is not None:
                if delivery.kind == "reply":
                    renderer.closed = True
                else:
                    renderer.paused = True
                async with renderer.lock:  # an edit in flight ends first
                    refs, shown = list(renderer.refs), list(renderer.shown)
            else:  # a bot restarted mid-turn, or a retried delivery: the drafts it left, if any
                refs, _ = await self.drafts.load(session_id, message_id)
        parts = split_text(delivery.text, self.platform.text_limit)
        details = activity.info().heartbeat_details
        done = int(details[0]) if details else 0
        for i in range(done, len(parts)):
            buttons = delivery.approval if i == len(parts) - 1 else None
            ref = refs[i] if i < len(refs) else None
            if not (buttons is None and i < len(shown) and shown[i] == parts[i]):  # already there
                await self._put(delivery.address, ref, parts[i], first=i == 0, buttons=buttons)
            activity.heartbeat(i + 1)
        for ref in refs[len(parts) :]:
            await self._put(delivery.address, ref, None, first=False, buttons=None)
        if self.drafts is not None and delivery.kind != "notification":
            # the reply is out: a late renderer shows nothing; an approval prompt ends this set of drafts
            await self.drafts.save(session_id, message_id, [], delivered=delivery.kind == "reply")
        if renderer is not None:
            if delivery.kind == "reply":
                self.renderers.pop((session_id, message_id), None)
            else:
                renderer.new_segment()
        if delivery.kind == "reply" and self.streams is not None:
            # nobody appends ``done`` to a chat turn's events: keep them only as long as a finished turn's
            await self.streams.keep_for_replay(session_id, message_id)

    async def _put(
        self, address: ReplyAddress, ref: str | None, text: str | None, *, first: bool, buttons: ApprovalButton | None
    ) -> None:
        """One send, edit (``ref``) or delete (``text`` None), throttled, with the platform's answer
        turned into Temporal's terms: a 429 is retried after exactly ``retry_after``."""
        key = self.surface.throttle_key(address, ref)
        if ref is not None:
            await self.throttle.wait(key)
        try:
            if ref is None:
                assert text is not None
                sent = await self.surface.send(address, text, first=first, buttons=buttons)
                self.throttle.mark(self.surface.throttle_key(address, sent))
            elif text is None:
                await self.surface.delete(address, ref)
            else:
                await self.surface.edit(address, ref, text, buttons=buttons)
        except RateLimited as exc:
            self.throttle.penalize(key, exc.retry_after)
            raise ApplicationError(
                f"{self.platform.name} asked to retry after {exc.retry_after} s",
                next_retry_delay=timedelta(seconds=exc.retry_after),
            ) from None
        except Refused as exc:
            raise ApplicationError(f"{self.platform.name} refused the message: {exc}", non_retryable=True) from None

    async def close(self) -> None:
        for renderer in self.renderers.values():
            renderer.closed = True
        self.renderers.clear()


def retry_after_seconds(value: Any, default: float = 1.0) -> float:
    """A platform's retry-after value (header or field) as seconds."""
    try:
        return max(0.0, float(value))
    except (TypeError, ValueError):
        return default
