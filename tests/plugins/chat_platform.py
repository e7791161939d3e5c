"""A third chat platform, the whole of it in one module outside the packages, loaded as a user's would
be (``IMPRESSOX_PLATFORM_MODULES='["tests.plugins.chat_platform"]'``): carrier pigeons. Its settings
group is ``IMPRESSOX_PIGEON_*``; running it writes the ready file and waits to be stopped."""

from __future__ import annotations

import asyncio
import json
import os
from pathlib import Path

from bots.common.platforms import platforms
from core.bots import bot_task_queue
from core.platforms import PlatformSettings
from core.settings import Settings


class PigeonSettings(PlatformSettings):
    """``IMPRESSOX_PIGEON_TOKEN``, ``IMPRESSOX_PIGEON_LOFT``."""

    loft: str = "the roof"


async def run(settings: Settings, config: PigeonSettings, stop: asyncio.Event, ready_file: Path | None) -> None:
    """Serve until stopped: say where (the ready file), then wait; leave a note when asked to stop."""
    if ready_file:
        queue = bot_task_queue(PIGEON.name, settings.task_queue)
        ready_file.write_text(json.dumps({"pid": os.getpid(), "loft": config.loft, "task_queue": queue}))
    await stop.wait()
    if ready_file:
        ready_file.with_suffix(".stopped").write_text("flown home")


PIGEON = platforms.register(
    "pigeon", user_prefix="pg", text_limit=12, settings=PigeonSettings, run=run, description="carrier pigeons"
)
