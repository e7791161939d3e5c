"""A bot process's connection to the platform: the Temporal client and the services it calls."""

from __future__ import annotations

from dataclasses import dataclass

from temporalio.client import Client

from bots.common.platforms import load_platforms
from core.agents import AgentFactory
from core.settings import Settings
from core.streams import TurnStreams
from core.temporal.client import connect
from core.temporal.search_attributes import ensure_registered
from services.chats import ChatService
from services.sessions import SessionService
from services.tools import load_tools


@dataclass
class BotRuntime:
    settings: Settings
    client: Client
    chats: ChatService
    #: the turns' event streams, for live replies (None: live replies are off)
    streams: TurnStreams | None = None

    @classmethod
    async def start(cls, settings: Settings, client: Client | None = None) -> BotRuntime:
        client = client or await connect(settings, wait_seconds=60)
        await ensure_registered(client)
        registry = load_tools(settings.tool_modules)
        sessions = SessionService(client, settings, AgentFactory.from_yaml(settings.agents_file, registry, settings))
        streams = TurnStreams.from_settings(settings) if settings.bot_live_replies else None
        chats = ChatService(client, settings, sessions, load_platforms(settings.platform_modules))
        return cls(settings=settings, client=client, chats=chats, streams=streams)

    async def close(self) -> None:
        if self.streams is not None:
            await self.streams.close()
