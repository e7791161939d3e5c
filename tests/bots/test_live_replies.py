"""Live replies (bots/common/streaming.py): a turn's events from a real Redis Stream rendered into a
chat surface that records every call with its time, and the ``deliver`` activity finishing the drafts.

The surface stands in for a platform's HTTP API (the real bots are driven in test_live_edits.py);
the stream, the throttle, the drafts' memory in Redis and the activity are the real ones.
"""

from __future__ import annotations

import asyncio
import itertools
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment

from bots.common.streaming import RateLimited, StreamingReplies
from core.bots import ApprovalButton, Delivery
from core.platforms import ChatPlatform, PlatformSettings
from core.schemas import ReplyAddress
from core.settings import Settings
from core.streams import TurnStreams
from devstack.processes import free_port
from devstack.redis_server import RedisServer

ADDRESS = ReplyAddress(platform="telegram", chat_id="77", user_id="77")
INTERVAL = 0.5
GRACE = 0.3


@dataclass
class Call:
    at: float
    op: str
    ref: str
    text: str


async def _no_run(settings: Settings, config: PlatformSettings, stop: asyncio.Event, ready: Path | None) -> None:
    await stop.wait()


@dataclass
class RecordingSurface:
    """A chat that keeps its messages and when each call arrived; ``limit_next`` answers 429s."""

    #: the fake platform's message limit (its registry entry's ``text_limit``)
    limit: int = 4096
    calls: list[Call] = field(default_factory=list)
    messages: dict[str, str] = field(default_factory=dict)
    buttons: dict[str, ApprovalButton] = field(default_factory=dict)
    limit_next: list[float] = field(default_factory=list)
    refused: list[float] = field(default_factory=list)
    _ids: itertools.count = field(default_factory=lambda: itertools.count(1))

    @property
    def platform(self) -> ChatPlatform[PlatformSettings]:
        """The registry entry of the platform this surface is."""
        return ChatPlatform("fake", "fk", self.limit, PlatformSettings, _no_run, __name__)

    def throttle_key(self, address: ReplyAddress, ref: str | None) -> str | None:
        return f"chat:{address.chat_id}"

    def _limited(self) -> None:
        if self.limit_next:
            self.refused.append(time.monotonic())
            raise RateLimited(self.limit_next.pop(0))

    async def send(self, address: ReplyAddress, text: str, *, first: bool, buttons: ApprovalButton | None) -> str:
        self._limited()
        ref = str(next(self._ids))
        self.messages[ref] = text
        if buttons:
            self.buttons[ref] = buttons
        self.calls.append(Call(time.monotonic(), "send", ref, text))
        return ref

    async def edit(self, address: ReplyAddress, ref: str, text: str, *, buttons: ApprovalButton | None) -> None:
        self._limited()
        self.messages[ref] = text
        if buttons:
            self.buttons[ref] = buttons
        self.calls.append(Call(time.monotonic(), "edit", ref, text))

    async def delete(self, address: ReplyAddress, ref: str) -> None:
        self.messages.pop(ref, None)
        self.calls.append(Call(time.monotonic(), "delete", ref, ""))

    def gaps(self) -> list[float]:
        times = [c.at for c in self.calls if c.op != "delete"]
        return [b - a for a, b in itertools.pairwise(times)]


@pytest.fixture
async def streams(redis_server: RedisServer) -> AsyncIterator[TurnStreams]:
    s = TurnStreams.from_url(redis_server.url)
    yield s
    await s.close()


def turn() -> tuple[str, str]:
    return f"telegram:tg-77:{uuid.uuid4().hex[:8]}", uuid.uuid4().hex


async def write(streams: TurnStreams, sid: str, mid: str, words: list[str], every: float, step: int = 1) -> None:
    for w in words:
        await streams.publish(sid, mid, "token", {"text": w, "step": step})
        await asyncio.sleep(every)


async def deliver(replies: StreamingReplies, sid: str, mid: str, text: str, **kw: object) -> None:
    delivery = Delivery(address=ADDRESS, text=text, key=f"{mid}/reply", **kw)
    await ActivityEnvironment().run(replies.deliver, delivery, sid)


