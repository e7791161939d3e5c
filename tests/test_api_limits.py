"""Rate limits against the real Redis of the test session: shared by two API instances, 429 with
Retry-After, /healthz never limited, wrong keys limited per client IP, a cap on running sessions."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager

import httpx
import pytest
from pydantic import SecretStr

from api.app import create_app
from core.settings import ApiKey, Settings
from devstack.processes import free_port
from devstack.redis_server import RedisServer

ALICE = {"Authorization": "Bearer alice-key"}


@asynccontextmanager
async def api_client(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1", timeout=60) as http:
            yield http


def assert_limited(r: httpx.Response) -> None:
    assert r.status_code == 429, r.text
    assert r.headers["Retry-After"].isdigit() and int(r.headers["Retry-After"]) >= 1
    assert "too many requests" in r.json()["error"]


async def test_two_api_instances_share_one_limit_in_redis(settings: Settings, worker: None) -> None:
    limited = settings.model_copy(update={"rate_limit": "5/minute"})
    async with AsyncExitStack() as stack:
        one = await stack.enter_async_context(api_client(limited))
        two = await stack.enter_async_context(api_client(limited))
        codes = [(await (one if i % 2 else two).get("/v1/agents")).status_code for i in range(5)]
        assert codes == [200] * 5
        assert_limited(await one.get("/v1/agents"))
        assert_limited(await two.get("/v1/sessions"))
        for _ in range(20):  # health checks are never limited
            assert (await one.get("/healthz")).status_code == 200


async def test_creating_sessions_and_sending_messages_have_their_own_limits(settings: Settings, worker: None) -> None:
    limited = settings.model_copy(update={"rate_limit_sessions": "2/minute", "rate_limit_messages": "2/minute"})
    async with api_client(limited) as http:
        sids = [(await http.post("/v1/sessions", json={})).json()["session_id"] for _ in range(2)]
        assert_limited(await http.post("/v1/sessions", json={}))
        for text in ("what is 1 + 1?", "what is 2 + 2?"):
            assert (await http.post(f"/v1/sessions/{sids[0]}/messages", json={"text": text})).status_code == 200
        assert_limited(await http.post(f"/v1/sessions/{sids[1]}/messages", json={"text": "hi"}))
        assert (await http.get(f"/v1/sessions/{sids[0]}")).status_code == 200  # other routes still answer


async def test_wrong_keys_are_limited_per_client_ip(settings: Settings, worker: None) -> None:
    keyed = settings.model_copy(update={"api_keys": [ApiKey(user="alice", key=SecretStr("alice-key"))]})
    async with api_client(keyed) as http:
        codes = [(await http.get("/v1/sessions", headers={"X-API-Key": f"guess-{i}"})).status_code for i in range(200)]
        assert codes[:30] == [401] * 30 and set(codes[30:]) == {429}
        assert_limited(await http.get("/v1/sessions", headers={"X-API-Key": "guess-201"}))
        # the guesses do not lock out the key's owner
        assert (await http.get("/v1/sessions", headers=ALICE)).status_code == 200


async def test_users_are_limited_apart(settings: Settings, worker: None) -> None:
    keyed = settings.model_copy(
        update={
            "api_keys": [
                ApiKey(user="alice", key=SecretStr("alice-key")),
                ApiKey(user="bob", key=SecretStr("bob-key")),
            ],
            "rate_limit": "3/minute",
        }
    )
    async with api_client(keyed) as http:
        for _ in range(3):
            assert (await http.get("/v1/agents", headers=ALICE)).status_code == 200
        assert_limited(await http.get("/v1/agents", headers=ALICE))
        assert (await http.get("/v1/agents", headers={"X-API-Key": "bob-key"})).status_code == 200


async def test_running_sessions_per_user_are_capped(settings: Settings, worker: None) -> None:
    capped = settings.model_copy(update={"max_running_sessions_per_user": 2})
    async with api_client(capped) as http:
        first = (await http.post("/v1/sessions", json={})).json()["session_id"]
        await http.post("/v1/sessions", json={})
        for _ in range(100):  # visibility is eventually consistent
            r = await http.post("/v1/sessions", json={})
            if r.status_code == 409:
                break
            assert r.status_code == 201
            await http.delete(f"/v1/sessions/{r.json()['session_id']}")
            await asyncio.sleep(0.1)
        assert r.status_code == 409 and "running sessions" in r.json()["error"], r.text
        assert (await http.delete(f"/v1/sessions/{first}")).status_code == 204
        for _ in range(100):
            r = await http.post("/v1/sessions", json={})
            if r.status_code == 201:
                break
            await asyncio.sleep(0.1)
        assert r.status_code == 201, r.text
        assert (await http.get(f"/v1/sessions/{first}")).json()["session_id"] == first  # ended, still readable


async def test_without_redis_limits_are_kept_in_memory(
    settings: Settings, worker: None, caplog: pytest.LogCaptureFixture
) -> None:
    no_redis = settings.model_copy(update={"rate_limit": "2/minute", "redis_url": f"redis://127.0.0.1:{free_port()}/0"})
    with caplog.at_level(logging.WARNING, logger="api.ratelimit"):
        async with api_client(no_redis) as http:
            assert [(await http.get("/v1/agents")).status_code for _ in range(2)] == [200, 200]
            assert_limited(await http.get("/v1/agents"))
    assert "rate limits are counted per API process" in caplog.text


async def test_redis_going_away_mid_run_fails_over_to_memory(settings: Settings, worker: None) -> None:
    redis = RedisServer().start()
    try:
        own = settings.model_copy(update={"rate_limit": "4/minute", "redis_url": redis.url})
        async with api_client(own) as http:
            assert (await http.get("/v1/agents")).status_code == 200
            redis.stop()
            codes = [(await http.get("/v1/agents")).status_code for _ in range(5)]
            assert codes[:4] == [200] * 4 and codes[4] == 429  # still limited, now per process
    finally:
        redis.stop()
