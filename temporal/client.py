"""The one Temporal client factory: API, workers, CLI, tests and the replayer use it."""

from __future__ import annotations

import asyncio
import logging

from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.service import RPCError

from core.settings import Settings

log = logging.getLogger(__name__)
DATA_CONVERTER = pydantic_data_converter


async def connect(settings: Settings, *, wait_seconds: float = 0) -> Client:
    """Connect to the configured Temporal server; retry for up to ``wait_seconds``."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + wait_seconds
    while True:
        try:
            return await Client.connect(
                settings.temporal_address,
                namespace=settings.temporal_namespace,
                data_converter=DATA_CONVERTER,
            )
        except (RuntimeError, RPCError, OSError) as exc:
            if loop.time() >= deadline:
                raise ConnectionError(f"cannot reach Temporal at {settings.temporal_address}: {exc}") from None
            log.info("Temporal at %s not reachable yet, retrying", settings.temporal_address)
            await asyncio.sleep(0.5)
