"""The Telegram platform's registry entry and settings group (``IMPRESSOX_TELEGRAM_*``); its bot is
``bots/telegram/app.py``, imported only when it runs."""

from __future__ import annotations

import asyncio
from pathlib import Path

from pydantic import Field

from bots.common.platforms import platforms
from core.platforms import PlatformSettings
from core.settings import Settings


class TelegramSettings(PlatformSettings):
    """``IMPRESSOX_TELEGRAM_TOKEN`` (from @BotFather), ``_API_URL``, ``_EDIT_INTERVAL_SECONDS``."""

    #: the Bot API base: empty = https://api.telegram.org; a self-hosted Bot API server or a test fake
    api_url: str | None = None
    #: at most one edit per chat this often (Telegram's limit)
    edit_interval_seconds: float = Field(default=1.5, ge=0.1, le=60)


async def run(settings: Settings, config: TelegramSettings, stop: asyncio.Event, ready_file: Path | None) -> None:
    from bots.telegram.app import run_telegram

    await run_telegram(settings, config, stop, ready_file)


TELEGRAM = platforms.register(
    "telegram",
    user_prefix="tg",
    text_limit=4096,
    settings=TelegramSettings,
    run=run,
    description="Telegram (aiogram 3)",
)
