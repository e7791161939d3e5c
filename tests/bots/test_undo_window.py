"""The undo window in the chats: after Approve, the message says when the transfer will be sent and
offers Cancel (to the asker only); Cancel inside the window sends nothing, left alone it is sent once,
a late Cancel says it was sent. Real bots against the fake platforms, a real worker, Temporal and anvil
(the window belongs to vault transfers: it comes from the transfer's check, so the test tool ``pay``
has none)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from temporalio.client import Client

from bots.common import undo
from bots.common.runtime import BotRuntime
from chain.accounts import ANVIL_ACCOUNTS
from core.cache import Cache
from core.settings import Settings
from devstack.anvil import Anvil
from devstack.redis_server import RedisServer
from services.chain_access import ChainAccess
from services.chats import ChatService
from services.tools import load_tools
from temporal.worker import WorkerDeps, build_worker
from tests.bots.conftest import Running, wait_for
from tests.bots.fake_discord import FakeDiscord
from tests.bots.fake_telegram import FakeTelegram
from tests.chain.conftest import anvil, data_dir, deployment  # noqa: F401  (one anvil for the module)
from tests.chain.test_chain_agent_transfer import balance, spent_logs
from tests.conftest import TemporalServer, make_settings

RECIPIENT = ANVIL_ACCOUNTS[3].address
USER, STRANGER = 1001, 7007
WINDOW = 12  # seconds: room for the presses below; the cancel test's presses come well inside it
FINNEY = 10**15


@pytest.fixture
def settings(
    temporal_server: TemporalServer,
    redis_server: RedisServer,
    anvil: Anvil,  # noqa: F811
    data_dir: Path,  # noqa: F811
    deployment: dict[str, Any],  # noqa: F811
) -> Settings:
    """Chats talk to the production assistant (it has ``transfer``); every transfer waits WINDOW s."""
    return make_settings(
        temporal_server,
        redis_server.url,
        data_dir,
        chain_rpc_url=anvil.rpc_url,
        agents_file=Path(__file__).parents[2] / "config" / "agents.yaml",
        bot_agent="assistant",
        transfer_delay_seconds=WINDOW,
        transfer_delay_min_usd=0,
    )


@pytest.fixture
async def worker(client: Client, settings: Settings, cache: Cache) -> AsyncIterator[None]:
    chain = ChainAccess(settings)
    deps = WorkerDeps(settings=settings, cache=cache, chain=chain)
    async with build_worker(client, settings, load_tools(settings.tool_modules), cache, deps):
        yield
    await chain.close()


async def linked(client: Client, settings: Settings, platform: str, uid: int) -> None:
    """The chat user acts as ``local``, the keyless owner of the local vault."""
    runtime = await BotRuntime.start(settings, client)
    chats: ChatService = runtime.chats
    code = await chats.new_code("local")
    assert await chats.link(platform, str(uid), code.code) == "local"
    await runtime.close()


def said_cancelled(text: str) -> bool:
    """The turn's own reply after the cancel (the button's message says "Cancelled: …")."""
    return "cancelled" in text and "nothing was sent" in text


# ---------------------------------------------------------------------- Telegram
def tg_buttons(fake: FakeTelegram, label: str) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    """(message, button) of every message the bot sent or edited with a button labelled ``label``."""
    out = []
    for p in fake.sent(USER, ("sendMessage", "editMessageText")):
        for row in (p.get("reply_markup") or {}).get("inline_keyboard", []):
            out += [(p["_message"], b) for b in row if label in b["text"]]
    return out


def tg_alerts(fake: FakeTelegram) -> list[str]:
    return [p.get("text", "") for p in fake.sent(None, ("answerCallbackQuery",))]


async def tg_approve(fake: FakeTelegram, amount: str) -> tuple[dict[str, Any], dict[str, Any], str]:
    """Ask for a transfer, press Approve; the Cancel button the message turns into, and its text."""
    cancels = len(tg_buttons(fake, "Cancel"))
    fake.push_message(USER, f"send {amount} ETH to {RECIPIENT}")
    found = await wait_for(fake, lambda: tg_buttons(fake, "Approve"))
    assert found, fake.texts(USER)
    message, approve = found[-1]
    fake.push_callback(USER, message, approve["callback_data"])
    found = await wait_for(fake, lambda: tg_buttons(fake, "Cancel")[cancels:])
    assert found, fake.texts(USER)
    message, cancel = found[-1]
    shown = next(t for t in fake.texts(USER) if "will be sent at" in t and amount in t)
    return message, cancel, shown


async def test_telegram_cancel_inside_the_window_sends_nothing_and_only_the_asker_can(
    telegram: Running,
    fake_tg: FakeTelegram,
    client: Client,
    settings: Settings,
    anvil: Anvil,  # noqa: F811
) -> None:
    await linked(client, settings, "telegram", USER)
    before = await balance(anvil, RECIPIENT)
    message, cancel, shown = await tg_approve(fake_tg, "0.011")
    assert "UTC" in shown and f"to {RECIPIENT}" in shown

    fake_tg.push_callback(STRANGER, message, cancel["callback_data"])
    assert await wait_for(fake_tg, lambda: undo.NOT_YOURS in tg_alerts(fake_tg))

    fake_tg.push_callback(USER, message, cancel["callback_data"])
    assert await wait_for(fake_tg, lambda: undo.CANCELLED in fake_tg.texts(USER))
    assert await wait_for(fake_tg, lambda: any(said_cancelled(t) for t in fake_tg.texts(USER)))
    await asyncio.sleep(WINDOW + 3)  # past the window: still nothing
    assert await balance(anvil, RECIPIENT) == before


async def test_telegram_left_alone_it_is_sent_once_and_a_late_cancel_says_so(
    telegram: Running,
    fake_tg: FakeTelegram,
    client: Client,
    settings: Settings,
    anvil: Anvil,  # noqa: F811
    deployment: dict[str, Any],  # noqa: F811
) -> None:
    await linked(client, settings, "telegram", USER)
    before, spends = await balance(anvil, RECIPIENT), len(await spent_logs(anvil, deployment))
    message, cancel, _ = await tg_approve(fake_tg, "0.012")
    assert await wait_for(fake_tg, lambda: any("transaction 0x" in t for t in fake_tg.texts(USER)), WINDOW + 60)
    assert await balance(anvil, RECIPIENT) - before == 12 * FINNEY
    assert len(await spent_logs(anvil, deployment)) == spends + 1

    fake_tg.push_callback(USER, message, cancel["callback_data"])
    assert await wait_for(fake_tg, lambda: undo.SENT in tg_alerts(fake_tg))
    assert await balance(anvil, RECIPIENT) - before == 12 * FINNEY


# ---------------------------------------------------------------------- Discord
def dc_button(fake: FakeDiscord, label: str) -> tuple[dict[str, Any], dict[str, Any]] | None:
    for message in fake.with_buttons():
        for row in message["components"]:
            for b in row["components"]:
                if b["label"] == label:
                    return message, b
    return None


async def test_discord_cancel_inside_the_window_sends_nothing_and_only_the_asker_can(
    discord: Running,
    fake_dc: FakeDiscord,
    client: Client,
    settings: Settings,
    anvil: Anvil,  # noqa: F811
) -> None:
    await linked(client, settings, "discord", USER)
    before = await balance(anvil, RECIPIENT)
    await fake_dc.push_dm(USER, f"send 0.013 ETH to {RECIPIENT}")
    found = await wait_for(fake_dc, lambda: dc_button(fake_dc, "Approve"))
    assert found, fake_dc.texts()
    await fake_dc.push_button(USER, found[0], found[1]["custom_id"])
    found = await wait_for(fake_dc, lambda: dc_button(fake_dc, "Cancel"))
    assert found and "will be sent at" in found[0]["content"], fake_dc.texts()
    message, cancel = found

    token = await fake_dc.push_button(STRANGER, message, cancel["custom_id"])
    assert await wait_for(fake_dc, lambda: undo.NOT_YOURS in fake_dc.texts(token=token))

    await fake_dc.push_button(USER, message, cancel["custom_id"])
    assert await wait_for(fake_dc, lambda: undo.CANCELLED in fake_dc.texts())
    assert await wait_for(fake_dc, lambda: any(said_cancelled(t) for t in fake_dc.texts()))
    await asyncio.sleep(WINDOW + 3)
    assert await balance(anvil, RECIPIENT) == before


async def test_discord_left_alone_it_is_sent_once_and_a_late_cancel_says_so(
    discord: Running,
    fake_dc: FakeDiscord,
    client: Client,
    settings: Settings,
    anvil: Anvil,  # noqa: F811
    deployment: dict[str, Any],  # noqa: F811
) -> None:
    await linked(client, settings, "discord", USER)
    before, spends = await balance(anvil, RECIPIENT), len(await spent_logs(anvil, deployment))
    await fake_dc.push_dm(USER, f"send 0.014 ETH to {RECIPIENT}")
    found = await wait_for(fake_dc, lambda: dc_button(fake_dc, "Approve"))
    assert found, fake_dc.texts()
    await fake_dc.push_button(USER, found[0], found[1]["custom_id"])
    found = await wait_for(fake_dc, lambda: dc_button(fake_dc, "Cancel"))
    assert found, fake_dc.texts()
    message, cancel = found
    assert await wait_for(fake_dc, lambda: any("transaction 0x" in t for t in fake_dc.texts()), WINDOW + 60)
    assert await balance(anvil, RECIPIENT) - before == 14 * FINNEY
    assert len(await spent_logs(anvil, deployment)) == spends + 1

    token = await fake_dc.push_button(USER, message, cancel["custom_id"])
    assert await wait_for(fake_dc, lambda: undo.SENT in fake_dc.texts(token=token))
    assert await balance(anvil, RECIPIENT) - before == 14 * FINNEY
