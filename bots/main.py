"""``impressox bot NAME``: one chat platform's bot process until SIGTERM/SIGINT.

NAME is any platform of the registry (bots/common/platforms.py: the built-in ``telegram`` and
``discord``, and those of ``IMPRESSOX_PLATFORM_MODULES``); it runs when its token is set.
"""

from __future__ import annotations

import asyncio
import gc
from pathlib import Path

from bots.common.platforms import load_platforms
from core.errors import ConfigError
from core.settings import Settings
from core.shutdown import stop_on_signals


def run_bot(platform: str, settings: Settings, ready_file: Path | None = None) -> int:
    entry = load_platforms(settings.platform_modules).get(platform)
    config = entry.settings(settings)
    if not config.enabled:
        raise ConfigError(f"{entry.env_var('token')} is not set")

    async def main() -> None:
        stop = asyncio.Event()
        with stop_on_signals(stop):
            await entry.run(settings, config, stop, ready_file)
        gc.collect()

    asyncio.run(main())
    return 0
