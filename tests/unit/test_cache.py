"""Cache strategies: in-memory TTL expiry; a dead Redis only bypasses the cache."""

from __future__ import annotations

import logging
import socket

import pytest

import core.cache
from core.cache import MemoryCache, RedisCache, ResilientCache, cache_key, redis_client


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def monotonic(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> FakeClock:
    fake = FakeClock()
    # replace the module's `time`, not the global time.monotonic the event loop uses
    monkeypatch.setattr(core.cache, "time", fake)
    return fake


async def test_memory_cache_expires_after_ttl(clock: FakeClock) -> None:
    cache = MemoryCache()
    await cache.set("k", "v", ttl_seconds=10)
    clock.now += 9.9
    assert await cache.get("k") == "v"
    clock.now += 0.2
    assert await cache.get("k") is None
    assert await cache.get("never-set") is None


async def test_memory_cache_overwrite_renews_ttl(clock: FakeClock) -> None:
    cache = MemoryCache()
    await cache.set("k", "old", ttl_seconds=10)
    clock.now += 8
    await cache.set("k", "new", ttl_seconds=10)
    clock.now += 8
    assert await cache.get("k") == "new"


async def test_memory_cache_is_bounded() -> None:
    cache = MemoryCache(max_items=2)
    for key in ("a", "b", "c"):
        await cache.set(key, key.upper(), ttl_seconds=60)
    assert [await cache.get(k) for k in ("a", "b", "c")] == [None, "B", "C"]


def test_cache_key_is_stable_and_order_independent() -> None:
    assert cache_key("llm", {"a": 1, "b": [1, 2]}) == cache_key("llm", {"b": [1, 2], "a": 1})
    assert cache_key("llm", {"a": 1}) != cache_key("tool", {"a": 1})
    assert cache_key("llm", {"a": 1}).startswith("llm:")  # the store adds the deployment's prefix


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def test_dead_redis_is_bypassed_with_one_warning(caplog: pytest.LogCaptureFixture) -> None:
    cache = ResilientCache(RedisCache(redis_client(f"redis://127.0.0.1:{closed_port()}/0")), cooldown=60)
    with caplog.at_level(logging.WARNING, logger="core.cache"):
        assert await cache.get("k") is None
        await cache.set("k", "v", ttl_seconds=60)  # no exception
        assert await cache.get("k") is None
        await cache.set("k2", "v", ttl_seconds=60)
    warnings = [r for r in caplog.records if r.name == "core.cache" and r.levelno == logging.WARNING]
    assert len(warnings) == 1, [r.getMessage() for r in warnings]
    assert "bypassing the cache" in warnings[0].getMessage()
    await cache.close()
