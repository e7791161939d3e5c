"""Two deployments on one Redis share nothing; the processes of one deployment share everything.

Each deployment is its own data dir (so its own generated deployment id, core/redis_keys.py); the
stores are the real ones (rate limiter, cache, turn streams, bot drafts) on one real Redis, each
shown apart between deployments and shared within one."""

from __future__ import annotations

from pathlib import Path

import redis.asyncio as aioredis

from api.ratelimit import RateLimiter
from bots.common.streaming import DraftStore
from core.cache import build_cache, cache_key
from core.redis_keys import redis_prefix
from core.settings import Settings, load_settings
from core.streams import TurnStreams
from devstack.redis_server import RedisServer


def deployment(tmp_path: Path, name: str, redis: RedisServer, **overrides: object) -> Settings:
    return load_settings(data_dir=tmp_path / name, redis_url=redis.url, rate_limit="5/minute", **overrides)


def test_the_prefix_is_generated_once_per_data_dir_and_a_setting_wins(
    tmp_path: Path, redis_server: RedisServer
) -> None:
    a, b = deployment(tmp_path, "a", redis_server), deployment(tmp_path, "b", redis_server)
    # the same Temporal namespace and task queue: only the data dir tells them apart
    assert (a.temporal_namespace, a.task_queue) == (b.temporal_namespace, b.task_queue)
    assert redis_prefix(a) != redis_prefix(b)
    again = deployment(tmp_path, "a", redis_server)  # another process of deployment a
    assert redis_prefix(again) == redis_prefix(a) and redis_prefix(a).startswith("impressox:")
    assert redis_prefix(deployment(tmp_path, "a", redis_server, redis_prefix="prod-eu")) == "prod-eu"


async def test_rate_limits_of_two_deployments_count_apart_and_one_deployments_processes_share(
    tmp_path: Path, redis_server: RedisServer
) -> None:
    a1 = RateLimiter(deployment(tmp_path, "a", redis_server))
    a2 = RateLimiter(deployment(tmp_path, "a", redis_server))  # a second API process of a
    b = RateLimiter(deployment(tmp_path, "b", redis_server))
    for limiter in (a1, a2, b):
        await limiter.start()
        assert limiter.shared  # counting in the one Redis
    for _ in range(5):
        assert await a1.hit("request", "user:local") is None
    assert await a1.hit("request", "user:local") is not None  # a's local user is over 5/minute
    assert await a2.hit("request", "user:local") is not None  # ... in every API process of a
    assert await b.hit("request", "user:local") is None  # b's local user is not


async def test_caches_streams_and_drafts_of_two_deployments_are_apart(
    tmp_path: Path, redis_server: RedisServer
) -> None:
    a, b = deployment(tmp_path, "a", redis_server), deployment(tmp_path, "b", redis_server)
    cache_a, cache_a2 = await build_cache(a.redis_url, redis_prefix(a)), await build_cache(a.redis_url, redis_prefix(a))
    cache_b = await build_cache(b.redis_url, redis_prefix(b))
    streams_a, streams_a2, streams_b = (
        TurnStreams.from_settings(a),
        TurnStreams.from_settings(a),
        TurnStreams.from_settings(b),
    )
    try:
        key = cache_key("llm", ["offline", "what is 6 * 7?"])
        await cache_a.set(key, "42", ttl_seconds=60)
        await cache_a.flush()
        assert await cache_a2.get(key) == "42"  # another worker of a is served from a's cache
        assert await cache_b.get(key) is None  # b runs its own model call

        # the same session and message ids in both deployments (both have a local user's web:local:1)
        await streams_a.publish("web:local:1", "m1", "token", {"text": "from a"})
        assert [e.event for e in await streams_a2.read("web:local:1", "m1")] == ["token"]
        assert await streams_b.read("web:local:1", "m1") == []
        assert not await streams_b.exists("web:local:1", "m1")

        drafts_a, drafts_b = DraftStore(streams_a), DraftStore(streams_b)
        await drafts_a.save("tg:1", "m1", ["101"], delivered=True)
        assert await DraftStore(streams_a2).load("tg:1", "m1") == (["101"], True)
        assert (await drafts_b.load("tg:1", "m1"))[0] == []

        # what was written here is stored only under a's prefix (other tests share this Redis and
        # write keys of their own, so only this test's keys are looked at)
        raw = aioredis.Redis.from_url(redis_server.url, decode_responses=True)
        try:
            keys = [str(k) for k in await raw.keys("*")]
        finally:
            await raw.aclose()
        for written in (key, "turn:web:local:1:m1", "drafts:tg:1:m1"):
            holders = [k for k in keys if k.endswith(written) and not k.endswith(":done")]
            assert holders == [f"{redis_prefix(a)}:{written}"], (written, holders)
    finally:
        for c in (cache_a, cache_a2, cache_b):
            await c.close()
        for s in (streams_a, streams_a2, streams_b):
            await s.close()
