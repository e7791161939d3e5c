"""The real bots render a slow answer by editing their reply in place, at the platform's cadence.

The offline model writes one word every 200 ms here, so its "did not understand" answer takes
several seconds; the fakes of Telegram and Discord record when each send and edit arrived.
"""

from __future__ import annotations

import asyncio
import functools
import itertools
import uuid
from pathlib import Path

import pytest
from temporalio.client import Client

from bots.common.runtime import BotRuntime
from bots.discord.platform import DISCORD
from bots.telegram.platform import TELEGRAM
from core.settings import Settings
from devstack.redis_server import RedisServer
from tests.bots.conftest import Running, wait_for
from tests.bots.fake_discord import FakeDiscord
from tests.bots.fake_telegram import FakeTelegram
from tests.conftest import TemporalServer, make_settings

USER = 1001


def slow_question() -> str:
    # distinct every time: a cached model answer (same question, same conversation) is not streamed
    return f"tell me a story about the moon {uuid.uuid4().hex[:6]}"


#: what the platforms accept; their settings groups' defaults
TELEGRAM_EVERY, DISCORD_EVERY = 1.5, 1.2


@pytest.fixture
def settings(
    temporal_server: TemporalServer, redis_server: RedisServer, tmp_path: Path, request: pytest.FixtureRequest
) -> Settings:
    """The test settings; a test parametrizes it (indirect) with settings of its own."""
    values: dict[str, object] = {"bot_agent": "tester", "offline_token_delay_ms": 200, **getattr(request, "param", {})}
    return make_settings(temporal_server, redis_server.url, tmp_path, **values)


async def final_reply(client: Client, settings: Settings, platform: str, user: str) -> str:
    """The session workflow's own answer to the chat's last message (the authority)."""
    chats = (await BotRuntime.start(settings, client)).chats
    owner = chats.owner(view := await chats.identity(platform, user))
    session = await chats.sessions.get(owner, view.sessions["dm"])
    return [m.content for m in session.messages if m.role == "assistant"][-1]


async def test_telegram_edits_at_most_every_1_5_s_and_ends_with_the_exact_answer(
    telegram: Running, fake_tg: FakeTelegram, client: Client, settings: Settings
) -> None:
    assert TELEGRAM.settings(settings).edit_interval_seconds == TELEGRAM_EVERY
    fake_tg.fail_next("editMessageText", 429, retry_after=2)  # the first edit is refused: wait 2 s
    fake_tg.push_message(USER, slow_question())
    assert await wait_for(fake_tg, lambda: fake_tg.sent(USER, ("editMessageText",)), 60)
    shown = await wait_for(fake_tg, lambda: [t for t in fake_tg.texts(USER) if t.endswith("again.")], 60)
    final = await final_reply(client, settings, "telegram", str(USER))

    assert fake_tg.texts(USER) == [final] == shown  # one message, exactly the workflow's answer
    assert len(fake_tg.sent(USER)) == 1
    times = fake_tg.edit_times(USER)
    assert len(times) >= 3  # the message grew while the model wrote
    assert min(b - a for a, b in itertools.pairwise(times)) >= TELEGRAM_EVERY - 0.05
    refused = fake_tg.sent(USER, ("editMessageText:refused",))[0]["_at"]
    assert min(t for t in times if t > refused) - refused >= 2 - 0.05
    drafts = [p["text"] for p in fake_tg.sent(USER, ("sendMessage", "editMessageText"))]
    assert all(final.startswith(d.rstrip(".… ")[:-1]) for d in drafts)  # every draft was a prefix


