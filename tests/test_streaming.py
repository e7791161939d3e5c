"""Streaming end to end: the real API served over HTTP (uvicorn), a real worker, Temporal and
Redis; a turn's events read as a client would, with server-sent events."""

from __future__ import annotations

import asyncio
import contextlib
import json
import uuid
from collections import Counter
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
import uvicorn
from temporalio.client import Client

from api.app import create_app
from core.cache import build_cache
from core.settings import ApiKey, Settings
from core.streams import TurnStreams
from devstack.processes import free_port
from devstack.redis_server import RedisServer
from services.tools import load_tools
from temporal.worker import build_worker
from tests.conftest import decoded_payloads, make_settings
from tests.test_remote_llm import FakeOpenAI, fake_openai, remote_settings  # noqa: F401 - fixtures

Event = tuple[str, str, dict]  # id, event, data


@contextlib.asynccontextmanager
async def live_stack(client: Client, settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    """A worker and the API on a real port (SSE needs a real connection to be dropped)."""
    cache = await build_cache(settings.redis_url)
    streams = TurnStreams.from_settings(settings)
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(create_app(settings), host="127.0.0.1", port=port, log_level="warning", lifespan="on")
    )
    try:
        async with build_worker(client, settings, load_tools(settings.tool_modules), cache, streams=streams):
            serving = asyncio.create_task(server.serve())
            while not server.started:
                await asyncio.sleep(0.05)
            async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=60) as http:
                yield http
            server.should_exit = True
            await serving
    finally:
        await streams.close()
        await cache.close()


async def read_events(
    response: httpx.Response, limit: int | None = None, lines: AsyncIterator[str] | None = None
) -> list[Event]:
    """SSE events of a response until ``done`` (or ``limit`` events); pass ``lines`` to read on."""
    assert response.status_code == 200, await response.aread()
    assert response.headers["content-type"].startswith("text/event-stream")
    out: list[Event] = []
    cur: dict[str, str] = {}
    async for line in lines or response.aiter_lines():
        if not line:
            if "data" in cur:
                out.append((cur.get("id", ""), cur.get("event", "message"), json.loads(cur["data"])))
                if out[-1][1] == "done" or (limit and len(out) >= limit):
                    break
            cur = {}
        elif not line.startswith(":"):
            key, _, value = line.partition(":")
            cur[key] = value.removeprefix(" ")
    return out


async def stream_message(http: httpx.AsyncClient, sid: str, text: str, mid: str, limit: int | None = None, **kw):
    async with http.stream(
        "POST", f"/v1/sessions/{sid}/messages?stream=true", json={"text": text, "message_id": mid}, **kw
    ) as r:
        return await read_events(r, limit)


async def turn_events(http: httpx.AsyncClient, sid: str, mid: str, after: str | None = None, **kw) -> list[Event]:
    headers = {"Last-Event-ID": after} if after else {}
    async with http.stream("GET", f"/v1/sessions/{sid}/messages/{mid}/events", headers=headers, **kw) as r:
        return await read_events(r)


def shown_text(events: list[Event]) -> str:
    """What a client shows: tokens since the last `reset`."""
    text = ""
    for _, kind, data in events:
        if kind == "reset":
            text = ""
        elif kind == "token":
            text += data["text"]
    return text


async def new_session(http: httpx.AsyncClient, agent: str = "assistant", **kw) -> str:
    r = await http.post("/v1/sessions", json={"agent": agent}, **kw)
    assert r.status_code == 201, r.text
    return r.json()["session_id"]


@pytest.fixture
def slow_settings(settings: Settings) -> Settings:
    """The offline model types its answers out word by word, 30 ms a word."""
    return settings.model_copy(update={"offline_token_delay_ms": 30.0})


