"""The Discord platform's registry entry and settings group (``IMPRESSOX_DISCORD_*``); its bot is
``bots/discord/app.py``, imported only when it runs."""

from __future__ import annotations

import asyncio
from pathlib import Path

from pydantic import Field

from bots.common.platforms import platforms
from core.platforms import PlatformSettings
from core.settings import Settings


class DiscordSettings(PlatformSettings):
    """``IMPRESSOX_DISCORD_TOKEN`` (the application's bot token), ``_API_URL``, ``_EDIT_INTERVAL_SECONDS``."""

    #: Discord's REST base; the gateway URL comes from its ``/gateway``
    api_url: str = "https://discord.com/api/v10"
    #: at most one edit per message this often (Discord's limit)
    edit_interval_seconds: float = Field(default=1.2, ge=0.1, le=60)


async def run(settings: Settings, config: DiscordSettings, stop: asyncio.Event, ready_file: Path | None) -> None:
    from bots.discord.app import run_discord

    await run_discord(settings, config, stop, ready_file)


DISCORD = platforms.register(
    "discord",
    user_prefix="dc",
    text_limit=2000,
    settings=DiscordSettings,
    run=run,
    description="Discord (nextcord 2.6)",
)
