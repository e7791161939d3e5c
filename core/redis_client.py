"""Every asyncio Redis client the platform opens, built one way.

redis-py 8 caps a connection pool at 100 connections unless told otherwise and then fails the
101st caller at once ("Too many connections") instead of waiting. One worker runs up to
``max_concurrent_activities`` (200) activities that each append to their turn's stream, and one
API process follows a blocking stream read per SSE client (1,000 in bench/sse_clients.py), so a
pool of 100 dropped events under ordinary load (seen: bench/idle_sessions.py at 40 concurrent
turns plus their tool and node activities). The pools here are as large as the process may need;
the operating system's file limit is the real bound, as it was before redis-py 8.
"""

from __future__ import annotations

import redis.asyncio as aioredis

#: connections one pool may open (each stream reader holds one while it blocks)
MAX_CONNECTIONS = 10_000


def async_redis(url: str, *, socket_timeout: float | None, socket_connect_timeout: float) -> aioredis.Redis:
    """A client on ``url`` with the given timeouts and a pool of ``MAX_CONNECTIONS``."""
    return aioredis.Redis.from_url(
        url,
        socket_timeout=socket_timeout,
        socket_connect_timeout=socket_connect_timeout,
        max_connections=MAX_CONNECTIONS,
    )
