"""Heartbeat while a slow activity runs, so a dead worker is noticed within the heartbeat
timeout instead of the (much longer) start-to-close timeout.

The interval comes from the activity's own ``heartbeat_timeout`` (set by the workflow that
scheduled it), as the SDK contrib's auto-heartbeater does: activities import nothing from
``workflows/``.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

from temporalio import activity


def heartbeat_timeout_seconds() -> float | None:
    """The running activity's heartbeat timeout in seconds; None when it has none (or outside one)."""
    if not activity.in_activity():
        return None
    timeout = activity.info().heartbeat_timeout
    return timeout.total_seconds() if timeout else None


@contextlib.asynccontextmanager
async def heartbeating(timeout_seconds: float | None = None) -> AsyncIterator[None]:
    """Beat three times per heartbeat timeout while the body runs; nothing without one.

    ``timeout_seconds`` defaults to the running activity's own heartbeat timeout.
    """
    if timeout_seconds is None:
        timeout_seconds = heartbeat_timeout_seconds()
    if not timeout_seconds:
        yield
        return
    interval = timeout_seconds / 3

    async def beat() -> None:
        while True:
            # sleep first: a quick call sends no heartbeat at all (each one is a server round trip)
            await asyncio.sleep(interval)
            activity.heartbeat()

    task = asyncio.create_task(beat())
    try:
        yield
    finally:
        task.cancel()
