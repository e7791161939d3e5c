"""``impressox bot telegram|discord``: one bot process until SIGTERM/SIGINT."""

from __future__ import annotations

import asyncio
import gc
from pathlib import Path

from core.errors import ConfigError
from core.settings import Settings
from core.shutdown import stop_on_signals


def run_bot(platform: str, settings: Settings, ready_file: Path | None = None) -> int:
    async def main() -> None:
        stop = asyncio.Event()
        with stop_on_signals(stop):
            if platform == "telegram":
                if settings.telegram_token is None:
                    raise ConfigError("IMPRESSOX_TELEGRAM_TOKEN is not set")
                from bots.telegram.app import run_telegram

                await run_telegram(settings, stop, ready_file)
            else:
                if settings.discord_token is None:
                    raise ConfigError("IMPRESSOX_DISCORD_TOKEN is not set")
                from bots.discord.app import run_discord

                await run_discord(settings, stop, ready_file)
        gc.collect()

    asyncio.run(main())
    return 0
