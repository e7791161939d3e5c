"""Rate limits, counted in Redis so every API process of one deployment shares them.

``limits``' moving window over its async Redis storage (redis-py's asyncio client: nothing
blocks the event loop). Redis unreachable at start or mid-run: counts fall back to this process's
memory for a while (logged), so an outage weakens the limits but never fails a request.

Buckets (settings): every request of a user (``rate_limit``; keyless mode has the one local user,
a request without a key counts against its client IP), creating sessions and sending messages
(``rate_limit_sessions`` / ``rate_limit_messages``, per user), and wrong API keys per client IP
(``rate_limit_bad_keys``). ``/healthz`` is never limited. A refusal is 429 with ``Retry-After``.

A route with a bucket of its own (``RouteRule``, e.g. sending a message) is counted here too,
together with the request's bucket: both hits go to Redis at once, so a chat turn waits for one
round trip instead of two (each ~0.3 ms). Both count even when one refuses.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import math
import re
import time
from collections.abc import Sequence
from dataclasses import dataclass

from limits import RateLimitItem, parse_many
from limits.aio.storage import MemoryStorage, RedisStorage, Storage
from limits.aio.strategies import MovingWindowRateLimiter
from redis.exceptions import RedisError
from starlette.datastructures import Headers
from starlette.types import ASGIApp, Receive, Scope, Send

from api.auth import KeyRing, presented_key
from api.responses import send_json_error
from core.redis_keys import redis_prefix
from core.settings import Settings
from core.telemetry import metrics

log = logging.getLogger(__name__)
#: after a Redis failure, count in memory for this long before trying Redis again
REDIS_COOLDOWN_SECONDS = 30.0
UNLIMITED_PATHS = frozenset({"/healthz"})


@dataclass(frozen=True)
class Refusal:
    """Why a request is refused and when the caller may try again."""

    limit: str
    retry_after: int

    @property
    def message(self) -> str:
        return f"too many requests (limit {self.limit}); retry in {self.retry_after} s"


@dataclass(frozen=True)
class RouteRule:
    """A route counted against a bucket of its own (``rule``), on top of the request's bucket."""

    method: str
    #: the route's path template, e.g. ``/v1/sessions/{session_id}/messages``
    path: str
    rule: str

    def matches(self, method: str, path: str) -> bool:
        return method == self.method and path_pattern(self.path).match(path) is not None


@functools.cache
def path_pattern(template: str) -> re.Pattern[str]:
    """A path template as a regex: each ``{param}`` matches one path segment, as the router does."""
    return re.compile("^" + "[^/]+".join(map(re.escape, re.split(r"\{[^}]+\}", template))) + "$")


def limits_uri(redis_url: str) -> str:
    """The ``limits`` storage URI for one of our Redis URLs (redis://, rediss://, unix://)."""
    if redis_url.startswith("unix://"):
        return "async+redis+" + redis_url
    return "async+" + redis_url


