"""Cache strategy: one ``Cache`` interface, a Redis implementation and an in-memory one.

Redis is preferred; ``ResilientCache`` wraps it so that a Redis outage mid-run only
bypasses the cache (a warning is logged) and never fails a turn, and so that nobody waits
for a cache write: a write only saves work later, so ``set`` starts it and returns (a
``get`` of the same key in this process still reads it; ``flush`` and ``close`` wait for all).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import time
from abc import ABC, abstractmethod
from typing import Any

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from core.redis_client import async_redis

log = logging.getLogger(__name__)


def cache_key(namespace: str, payload: Any) -> str:
    """A stable key for any JSON-able payload (a Redis cache stores it under its deployment prefix)."""
    blob = json.dumps(payload, sort_keys=True, default=str, separators=(",", ":"))
    return f"{namespace}:{hashlib.sha256(blob.encode()).hexdigest()}"


class Cache(ABC):
    @abstractmethod
    async def get(self, key: str) -> str | None: ...

    @abstractmethod
    async def set(self, key: str, value: str, ttl_seconds: int) -> None: ...

    async def flush(self) -> None:  # noqa: B027 - optional hook
        """Wait until every ``set`` so far is stored (a cache may store behind its callers)."""

    async def close(self) -> None:  # noqa: B027 - optional hook
        pass


class MemoryCache(Cache):
    """In-process cache: for tests and where no Redis can be had."""

    def __init__(self, max_items: int = 10_000) -> None:
        self._items: dict[str, tuple[float, str]] = {}
        self._max = max_items

    async def get(self, key: str) -> str | None:
        hit = self._items.get(key)
        if hit is None:
            return None
        expires, value = hit
        if expires < time.monotonic():
            self._items.pop(key, None)
            return None
        return value

    async def set(self, key: str, value: str, ttl_seconds: int) -> None:
        if len(self._items) >= self._max:
            self._items.pop(next(iter(self._items)))
        self._items[key] = (time.monotonic() + ttl_seconds, value)


class RedisCache(Cache):
    """Entries under ``<prefix>:<key>``: two deployments sharing a Redis never read each other's."""

    def __init__(self, client: aioredis.Redis, prefix: str = "impressox") -> None:
        self.client = client
        self.prefix = prefix

    def stored_key(self, key: str) -> str:
        return f"{self.prefix}:{key}"

    async def get(self, key: str) -> str | None:
        value = await self.client.get(self.stored_key(key))
        return value.decode() if isinstance(value, bytes) else value

    async def set(self, key: str, value: str, ttl_seconds: int) -> None:
        await self.client.set(self.stored_key(key), value, ex=max(1, ttl_seconds))

    async def close(self) -> None:
        await self.client.aclose()


class ResilientCache(Cache):
    """Wraps a cache whose backend may go away: failures become misses, with a warning.

    After a failure the backend is skipped for ``cooldown`` seconds so a dead Redis
    does not add a connection attempt to every step.
    """

    def __init__(self, inner: Cache, cooldown: float = 5.0) -> None:
        self.inner = inner
        self.cooldown = cooldown
        self._down_until = 0.0
        #: writes under way, by key (a step's result is not held up by its cache write, ~0.3 ms)
        self._writes: dict[str, asyncio.Task[None]] = {}

    def _available(self) -> bool:
        return time.monotonic() >= self._down_until

    def _failed(self, op: str, exc: Exception) -> None:
        if self._available():
            log.warning("cache %s failed, bypassing the cache for %.0fs: %s", op, self.cooldown, exc)
        self._down_until = time.monotonic() + self.cooldown

    async def get(self, key: str) -> str | None:
        if (write := self._writes.get(key)) is not None:
            await asyncio.shield(write)  # this process reads its own write
        if not self._available():
            return None
        try:
            return await self.inner.get(key)
        except (TimeoutError, RedisError, OSError) as exc:
            self._failed("get", exc)
            return None

    async def set(self, key: str, value: str, ttl_seconds: int) -> None:
        """Start the write and return at once (failures are logged, never raised)."""
        if not self._available() or ttl_seconds <= 0:
            return
        write = asyncio.create_task(self._write(key, value, ttl_seconds))
        self._writes[key] = write
        write.add_done_callback(lambda _: self._writes.pop(key) if self._writes.get(key) is write else None)

    async def _write(self, key: str, value: str, ttl_seconds: int) -> None:
        try:
            await self.inner.set(key, value, ttl_seconds)
        except (TimeoutError, RedisError, OSError) as exc:
            self._failed("set", exc)

    async def flush(self) -> None:
        await asyncio.gather(*self._writes.values())

    async def close(self) -> None:
        await self.flush()
        try:
            await self.inner.close()
        except (RedisError, OSError):
            pass


def redis_client(url: str) -> aioredis.Redis:
    # short timeouts: the cache must never hold a turn up
    return async_redis(url, socket_timeout=0.5, socket_connect_timeout=0.5)


async def redis_reachable(url: str) -> bool:
    client = redis_client(url)
    try:
        return bool(await client.ping())
    except (RedisError, OSError):
        return False
    finally:
        await client.aclose()


async def build_cache(redis_url: str, prefix: str = "impressox") -> Cache:
    """Redis when reachable (keys under ``prefix``: core/redis_keys.py), else in-memory (logged)."""
    if await redis_reachable(redis_url):
        return ResilientCache(RedisCache(redis_client(redis_url), prefix))
    log.warning("Redis at %s is not reachable: using the in-memory cache", redis_url)
    return MemoryCache()