async def test_discord_edits_each_message_at_most_every_1_2_s(
    discord: Running, fake_dc: FakeDiscord, client: Client, settings: Settings
) -> None:
    assert DISCORD.settings(settings).edit_interval_seconds == DISCORD_EVERY
    await fake_dc.push_dm(USER, slow_question())
    dm = fake_dc.dm_channel(USER)
    assert await wait_for(fake_dc, lambda: len(fake_dc.changes) >= 2, 60)
    fake_dc.limit_next.append(2.0)  # the next edit is answered 429, Retry-After 2 s
    assert await wait_for(fake_dc, lambda: [t for t in fake_dc.texts(dm) if t.endswith("again.")], 60)
    final = await final_reply(client, settings, "discord", str(USER))

    assert fake_dc.texts(dm) == [final]
    (message,) = {m for _, m in fake_dc.changes}
    times = [t for t, _ in fake_dc.changes]
    assert len(times) >= 3
    assert min(b - a for a, b in itertools.pairwise(times)) >= DISCORD_EVERY - 0.05
    assert not fake_dc.limit_next  # the 429 was served
    [(refused, _)] = fake_dc.limited
    assert min(t for t in times if t > refused) - refused >= 2 - 0.05
    assert message in fake_dc.messages


async def test_discord_slash_command_answer_grows_in_its_deferred_response(
    discord: Running, fake_dc: FakeDiscord, client: Client, settings: Settings
) -> None:
    token = await fake_dc.push_slash(USER, "ask", {"question": slow_question()})
    assert await wait_for(fake_dc, lambda: [t for t in fake_dc.texts(token=token) if t.endswith("again.")], 60)
    final = await final_reply(client, settings, "discord", str(USER))

    assert fake_dc.texts(token=token) == [final]  # the "thinking…" response became the answer
    times = [t for t, m in fake_dc.changes if m == fake_dc.originals[token]]
    assert len(times) >= 3
    assert min(b - a for a, b in itertools.pairwise(times)) >= DISCORD_EVERY - 0.05


@pytest.mark.parametrize(
    "settings",
    # a long interval and a short grace: a throttle per turn would send the second turn's first draft
    # well under 1 s after the first turn's last edit
    [
        pytest.param(
            {
                "platforms": {"telegram": {"edit_interval_seconds": 3.0}},
                "bot_live_grace_seconds": 0.1,
                "offline_token_delay_ms": 150,
            },
            id="edits-every-3s",
        )
    ],
    indirect=True,
)
async def test_telegram_keeps_the_chats_cadence_from_one_turn_to_the_next(
    telegram: Running, fake_tg: FakeTelegram, client: Client, settings: Settings
) -> None:
    every = TELEGRAM.settings(settings).edit_interval_seconds
    assert every == 3.0

    def answers_shown(n: int) -> bool:
        """The chat shows ``n`` messages, the last one a whole answer."""
        shown = fake_tg.texts(USER)
        return len(shown) == n and shown[-1].endswith("again.")

    for n in (1, 2):  # the second question is asked as soon as the first answer is shown whole
        fake_tg.push_message(USER, slow_question())
        assert await wait_for(fake_tg, functools.partial(answers_shown, n), 60), fake_tg.texts(USER)
    runtime = await BotRuntime.start(settings, client)
    try:
        chats = runtime.chats
        owner = chats.owner(view := await chats.identity("telegram", str(USER)))
        for _ in range(600):  # the session records its second answer
            session = await chats.sessions.get(owner, view.sessions["dm"])
            finals = [m.content for m in session.messages if m.role == "assistant"]
            if len(finals) == 2:
                break
            await asyncio.sleep(0.1)
    finally:
        await runtime.close()
    assert await wait_for(fake_tg, lambda: fake_tg.texts(USER) == finals, 60), (fake_tg.texts(USER), finals)

    times = fake_tg.edit_times(USER)  # every sendMessage and editMessageText to the chat, both turns
    first, second = (p["_at"] for p in fake_tg.sent(USER))
    at = times.index(second)
    assert times.index(first) == 0 and at >= 2  # each turn began with a draft, the first one grew
    # a margin for the HTTP calls' lateness; a throttle per turn leaves well under 1 s here
    assert times[at] - times[at - 1] >= every - 0.25
    assert min(b - a for a, b in itertools.pairwise(times)) >= every - 0.25
