"""Durability: worker kill -9 mid-tool, Temporal server restart, Redis going away, retries."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import sys
from pathlib import Path

from temporalio.client import Client

from core.cache import build_cache
from core.schemas import SessionView, TurnResult
from core.settings import Settings
from core.temporal.client import connect
from core.temporal.search_attributes import ensure_registered
from devstack.processes import free_port, stop_process
from devstack.redis_server import RedisServer
from devstack.temporal_server import TemporalDevServer
from services.sessions import SessionService
from services.tools import load_tools
from temporal.worker import build_worker
from tests.conftest import TemporalServer, make_settings, worker_process
from tests.turns import done

NOTE = '/tool slow_note {"text": "hello", "seconds": 4}'


async def wait_for_turns(sessions: SessionService, sid: str, turns: int, timeout: float = 60) -> SessionView:
    async def poll() -> SessionView:
        while True:
            try:
                view = await sessions.get("local", sid)
                if view.turn_count >= turns:
                    return view
            except Exception:  # noqa: BLE001 - the worker or server may be restarting
                pass
            await asyncio.sleep(0.2)

    return await asyncio.wait_for(poll(), timeout)


async def test_a_turn_survives_kill_9_of_the_worker_mid_tool_and_its_effect_happens_once(
    settings: Settings, sessions: SessionService
) -> None:
    notes = settings.data_dir / "notes.log"
    first = worker_process(settings, settings.data_dir / "w1.ready")
    try:
        sid = await sessions.create("local", "tester")
        pending = await sessions.send("local", sid, NOTE, wait=0)
        for _ in range(
            1200
        ):  # the effect is done, the tool is still "working" (a loaded machine starts the worker slowly)
            if notes.exists() and notes.read_text():
                break
            await asyncio.sleep(0.1)
        assert notes.exists(), "the slow tool never ran"
        os.killpg(first.pid, signal.SIGKILL)
        first.wait()
        second = worker_process(settings, settings.data_dir / "w2.ready")
        try:
            view = await wait_for_turns(sessions, sid, 1, timeout=90)
        finally:
            stop_process(second)
    finally:
        stop_process(first)
    assert view.messages[-1].content == "noted: hello"
    assert view.messages[-1].message_id == pending.message_id
    lines = notes.read_text().splitlines()
    assert len(lines) == 1, f"side effect ran {len(lines)} times: {lines}"
    assert lines[0].startswith(f"{sid}/t1/")


async def test_a_session_survives_kill_9_of_the_temporal_server(tmp_path: Path, redis_server: RedisServer) -> None:
    server = TemporalDevServer(free_port(), tmp_path / "temporal.db").start()
    settings = make_settings(server, redis_server.url, tmp_path)
    try:
        client = await connect(settings)
        await ensure_registered(client)
        registry = load_tools(settings.tool_modules)
        cache = await build_cache(settings.redis_url)
        sessions = SessionService(client, settings, _agents(settings, registry))
        async with build_worker(client, settings, registry, cache):
            sid = await sessions.create("local", "assistant")
            first = await sessions.send("local", sid, "what is 6 * 7?", wait=30)
            assert isinstance(first, TurnResult) and "42" in first.reply
            server.kill()
            server.start()
            view = await wait_for_turns(sessions, sid, 1, timeout=60)
            assert [m.content for m in view.messages][:2] == ["what is 6 * 7?", "6 * 7 = 42"]
            second = await sessions.send("local", sid, "what is 100 - 1?", wait=60)
            assert isinstance(second, TurnResult) and "99" in second.reply and second.turn == 2
        await cache.close()
    finally:
        server.stop()


async def test_turns_complete_when_redis_goes_away_mid_conversation(
    client: Client, tmp_path: Path, temporal_server: TemporalServer, caplog
) -> None:
    redis = RedisServer().start()
    settings = make_settings(temporal_server, redis.url, tmp_path)
    registry = load_tools(settings.tool_modules)
    cache = await build_cache(settings.redis_url)
    sessions = SessionService(client, settings, _agents(settings, registry))
    try:
        async with build_worker(client, settings, registry, cache):
            sid = await sessions.create("local", "assistant")
            r1 = done(await sessions.send("local", sid, "what is 12 * 12?", wait=30))
            assert "144" in r1.reply
            redis.kill()
            with caplog.at_level(logging.WARNING, logger="core.cache"):
                r2 = done(await sessions.send("local", sid, "what is 13 * 13?", wait=30))
                r3 = done(await sessions.send("local", sid, "what is 12 * 12?", wait=30))
            assert "169" in r2.reply and "144" in r3.reply and r3.turn == 3
            assert any("bypassing the cache" in rec.getMessage() for rec in caplog.records)
    finally:
        redis.stop()
        await cache.close()


async def test_transient_tool_failures_are_retried_by_temporal(sessions: SessionService, worker: None) -> None:
    sid = await sessions.create("local", "tester")
    r = done(await sessions.send("local", sid, '/tool flaky {"fail_times": 2}', wait=30))
    assert r.reply == "succeeded after 3 attempts"


async def test_concurrent_messages_are_answered_one_by_one_in_order(sessions: SessionService, worker: None) -> None:
    sid = await sessions.create("local", "assistant")
    texts = [f"what is {i} + 1000?" for i in range(8)]
    results = [done(r) for r in await asyncio.gather(*(sessions.send("local", sid, t, wait=60) for t in texts))]
    assert sorted(r.turn for r in results) == list(range(1, 9))
    for i, r in enumerate(results):
        assert str(i + 1000) in r.reply
    view = await sessions.get("local", sid)
    users = [m for m in view.messages if m.role == "user"]
    assert sorted(m.content for m in users) == sorted(texts)
    # each answer follows its own question
    for q, a in zip(view.messages[::2], view.messages[1::2], strict=True):
        assert q.turn == a.turn and q.message_id == a.message_id


async def test_a_message_sent_with_no_worker_is_answered_when_one_starts(
    client: Client, settings: Settings, sessions: SessionService, cache
) -> None:
    sid = await sessions.create("local", "assistant")
    pending = await sessions.send("local", sid, "what is 6 * 7?", wait=1)
    assert getattr(pending, "status", None) == "pending"
    async with build_worker(client, settings, load_tools(settings.tool_modules), cache):
        view = await wait_for_turns(sessions, sid, 1)
    assert view.messages[-1].content == "6 * 7 = 42"


def _agents(settings: Settings, registry):
    from core.agents import AgentFactory

    return AgentFactory.from_yaml(settings.agents_file, registry, settings)


if sys.platform != "linux":  # process groups and SIGKILL semantics are what these tests rely on
    raise RuntimeError("the durability tests run on Linux")
