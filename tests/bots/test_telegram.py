"""The Telegram bot (real aiogram) against a fake Bot API server, with a real worker and Temporal."""

from __future__ import annotations

import asyncio

from temporalio.client import Client

from bots.common.runtime import BotRuntime
from core.notifications import Notification
from core.settings import Settings
from services.chats import ChatService
from services.notifications import NotificationService
from tests.bots.conftest import Running, wait_for
from tests.bots.fake_telegram import FakeTelegram

USER, STRANGER, GROUP = 1001, 7007, -5001


async def answered(fake: FakeTelegram, chat: int, needle: str, after: int = 0, timeout: float = 60) -> str | None:
    return await wait_for(fake, lambda: next((t for t in fake.texts(chat)[after:] if needle in t), None), timeout)


async def test_dm_turn_with_typing(telegram: Running, fake_tg: FakeTelegram) -> None:
    fake_tg.push_message(USER, "what is 17 * 23?")
    assert await answered(fake_tg, USER, "391")
    assert fake_tg.sent(USER, ("sendChatAction",))


async def test_group_needs_a_mention(telegram: Running, fake_tg: FakeTelegram) -> None:
    fake_tg.push_message(USER, "what is 2 + 2?", chat=GROUP, kind="supergroup")
    fake_tg.push_message(USER, "what is 5 * 9?", chat=GROUP, kind="supergroup", mention=True)
    assert await answered(fake_tg, GROUP, "45")
    await asyncio.sleep(2)
    assert not any("4" == t.strip() or " 4." in t for t in fake_tg.texts(GROUP))
    assert len(fake_tg.texts(GROUP)) == 1


async def test_new_starts_a_fresh_session(
    telegram: Running, fake_tg: FakeTelegram, client: Client, settings: Settings
) -> None:
    fake_tg.push_message(USER, "what is 1 + 1?")
    assert await answered(fake_tg, USER, "2")
    chats = (await BotRuntime.start(settings, client)).chats
    before = (await chats.identity("telegram", str(USER))).sessions["dm"]
    n = len(fake_tg.texts(USER))
    fake_tg.push_message(USER, "/new")
    assert await answered(fake_tg, USER, "fresh", n)
    after = (await chats.identity("telegram", str(USER))).sessions["dm"]
    assert after != before


async def test_long_answer_is_split(telegram: Running, fake_tg: FakeTelegram) -> None:
    fake_tg.push_message(USER, '/tool long_text {"chars": 10000}')
    parts = await wait_for(
        fake_tg,
        lambda: (
            [t for t in fake_tg.texts(USER) if "xxxx" in t]
            if sum(t.count("x") for t in fake_tg.texts(USER)) >= 9000
            else None
        ),
    )
    assert parts and len(parts) == 3
    assert all(len(p) <= 4096 for p in parts)


async def test_approval_owner_only(telegram: Running, fake_tg: FakeTelegram, settings: Settings) -> None:
    fake_tg.push_message(USER, '/tool pay {"amount": "5", "to": "bob"}')
    found = await wait_for(fake_tg, lambda: [p for p in fake_tg.sent(USER) if p.get("reply_markup")])
    assert found, fake_tg.texts(USER)
    message, buttons = found[0]["_message"], found[0]["reply_markup"]["inline_keyboard"][0]
    approve = next(b for b in buttons if "Approve" in b["text"])
    ledger = settings.data_dir / "payments.log"

    fake_tg.push_callback(STRANGER, message, approve["callback_data"])
    alert = await wait_for(fake_tg, lambda: fake_tg.sent(None, ("answerCallbackQuery",)))
    assert alert and "Only the person" in alert[0].get("text", "")
    assert not ledger.exists()

    fake_tg.push_callback(USER, message, approve["callback_data"])
    assert await answered(fake_tg, USER, "paid 5 to bob")
    assert ledger.read_text().count(" 5 bob") == 1