class RateLimiter:
    """Named rate limits over one storage. ``await start()`` picks Redis or memory."""

    def __init__(self, settings: Settings) -> None:
        self.rules: dict[str, list[RateLimitItem]] = {
            "request": parse_many(settings.rate_limit),
            "session": parse_many(settings.rate_limit_sessions),
            "message": parse_many(settings.rate_limit_messages),
            "bad_key": parse_many(settings.rate_limit_bad_keys),
        }
        self.texts = {
            "request": settings.rate_limit,
            "session": settings.rate_limit_sessions,
            "message": settings.rate_limit_messages,
            "bad_key": settings.rate_limit_bad_keys,
        }
        # one deployment's API processes share a namespace and task queue, so they share counts;
        # another deployment on the same Redis counts apart (its own key prefix), and so does a
        # test on its own task queue
        self.scope = f"{settings.temporal_namespace}/{settings.task_queue}"
        self.key_prefix = f"{redis_prefix(settings)}:ratelimit"
        self.redis_url = settings.redis_url
        self._redis: Storage | None = None
        self._memory = MovingWindowRateLimiter(MemoryStorage())
        self._limiter = self._memory
        self._redis_back_at = 0.0

    @property
    def shared(self) -> bool:
        """True while counts are kept in Redis (shared by every API process)."""
        return self._limiter is not self._memory

    async def start(self) -> None:
        storage = RedisStorage(
            limits_uri(self.redis_url),
            implementation="redispy",
            key_prefix=self.key_prefix,
            # generous: a loaded machine answers slowly, and a timeout drops to per-process counts
            socket_timeout=2.0,
            socket_connect_timeout=1.0,
        )
        try:
            reachable = await storage.check()
        except (RedisError, OSError):
            reachable = False
        self._redis = storage
        if reachable:
            self._limiter = MovingWindowRateLimiter(storage)
            log.info("rate limits are kept in Redis")
        else:  # tried again after the cool-down, so the limits become shared once Redis is up
            self._redis_back_at = time.monotonic() + REDIS_COOLDOWN_SECONDS
            log.warning("Redis is unreachable: rate limits are counted per API process, in memory, for now")

    async def hit(self, rule: str, who: str) -> Refusal | None:
        """Count one request of ``who`` against ``rule``; a Refusal when it is over the limit."""
        limiter = self._current()
        try:
            return await self._hit(limiter, rule, who)
        except (RedisError, OSError) as exc:
            log.warning("Redis failed (%s): counting rate limits in memory for %.0f s", exc, REDIS_COOLDOWN_SECONDS)
            self._limiter = self._memory
            self._redis_back_at = time.monotonic() + REDIS_COOLDOWN_SECONDS
            return await self._hit(self._memory, rule, who)

    async def hit_all(self, hits: Sequence[tuple[str, str]]) -> Refusal | None:
        """Count every ``(rule, who)`` at once (the Redis round trips overlap); the first refusal
        in ``hits`` order, or None."""
        refusals = await asyncio.gather(*(self.hit(rule, who) for rule, who in hits))
        return next((r for r in refusals if r is not None), None)

    def _current(self) -> MovingWindowRateLimiter:
        if self._redis is not None and not self.shared and time.monotonic() >= self._redis_back_at:
            self._limiter = MovingWindowRateLimiter(self._redis)
        return self._limiter

    async def _hit(self, limiter: MovingWindowRateLimiter, rule: str, who: str) -> Refusal | None:
        for item in self.rules[rule]:
            if not await limiter.hit(item, self.scope, rule, who):
                stats = await limiter.get_window_stats(item, self.scope, rule, who)
                retry = max(1, math.ceil(stats.reset_time - time.time()))
                return Refusal(self.texts[rule], retry)
        return None


def client_ip(scope: Scope) -> str:
    client = scope.get("client")
    return client[0] if client else "unknown"


class RateLimitMiddleware:
    """ASGI middleware: every request but /healthz counts against its user (or client IP); a
    user's request to one of ``routes`` also counts against that route's bucket."""

    def __init__(
        self, app: ASGIApp, limiter: RateLimiter, keys: KeyRing, local_user: str, routes: Sequence[RouteRule] = ()
    ) -> None:
        self.app = app
        self.limiter = limiter
        self.keys = keys
        self.local_user = local_user
        self.routes = tuple(routes)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in UNLIMITED_PATHS:
            await self.app(scope, receive, send)
            return
        refusal = await self._check(scope)
        if refusal is not None:
            metrics.RATE_LIMITED.labels(refusal.limit).inc()
            await refuse(send, refusal)
            return
        await self.app(scope, receive, send)

    async def _check(self, scope: Scope) -> Refusal | None:
        if not self.keys:
            return await self._check_user(scope, self.local_user)
        key = presented_key(Headers(scope=scope))
        if key is None:  # pages, docs, or a request the route will answer 401
            return await self.limiter.hit("request", f"ip:{client_ip(scope)}")
        user = self.keys.user_for(key)
        if user is None:  # someone guessing keys: the route answers 401 until this refuses
            return await self.limiter.hit("bad_key", f"ip:{client_ip(scope)}")
        return await self._check_user(scope, user)

    async def _check_user(self, scope: Scope, user: str) -> Refusal | None:
        who = f"user:{user}"
        own = [r.rule for r in self.routes if r.matches(scope["method"], scope["path"])]
        if not own:
            return await self.limiter.hit("request", who)
        return await self.limiter.hit_all([("request", who), *((rule, who) for rule in own)])


async def refuse(send: Send, refusal: Refusal) -> None:
    await send_json_error(send, 429, refusal.message, {"Retry-After": str(refusal.retry_after)})
