"""Bot fixtures: the real bots against fakes of their platforms, a real worker and Temporal."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr
from temporalio.client import Client

from bots.common.runtime import BotRuntime
from bots.discord.app import DiscordBot
from bots.discord.platform import DiscordSettings
from bots.telegram.app import TelegramBot, build_bot
from core.settings import Settings
from devstack.redis_server import RedisServer
from tests.bots.fake_discord import FakeDiscord
from tests.bots.fake_telegram import FakeTelegram
from tests.conftest import TemporalServer, make_settings


@pytest.fixture
def settings(temporal_server: TemporalServer, redis_server: RedisServer, tmp_path: Path) -> Settings:
    """The test settings; conversations talk to the ``tester`` agent (it has the ``pay`` tool)."""
    return make_settings(temporal_server, redis_server.url, tmp_path, bot_agent="tester")


@pytest.fixture
def fake_tg() -> Any:
    fake = FakeTelegram()
    yield fake
    fake.close()


class Running:
    """A bot running in this process; ``stop()`` ends it as a kill would (its worker stops polling)."""

    def __init__(self, start: Callable[[asyncio.Event], Any]) -> None:
        self._start = start
        self.stop_event = asyncio.Event()
        self.task: asyncio.Task[Any] | None = None

    def start(self) -> Running:
        self.stop_event = asyncio.Event()
        self.task = asyncio.create_task(self._start(self.stop_event))
        return self

    async def stop(self) -> None:
        self.stop_event.set()
        if self.task is not None:
            await asyncio.wait_for(self.task, 60)


@pytest.fixture
async def telegram(client: Client, settings: Settings, worker: None, fake_tg: FakeTelegram) -> AsyncIterator[Running]:
    runtime = await BotRuntime.start(settings, client)

    async def run(stop: asyncio.Event) -> None:
        await TelegramBot(runtime, build_bot(fake_tg.token, fake_tg.url)).run(stop)

    bot = Running(run).start()
    yield bot
    await bot.stop()
    await runtime.close()


async def wait_for(fake: Any, predicate: Callable[[], Any], timeout: float = 60) -> Any:
    """Poll ``predicate`` without blocking the event loop the bot runs on."""
    end = asyncio.get_running_loop().time() + timeout
    while True:
        found = predicate()
        if found or asyncio.get_running_loop().time() > end:
            return found
        await asyncio.sleep(0.1)


@pytest.fixture
async def fake_dc() -> AsyncIterator[FakeDiscord]:
    fake = await FakeDiscord().start()
    yield fake
    await fake.close()


@pytest.fixture
async def discord(client: Client, settings: Settings, worker: None, fake_dc: FakeDiscord) -> AsyncIterator[Running]:
    config = DiscordSettings(token=SecretStr("fake"), api_url=fake_dc.url + "/api/v10")
    runtime = await BotRuntime.start(settings, client)
    bot = Running(lambda stop: DiscordBot(runtime, config).run(stop)).start()
    await asyncio.wait_for(fake_dc.identified.wait(), 60)
    assert await wait_for(fake_dc, lambda: fake_dc.commands.get("ask"), 30)
    yield bot
    await bot.stop()
    await runtime.close()