async def test_link_good_wrong_and_expired(
    telegram: Running, fake_tg: FakeTelegram, client: Client, settings: Settings
) -> None:
    chats = (await BotRuntime.start(settings, client)).chats
    fake_tg.push_message(USER, "/link 12345678")
    assert await answered(fake_tg, USER, "Not linked")

    short = ChatService(client, settings.model_copy(update={"link_code_ttl_seconds": 1.0}), chats.sessions)
    expired = await short.new_code("alice")
    await asyncio.sleep(3)
    n = len(fake_tg.texts(USER))
    fake_tg.push_message(USER, f"/link {expired.code}")
    assert await answered(fake_tg, USER, "Not linked", n)
    assert (await chats.identity("telegram", str(USER))).linked_user is None

    good = await chats.new_code("alice")
    n = len(fake_tg.texts(USER))
    fake_tg.push_message(USER, f"/link {good.code}")
    assert await answered(fake_tg, USER, "acts as alice", n)
    assert (await chats.identity("telegram", str(USER))).linked_user == "alice"
    links = await _links(chats, "alice")
    assert [x.identity for x in links] == [f"telegram:{USER}"]
    # a used code is used
    n = len(fake_tg.texts(STRANGER))
    fake_tg.push_message(STRANGER, f"/link {good.code}")
    assert await answered(fake_tg, STRANGER, "Not linked", n)


async def _links(chats: ChatService, user: str) -> list:
    for _ in range(50):
        found = await chats.links(user)
        if found:
            return found
        await asyncio.sleep(0.2)
    return []


async def test_notifications_on_and_off(
    telegram: Running, fake_tg: FakeTelegram, client: Client, settings: Settings
) -> None:
    notes = NotificationService(client, settings)
    fake_tg.push_message(USER, "/notify_on")
    assert await answered(fake_tg, USER, "will arrive here")
    note = Notification(key="tx1:0", kind="deposit", text="Deposit of 0.5 ETH to your vault", at="2026-01-01T00:00:00Z")
    await notes.notify(f"tg-{USER}", note)
    await notes.notify(f"tg-{USER}", note)  # a repeated signal: still one message
    assert await answered(fake_tg, USER, "0.5 ETH")
    await asyncio.sleep(3)
    assert sum("0.5 ETH" in t for t in fake_tg.texts(USER)) == 1

    n = len(fake_tg.texts(USER))
    fake_tg.push_message(USER, "/notify_off")
    assert await answered(fake_tg, USER, "No more", n)
    await notes.notify(f"tg-{USER}", note.model_copy(update={"key": "tx2:0", "text": "Deposit of 0.7 ETH"}))
    await asyncio.sleep(4)
    assert not any("0.7 ETH" in t for t in fake_tg.texts(USER))


async def test_freeze_command_answers_for_the_chat_user(telegram: Running, fake_tg: FakeTelegram) -> None:
    """/freeze acts for the user the chat is (here one with no vault, and no chain: told so, nothing else)."""
    fake_tg.push_message(USER, "/freeze")
    assert await answered(fake_tg, USER, "Not frozen")
    assert any("no vault" in t or "no chain" in t for t in fake_tg.texts(USER)), fake_tg.texts(USER)


async def test_reply_delivered_after_restart(
    telegram: Running, fake_tg: FakeTelegram, client: Client, settings: Settings
) -> None:
    fake_tg.push_message(USER, '/tool slow_note {"text": "hi", "seconds": 3}')
    await wait_for(fake_tg, lambda: fake_tg.sent(USER, ("sendChatAction",)))
    await telegram.stop()  # the bot goes away mid-turn
    await asyncio.sleep(5)  # the turn ends meanwhile: its reply waits in Temporal
    assert not any("noted" in t for t in fake_tg.texts(USER))
    telegram.start()
    assert await answered(fake_tg, USER, "noted: hi")


async def test_429_is_retried_after_retry_after(telegram: Running, fake_tg: FakeTelegram) -> None:
    fake_tg.fail_next("sendMessage", 429, retry_after=2)
    fake_tg.push_message(USER, "what is 6 * 7?")
    assert await answered(fake_tg, USER, "42")
    refused = [m for m, _ in fake_tg.calls if m == "sendMessage:refused"]
    assert len(refused) == 1
    assert sum("42" in t for t in fake_tg.texts(USER)) == 1
