"""Heartbeat while a slow activity runs, so a dead worker is noticed within the heartbeat
timeout instead of the (much longer) start-to-close timeout."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

from temporalio import activity


@contextlib.asynccontextmanager
async def heartbeating(timeout_seconds: float | None) -> AsyncIterator[None]:
    """Beat three times per ``timeout_seconds`` while the body runs; nothing when None."""
    if not timeout_seconds:
        yield
        return

    async def beat() -> None:
        while True:
            # sleep first: a quick call sends no heartbeat at all (each one is a server round trip)
            await asyncio.sleep(timeout_seconds / 3)
            activity.heartbeat()

    task = asyncio.create_task(beat())
    try:
        yield
    finally:
        task.cancel()