async def test_a_streamed_turn_types_out_its_answer_and_ends_with_the_full_result(
    client: Client, slow_settings: Settings
) -> None:
    async with live_stack(client, slow_settings) as http:
        sid = await new_session(http)
        events = await stream_message(http, sid, "what is 17 * 23?", "m1")
        kinds = [k for _, k, _ in events]
        assert kinds[:2] == ["tool_call", "tool_result"] and kinds[-1] == "done"
        assert kinds.count("token") >= 2 and set(kinds[2:-1]) == {"token"}
        done = events[-1][2]
        assert done["reply"] == shown_text(events) == "17 * 23 = 391"
        assert done["tool_calls"][0]["result"] == "17 * 23 = 391" and done["turn"] == 1
        assert events[0][2]["name"] == "calculator" and events[1][2]["result"] == "17 * 23 = 391"
        # the done event carries what the non-streamed call returns
        plain = await http.post(f"/v1/sessions/{sid}/messages", json={"text": "what is 17 * 23?", "message_id": "m1"})
        assert plain.json() == done


async def test_a_client_that_drops_mid_turn_resumes_with_nothing_missing_or_repeated(
    client: Client, slow_settings: Settings
) -> None:
    async with live_stack(client, slow_settings) as http:
        sid = await new_session(http)
        first = await stream_message(http, sid, "hello there", "m1", limit=3)  # then the connection drops
        assert [k for _, k, _ in first] == ["token"] * 3
        rest = await turn_events(http, sid, "m1", after=first[-1][0])
        whole = await turn_events(http, sid, "m1")
        assert [e[0] for e in first + rest] == [e[0] for e in whole]
        assert first + rest == whole and whole[-1][1] == "done"
        assert shown_text(whole) == whole[-1][2]["reply"] and "offline model" in shown_text(whole)
        # ?after= works like Last-Event-ID (for clients that cannot set headers)
        async with http.stream("GET", f"/v1/sessions/{sid}/messages/m1/events?after={whole[-3][0]}") as r:
            assert await read_events(r) == whole[-2:]


async def test_a_finished_turn_replays_in_full_while_kept(client: Client, settings: Settings) -> None:
    async with live_stack(client, settings) as http:
        sid = await new_session(http)
        r = await http.post(f"/v1/sessions/{sid}/messages", json={"text": "what is 6 * 7?", "message_id": "m1"})
        assert r.status_code == 200
        # nobody was streaming this turn: its events are there all the same, and end in done
        events = await turn_events(http, sid, "m1")
        assert [k for _, k, _ in events][:2] == ["tool_call", "tool_result"] and events[-1][1] == "done"
        assert events[-1][2] == r.json() and shown_text(events) == r.json()["reply"]
        assert await turn_events(http, sid, "m1") == events
        streams = TurnStreams.from_settings(settings)
        assert 0 < await streams.writer.ttl(streams.key(sid, "m1")) <= 3600


async def test_turn_events_are_the_owners_only(client: Client, settings: Settings) -> None:
    keyed = settings.model_copy(
        update={"api_keys": [ApiKey(user="alice", key="alice-key"), ApiKey(user="bob", key="bob-key")]}
    )
    alice, bob = {"Authorization": "Bearer alice-key"}, {"Authorization": "Bearer bob-key"}
    async with live_stack(client, keyed) as http:
        sid = await new_session(http, headers=alice)
        events = await stream_message(http, sid, "what is 1 + 1?", "m1", headers=alice)
        assert events[-1][1] == "done"
        for url in (f"/v1/sessions/{sid}/messages/m1/events", f"/v1/sessions/{sid}/messages/nope/events"):
            r = await http.get(url, headers=bob)
            assert r.status_code == 404, r.text
        r = await http.get(f"/v1/sessions/{sid}/messages/nope/events", headers=alice)
        assert r.status_code == 404 and "no message" in r.json()["error"]
        r = await http.post(f"/v1/sessions/{sid}/messages?stream=true", json={"text": "hi"}, headers=bob)
        assert r.status_code == 404
        assert (await http.get(f"/v1/sessions/{sid}/messages/m1/events")).status_code == 401


