"""``/stop`` in Telegram and Discord: the real bots against their fakes, a real worker and Temporal.

The offline model writes one line of the ``long_text`` tool's answer every 500 ms here (19 lines of
x's in all, about 10 s, one message on either platform). While the answer grows in the chat the
user sends ``/stop``: the bot says it stopped, the answer ends where it was, marked "(cancelled)",
the session keeps that text as the cancelled turn's answer, and the next message is answered.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from temporalio.client import Client

from bots.common.runtime import BotRuntime
from core.schemas import ChatMessage
from core.settings import Settings
from devstack.redis_server import RedisServer
from tests.bots.conftest import Running, wait_for
from tests.bots.fake_discord import FakeDiscord
from tests.bots.fake_telegram import FakeTelegram
from tests.conftest import TemporalServer, make_settings

USER = 1001
FULL = 1900  # characters of the whole answer
LONG = f'/tool long_text {{"chars": {FULL}}}'
CUT = "(cancelled)"
STOPPED = "Stopped."


@pytest.fixture
def settings(temporal_server: TemporalServer, redis_server: RedisServer, tmp_path: Path) -> Settings:
    return make_settings(temporal_server, redis_server.url, tmp_path, bot_agent="tester", offline_token_delay_ms=500)


def answers(texts: list[str]) -> list[str]:
    """The chat's messages that are (part of) the long answer."""
    return [t for t in texts if "xxx" in t and not t.startswith(STOPPED)]


def acks(texts: list[str]) -> list[str]:
    """The bot's answers to /stop: short (one message), repeating little of what the tool returned."""
    return [t for t in texts if t.startswith(STOPPED) and len(t) < 1000]


async def session_answers(client: Client, settings: Settings, platform: str, user: str) -> list[ChatMessage]:
    """The assistant messages of the chat's session, as the workflow recorded them (the authority)."""
    runtime = await BotRuntime.start(settings, client)
    try:
        chats = runtime.chats
        view = await chats.identity(platform, user)
        session = await chats.sessions.get(chats.owner(view), view.sessions["dm"])
        return [m for m in session.messages if m.role == "assistant"]
    finally:
        await runtime.close()


async def assert_stopped_and_answered_next(
    client: Client, settings: Settings, platform: str, cut: str, shown_after: list[str]
) -> None:
    kept = cut.removesuffix(CUT).strip()
    assert 0 < kept.count("x") < FULL * 0.9, cut  # some of the answer, not all of it
    assert shown_after == [cut]  # after the next answer came, the cut one had not grown
    first, second = await session_answers(client, settings, platform, str(USER))
    assert first.status == "cancelled" and first.content.strip() == kept
    assert second.status == "done" and "42" in second.content


async def test_telegram_stop_ends_the_answer_being_written(
    telegram: Running, fake_tg: FakeTelegram, client: Client, settings: Settings
) -> None:
    fake_tg.push_message(USER, LONG)
    assert await wait_for(fake_tg, lambda: answers(fake_tg.texts(USER)), 60), fake_tg.texts(USER)  # it grows
    fake_tg.push_message(USER, "/stop")
    assert await wait_for(fake_tg, lambda: acks(fake_tg.texts(USER)), 30), fake_tg.texts(USER)
    stopped = await wait_for(fake_tg, lambda: [t for t in answers(fake_tg.texts(USER)) if t.endswith(CUT)], 30)
    assert stopped, fake_tg.texts(USER)

    fake_tg.push_message(USER, "what is 6 * 7?")
    assert await wait_for(fake_tg, lambda: any("42" in t for t in fake_tg.texts(USER)), 60), fake_tg.texts(USER)
    await assert_stopped_and_answered_next(client, settings, "telegram", stopped[0], answers(fake_tg.texts(USER)))


async def test_discord_stop_ends_the_answer_being_written(
    discord: Running, fake_dc: FakeDiscord, client: Client, settings: Settings
) -> None:
    dm = fake_dc.dm_channel(USER)
    await fake_dc.push_dm(USER, LONG)
    assert await wait_for(fake_dc, lambda: answers(fake_dc.texts(dm)), 60), fake_dc.texts(dm)  # it grows
    token = await fake_dc.push_slash(USER, "stop", {})
    assert await wait_for(fake_dc, lambda: acks(fake_dc.texts(token=token)), 30), fake_dc.calls[-3:]
    stopped = await wait_for(fake_dc, lambda: [t for t in answers(fake_dc.texts(dm)) if t.endswith(CUT)], 30)
    assert stopped, fake_dc.texts(dm)

    await fake_dc.push_dm(USER, "what is 6 * 7?")
    assert await wait_for(fake_dc, lambda: any("42" in t for t in fake_dc.texts(dm)), 60), fake_dc.texts(dm)
    await assert_stopped_and_answered_next(client, settings, "discord", stopped[0], answers(fake_dc.texts(dm)))
