"""A node call watches its turn's stop flag in Redis while it runs; once the call ends, nothing of
that watch may keep running. redis-py 8 sometimes swallows a cancel that arrives during a command
(here, the GET of the stop flag), and a poller relying on cancel alone then polled Redis for
ever: about one node call in a hundred left one behind on a worker, each a GET every 50 ms."""

from __future__ import annotations

import asyncio
import random

import pytest

import activities.nodes as nodes
from core.schemas import NodeOutput
from core.streams import TurnStreams
from devstack.redis_server import RedisServer

CALLS = 300


async def answer_after(seconds: float) -> NodeOutput:
    await asyncio.sleep(seconds)
    return NodeOutput(content="done")


def pollers_left() -> list[asyncio.Task[object]]:
    return [t for t in asyncio.all_tasks() if not t.done() and getattr(t.get_coro(), "__name__", "") == "_stop_flag"]


async def test_no_stop_flag_poller_outlives_its_node_call(
    redis_server: RedisServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    # poll nearly without pause, so a call's end mostly finds the poller inside its GET
    monkeypatch.setattr(nodes, "STOP_POLL_SECONDS", 0.0002)
    streams = TurnStreams.from_url(redis_server.url)
    rng = random.Random(7)
    for i in range(CALLS):
        out = await nodes._stoppable(answer_after(rng.random() * 0.01), streams, "s-poller", f"m{i}", [])
        assert out.content == "done" and not out.stopped
    await asyncio.sleep(0.3)  # a poller that ends on its own has ended by now
    left = pollers_left()
    assert left == [], f"{len(left)} of {CALLS} node calls left their stop-flag poller running"


async def test_a_raised_stop_flag_still_stops_the_call(redis_server: RedisServer) -> None:
    streams = TurnStreams.from_url(redis_server.url)
    streamed = ["partial "]
    await streams.request_stop("s-poller", "m-stop", "user")
    out = await nodes._stoppable(answer_after(30), streams, "s-poller", "m-stop", streamed)
    assert out.stopped == "user" and out.content == "partial "
    await asyncio.sleep(0.1)
    assert pollers_left() == []