async def test_redis_stopped_mid_turn_the_turn_completes_and_the_caller_gets_done(
    client: Client, temporal_server, tmp_path: Path
) -> None:
    redis = RedisServer().start()
    settings = make_settings(temporal_server, redis.url, tmp_path, offline_token_delay_ms=40.0)
    try:
        async with live_stack(client, settings) as http:
            sid = await new_session(http)
            async with http.stream(
                "POST", f"/v1/sessions/{sid}/messages?stream=true", json={"text": "hello there", "message_id": "m1"}
            ) as r:
                lines = r.aiter_lines()
                first = await read_events(r, 2, lines)
                redis.stop()
                rest = await read_events(r, None, lines)
            assert [k for _, k, _ in first] == ["token", "token"]
            assert rest[-1][1] == "done" and "offline model" in rest[-1][2]["reply"]
            view = (await http.get(f"/v1/sessions/{sid}")).json()
            assert view["turn_count"] == 1 and view["messages"][-1]["content"] == rest[-1][2]["reply"]
            # still down: a reader gets the result alone
            events = await turn_events(http, sid, "m1")
            assert [k for _, k, _ in events] == ["done"] and events[0][2] == rest[-1][2]
    finally:
        redis.stop()


async def test_a_model_stream_that_breaks_off_is_retried_and_clients_are_told_to_reset(
    client: Client,
    remote_settings: Settings,  # noqa: F811 - fixture
    fake_openai: tuple[FakeOpenAI, int],  # noqa: F811 - fixture
) -> None:
    fake, _ = fake_openai
    fake.broken_streams = 1  # the answer's stream breaks off after three words; Temporal retries the call
    async with live_stack(client, remote_settings.model_copy(update={"llm_timeout_seconds": 10.0})) as http:
        sid = await new_session(http)
        events = await stream_message(http, sid, "what is six times seven?", "m1")
    kinds = [k for _, k, _ in events]
    assert kinds[-1] == "done" and events[-1][2]["reply"] == "The calculator says: 6 * 7 = 42"
    reset = kinds.index("reset")
    assert kinds[reset - 4 : reset] == ["token", "token", "token", "error"]
    assert shown_text(events[:reset]) == "The calculator says:"
    assert shown_text(events) == events[-1][2]["reply"]  # after the reset, the whole answer once
    assert events[reset][2]["attempt"] == 2


async def test_an_approval_request_appears_in_the_stream_and_the_turn_goes_on_once_decided(
    client: Client, settings: Settings
) -> None:
    async with live_stack(client, settings) as http:
        sid = await new_session(http, "tester")
        pay = '/tool pay {"amount": "5 USD", "to": "bob"}'
        async with http.stream(
            "POST", f"/v1/sessions/{sid}/messages?stream=true", json={"text": pay, "message_id": "m1"}
        ) as r:
            lines = r.aiter_lines()
            [asked] = await read_events(r, 1, lines)
            assert asked[1] == "approval_required" and asked[2]["status"] == "awaiting_approval"
            [approval] = asked[2]["approvals"]
            assert approval["summary"] == "pay 5 USD to bob"
            decided = await http.post(f"/v1/sessions/{sid}/approvals/{approval['call_id']}", json={"approve": True})
            assert decided.status_code == 200
            rest = await read_events(r, None, lines)
        kinds = [k for _, k, _ in rest]
        assert kinds[:2] == ["tool_call", "tool_result"] and kinds[-1] == "done"
        assert rest[-1][2]["reply"] == "paid 5 USD to bob" == shown_text(rest)


async def read_frames(response: httpx.Response) -> list[tuple[str, str]]:
    """An SSE response as it arrives, until ``done``: ("comment", text) for each comment line
    (keep-alives) and (event, data) for each event, in order."""
    assert response.status_code == 200, await response.aread()
    out: list[tuple[str, str]] = []
    cur: dict[str, str] = {}
    async for line in response.aiter_lines():
        if line.startswith(":"):
            out.append(("comment", line[1:].strip()))
        elif not line:
            if "data" in cur:
                out.append((cur.get("event", "message"), cur["data"]))
                if out[-1][0] == "done":
                    break
            cur = {}
        else:
            key, _, value = line.partition(":")
            cur[key] = value.removeprefix(" ")
    return out