async def test_answer_grows_in_place_at_the_cadence_and_ends_exact(streams: TurnStreams) -> None:
    surface = RecordingSurface()
    replies = StreamingReplies(surface, surface.platform, streams, interval=INTERVAL, grace=GRACE)
    sid, mid = turn()
    follow = asyncio.create_task(replies.follow(sid, mid, ADDRESS))
    await write(streams, sid, mid, [f"w{i} " for i in range(60)], 0.04)  # ~2.4 s of tokens
    final = "".join(f"w{i} " for i in range(60)).strip()
    await deliver(replies, sid, mid, final)
    await asyncio.wait_for(follow, 5)

    assert list(surface.messages.values()) == [final]  # one message, exactly the final text
    assert sum(c.op == "send" for c in surface.calls) == 1
    edits = [c for c in surface.calls if c.op == "edit"]
    assert len(edits) >= 3  # it grew while the model wrote
    assert all(len(a.text) <= len(b.text) for a, b in itertools.pairwise(edits))
    assert min(surface.gaps()) >= INTERVAL - 0.02
    assert surface.calls[0].text.startswith("w0")


async def test_a_reset_clears_what_its_step_showed(streams: TurnStreams) -> None:
    surface = RecordingSurface()
    replies = StreamingReplies(surface, surface.platform, streams, interval=INTERVAL, grace=GRACE)
    sid, mid = turn()
    follow = asyncio.create_task(replies.follow(sid, mid, ADDRESS))
    await write(streams, sid, mid, ["wrong "] * 20, 0.05)
    assert any("wrong" in c.text for c in surface.calls)
    await streams.publish(sid, mid, "reset", {"step": 1, "attempt": 2})
    reset_at = time.monotonic()
    await write(streams, sid, mid, ["right "] * 25, 0.05)
    await deliver(replies, sid, mid, "right " * 24 + "right")
    await asyncio.wait_for(follow, 5)

    after = [c for c in surface.calls if c.at > reset_at]
    assert after and not any("wrong" in c.text for c in after)
    assert list(surface.messages.values()) == ["right " * 24 + "right"]


async def test_retry_after_is_honoured(streams: TurnStreams) -> None:
    surface = RecordingSurface()
    replies = StreamingReplies(surface, surface.platform, streams, interval=INTERVAL, grace=GRACE)
    sid, mid = turn()
    follow = asyncio.create_task(replies.follow(sid, mid, ADDRESS))
    await write(streams, sid, mid, ["a "] * 10, 0.05)
    surface.limit_next.append(1.5)  # the next edit is refused: wait 1.5 s
    await write(streams, sid, mid, ["b "] * 50, 0.05)
    await deliver(replies, sid, mid, "done")
    await asyncio.wait_for(follow, 5)

    assert len(surface.refused) == 1
    later = [c.at for c in surface.calls if c.at > surface.refused[0]]
    assert later and later[0] - surface.refused[0] >= 1.5 - 0.02
    assert list(surface.messages.values()) == ["done"]


async def test_a_429_on_the_final_text_is_retried_after_exactly_retry_after(streams: TurnStreams) -> None:
    surface = RecordingSurface()
    replies = StreamingReplies(surface, surface.platform, streams, interval=INTERVAL, grace=GRACE)
    sid, mid = turn()
    surface.limit_next.append(7)
    with pytest.raises(ApplicationError) as err:
        await deliver(replies, sid, mid, "hello")
    assert err.value.next_retry_delay is not None and err.value.next_retry_delay.total_seconds() == 7
    assert not surface.messages