async def test_an_idle_stream_sends_keep_alive_comments_until_the_answer_comes(
    client: Client, settings: Settings
) -> None:
    # the model thinks for 3 s before its first word; keep-alives every 0.3 s (default 15 s)
    quiet = settings.model_copy(update={"stream_keepalive_seconds": 0.3, "offline_first_token_delay_ms": 3000.0})
    async with live_stack(client, quiet) as http:
        sid = await new_session(http)
        # never asked before: a cached answer would skip the model and its delay
        text = f"tell me about keep-alives {uuid.uuid4().hex[:8]}"
        async with http.stream(
            "POST", f"/v1/sessions/{sid}/messages?stream=true", json={"text": text, "message_id": "m1"}
        ) as r:
            frames = await read_frames(r)
    first = next(i for i, (kind, _) in enumerate(frames) if kind != "comment")
    assert frames[first][0] == "token", frames[: first + 1]
    assert first >= 2, frames[: first + 1]  # comments kept the silent connection alive, more than once
    assert all(kind == "comment" and text for kind, text in frames[:first])
    assert frames[-1][0] == "done" and "offline model" in json.loads(frames[-1][1])["reply"]


async def test_tokens_never_go_through_workflow_history(client: Client, settings: Settings) -> None:
    """A 10-word and a 200-word streamed answer leave histories with the same events: the reply
    is there whole, no token is."""
    histories = {}
    async with live_stack(client, settings) as http:
        for words in (10, 200):
            sid = await new_session(http, "tester")
            # long_text answers in lines of 99 characters: one streamed word a line
            events = await stream_message(http, sid, f'/tool long_text {{"chars": {words * 99}}}', "m1")
            reply = events[-1][2]["reply"]
            assert [k for _, k, _ in events].count("token") == words and shown_text(events) == reply
            history = await client.get_workflow_handle(sid).fetch_history()
            payloads = decoded_payloads(history.to_json())
            assert json.dumps(reply)[1:-1] in payloads  # the whole reply is in history
            assert '"token"' not in payloads  # but no token event, in any payload
            # workflow tasks come and go with timing, and so do the idle-close timer's events (started
            # and cancelled within one task, a timer leaves none); every other event is the turn's own work
            histories[words] = Counter(
                e.WhichOneof("attributes")
                for e in history.events
                if not str(e.WhichOneof("attributes")).startswith(("workflow_task_", "timer_"))
            )
    assert histories[10] == histories[200]
    assert histories[10]["activity_task_scheduled_event_attributes"] == 3  # model, tool, model


async def test_ending_a_session_mid_answer_stops_its_model_call(client: Client, settings: Settings) -> None:
    """DELETE terminates the session's workflow; the model activity learns it at its next
    heartbeat (the SDK sends them at most every 0.8 x the 10 s heartbeat timeout) and stops
    writing the answer, long before its end."""
    slow = settings.model_copy(update={"offline_token_delay_ms": 100.0})
    # 505 words, 50 s at 100 ms a word; a length no other test asks for (a cached answer is not paced)
    chars = 49_995
    words = -(-chars // 99)
    streams = TurnStreams.from_settings(slow)
    try:
        async with live_stack(client, slow) as http:
            sid = await new_session(http, "tester")
            r = await http.post(
                f"/v1/sessions/{sid}/messages?wait=0",
                json={"text": f'/tool long_text {{"chars": {chars}}}', "message_id": "m1"},
            )
            assert r.status_code == 202, r.text
            kinds: list[str] = []
            cursor = "0"

            async def more(block_seconds: float) -> bool:
                """Wait up to ``block_seconds`` for the turn's next events; False when none came."""
                nonlocal cursor
                events = await asyncio.wait_for(streams.read(sid, "m1", cursor, int(block_seconds * 1000)), 60)
                cursor = events[-1].id if events else cursor
                kinds.extend(e.event for e in events)
                return bool(events)

            for _ in range(60):  # the answer is being written
                if kinds.count("token") >= 10:
                    break
                await more(1)
            assert kinds.count("token") >= 10, kinds
            assert (await http.delete(f"/v1/sessions/{sid}")).status_code == 204
            # then the stream stops growing: no event for 3 s (30 words' time)
            while kinds.count("token") < words and await more(3):
                pass
            tokens = kinds.count("token")
            assert tokens < words // 2, f"{tokens} of {words} words written after the session ended"
            assert "done" not in kinds
    finally:
        await streams.close()