async def test_a_long_draft_continues_in_new_messages_and_the_final_text_replaces_them(
    streams: TurnStreams,
) -> None:
    surface = RecordingSurface(limit=40)
    replies = StreamingReplies(surface, surface.platform, streams, interval=0.2, grace=0.1)
    sid, mid = turn()
    follow = asyncio.create_task(replies.follow(sid, mid, ADDRESS))
    await write(streams, sid, mid, [f"word{i:02d} " for i in range(30)], 0.03)  # 240 characters
    await asyncio.sleep(1.5)
    assert len(surface.messages) >= 5 and all(len(t) <= 40 for t in surface.messages.values())
    final = "short answer\n" + "x" * 30  # two parts of at most 40
    await deliver(replies, sid, mid, final)
    await asyncio.wait_for(follow, 5)

    assert list(surface.messages.values()) == ["short answer", "x" * 30]
    assert any(c.op == "delete" for c in surface.calls)


async def test_a_quick_turn_is_one_plain_message(streams: TurnStreams) -> None:
    surface = RecordingSurface()
    replies = StreamingReplies(surface, surface.platform, streams, interval=INTERVAL, grace=1.0)
    sid, mid = turn()
    follow = asyncio.create_task(replies.follow(sid, mid, ADDRESS))
    await write(streams, sid, mid, ["17 ", "* ", "23 ", "= ", "391"], 0)
    await asyncio.sleep(0.2)
    await deliver(replies, sid, mid, "17 * 23 = 391")
    await asyncio.wait_for(follow, 5)
    assert [(c.op, c.text) for c in surface.calls] == [("send", "17 * 23 = 391")]


async def died_mid_turn(surface: RecordingSurface, streams: TurnStreams) -> tuple[str, str]:
    """A bot process that showed half a turn as a draft and died; the turn's (session, message)."""
    before = StreamingReplies(surface, surface.platform, streams, interval=INTERVAL, grace=GRACE)
    sid, mid = turn()
    follow = asyncio.create_task(before.follow(sid, mid, ADDRESS))
    await write(streams, sid, mid, ["half "] * 20, 0.05)
    follow.cancel()
    await asyncio.gather(follow, return_exceptions=True)
    return sid, mid


async def test_a_restarted_bot_finishes_the_drafts_it_left(streams: TurnStreams) -> None:
    surface = RecordingSurface()
    sid, mid = await died_mid_turn(surface, streams)
    assert len(surface.messages) == 1

    after = StreamingReplies(surface, surface.platform, streams, interval=INTERVAL, grace=GRACE)  # a new process
    await deliver(after, sid, mid, "the whole answer")
    assert list(surface.messages.values()) == ["the whole answer"]
    assert sum(c.op == "send" for c in surface.calls) == 1


async def test_an_approval_prompt_takes_the_drafts_place_and_the_answer_follows_below(
    streams: TurnStreams,
) -> None:
    surface = RecordingSurface()
    replies = StreamingReplies(surface, surface.platform, streams, interval=INTERVAL, grace=GRACE)
    sid, mid = turn()
    follow = asyncio.create_task(replies.follow(sid, mid, ADDRESS))
    await write(streams, sid, mid, ["Paying "] * 12, 0.05)
    await streams.publish(sid, mid, "tool_call", {"name": "pay", "call_id": "c1"})
    await asyncio.sleep(INTERVAL + 0.2)
    assert any("pay…" in t for t in surface.messages.values())
    button = ApprovalButton(session_id=sid, call_id="c1", summary="pay 5 to bob")
    await ActivityEnvironment().run(
        replies.deliver,
        Delivery(
            address=ADDRESS,
            text="This needs your approval: pay 5 to bob.",
            kind="approval",
            approval=button,
            key=f"{mid}/c1",
        ),
        sid,
    )
    assert list(surface.messages.values()) == ["This needs your approval: pay 5 to bob."]
    assert list(surface.buttons) == list(surface.messages)  # the prompt has the buttons

    await streams.publish(sid, mid, "tool_result", {"name": "pay", "call_id": "c1", "status": "ok"})
    await write(streams, sid, mid, ["Paid "] * 20, 0.05)
    await deliver(replies, sid, mid, "Paid 5 to bob.")
    await asyncio.wait_for(follow, 5)
    assert list(surface.messages.values()) == ["This needs your approval: pay 5 to bob.", "Paid 5 to bob."]


async def test_redis_down_the_reply_arrives_whole() -> None:
    dead = TurnStreams.from_url(f"redis://127.0.0.1:{free_port()}/0")
    surface = RecordingSurface()
    replies = StreamingReplies(surface, surface.platform, dead, interval=INTERVAL, grace=GRACE)
    sid, mid = turn()
    await asyncio.wait_for(replies.follow(sid, mid, ADDRESS), 5)  # gives up at once
    await deliver(replies, sid, mid, "answer")
    assert [(c.op, c.text) for c in surface.calls] == [("send", "answer")]
    await dead.close()


async def test_a_delivered_turns_events_are_kept_only_as_long_as_a_finished_turns(streams: TurnStreams) -> None:
    replies = StreamingReplies(surface := RecordingSurface(), surface.platform, streams, interval=INTERVAL, grace=GRACE)
    sid, mid = turn()
    await write(streams, sid, mid, ["a "], 0)
    assert await streams.writer.ttl(streams.key(sid, mid)) > streams.keep_seconds  # a running turn's
    await deliver(replies, sid, mid, "a")
    assert 0 < await streams.writer.ttl(streams.key(sid, mid)) <= streams.keep_seconds


async def test_a_redelivered_message_after_its_reply_shows_nothing_again(streams: TurnStreams) -> None:
    surface = RecordingSurface()
    replies = StreamingReplies(surface, surface.platform, streams, interval=INTERVAL, grace=0.1)
    sid, mid = turn()
    await write(streams, sid, mid, ["the ", "answer"], 0)
    await deliver(replies, sid, mid, "the answer")
    # the platform sends the same update again (e.g. after a bot restart): its turn was answered
    await asyncio.wait_for(replies.follow(sid, mid, ADDRESS), 5)
    assert [(c.op, c.text) for c in surface.calls] == [("send", "the answer")]


async def test_a_restarted_bot_goes_on_growing_the_draft_it_left(streams: TurnStreams) -> None:
    surface = RecordingSurface()
    sid, mid = await died_mid_turn(surface, streams)  # the platform redelivers the message to a new process

    after = StreamingReplies(surface, surface.platform, streams, interval=INTERVAL, grace=GRACE)
    follow = asyncio.create_task(after.follow(sid, mid, ADDRESS))
    await write(streams, sid, mid, ["more "] * 20, 0.05)
    await deliver(after, sid, mid, "the whole answer")
    await asyncio.wait_for(follow, 5)
    assert any("more" in c.text for c in surface.calls if c.op == "edit")  # the old draft grew on
    assert list(surface.messages.values()) == ["the whole answer"]
    assert sum(c.op == "send" for c in surface.calls) == 1


async def test_the_cadence_is_the_chats_across_two_turns(streams: TurnStreams) -> None:
    """The next turn's first draft waits for the slot the previous turn's last edit took: the
    throttle counts per chat (as Telegram does), not per turn."""
    surface = RecordingSurface()
    replies = StreamingReplies(surface, surface.platform, streams, interval=INTERVAL, grace=0.05)
    sid, _ = turn()
    finals, starts = [], []
    for n in range(2):  # the second turn starts the moment the first one's reply is delivered
        mid = uuid.uuid4().hex
        starts.append(len(surface.calls))
        follow = asyncio.create_task(replies.follow(sid, mid, ADDRESS))
        await write(streams, sid, mid, [f"t{n}w{i} " for i in range(20)], 0.05)  # ~1 s of tokens
        finals.append(f"answer {n}")
        await deliver(replies, sid, mid, finals[-1])
        await asyncio.wait_for(follow, 5)

    assert list(surface.messages.values()) == finals
    second = surface.calls[starts[1]]
    assert second.op == "send" and second.text.startswith("t1w0")  # the second turn had a draft
    # a margin for the event loop's lateness; without a per-chat throttle this gap is ~grace
    assert second.at - surface.calls[starts[1] - 1].at >= INTERVAL - 0.1
    assert min(surface.gaps()) >= INTERVAL - 0.1
